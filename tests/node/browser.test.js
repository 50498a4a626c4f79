// The dashboard page in real Chromium (headless, driven by playwright-core) against a real
// ib-dash: a golden stream piped into ib-dash's stdin must show up on every chart, in the banner
// and in the log; History must render results files of both formats; Compare must show deltas;
// the page must recover after a reload and after ib-dash restarts; no console errors and no
// request off 127.0.0.1. Screenshots of each tab land in .cache/browser-artifacts/.
'use strict';
const { test, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { launch } = require('../web/browser');
const { startDash, ROOT } = require('../web/server');

const FIXTURES = path.join(ROOT, 'tests/web/fixtures');
const ARTIFACTS = path.join(ROOT, '.cache/browser-artifacts');
const STREAM = fs.readFileSync(path.join(FIXTURES, 'stream-live.ndjson'), 'utf8').split('\n').filter(Boolean);
const WAIT = { timeout: 30000 };

let dash;
let tmp;
let resultsDir;
let b;
let page;

// What the golden stream holds, computed from the stream itself.
const expected = (() => {
  let gpu = 0;
  let reqs = 0;
  let ok = 0;
  let gaps = 0;
  for (const line of STREAM) {
    const e = JSON.parse(line);
    if (e.type === 'gpu_sample') gpu++;
    if (e.type === 'request_complete') {
      reqs++;
      if (e.data.error === null) { ok++; gaps += e.data.inter_token_latencies_ms.length; }
    }
  }
  return { gpu, reqs, ok, gaps, runId: JSON.parse(STREAM[0]).run_id };
})();

function readResults(name) { return JSON.parse(fs.readFileSync(path.join(FIXTURES, 'results', name), 'utf8')); }

// Chart inspectors: what Plotly actually holds in the page.
const pointsOf = (id) => page.evaluate((i) => { const gd = document.getElementById(i); return gd && gd.data ? gd.data.map((t) => (t.x || []).filter((v) => v !== null).length) : null; }, id);
const histTotal = (id) => page.evaluate((i) => { const gd = document.getElementById(i); return gd && gd.data && gd.data[0] ? gd.data[0].y.reduce((a, v) => a + v, 0) : null; }, id);
const segmentsOf = (id) => page.evaluate((i) => { const gd = document.getElementById(i); return gd && gd.data ? gd.data.map((t) => t.x.filter((v) => v !== null).length / 2) : null; }, id);

// page.waitForFunction with a name: on timeout the error says what was awaited and what the
// banner and connection showed, so a failure in CI reads without a rerun.
async function waitFor(what, fn, arg, timeout = WAIT.timeout) {
  try {
    await page.waitForFunction(fn, arg, { timeout });
  } catch (e) {
    const seen = await page.evaluate(() => ({
      conn: document.getElementById('conn-status')?.textContent, banner: document.getElementById('banner')?.innerText,
      requests: window.ibDash?.liveRun().req.end.length, gpu: window.ibDash?.liveRun().gpu.t.length,
    })).catch(() => ({}));
    throw new Error(`timed out waiting for ${what}; page shows ${JSON.stringify(seen)}`);
  }
}
const timelineHas = (n) => { const gd = document.getElementById('live-timeline'); return gd.data && gd.data.reduce((a, t) => a + t.x.filter((v) => v !== null).length / 2, 0) === n; };

async function shot(name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ib-web-test-'));
  resultsDir = path.join(tmp, 'results');
  fs.mkdirSync(resultsDir);
  for (const f of fs.readdirSync(path.join(FIXTURES, 'results'))) fs.copyFileSync(path.join(FIXTURES, 'results', f), path.join(resultsDir, f));
  fs.writeFileSync(path.join(resultsDir, 'broken-20261126-090000.json'), '{"run_id": "broken-2026');
  dash = await startDash({ resultsDir });
  b = await launch({ downloads: true });
  page = b.page;
}, { timeout: 90000 });

after(async () => {
  if (b) await b.browser.close();
  if (dash) await dash.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}, { timeout: 30000 });

