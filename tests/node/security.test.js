// Security probes against the real binaries (issue 11): foreign Origins on the WebSocket, path
// traversal in every id and path parameter of ib-dash, the RunPod key (a marker value) absent
// from every byte a full run through the fake RunPod API puts out, and ib-dash reachable on
// 127.0.0.1 only. dash-protocol.test.js covers the token, the Host check and web/ traversal.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { startDash, request, connect, tmpDir, fakeBinDir } = require('./dash-helpers');
const { logChild } = require('./child-log');

const ROOT = path.resolve(__dirname, '..', '..');
const BIN_DIR = process.env.IB_BIN_DIR || path.join(ROOT, 'bazel-bin');
const MARKER = 'rpa_MARKER_7f3e9c2b41d84a6e';

let dash;
before(async () => {
  const results = tmpDir('ib-sec-results-');
  fs.writeFileSync(path.join(results, 'real-run.json'), JSON.stringify({ run_id: 'real-run', status: 'completed' }));
  // A secret beside the results directory: what a traversal would reach.
  fs.writeFileSync(path.join(path.dirname(results), 'ib-sec-outside.json'), '{"run_id":"outside","secret":"OUTSIDE_SECRET"}');
  dash = await startDash({ resultsDir: results, env: { IB_BIN_DIR: fakeBinDir(), RUNPOD_API_KEY: MARKER } });
});
after(async () => { await dash.stop(); });

test('the WebSocket refuses every foreign Origin, however it is dressed up', async () => {
  const p = dash.port;
  for (const origin of ['null', 'http://evil.example', `http://127.0.0.1.evil.example:${p}`,
    `http://evil.example:${p}`, `https://127.0.0.1:${p}`, `http://127.0.0.1:${p}@evil.example`,
    `http://localhost.evil.example:${p}`, `http://127.0.0.2:${p}`, `http://[::1]:${p + 1}`, `file://`]) {
    await assert.rejects(connect(dash.wsUrl(), { origin }), /403/, `Origin ${origin} must be refused`);
  }
});

test('traversal in every id and path parameter is refused', async () => {
  const ids = ['../ib-sec-outside', '..%2fib-sec-outside', '%2e%2e%2fib-sec-outside', '..%5cib-sec-outside',
    '%2fetc%2fpasswd', '..', '.', 'real-run%00', 'real-run.json%2f..%2f..%2fib-sec-outside', '~root'];
  for (const id of ids) {
    const r = await request({ port: dash.port, path: `/api/results/${id}` });
    assert.ok(r.status === 400 || r.status === 404, `/api/results/${id} -> ${r.status}`);
    assert.ok(!r.body.includes('OUTSIDE_SECRET') && !r.body.includes('root:'), id);
  }
  assert.equal((await request({ port: dash.port, path: '/api/results/real-run' })).status, 200);

  const c = await connect(dash.wsUrl());
  const rawIds = ['../ib-sec-outside', '/etc/passwd', '..\\ib-sec-outside', 'real-run/../../ib-sec-outside',
    'real-run\u0000', '', '.', '..'];
  for (const run_id of rawIds) c.send({ type: 'load_result', run_id });
  await c.wait(() => c.messages.filter((m) => m.type === 'error' && m.data && m.data.command === 'load_result').length >= rawIds.length);
  assert.ok(!c.messages.some((m) => m.type === 'result'), 'no traversal id loads a file');
  for (const run_id of rawIds) c.send({ type: 'stop_experiment', run_id });
  await c.wait(() => c.messages.filter((m) => m.type === 'error' && m.data && m.data.command === 'stop_experiment').length >= rawIds.length);
  for (const queue_id of ['../q-1', '/etc/passwd', 'q-1/../q-2']) c.send({ type: 'cancel_queued', queue_id });
  await c.wait(() => c.messages.filter((m) => m.type === 'error' && m.data && m.data.command === 'cancel_queued').length >= 3);
  const paths = ['experiments/../experiments/../../../etc/passwd.yaml', 'experiments/..%2f..%2fetc%2fpasswd',
    '../ib-sec-outside.json', 'experiments\\..\\..\\x.yaml', '~/.ssh/id_rsa', 'file:///etc/passwd'];
  for (const config_path of paths) c.send({ type: 'start_experiment', config_path, options: { confirm: true } });
  await c.wait(() => c.messages.filter((m) => m.type === 'error' && m.data && m.data.command === 'start_experiment').length >= paths.length);
  assert.ok(!c.messages.some((m) => m.type === 'ack'), 'nothing was started or stopped');
  assert.ok(!JSON.stringify(c.messages).includes('OUTSIDE_SECRET'));
  assert.ok(!JSON.stringify(c.messages).includes('root:x:'));
  await c.close();
});

