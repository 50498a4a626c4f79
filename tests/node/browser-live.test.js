// The live banner in real Chromium against the real ib-dash, fed a stream on stdin: what the page
// says must be what ib-dash's live state says (lib/dash/live_state owns it; the page renders):
// a failed start after a finished run keeps nothing of the previous run, a reload mid-sweep
// shows the same experiment, run id, start time and baseline, an iteration's start clears the
// previous iteration's "(finished)", a baseline's legends leave the chart titles readable, and
// each phase is logged once, at ib-dash's time.
'use strict';
const { test, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { launch } = require('../web/browser');
const { startDash, ROOT } = require('../web/server');

const FIXTURES = path.join(ROOT, 'tests/web/fixtures/results');
const BASELINE = 'baseline-vllm-20261127-100000';
let b;
let page;
let dash;
let tmp;

async function waitFor(what, fn, arg, timeout = 30000) {
  try {
    await page.waitForFunction(fn, arg, { timeout });
  } catch (e) {
    const seen = await page.evaluate(() => ({ banner: document.getElementById('banner')?.innerText,
      run: JSON.stringify(window.ibDash?.app.run), log: document.getElementById('log')?.innerText.slice(-600) })).catch(() => ({}));
    throw new Error(`timed out waiting for ${what}; page shows ${JSON.stringify(seen)}`);
  }
}

const phase = (run, name, data = {}) => JSON.stringify({ v: 2, type: 'phase', run_id: run, phase: name, data });
const request = (run, i) => JSON.stringify({ v: 2, type: 'request_complete', run_id: run, data: { request_index: i, start_ms: i * 100,
  end_ms: i * 100 + 80, ttft_ms: 20, e2e_latency_ms: 80, completion_tokens: 8, prompt_tokens: 16, inter_token_latencies_ms: [9, 10], error: null } });
const gpu = (run, t) => JSON.stringify({ v: 2, type: 'gpu_sample', run_id: run, data: { t_s: t, kv_cache_usage_frac: 0.4, running_requests: 3, waiting_requests: 1 } });
const banner = () => page.evaluate(() => ({ name: document.getElementById('banner-name').textContent, text: document.getElementById('banner').innerText,
  meta: document.getElementById('banner-meta').textContent, phase: document.getElementById('banner-phase').textContent,
  progress: document.getElementById('banner-progress').textContent, status: document.getElementById('banner-status').textContent,
  run: { ...window.ibDash.app.run }, requests: window.ibDash.liveRun().req.end.length, gpu: window.ibDash.liveRun().gpu.t.length }));
const state = async () => (await (await fetch(`${dash.url}api/state`)).json()).current_run;

before(async () => {
  b = await launch();
  page = b.page;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ib-live-'));
  fs.copyFileSync(path.join(FIXTURES, `${BASELINE}.json`), path.join(tmp, `${BASELINE}.json`));
  dash = await startDash({ resultsDir: tmp });
  await page.goto(dash.url);
  await waitFor('connected', () => document.getElementById('conn-status').textContent === 'connected');
}, { timeout: 90000 });
after(async () => {
  if (b) await b.browser.close();
  if (dash) await dash.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
}, { timeout: 60000 });
afterEach(() => {
  assert.deepEqual(b.problems, [], 'no console errors or page errors');
  assert.deepEqual(b.offHost, [], 'no request leaves 127.0.0.1');
});

const A = 'sim-demo-20261204-024137';
const C4 = 'sim-demo-c4-20261204-024137';
const C16 = 'sim-demo-c16-20261204-024137';
const META = { framework: 'vllm', model: 'meta-llama/Llama-3.1-8B-Instruct', gpu_type: 'A100-80GB', gpu_count: 1 };

test('an iteration starts clean and a reload mid-sweep shows the same run, start and baseline', { timeout: 120000 }, async () => {
  dash.write(phase(A, 'provisioning', { ...META, provider: 'local' }));
  dash.write(phase(C4, 'sweep_iteration', { iteration: 1, total: 3, name: 'sim-demo-c4', params: { concurrency: 4 }, gpu_type: 'A100-80GB', gpu_count: 1 }));
  dash.write(phase(C4, 'execution', { total_requests: 60, iteration: 1, total: 3, metadata: META, experiment: { name: 'sim-demo-c4' } }));
  for (let i = 0; i < 60; i++) dash.write(request(C4, i));
  dash.write(phase(C4, 'iteration_done', { reason: 'finished', iteration: 1, total: 3 }));
  await waitFor('iteration 1 done', () => /Iteration done \(finished\)/.test(document.getElementById('banner-phase')?.textContent || ''));
  assert.match((await banner()).progress, /^60 \/ 60 requests/);

  // Iteration 2 starts: its own id and count, the experiment's name, no "(finished)".
  dash.write(phase(C16, 'sweep_iteration', { iteration: 2, total: 3, name: 'sim-demo-c16', params: { concurrency: 16 } }));
  await waitFor('iteration 2', () => window.ibDash.app.run.runId === 'sim-demo-c16-20261204-024137');
  let seen = await banner();
  assert.doesNotMatch(seen.phase, /finished/);
  assert.match(seen.phase, /Phase 3\/4 · Sweep iteration/);
  assert.match(seen.text, /iteration 2\/3 \(sim-demo-c16\)/);
  assert.equal(seen.name, 'sim-demo');
  assert.match(seen.progress, /^0 \/ \? requests/);
  assert.equal(seen.requests, 0, 'no request of iteration 1 on iteration 2\'s charts');
  dash.write(phase(C16, 'execution', { total_requests: 60, iteration: 2, total: 3, metadata: META, experiment: { name: 'sim-demo-c16' } }));
  for (let i = 0; i < 20; i++) { dash.write(request(C16, i)); dash.write(gpu(C16, i)); }
  await waitFor('20 requests of iteration 2', () => /^20 \/ 60 requests/.test(document.getElementById('banner-progress')?.textContent || ''));
  assert.doesNotMatch((await banner()).phase, /finished/);

  // A baseline, then a reload mid-sweep.
  await waitFor('the baseline listed', (id) => [...document.querySelectorAll('#baseline-select option')].some((o) => o.value === id), BASELINE);
  await page.selectOption('#baseline-select', BASELINE);
  await waitFor('the baseline drawn', () => (document.getElementById('live-ttft').data || []).length === 2);
  const before = await banner();
  const server = await state();
  assert.equal(before.run.runId, server.run_id);
  assert.equal(before.run.startedMs, Date.parse(server.started_at));
  await page.reload();
  await waitFor('connected again', () => document.getElementById('conn-status').textContent === 'connected');
  await waitFor('the run again', (id) => window.ibDash.app.run.runId === id, C16);
  await waitFor('the baseline again', () => (document.getElementById('live-ttft').data || []).length === 2);
  seen = await banner();
  assert.equal(seen.name, 'sim-demo');
  assert.equal(seen.run.runId, C16);
  assert.equal(seen.run.startedMs, before.run.startedMs, 'elapsed counts from the same start');
  assert.equal(seen.meta, before.meta);
  assert.equal(seen.phase, before.phase);
  assert.equal(seen.progress.replace(/elapsed.*/, ''), before.progress.replace(/elapsed.*/, ''));
  assert.match(seen.text, /iteration 2\/3 \(sim-demo-c16\)/);
  assert.equal(await page.inputValue('#baseline-select'), BASELINE);

  // With the baseline overlaid, no legend covers its chart's title.
  const overlaps = await page.evaluate(() => {
    const hit = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
    const out = [];
    for (const gd of document.querySelectorAll('#live-charts .chart')) {
      const legend = gd.querySelector('.legend');
      const title = gd.querySelector('.gtitle');
      if (!legend || !title) continue;
      const l = legend.getBoundingClientRect();
      const t = title.getBoundingClientRect();
      const x = gd.querySelector('.xtitle');
      if (hit(l, t) || (x && hit(l, x.getBoundingClientRect()))) out.push(gd.id);
    }
    return { out, legends: document.querySelectorAll('#live-charts .legend').length };
  });
  assert.ok(overlaps.legends >= 4, `legends drawn: ${overlaps.legends}`);
  assert.deepEqual(overlaps.out, [], 'legends clear of titles');

  // Each phase is logged once, at ib-dash's time: the log's times never go backwards.
  const times = await page.evaluate(() => [...document.querySelectorAll('#log .log-line')].filter((l) => l.querySelector('.log-src').textContent === 'phase')
    .map((l) => l.querySelector('.log-msg').textContent));
  assert.deepEqual(times, ['provisioning', 'sweep_iteration', 'execution', 'iteration_done: finished', 'sweep_iteration', 'execution']);

  dash.write(phase(A, 'cleanup'));
  dash.write(phase(A, 'done'));
  await waitFor('done', () => document.getElementById('banner-status')?.textContent === 'done');
  seen = await banner();
  assert.equal(seen.run.runId, C16, 'the last iteration stays on screen');
  assert.equal(seen.requests, 20);
});

test('a failed start after a finished run keeps nothing of the previous run', { timeout: 60000 }, async () => {
  const Q = 'quick-smoke-test-vllm-20261204-024835';
  // What ib-run writes when RunPod has no key: ib-provision's error, then cleanup and failed
  // under the new run id (no provisioning phase).
  dash.write(JSON.stringify({ v: 2, type: 'log', level: 'error', message: 'ib-provision: error: No RunPod API key found.', run_id: Q,
    source: 'ib-provision', timestamp: new Date().toISOString() }));
  dash.write(phase(Q, 'cleanup', { elapsed_s: 0.09 }));
  dash.write(phase(Q, 'failed', { elapsed_s: 0.1, iterations: 1, reason: 'ib-provision ended (exit 2) without a server', result_paths: [] }));
  await waitFor('the failed start', (id) => window.ibDash.app.run.runId === id && document.getElementById('banner-status')?.textContent === 'failed', Q);
  const seen = await banner();
  const server = await state();
  assert.equal(server.run_id, Q);
  assert.equal(seen.name, 'quick-smoke-test-vllm');
  assert.doesNotMatch(seen.text, /sim-demo|Llama|A100/, 'nothing of the previous run');
  assert.equal(seen.meta, 'waiting for run metadata');
  assert.match(seen.progress, /^0 \/ \? requests/);
  assert.equal(seen.requests, 0);
  assert.equal(seen.gpu, 0);
  assert.match(seen.phase, /Failed \(ib-provision ended \(exit 2\) without a server\)/);
  assert.equal(seen.run.startedMs, Date.parse(server.started_at));
  const errors = await page.evaluate(() => [...document.querySelectorAll('#log .lvl-error')].map((l) => l.textContent));
  assert.equal(errors.length, 2);
  assert.match(errors[0], /No RunPod API key/);
  assert.match(errors[1], /failed: ib-provision ended/);
  // The same after a reload.
  await page.reload();
  await waitFor('connected again', () => document.getElementById('conn-status').textContent === 'connected');
  await waitFor('the failed run again', (id) => window.ibDash.app.run.runId === id, Q);
  const again = await banner();
  assert.equal(again.meta, seen.meta);
  assert.equal(again.phase, seen.phase);
  assert.equal(again.status, 'failed');
});

test('History opens a results file listed by the run id inside it, whatever the file is called', { timeout: 60000 }, async () => {
  // An original-tool file a user copied in as smoke.json.
  const src = path.join(FIXTURES, 'quick-smoke-test-20260212-150000.json');
  fs.copyFileSync(src, path.join(tmp, 'smoke.json'));
  const runId = JSON.parse(fs.readFileSync(src, 'utf8')).run_id;
  await page.click('#tab-history');
  await page.evaluate(() => window.ibDash.app.refreshResults());
  await waitFor('listed by its run id', (id) => [...document.querySelectorAll('#history-table td.mono')].some((td) => td.textContent === id), runId);
  await page.locator('#history-table tr', { hasText: runId }).first().click();
  await waitFor('opened', () => /requests/.test(document.getElementById('history-status').textContent) || /cannot open/.test(document.getElementById('history-status').textContent));
  assert.doesNotMatch(await page.textContent('#history-status'), /cannot open/);
});

test('base configs are listed as configs to extend, not as invalid experiments', { timeout: 60000 }, async () => {
  await page.click('#tab-live');
  await waitFor('configs listed', () => document.querySelectorAll('#config-select option').length > 3);
  const options = await page.evaluate(() => [...document.querySelectorAll('#config-select option')].map((o) => o.textContent));
  const bases = options.filter((o) => o.startsWith('base/'));
  assert.equal(bases.length, 2, options.join('\n'));
  for (const o of bases) { assert.match(o, /\(base: extend it\)/); assert.doesNotMatch(o, /invalid/); }
  assert.ok(options.filter((o) => /invalid/.test(o)).length === 0, `no example is invalid: ${options.join(', ')}`);
  await page.selectOption('#config-select', 'experiments/base/vllm-defaults.yaml');
  assert.match(await page.textContent('#config-base'), /extends: "\.\.\/base\/vllm-defaults\.yaml"/);
  assert.equal(await page.isVisible('#config-preview ul.errors'), false);
  assert.equal(await page.isDisabled('#start-btn'), true);
});
