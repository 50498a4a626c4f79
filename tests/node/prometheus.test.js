// A real Prometheus (Debian's, installed by scripts/setup) scrapes a live ib-dash and ib-sim
// every second while ib-run drives a short experiment into ib-dash; PromQL over its HTTP API
// must give the results file's figures. Then the run is exported as OpenMetrics, backfilled
// with promtool into a fresh TSDB, and a second Prometheus on that TSDB must return the run.
// Everything runs on 127.0.0.1 with temp dirs and ports the kernel picked.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { ROOT, tmpDir: newTmpDir, startDash, get } = require('./dash-helpers');
const { logChild } = require('./child-log');

const BIN_DIR = process.env.IB_BIN_DIR || path.join(ROOT, 'bazel-bin');
const tool = (name) => path.join(BIN_DIR, 'tools', name, name);
const CONFIG = path.join(ROOT, 'tests', 'prometheus', 'metrics-run.yaml');
const PROM_CONFIG = path.join(ROOT, 'tests', 'prometheus', 'prometheus.yml');
const GRAFANA = path.join(ROOT, 'docs', 'grafana', 'ib.json');
// The TTFT bucket bounds of lib/openmetrics (docs/ib-dash.md).
const TTFT_BUCKETS = [0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1,
  0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2, 3, 5, 7.5, 10, 15, 20, 30, 60, 120];

