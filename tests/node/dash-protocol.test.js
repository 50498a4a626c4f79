// ib-dash's WebSocket protocol and safety, against the real binary (docs/dashboard-protocol.md).
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startDash, request, connect, line, tmpDir, fakeBinDir } = require('./dash-helpers');

let dash;
before(async () => {
  dash = await startDash({ env: { IB_BIN_DIR: fakeBinDir(), RUNPOD_API_KEY: 'rpa_TESTSECRET_0123456789' } });
});
after(async () => { await dash.stop(); });

test('serves the page with the launch token and refuses foreign hosts', async () => {
  const page = await request(dash.base + '/');
  assert.equal(page.status, 200);
  assert.match(page.headers['content-type'], /text\/html/);
  assert.ok(!page.body.includes('__IB_TOKEN__'));
  assert.match(dash.token, /^[0-9a-f]{32}$/);
  const js = await request(dash.base + '/app.js');
  assert.equal(js.status, 200);
  assert.match(js.headers['content-type'], /javascript/);
  const rebound = await request(dash.base + '/', { headers: { Host: `evil.example:${dash.port}` } });
  assert.equal(rebound.status, 403);
  assert.ok(!rebound.body.includes(dash.token));
});

// A kept-alive connection that the server closes when idle (Civetweb: 500 ms, unannounced) is
// reset under a client that reuses it at that instant: 1 of 60 polls at ~0.5 s failed with
// "socket hang up" that way (prometheus.test.js once). So every answer closes its connection.
test('every HTTP answer closes its connection: no idle keep-alive for a client to race', async () => {
  for (const p of ['/', '/metrics', '/api/results', '/no-such-file']) {
    const r = await request(dash.base + p);
    assert.equal(r.headers.connection, 'close', `${p}: Connection: ${r.headers.connection}`);
  }
});

test('refuses traversal, absolute paths, odd bytes and symlinks out of web/', async () => {
  for (const p of ['/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/a/../index.html', '/%00x',
                   '//etc/passwd', '/.hidden', '/app.js%0a']) {
    const r = await request({ port: dash.port, path: p });
    assert.ok(r.status === 400 || r.status === 404, `${p} -> ${r.status}`);
    assert.ok(!r.body.includes('root:'), p);
  }
  const r = await request(dash.base + '/missing.js');
  assert.equal(r.status, 404);
  // A symlink inside web/ that points out of it is not followed.
  const web = tmpDir('ib-dash-web-');
  fs.copyFileSync(path.join(__dirname, '..', 'dash', 'web', 'index.html'), path.join(web, 'index.html'));
  fs.writeFileSync(path.join(path.dirname(web), 'ib-dash-outside.txt'), 'outside secret');
  fs.symlinkSync(path.join(path.dirname(web), 'ib-dash-outside.txt'), path.join(web, 'out.txt'));
  const other = await startDash({ webDir: web, stdin: 'ignore' });
  try {
    const out = await request(other.base + '/out.txt');
    assert.equal(out.status, 404);
    assert.ok(!out.body.includes('outside secret'));
    assert.equal((await request(other.base + '/index.html')).status, 200);
  } finally {
    // SIGTERM is ib-dash's normal end: exit 0 (docs/pipeline.md "Exit codes").
    assert.deepEqual(await other.stop(), { code: 0, signal: null });
  }
});

test('WebSocket needs the token and a same-site Origin', async () => {
  await assert.rejects(connect(dash.wsUrl('')), /403/);
  await assert.rejects(connect(dash.wsUrl('0'.repeat(32))), /403/);
  await assert.rejects(connect(dash.wsUrl(), { origin: 'http://evil.example' }), /403/);
  await assert.rejects(connect(dash.wsUrl(), { origin: `http://127.0.0.1:${dash.port + 1}` }), /403/);
  for (const origin of [`http://127.0.0.1:${dash.port}`, `http://localhost:${dash.port}`]) {
    const c = await connect(dash.wsUrl(), { origin });
    const first = await c.wait(() => true);
    assert.equal(first.type, 'state');
    await c.close();
  }
});

test('state-changing requests need the token and a same-site Origin', async () => {
  const url = dash.base + '/api/experiments';
  assert.equal((await request(url, { method: 'POST' })).status, 403);
  assert.equal((await request(url, { method: 'POST', headers: { 'X-IB-Token': dash.token, Origin: 'http://evil.example' } })).status, 403);
  assert.equal((await request(url, { method: 'DELETE', headers: { 'X-IB-Token': 'nope' } })).status, 403);
  assert.equal((await request(url, { method: 'POST', headers: { 'X-IB-Token': dash.token } })).status, 404);
});