afterEach(() => {
  assert.deepEqual(b.problems, [], 'no console errors or page errors');
  assert.deepEqual(b.offHost, [], 'no request leaves 127.0.0.1');
});

test('the page loads offline with the launch token and connects', { timeout: 60000 }, async () => {
  await page.goto(dash.url);
  await page.waitForFunction(() => document.getElementById('conn-status').textContent === 'connected', null, WAIT);
  const token = await page.evaluate(() => document.querySelector('meta[name="ib-token"]').content);
  assert.match(token, /^[0-9a-f]{16,}$/, 'the server substituted __IB_TOKEN__');
  assert.equal(await page.textContent('#port'), `:${dash.port}`);
  // Empty states say what to do.
  assert.match(await page.textContent('#banner'), /No run yet/);
  assert.equal(await page.evaluate(() => typeof Plotly === 'object' && typeof Alpine === 'object'), true, 'vendored libraries load');
});

test('a piped stream fills every live chart, the banner, the log and the summary', { timeout: 90000 }, async () => {
  for (const line of STREAM) dash.write(line);
  await page.waitForFunction(() => /Done/.test(document.getElementById('banner-phase')?.textContent || ''), null, WAIT);
  await page.waitForFunction((n) => /(\d+) \/ (\d+) requests/.test(document.getElementById('banner-progress').textContent)
    && document.getElementById('banner-progress').textContent.startsWith(`${n} / ${n}`), expected.reqs, WAIT);
  assert.match(await page.textContent('#banner-phase'), /Phase 4\/4 · Done/);
  assert.match(await page.textContent('#banner-meta'), /vllm · Qwen\/Qwen3-0\.6B · A100-80GB ×1/);

  // Request charts redraw on a timer: wait until they caught up, then check exact counts.
  await waitFor(`${expected.reqs} timeline segments`, timelineHas, expected.reqs);
  const [okSeg, badSeg] = await segmentsOf('live-timeline');
  assert.equal(okSeg, expected.ok, 'one green segment per successful request');
  assert.equal(badSeg, expected.reqs - expected.ok, 'one red segment per failed request');
  assert.equal(await histTotal('live-ttft'), expected.ok, 'TTFT histogram counts every successful request');
  assert.equal(await histTotal('live-e2e'), expected.ok);
  assert.equal(await histTotal('live-itl'), expected.gaps, 'ITL histogram counts every token gap');
  assert.ok((await pointsOf('live-tput'))[0] > 10, 'throughput over time has points');

  // GPU charts: ib-dash forwards samples downsampled to ~1/s; the page draws each one it got.
  const received = await page.evaluate(() => window.ibDash.liveRun().gpu.t.length);
  assert.ok(received > 0 && received <= expected.gpu, `GPU samples received: ${received}`);
  for (const id of ['live-kv', 'live-hit', 'live-gen']) assert.deepEqual(await pointsOf(id), [received], id);
  assert.deepEqual(await pointsOf('live-reqs'), [received, received], 'running and waiting lines');

  const log = await page.textContent('#log');
  assert.match(log, /200\/240 requests done/);
  assert.match(log, /request 79 failed: HTTP 503/);
  assert.match(await page.textContent('#live-summary'), /237 \/ 240/);
  await shot('live');
});

test('the log filters by level and keeps following', { timeout: 60000 }, async () => {
  await page.selectOption('#log-level', 'warning');
  const levels = await page.$$eval('#log .log-level', (els) => els.map((e) => e.textContent));
  assert.ok(levels.length >= 3, 'the three failures are logged as warnings');
  assert.ok(levels.every((l) => l === 'WARNING' || l === 'ERROR'), `only warning+ lines: ${levels}`);
  await page.selectOption('#log-level', 'debug');
  const all = await page.$$eval('#log .log-level', (els) => els.map((e) => e.textContent));
  assert.ok(all.includes('DEBUG') && all.includes('INFO'), 'debug+ shows everything');
  await page.hover('#log');
  assert.match(await page.textContent('#log-state'), /paused/);
  await page.mouse.move(5, 5);
  await page.selectOption('#log-level', 'info');
});