const children = [];
const dirs = [];
function tmpDir(prefix) {
  const dir = newTmpDir(prefix);
  dirs.push(dir);
  return dir;
}
function run(cmd, args, opts = {}) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  logChild(path.basename(cmd), child);
  let out = '';
  let err = '';
  child.stdout?.on('data', (d) => { if (!opts.keepStdout) out += d; });
  child.stderr.on('data', (d) => { err += d; });
  child.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  child.output = () => ({ out, err });
  children.push(child);
  return child;
}
async function stopAll() {
  for (const c of children.reverse()) {
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 10000);
    await c.exited;
    clearTimeout(timer);
  }
  children.length = 0;
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// Polls fn() every 200 ms until it returns a truthy value, at most `ms`; no fixed sleeps.
async function until(what, fn, ms = 60000) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${last?.stack || JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function startPrometheus(configText, dataDir) {
  const port = await freePort();
  const dir = tmpDir('ib-prom-conf-');
  const config = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(config, configText);
  const proc = run('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${dataDir}`,
    `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn']);
  const base = `http://127.0.0.1:${port}`;
  await until('prometheus ready', async () => {
    if (proc.exitCode !== null) throw new Error('prometheus exited: ' + proc.output().err);
    return (await get(base + '/-/ready')).status === 200;
  }, 30000);
  const query = async (expr, time) => {
    const params = new URLSearchParams({ query: expr });
    if (time !== undefined) params.set('time', String(time));
    const r = await get(`${base}/api/v1/query?${params}`);
    const body = JSON.parse(r.body);
    assert.strictEqual(body.status, 'success', `${expr}: ${r.body}`);
    return body.data.result;
  };
  return { proc, base, query };
}

const scalar = (result) => (result.length === 1 ? Number(result[0].value[1]) : NaN);
const bucketIndex = (seconds) => {
  const i = TTFT_BUCKETS.findIndex((b) => seconds <= b);
  return i < 0 ? TTFT_BUCKETS.length : i;
};

test('a real Prometheus scrapes ib-dash and ib-sim; PromQL gives the results file; backfill works', { timeout: 240000 }, async (t) => {
  t.after(stopAll);
  const promVersion = spawnSync('prometheus', ['--version'], { encoding: 'utf8' });
  assert.strictEqual(promVersion.status, 0, 'prometheus is missing: run scripts/setup');

  // ib-sim with seeded faults, so some requests fail by kind.
  const simDir = tmpDir('ib-prom-sim-');
  const portFile = path.join(simDir, 'port');
  const sim = run(tool('ib-sim'), ['--preset', 'qwen3-0.6b-rtx4000', '--speed', '4', '--port', '0',
    '--port-file', portFile, '--seed', '7', '--fault-500-rate', '0.1', '--fault-drop-rate', '0.05']);
  const simPort = await until('ib-sim port', () => {
    if (sim.exitCode !== null) throw new Error('ib-sim exited: ' + sim.output().err);
    return fs.existsSync(portFile) && Number(fs.readFileSync(portFile, 'utf8').trim());
  }, 20000);

  const dash = await startDash({ resultsDir: tmpDir('ib-prom-dash-') });
  children.push(dash.proc);
  dash.proc.exited = new Promise((resolve) => dash.proc.on('exit', resolve));

  const promText = fs.readFileSync(PROM_CONFIG, 'utf8')
    .replaceAll('IB_DASH_TARGET', `127.0.0.1:${dash.port}`)
    .replaceAll('IB_SIM_TARGET', `127.0.0.1:${simPort}`);
  const prom = await startPrometheus(promText, tmpDir('ib-prom-data-'));
  // Both targets scraped at least once before the run starts.
  await until('both targets up', async () => {
    const r = JSON.parse((await get(prom.base + '/api/v1/targets')).body);
    const active = r.data.activeTargets;
    if (active.length === 2 && active.every((a) => a.health === 'up')) return true;
    throw new Error(JSON.stringify(active.map((a) => [a.scrapeUrl, a.health, a.lastError])));
  });

  // The experiment, piped into ib-dash's stdin like `ib-run x.yaml | ib-dash`.
  const outDir = tmpDir('ib-prom-results-');
  const ibRun = run(tool('ib-run'), [CONFIG, '--server-url', `http://127.0.0.1:${simPort}`,
    '--output-dir', outDir, '--quiet'], { env: { ...process.env, IB_BIN_DIR: BIN_DIR }, keepStdout: true });
  ibRun.stdout.pipe(dash.proc.stdin, { end: false });
  const rc = await ibRun.exited;
  assert.strictEqual(rc.code, 0, ibRun.output().err);
  const files = fs.readdirSync(outDir).filter((f) => f.endsWith('.json'));
  assert.strictEqual(files.length, 1, files.join(','));
  const results = JSON.parse(fs.readFileSync(path.join(outDir, files[0]), 'utf8'));
  const runId = results.run_id;
  const s = results.summary;
  assert.ok(s.failed_requests > 0 && s.successful_requests > 0, JSON.stringify(s.errors_by_reason));

  // ib-dash has read the whole stream once its page shows the run's last phase ("done");
  // Prometheus has scraped that state once the same series reads 1 there. Bounded polling.
  const sel = `run_id="${runId}"`;
  const doneLine = new RegExp(`^ib_run_phase\\{run_id="${runId}",[^}]*phase="done"\\} 1$`, 'm');
  await until('ib-dash shows the run done', async () => doneLine.test((await get(dash.base + '/metrics')).body));
  // Two scrapes of the finished state: rate() over the board's window has two samples then,
  // however short the run was.
  await until('Prometheus scraped the finished run twice', async () =>
    scalar(await prom.query(`sum_over_time(ib_run_phase{${sel},phase="done"}[1m])`)) >= 2);

  // The TTFT histogram's count is the run's successful requests.
  assert.strictEqual(scalar(await prom.query(`ib_ttft_seconds_count{${sel}}`)), s.successful_requests);
  assert.strictEqual(s.ttft.count, s.successful_requests);
  // Its median is within one bucket of the exact p50.
  const p50 = scalar(await prom.query(`histogram_quantile(0.5, ib_ttft_seconds_bucket{${sel}})`));
  assert.ok(Math.abs(bucketIndex(p50) - bucketIndex(s.ttft.p50 / 1000)) <= 1,
    `histogram p50 ${p50} s vs results ${s.ttft.p50} ms`);
  // Request counters: total, successes, and every error kind, as in the results file.
  assert.strictEqual(scalar(await prom.query(`sum(ib_requests_total{${sel}})`)), s.total_requests);
  assert.strictEqual(scalar(await prom.query(`ib_requests_total{${sel},outcome="success"}`)), s.successful_requests);
  const byKind = await prom.query(`sum by (error_kind) (ib_requests_total{${sel},outcome="error"})`);
  const kinds = Object.fromEntries(byKind.map((r) => [r.metric.error_kind, Number(r.value[1])]));
  assert.deepStrictEqual(kinds, s.errors_by_reason);
  assert.strictEqual(scalar(await prom.query(`ib_warmup_requests_total{${sel}}`)), s.warmup_requests);
  // Goodput by the results file's rule, and the SLO it was measured against.
  assert.strictEqual(scalar(await prom.query(`ib_goodput_requests_total{${sel}}`)), s.goodput.good_requests);
  assert.strictEqual(scalar(await prom.query(`ib_goodput_slo_seconds{${sel},metric="ttft_ms"}`)), 0.04);
  assert.strictEqual(scalar(await prom.query(`ib_prompt_tokens_total{${sel}}`)), s.total_prompt_tokens);
  assert.strictEqual(scalar(await prom.query(`ib_completion_tokens_total{${sel}}`)), s.total_completion_tokens);
  assert.strictEqual(scalar(await prom.query(`ib_tpot_seconds_count{${sel}}`)), s.tpot.count);
  assert.strictEqual(scalar(await prom.query(`ib_itl_seconds_count{${sel}}`)), s.itl.count);

  // From the intended start (coordinated omission): present exactly when the requests carry
  // client_queue_ms, with the results file's counts.
  const intendedCount = scalar(await prom.query(`ib_ttft_intended_seconds_count{${sel}}`));
  const queueCount = scalar(await prom.query(`ib_client_queue_seconds_count{${sel}}`));
  if (s.ttft_intended) {
    assert.strictEqual(intendedCount, s.ttft_intended.count);
    assert.strictEqual(scalar(await prom.query(`ib_e2e_intended_seconds_count{${sel}}`)), s.e2e_intended.count);
    assert.strictEqual(queueCount, s.client.client_queue_ms.count);
  } else {
    assert.ok(Number.isNaN(intendedCount) && Number.isNaN(queueCount), 'intended series without client_queue_ms');
  }

  // One query joins ib's series with ib-sim's own vllm: series (on the model).
  const join = await prom.query(`ib_server_running_requests{${sel}} - on(model) group_left() ` +
    'label_replace(sum by (model_name) (vllm:num_requests_running), "model", "$1", "model_name", "(.*)")');
  assert.strictEqual(join.length, 1, JSON.stringify(join));
  assert.strictEqual(join[0].metric.run_id, runId);

  // Every expression of the Grafana board is valid PromQL, and every panel draws something.
  const board = JSON.parse(fs.readFileSync(GRAFANA, 'utf8'));
  for (const panel of board.panels.filter((p) => p.type !== 'row')) {
    let drawn = 0;
    for (const target of panel.targets) {
      const expr = target.expr.replaceAll('$run_id', runId).replaceAll('$model', 'Qwen/Qwen3-0.6B')
        .replaceAll('$__rate_interval', '1m');
      drawn += (await prom.query(expr)).length;
    }
    assert.ok(drawn > 0, `Grafana panel "${panel.title}" draws nothing`);
  }

  // promtool accepts ib-dash's page in Prometheus text format.
  const page = await get(dash.base + '/metrics', { headers: { Accept: 'text/plain;version=0.0.4' } });
  assert.match(page.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  const check = spawnSync('promtool', ['check', 'metrics'], { input: page.body, encoding: 'utf8' });
  assert.strictEqual(check.status, 0, check.stdout + check.stderr);
  const om = await get(dash.base + '/metrics');
  assert.match(om.headers['content-type'], /^application\/openmetrics-text; version=1\.0\.0/);
  assert.ok(om.body.endsWith('\n# EOF\n'));

  // Backfill: the exported run, turned into a TSDB block by promtool, read by a new Prometheus.
  const exported = spawnSync(tool('ib-results'), ['--dir', outDir, 'export', runId, '--format', 'openmetrics'],
    { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.strictEqual(exported.status, 0, exported.stderr);
  assert.ok(exported.stdout.endsWith('\n# EOF\n'));
  const omFile = path.join(tmpDir('ib-prom-export-'), 'run.om');
  fs.writeFileSync(omFile, exported.stdout);
  const blocks = tmpDir('ib-prom-blocks-');
  const create = spawnSync('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', omFile, blocks], { encoding: 'utf8' });
  assert.strictEqual(create.status, 0, create.stdout + create.stderr);
  const backfilled = await startPrometheus('global:\n  scrape_interval: 1h\n', blocks);
  const at = Date.parse(results.metadata.finished_at) / 1000 + 1;
  assert.strictEqual(scalar(await backfilled.query(`ib_requests_total{${sel},outcome="success"}`, at)), s.successful_requests);
  assert.strictEqual(scalar(await backfilled.query(`ib_ttft_seconds_count{${sel}}`, at)), s.successful_requests);
  assert.strictEqual(scalar(await backfilled.query(`sum(ib_requests_total{${sel}})`, at)), s.total_requests);
  // The first point (the run's start) counts zero.
  const first = /^ib_requests_total\{[^}]*outcome="success"\} (\S+) (\S+)$/m.exec(exported.stdout);
  assert.strictEqual(first[1], '0');
  assert.strictEqual(scalar(await backfilled.query(`ib_requests_total{${sel},outcome="success"}`, Number(first[2]))), 0);
});

// Label values with quotes, backslashes, newlines and non-ASCII text arrive escaped per the
// spec; promtool accepts the page and unescaping gives the values back. (Bytes that are not
// UTF-8 cannot arrive through the JSON stream; the writer's fuzz target covers them.) A known
// secret in an event is redacted on this page as everywhere else.
test('odd run ids and model names are escaped in /metrics labels', { timeout: 60000 }, async (t) => {
  t.after(stopAll);
  const secret = 'rpa_MARKERSECRET0123456789';  // a RunPod key in the environment: never on the page
  const dash = await startDash({ resultsDir: tmpDir('ib-prom-esc-'), env: { RUNPOD_API_KEY: secret } });
  children.push(dash.proc);
  dash.proc.exited = new Promise((resolve) => dash.proc.on('exit', resolve));
  const runId = 'r"1\\x\ny';
  const model = 'org/m"é\\\n';
  const ev = (o) => JSON.stringify({ v: 2, run_id: runId, ...o }) + '\n';
  dash.proc.stdin.write(ev({ type: 'phase', phase: 'execution', data: { metadata: { model, framework: 'vllm', gpu_type: `A100 ${secret}` } } }));
  dash.proc.stdin.write(ev({ type: 'request_complete', data: { request_index: 0, start_ms: 0, end_ms: 30,
    ttft_ms: 12, e2e_latency_ms: 30, inter_token_latencies_ms: [9, 9], prompt_tokens: 5, completion_tokens: 3,
    error: null, warmup: false } }));
  const esc = (v) => v.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
  const want = `ib_ttft_seconds_count{run_id="${esc(runId)}",framework="vllm",model="${esc(model)}",gpu_type="A100 [redacted]"} 1\n`;
  let page;
  await until('the request on the page', async () => {
    page = (await get(dash.base + '/metrics', { headers: { Accept: 'text/plain' } })).body;
    return page.includes(want);
  }, 20000);
  const check = spawnSync('promtool', ['check', 'metrics'], { input: page, encoding: 'utf8' });
  assert.strictEqual(check.status, 0, check.stdout + check.stderr);
  // Unescaping the label as a parser does gives the original value back.
  const m = /ib_requests_total\{run_id="((?:[^"\\]|\\.)*)",[^]*?model="((?:[^"\\]|\\.)*)"/.exec(page);
  const unescape = (v) => v.replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
  assert.strictEqual(unescape(m[1]), runId);
  assert.strictEqual(unescape(m[2]), model);
  const om = (await get(dash.base + '/metrics')).body;
  assert.ok(om.includes(want) && om.endsWith('# EOF\n'));
  assert.ok(!page.includes(secret) && !om.includes(secret));
});

// A sweep is one run per iteration: when the second starts, the first one's series leave the
// page (the cardinality bound), and the page ends on the second's figures and sweep position.
test('a sweep: the next iteration replaces the previous one on /metrics', { timeout: 120000 }, async (t) => {
  t.after(stopAll);
  const dash = await startDash({ resultsDir: tmpDir('ib-prom-sweep-dash-') });
  children.push(dash.proc);
  dash.proc.exited = new Promise((resolve) => dash.proc.on('exit', resolve));
  const outDir = tmpDir('ib-prom-sweep-');
  const ibRun = run(tool('ib-run'), [path.join(ROOT, 'tests', 'prometheus', 'sweep-run.yaml'), '--output-dir', outDir,
    '--quiet'], { env: { ...process.env, IB_BIN_DIR: BIN_DIR }, keepStdout: true });
  ibRun.stdout.pipe(dash.proc.stdin, { end: false });
  assert.strictEqual((await ibRun.exited).code, 0, ibRun.output().err);
  // One results file per iteration, and the sweep's study file beside them.
  const all = fs.readdirSync(outDir).sort();
  assert.strictEqual(all.filter((f) => f.endsWith('.study.json')).length, 1, all.join(','));
  const files = all.filter((f) => f.endsWith('.json') && !f.endsWith('.study.json'));
  assert.strictEqual(files.length, 2, all.join(','));
  const [first, second] = files.map((f) => JSON.parse(fs.readFileSync(path.join(outDir, f), 'utf8')))
    .sort((a, b) => a.metadata.iteration - b.metadata.iteration);
  // The last event of the second iteration ib-dash sees for it is its iteration_done.
  const sel = `run_id="${second.run_id}"`;
  const line = (name, extra = '') => new RegExp(`^${name}\\{${sel}[^}]*${extra}\\} (\\S+)$`, 'm');
  let page;
  await until('the second iteration ended on /metrics', async () => {
    page = (await get(dash.base + '/metrics')).body;
    return line('ib_run_phase', 'phase="iteration_done"').exec(page)?.[1] === '1';
  }, 30000);
  assert.ok(!page.includes(first.run_id), 'the first iteration is still on the page');
  assert.strictEqual(line('ib_sweep_iteration').exec(page)[1], '2');
  assert.strictEqual(line('ib_sweep_iterations').exec(page)[1], '2');
  assert.strictEqual(line('ib_sweep_value', 'param="concurrency"').exec(page)[1], '4');
  assert.strictEqual(line('ib_offered_concurrency').exec(page)[1], '4');
  assert.strictEqual(Number(line('ib_requests_total', 'outcome="success"').exec(page)[1]),
    second.summary.successful_requests);
  assert.strictEqual(Number(line('ib_ttft_seconds_count').exec(page)[1]), second.summary.ttft.count);
});