// Every listening socket of ib-dash is bound to 127.0.0.1 (/proc/net/tcp{,6}), and its port
// refuses connections on each non-loopback address of this machine (if it has any).
test('the dashboard is reachable on 127.0.0.1 only', async () => {
  const inodes = new Set();
  for (const fd of fs.readdirSync(`/proc/${dash.proc.pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${dash.proc.pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch { /* closed meanwhile */ }
  }
  const listening = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!fs.existsSync(file)) continue;
    for (const row of fs.readFileSync(file, 'utf8').trim().split('\n').slice(1)) {
      const f = row.trim().split(/\s+/);
      if (f[3] === '0A' && inodes.has(f[9])) listening.push(f[1]);  // state LISTEN
    }
  }
  assert.ok(listening.length >= 1, 'ib-dash listens');
  for (const local of listening) assert.match(local, /^0100007F:/, `ib-dash listens on ${local}, not 127.0.0.1`);

  const addresses = Object.entries(os.networkInterfaces()).flatMap(([name, list]) => list
    .filter((a) => !a.internal).map((a) => (a.address.startsWith('fe80:') ? `${a.address}%${name}` : a.address)));
  for (const address of addresses) {
    const outcome = await new Promise((resolve) => {
      const s = net.connect({ host: address, port: dash.port });
      const timer = setTimeout(() => { s.destroy(); resolve('timeout'); }, 3000);
      s.on('connect', () => { clearTimeout(timer); s.destroy(); resolve('connected'); });
      s.on('error', (e) => { clearTimeout(timer); resolve(e.code); });
    });
    assert.notEqual(outcome, 'connected', `ib-dash answered on ${address}:${dash.port}`);
  }
});

// A full paid run through the fake RunPod API, piped into ib-dash with a WebSocket client
// attached: the key appears in no byte of ib-run's stdout and stderr (which carry ib-provision's
// and every child's stderr as log events), the results file, ib-dash's WebSocket traffic, its
// REST answers and its log.
test('the RunPod key is absent from every output byte of a full run', { timeout: 180000 }, async () => {
  const dir = tmpDir('ib-sec-run-');
  const results = path.join(dir, 'results');
  fs.mkdirSync(results);
  const portFile = path.join(dir, 'fake.port');
  const fake = spawn(path.join(BIN_DIR, 'tests', 'fake_runpod', 'fake_runpod'), ['--port-file', portFile,
    '--ledger', path.join(dir, 'ledger.json'), '--work-dir', dir, '--api-key', MARKER,
    '--sim-bin', path.join(BIN_DIR, 'tools', 'ib-sim', 'ib-sim')], { stdio: 'ignore' });
  const fakeExited = new Promise((resolve) => fake.on('exit', resolve));
  let port = 0;
  for (let i = 0; i < 400 && !port; ++i) {
    try { port = Number(fs.readFileSync(portFile, 'utf8')); } catch { await new Promise((r) => setTimeout(r, 25)); }
  }
  assert.ok(port > 0, 'fake_runpod started');
  const config = path.join(dir, 'paid.yaml');
  fs.writeFileSync(config, `name: "keyprobe"
model: {name: "Qwen/Qwen3-0.6B"}
framework: "vllm"
infrastructure: {provider: "runpod", gpu_type: "RTX 4000 Ada"}
workload:
  type: "concurrent"
  concurrency: 2
  requests: {source: "${path.join(ROOT, 'prompts', 'baseline.jsonl')}", count: 6}
  parameters: {max_tokens: 16}
metrics: {sample_interval_ms: 100, output_dir: "${results}"}
`);
  const env = { ...process.env, RUNPOD_API_KEY: MARKER, IB_RUNPOD_API_BASE: `http://127.0.0.1:${port}/v1`,
    IB_RUNPOD_PROXY_TEMPLATE: 'http://{public_ip}:{public_port}', HOME: dir, XDG_CONFIG_HOME: path.join(dir, 'config') };
  const d = await startDash({ resultsDir: results, env });
  const ws = await connect(d.wsUrl());
  const run = spawn(path.join(BIN_DIR, 'tools', 'ib-run', 'ib-run'), [config, '--ndjson', '--confirm'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  logChild('ib-run', run);
  let out = '';
  let err = '';
  run.stdout.on('data', (b) => { out += b; d.proc.stdin.write(b); });
  run.stderr.on('data', (b) => { err += b; });
  const code = await new Promise((resolve) => {
    const timer = setTimeout(() => run.kill('SIGKILL'), 120000);
    run.on('exit', (c, s) => { clearTimeout(timer); resolve(s || c); });
  });
  await ws.wait((m) => m.type === 'phase' && m.phase === 'done');
  const rest = [];
  for (const p of ['/api/state', '/api/results', '/api/configs', '/api/queue', '/api/stats']) rest.push((await request(d.base + p)).body);
  const files = fs.readdirSync(results).filter((f) => f.endsWith('.json'));
  for (const f of files) rest.push((await request(`${d.base}/api/results/${path.basename(f, '.json')}`)).body);
  await ws.close();
  d.proc.stdin.end();
  await d.stop();
  // The fake writes its ledger into dir as it shuts down: wait for it before removing dir.
  fake.kill('SIGTERM');
  await fakeExited;

  assert.equal(code, 0, `ib-run exit ${code}: ${err.slice(-2000)}`);
  assert.ok(out.includes('"source":"ib-provision"'), 'ib-provision\'s stderr is in the stream');
  assert.equal(files.length, 1, 'one results file');
  const outputs = {
    'ib-run stdout': out, 'ib-run stderr': err, 'ib-dash log': d.stderr(),
    'WebSocket traffic': JSON.stringify(ws.messages), 'REST answers': rest.join('\n'),
    ...Object.fromEntries(files.map((f) => [f, fs.readFileSync(path.join(results, f), 'utf8')])),
  };
  for (const [where, bytes] of Object.entries(outputs)) {
    assert.ok(!bytes.includes(MARKER), `the key is in ${where}`);
    assert.ok(!bytes.includes(MARKER.slice(4)), `part of the key is in ${where}`);
  }
  assert.ok(JSON.stringify(ws.messages).includes('request_complete'), 'the WebSocket carried the run');
  fs.rmSync(dir, { recursive: true, force: true });
});