test('a baseline run overlays the live charts', { timeout: 60000 }, async () => {
  await page.selectOption('#baseline-select', 'baseline-vllm-20261127-100000');
  await page.waitForFunction(() => document.getElementById('live-kv').data.length === 2, null, WAIT);
  const base = readResults('baseline-vllm-20261127-100000.json');
  assert.equal((await pointsOf('live-kv'))[1], base.gpu_metrics.time_series.length, 'baseline KV line has every sample');
  await page.waitForFunction(() => document.getElementById('live-ttft').data.length === 2, null, WAIT);
  const yTitle = await page.evaluate(() => document.getElementById('live-ttft').layout.yaxis.title.text);
  assert.equal(yTitle, '% of requests', 'distributions are normalised when overlaid');
  await shot('live-baseline');
  await page.selectOption('#baseline-select', '');
  await page.waitForFunction(() => document.getElementById('live-kv').data.length === 1, null, WAIT);
});

test('History lists runs and renders an ib results file, exportable as PNG', { timeout: 90000 }, async () => {
  await page.click('#tab-history');
  const rows = page.locator('#history-table tbody tr');
  await page.waitForFunction(() => document.querySelectorAll('#history-table tbody tr').length >= 4, null, WAIT);
  const text = await page.textContent('#history-table');
  assert.match(text, /baseline-vllm-20261127-100000/);
  assert.match(text, /unreadable/, 'a broken file is listed, not hidden');
  const ids = await rows.evaluateAll((trs) => trs.map((tr) => tr.cells[0].textContent));
  assert.ok(ids.indexOf('baseline-sglang-20261127-110000') < ids.indexOf('quick-smoke-test-20260212-150000'), 'newest first');

  await rows.filter({ hasText: 'baseline-vllm-20261127-100000' }).click();
  await page.waitForFunction(() => document.getElementById('history-timeline')?.data, null, WAIT);
  const file = readResults('baseline-vllm-20261127-100000.json');
  assert.deepEqual(await pointsOf('history-kv'), [file.gpu_metrics.time_series.length]);
  assert.equal(await histTotal('history-ttft'), file.summary.successful_requests);
  const segs = await segmentsOf('history-timeline');
  assert.equal(segs[0] + segs[1], file.requests.length);
  assert.match(await page.textContent('#history-summary'), /200 \/ 200/);
  await shot('history');

  const [download] = await Promise.all([
    page.waitForEvent('download', WAIT),
    page.locator('#history-ttft').locator('xpath=..').locator('button.png').click(),
  ]);
  const png = await download.path();
  const head = fs.readFileSync(png).subarray(0, 8);
  assert.deepEqual([...head], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a real PNG');
  assert.match(download.suggestedFilename(), /baseline-vllm-20261127-100000-ttft\.png/);
});

test('History renders a results file written by the original Python tool', { timeout: 60000 }, async () => {
  await page.locator('#history-table tbody tr', { hasText: 'quick-smoke-test-20260212-150000' }).click();
  await page.waitForFunction(() => /quick-smoke-test/.test(document.getElementById('history-title').textContent)
    && /requests/.test(document.getElementById('history-status').textContent), null, WAIT);
  const file = readResults('quick-smoke-test-20260212-150000.json');
  await page.waitForFunction((n) => { const gd = document.getElementById('history-timeline'); return gd.data && gd.data.reduce((a, t) => a + t.x.filter((v) => v !== null).length / 2, 0) === n; }, file.requests.length, WAIT);
  assert.equal(await histTotal('history-ttft'), file.summary.successful_requests);
  assert.deepEqual(await pointsOf('history-kv'), [file.gpu_metrics.time_series.length]);
  // Wall-clock started_at becomes a timeline that starts near zero.
  const x0 = await page.evaluate(() => Math.min(...document.getElementById('history-timeline').data[0].x.filter((v) => v !== null)));
  assert.ok(x0 >= 0 && x0 < 1, `first request starts at ${x0} s`);
});

test('Compare shows deltas, better/worse, and overlays in distinct colours', { timeout: 60000 }, async () => {
  await page.click('#tab-compare');
  await page.check('#compare-pick input[value="baseline-vllm-20261127-100000"]');
  await page.check('#compare-pick input[value="baseline-sglang-20261127-110000"]');
  await page.click('#compare-btn');
  await page.waitForFunction(() => document.getElementById('compare-ttft')?.data?.length === 2, null, WAIT);
  const table = await page.textContent('#compare-table');
  assert.match(table, /TTFT p50/);
  // sglang (second, newer) has lower TTFT than vllm (reference): a green, negative delta.
  const ttftRow = await page.locator('#compare-table tr', { hasText: 'TTFT p50' }).innerHTML();
  assert.match(ttftRow, /class="delta better"[^>]*>-/);
  assert.ok(await page.locator('#compare-table .delta.worse').count() > 0, 'regressions are marked too');
  const colors = await page.evaluate(() => document.getElementById('compare-ttft').data.map((t) => t.line.color));
  assert.equal(new Set(colors).size, 2);
  for (const id of ['compare-e2e', 'compare-tput', 'compare-kv']) assert.equal((await pointsOf(id)).length, 2, id);
  await shot('compare');
});

test('reloading mid-run recovers the state, then the run goes on', { timeout: 90000 }, async () => {
  await page.click('#tab-live');
  const runId = 'sim-demo-20261128-031500';
  const lines = STREAM.map((l) => l.split(expected.runId).join(runId));
  const cut = lines.findIndex((l, i) => i > 60 && l.includes('"request_complete"'));
  for (const line of lines.slice(0, cut + 1)) dash.write(line);
  await waitFor('the new run in the banner', (id) => document.getElementById('banner').textContent.includes(id), runId);
  await page.reload();
  await waitFor('connected after reload', () => document.getElementById('conn-status').textContent === 'connected');
  await waitFor('the run back in the banner after reload', (id) => document.getElementById('banner').textContent.includes(id), runId);
  assert.match(await page.textContent('#banner-phase'), /Phase 3\/4 · Running benchmark/);
  const before = await page.evaluate(() => window.ibDash.liveRun().req.end.length);
  assert.ok(before > 0, 'requests of the running run come back from the state');
  await waitFor('GPU points after reload', () => (document.getElementById('live-kv').data || [])[0]?.x.length > 0);
  await shot('live-reloaded');
  for (const line of lines.slice(cut + 1)) dash.write(line);
  await waitFor('phase Done', () => /Done/.test(document.getElementById('banner-phase').textContent));
  await waitFor(`${expected.reqs} timeline segments`, timelineHas, expected.reqs);
});

test('the page shows reconnecting when ib-dash dies and recovers when it is back', { timeout: 120000 }, async () => {
  const port = dash.port;
  await dash.kill();
  await page.waitForFunction(() => /reconnecting/.test(document.getElementById('conn-status').textContent), null, WAIT);
  await shot('reconnecting');
  // The browser logs the failed connection attempts as errors while the server is down; those
  // are expected here and are not the page's fault.
  dash = await startDash({ resultsDir, port });
  await page.waitForFunction(() => document.getElementById('conn-status').textContent === 'connected', null, { timeout: 60000 });
  b.problems.splice(0, b.problems.length, ...b.problems.filter((p) => !/WebSocket connection|ERR_CONNECTION_REFUSED|Failed to load resource|Failed to fetch|net::ERR_/.test(p)));
  // The new ib-dash has a new token: the page re-read it, and commands work again.
  await page.click('#tab-history');
  await page.locator('#history-table tbody tr', { hasText: 'baseline-sglang-20261127-110000' }).click();
  await page.waitForFunction(() => /baseline-sglang/.test(document.getElementById('history-title').textContent), null, WAIT);
});
