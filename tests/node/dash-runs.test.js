// ib-dash's experiment queue, stop/escalation, configs, results and persistence across a
// restart, against the real binary; tests/dash/fake-ib-run stands in for ib-run so that stops
// and a stubborn child can be provoked (dash-e2e.test.js runs the real ib-run).
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const { spawnSync } = require('node:child_process');
const { startDash, request, connect, line, tmpDir, fakeBinDir, FIXTURES, waitRequest } = require('./dash-helpers');

const REAL_IB_RUN = path.join(process.env.IB_BIN_DIR || path.join(__dirname, '..', '..', 'bazel-bin'), 'tools', 'ib-run', 'ib-run');

const resultsDir = tmpDir('ib-dash-results-');
const binDir = fakeBinDir();
let dash;
// A short grace: the fake ib-run and the piped streams have no ib-aggregate, ib-dash saves them.
const args = ['--save-grace', '0.5'];
before(async () => { dash = await startDash({ resultsDir, args, env: { IB_BIN_DIR: binDir } }); });
after(async () => { await dash.stop(); });

const isQueue = (pred) => (m) => m.type === 'queue' && pred(m.data);

test('configs: resolved summaries, errors for broken ones, the cost of paid ones', async () => {
  const c = await connect(dash.wsUrl());
  c.send({ type: 'list_configs' });
  const reply = await c.wait((m) => m.type === 'configs');
  const rest = JSON.parse((await request(dash.base + '/api/configs')).body);
  assert.deepEqual(rest.map((x) => x.path), reply.data.map((x) => x.path));
  const byPath = Object.fromEntries(reply.data.map((x) => [x.path, x]));
  const quick = byPath['experiments/fake-quick.yaml'];
  assert.equal(quick.name, 'fake-quick');
  assert.equal(quick.provider, 'local');
  assert.equal(quick.total_requests, 4);
  assert.equal(quick.iterations, 1);
  assert.equal(quick.estimated_cost_usd, 0);
  assert.deepEqual(quick.errors, []);
  assert.ok(byPath['experiments/nested/broken.yaml'].errors.length > 0);
  const paid = byPath['experiments/paid.yaml'];
  assert.ok(paid.cost_per_hr_usd > 0);
  // The same estimate `ib-run --dry-run` shows for it (lib/pricing, same table).
  const dry = spawnSync(REAL_IB_RUN, ['--dry-run', path.join(FIXTURES, 'experiments', 'paid.yaml')], { encoding: 'utf8', timeout: 30000 });
  const shown = /^Est\. cost: (~\$(\d+\.\d\d):.*)$/m.exec(dry.stdout);
  assert.ok(shown, 'ib-run --dry-run prints an estimate: ' + dry.stdout + dry.stderr);
  assert.equal(paid.cost_estimate, shown[1]);
  assert.equal(paid.estimated_cost_usd.toFixed(2), shown[2]);
  assert.equal(quick.cost_estimate, null);
  await c.close();
});