test('every command gets a reply or an error naming it', async () => {
  const c = await connect(dash.wsUrl());
  c.send('not json');
  const e1 = await c.wait((m) => m.type === 'error' && /malformed/.test(m.message));
  assert.equal(e1.data.command, '');
  c.send({ type: 'fly_to_moon' });
  const e2 = await c.wait((m) => m.type === 'error' && /unknown command/.test(m.message));
  assert.equal(e2.data.command, 'fly_to_moon');
  c.send({ type: 'cancel_queued', queue_id: 'q-999' });
  const e3 = await c.wait((m) => m.type === 'error' && m.data.command === 'cancel_queued');
  assert.match(e3.message, /no queued experiment/);
  c.send({ type: 'stop_experiment' });
  const e4 = await c.wait((m) => m.type === 'error' && m.data.command === 'stop_experiment');
  assert.match(e4.message, /no experiment is running/);
  for (const config_path of ['experiments/../../etc/passwd', '/etc/passwd', 'experiments/nope.yaml', 'experiments/%00.yaml']) {
    c.send({ type: 'start_experiment', config_path, options: { confirm: true } });
  }
  for (let i = 0; i < 4; i++) {
    await c.wait((m) => m.type === 'error' && m.data.command === 'start_experiment' &&
      c.messages.filter((x) => x.type === 'error' && x.data.command === 'start_experiment').length >= 4);
  }
  await c.close();
});

test('stdin events reach every client in order; bad lines become error events', async () => {
  const a = await connect(dash.wsUrl());
  const b = await connect(dash.wsUrl());
  // Registered once each has its state: ib-dash queues it in the same step (lib/dash/live_hub.h),
  // and events it reads before that are in the state, not streamed (the socket opens earlier).
  for (const c of [a, b]) await c.wait((m) => m.type === 'state');
  const run = 'stdin-run-1';
  let input = line({ type: 'phase', run_id: run, phase: 'execution', data: { total_requests: 20, experiment: { name: 'piped' } } });
  for (let i = 0; i < 20; i++) {
    input += line({ type: 'gpu_sample', run_id: run, data: { t_s: i * 0.1, kv_cache_usage_frac: 0.1 } });
    input += line({ type: 'request_complete', run_id: run, data: { request_index: i, start_ms: i, end_ms: i + 5 } });
  }
  input += '{broken\n';
  input += line({ type: 'log', run_id: run, level: 'info', message: 'key is rpa_TESTSECRET_0123456789', timestamp: '2026-11-28T03:00:00Z', source: 'test' });
  dash.proc.stdin.write(input);
  for (const c of [a, b]) {
    await c.wait((m) => m.type === 'log' && m.run_id === run);
    const requests = c.messages.filter((m) => m.type === 'request_complete' && m.run_id === run);
    assert.deepEqual(requests.map((m) => m.data.request_index), [...Array(20).keys()]);
    const samples = c.messages.filter((m) => m.type === 'gpu_sample' && m.run_id === run);
    assert.ok(samples.length >= 2 && samples.length <= 3, `downsampled to ${samples.length}`);
    const bad = c.messages.find((m) => m.type === 'error' && m.data && m.data.source === 'stdin');
    assert.ok(bad, 'bad line forwarded as an error event');
    const log = c.messages.find((m) => m.type === 'log' && m.run_id === run);
    assert.ok(!JSON.stringify(log).includes('TESTSECRET'), 'the RunPod key is redacted');
  }
  // A late joiner gets the state first, with the run it missed.
  const late = await connect(dash.wsUrl());
  const state = await late.wait(() => true);
  assert.equal(state.type, 'state');
  assert.equal(state.data.current_run.run_id, run);
  assert.equal(state.data.current_run.name, 'piped');
  assert.equal(state.data.current_run.completed_requests, 20);
  assert.equal(state.data.recent_requests.filter((r) => r.run_id === run).length, 20);
  assert.ok(state.data.recent_gpu_samples.length >= 2);
  assert.ok(!JSON.stringify(state).includes('TESTSECRET'));
  const rest = await request(dash.base + '/api/state');
  assert.equal(JSON.parse(rest.body).current_run.run_id, run);
  await Promise.all([a.close(), b.close(), late.close()]);
});

test('/api/schema is lib/events\' field table and has every request field the page reads', async () => {
  const r = await request(dash.base + '/api/schema');
  assert.equal(r.status, 200);
  const schema = JSON.parse(r.body);
  const model = require('../../web/model.js');
  assert.deepEqual(model.checkSchema(schema), []);
  const names = schema.request_complete.map((f) => f.name);
  for (const n of ['request_index', 'ttft_ms', 'intended_ms', 'client_queue_ms']) assert.ok(names.includes(n), n);
  const itl = schema.request_complete.find((f) => f.name === 'inter_token_latencies_ms');
  assert.equal(itl.type, 'number[]');
  assert.equal(itl.unit, 'ms');
  // A renamed field is named, not silently dropped.
  const renamed = { request_complete: schema.request_complete.filter((f) => f.name !== 'ttft_ms') };
  assert.deepEqual(model.checkSchema(renamed), ['ttft_ms']);
  // The typed payloads (lib/events/payloads.h) are served beside it.
  assert.ok(schema.summary.some((f) => f.name === 'result_path' && f.type === 'string'));
  assert.ok(schema.iteration_done.some((f) => f.name === 'completed' && f.type === 'boolean|integer'));
  assert.ok(schema.execution.some((f) => f.name === 'total_requests' && f.omitted_when_unset === false));
  const noTps = { ...schema, summary: schema.summary.filter((f) => f.name !== 'tokens_per_second') };
  assert.deepEqual(model.checkSchema(noTps), ['summary.tokens_per_second']);
});