test('start_experiment refuses invalid configs and asks before spending money', async () => {
  const c = await connect(dash.wsUrl());
  c.send({ type: 'start_experiment', config_path: 'experiments/nested/broken.yaml', options: {} });
  const invalid = await c.wait((m) => m.type === 'error' && m.data.command === 'start_experiment');
  assert.ok(invalid.data.errors.length > 0);
  c.send({ type: 'start_experiment', config_path: 'experiments/paid.yaml', options: {} });
  const paid = await c.wait((m) => m.type === 'error' && m.data.needs_confirmation === true);
  assert.ok(paid.data.cost_per_hr_usd > 0);
  assert.ok(paid.data.estimated_cost_usd > 0);
  assert.match(paid.message, /rents a GPU pod \(estimated ~\$\d+\.\d\d: A100-80GB x1/);
  await c.close();
});

test('one run at a time: queue, cancel, stop with SIGTERM, the stopped run is saved', async () => {
  const c = await connect(dash.wsUrl());
  c.send({ type: 'start_experiment', config_path: 'experiments/fake-slow.yaml', options: { confirm: true, name: 'fake-slow' } });
  const ack1 = await c.wait((m) => m.type === 'ack' && m.command === 'start_experiment');
  c.send({ type: 'start_experiment', config_path: 'fake-quick.yaml', options: {} });
  const ack2 = await c.wait((m) => m.type === 'ack' && m.data.queue_id !== ack1.data.queue_id);
  await c.wait(isQueue((q) => q.length === 2 && q[0].state === 'running' && q[1].state === 'queued' &&
    q[1].queue_id === ack2.data.queue_id));
  // Another tab sees the same queue in its state.
  const other = await connect(dash.wsUrl());
  const state = await other.wait((m) => m.type === 'state');
  assert.equal(state.data.queue.length, 2);
  c.send({ type: 'cancel_queued', queue_id: ack1.data.queue_id });
  const refuse = await c.wait((m) => m.type === 'error' && m.data.command === 'cancel_queued');
  assert.match(refuse.message, /running/);
  c.send({ type: 'cancel_queued', queue_id: ack2.data.queue_id });
  await c.wait((m) => m.type === 'ack' && m.command === 'cancel_queued');
  await other.wait(isQueue((q) => q.length === 1 && q[0].queue_id === ack1.data.queue_id));
  const args = await c.wait((m) => m.type === 'log' && m.source === 'ib-run' && /fake ib-run args/.test(m.message));
  assert.match(args.message, /--output-dir .* --confirm --name fake-slow/);
  const first = await c.wait((m) => m.type === 'request_complete');
  c.send({ type: 'stop_experiment', run_id: 'not-this-one' });
  await c.wait((m) => m.type === 'error' && m.data.command === 'stop_experiment');
  c.send({ type: 'stop_experiment', run_id: first.run_id });
  const stopped = await c.wait((m) => m.type === 'ack' && m.command === 'stop_experiment');
  assert.equal(stopped.data.signal, 'SIGTERM');
  assert.equal(stopped.data.run_id, first.run_id);
  await c.wait((m) => m.type === 'phase' && m.phase === 'failed' && m.run_id === first.run_id);
  await c.wait((m) => m.type === 'log' && /ended: exit 130/.test(m.message));
  await c.wait(isQueue((q) => q.length === 0));
  // The fake ib-run wrote no results file: ib-dash saved the stream itself.
  const summary = await c.wait((m) => m.type === 'summary' && m.run_id === first.run_id);
  assert.ok(fs.existsSync(summary.data.result_path));
  assert.equal(JSON.parse(fs.readFileSync(summary.data.result_path)).status, 'failed');
  await Promise.all([c.close(), other.close()]);
});

test('a second stop escalates to SIGKILL of the process group', async () => {
  const c = await connect(dash.wsUrl());
  c.send({ type: 'start_experiment', config_path: 'experiments/fake-stubborn.yaml', options: {} });
  await waitRequest(c, (id) => /^fake-stubborn/.test(id));
  c.send({ type: 'stop_experiment' });
  await c.wait((m) => m.type === 'ack' && m.data.signal === 'SIGTERM');
  c.send({ type: 'stop_experiment' });
  await c.wait((m) => m.type === 'ack' && m.data.signal === 'SIGKILL');
  await c.wait((m) => m.type === 'log' && /ended: killed by SIGKILL/.test(m.message));
  await c.wait(isQueue((q) => q.length === 0));
  await c.close();
});

test('a piped stream without a results file is saved; a restart loses nothing', async () => {
  const run = 'piped-20261128-030000';
  const c = await connect(dash.wsUrl());
  let input = line({ type: 'phase', run_id: run, phase: 'execution', data: { total_requests: 5 } });
  for (let i = 0; i < 5; i++) {
    input += line({ type: 'request_complete', run_id: run, data: { request_index: i, start_ms: i, end_ms: i + 10, ttft_ms: 3, e2e_latency_ms: 10, completion_tokens: 4 } });
  }
  dash.proc.stdin.end(input);  // EOF before the run finished: a partial run
  const summary = await c.wait((m) => m.type === 'summary' && m.run_id === run);
  assert.equal(summary.data.status, 'partial');
  assert.equal(path.dirname(summary.data.result_path), fs.realpathSync(resultsDir));
  assert.deepEqual(fs.readdirSync(resultsDir).filter((f) => f.startsWith(run)), [`${run}.json`]);
  c.send({ type: 'list_results' });
  const listed = await c.wait((m) => m.type === 'results' && m.data.some((r) => r.run_id === run));
  assert.equal(listed.data.find((r) => r.run_id === run).total_requests, 5);
  c.send({ type: 'load_result', run_id: run });
  const loaded = await c.wait((m) => m.type === 'result' && m.run_id === run);
  assert.equal(loaded.data.requests.length, 5);
  c.send({ type: 'load_result', run_id: '../etc/passwd' });
  await c.wait((m) => m.type === 'error' && m.data.command === 'load_result' && m.data.status === 400);
  await c.close();

  await dash.stop();
  dash = await startDash({ resultsDir, args, env: { IB_BIN_DIR: binDir } });
  const list = JSON.parse((await request(dash.base + '/api/results')).body);
  assert.ok(list.some((r) => r.run_id === run && r.readable));
  assert.ok(list.some((r) => /^fake-slow/.test(r.run_id)), 'the stopped run is still there');
  const plain = await request(`${dash.base}/api/results/${run}`);
  assert.equal(plain.status, 200);
  assert.equal(JSON.parse(plain.body).run_id, run);
  const gz = await request(`${dash.base}/api/results/${run}`, { headers: { 'Accept-Encoding': 'gzip' }, raw: true });
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.equal(JSON.parse(zlib.gunzipSync(gz.body)).run_id, run);
  // Served again from the cached gzip: the same bytes.
  const gz2 = await request(`${dash.base}/api/results/${run}`, { headers: { 'Accept-Encoding': 'gzip' }, raw: true });
  assert.deepEqual(gz2.body, gz.body);
  assert.equal((await request(`${dash.base}/api/results/no-such-run`)).status, 404);
  for (const bad of ['/api/results/..%2f..%2fetc%2fpasswd', '/api/results/%2e%2e', '/api/results/a%00b', '/api/results/.hidden']) {
    const r = await request({ port: dash.port, path: bad });
    assert.equal(r.status, 400, bad);
  }
  // A symlink in results/ that points outside is refused.
  const outside = path.join(tmpDir('ib-dash-outside-'), 'secret.json');
  fs.writeFileSync(outside, '{"run_id":"secret"}');
  fs.symlinkSync(outside, path.join(resultsDir, 'leak.json'));
  const leak = await request(`${dash.base}/api/results/leak`);
  assert.equal(leak.status, 404);
  assert.ok(!leak.body.includes('secret'));
});

test('a FIFO is read again after each writer goes away', async () => {
  const fifo = path.join(tmpDir('ib-dash-fifo-'), 'events.fifo');
  const other = await startDash({ args: ['--fifo', fifo], stdin: 'ignore' });
  try {
    const c = await connect(other.wsUrl());
    for (const n of [1, 2]) {
      const run = `fifo-run-${n}`;
      fs.writeFileSync(fifo, line({ type: 'phase', run_id: run, phase: 'execution', data: {} }) +
        line({ type: 'request_complete', run_id: run, data: { request_index: 0, start_ms: 0, end_ms: 1 } }));
      await waitRequest(c, run);
    }
    // Writers back to back: the second must not lose its lines while the first one's end is read.
    for (const n of [3, 4, 5]) {
      fs.writeFileSync(fifo, line({ type: 'request_complete', run_id: `fifo-run-${n}`, data: { request_index: 0, start_ms: 0, end_ms: 1 } }));
    }
    for (const n of [3, 4, 5]) await waitRequest(c, `fifo-run-${n}`);
    await c.close();
  } finally {
    await other.stop();
  }
});

test('a corrupt or truncated results file is listed with its error, never served raw, never deleted', async () => {
  const dir = tmpDir('ib-dash-corrupt-');
  const good = '{"run_id":"good-20261128-050000","status":"completed","metadata":{"started_at":"2026-11-28T05:00:00"},"summary":{"total_requests":1}}';
  const files = {
    'good-20261128-050000.json': good,
    'truncated.json': good.slice(0, 60),
    'empty.json': '',
    'garbage.json': Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x00, 0x22, 0x3a, 0x31, 0x7d]),
    'array.json': '[1,2,3]',
    'no-id.json': '{"status":"completed"}',
    'nan-cut.json': '{"run_id":"nan-cut","summary":{"x":NaN',
  };
  for (const [name, body] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), body);
  const other = await startDash({ resultsDir: dir, stdin: 'ignore' });
  try {
    const list = await request(other.base + '/api/results');
    assert.equal(list.status, 200);
    const rows = Object.fromEntries(JSON.parse(list.body).map((r) => [r.run_id, r]));
    assert.equal(rows['good-20261128-050000'].readable, true);
    for (const bad of ['truncated', 'empty', 'garbage', 'array', 'no-id', 'nan-cut']) {
      assert.equal(rows[bad].readable, false, bad);
      assert.ok(rows[bad].error, bad);
      const one = await request(`${other.base}/api/results/${bad}`, { headers: { 'Accept-Encoding': 'gzip' } });
      assert.equal(one.status, 422, bad);
      assert.equal(one.headers['content-type'], 'application/json');
      const body = JSON.parse(one.body);
      assert.equal(body.run_id, bad);
      assert.match(body.error, new RegExp(`^results file ${bad}\\.json is unreadable: `));
    }
    assert.match(JSON.parse((await request(`${other.base}/api/results/truncated`)).body).error, /truncated/);
    assert.match(JSON.parse((await request(`${other.base}/api/results/empty`)).body).error, /empty file/);
    assert.match(JSON.parse((await request(`${other.base}/api/results/garbage`)).body).error, /not valid JSON at byte \d+/);
    assert.match(JSON.parse((await request(`${other.base}/api/results/no-id`)).body).error, /no run_id/);
    assert.equal((await request(`${other.base}/api/results/good-20261128-050000`)).body, good);
    const c = await connect(other.wsUrl());
    c.send({ type: 'load_result', run_id: 'truncated' });
    const err = await c.wait((m) => m.type === 'error' && m.data.command === 'load_result');
    assert.equal(err.data.status, 422);
    assert.match(err.message, /truncated/);
    c.send({ type: 'list_results' });
    const listed = await c.wait((m) => m.type === 'results');
    assert.equal(listed.data.length, Object.keys(files).length);
    await c.close();
  } finally {
    await other.stop();
  }
  for (const [name, body] of Object.entries(files)) {
    assert.deepEqual(fs.readFileSync(path.join(dir, name)), Buffer.from(body), `${name} untouched`);
  }
});
