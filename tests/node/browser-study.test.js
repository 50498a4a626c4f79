// The Study view in real Chromium against the real ib-dash running the real pipeline (ib-run,
// ib-sim, ib-load, ib-scrape, ib-aggregate): a capacity search started from the page draws its
// curve live as probes finish (ib-dash pushes the study file each time ib-run rewrites it), then
// the finished search shows every point, the SLO lines and the answer, as its study file says;
// History lists the study as one row that expands into its iterations; Compare overlays the
// search (vLLM) and a sweep (SGLang) on the same axes; a chart exports a real PNG. No console
// errors, no request off 127.0.0.1. Expected values are read from the study files ib-run wrote.
'use strict';
const { test, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { launch } = require('../web/browser');
const { startDash, ROOT } = require('../web/server');

const ARTIFACTS = path.join(ROOT, '.cache/browser-artifacts');
const PIPELINE = ['ib-run', 'ib-sim', 'ib-load', 'ib-scrape', 'ib-aggregate', 'ib-dash'];
const binDir = process.env.IB_BIN_DIR || path.join(ROOT, 'bazel-bin');
const missing = PIPELINE.filter((t) => !fs.existsSync(path.join(binDir, 'tools', t, t)));

let b;
let page;
let dash;
let tmp;

async function waitFor(what, fn, arg, timeout = 60000) {
  try {
    await page.waitForFunction(fn, arg, { timeout });
  } catch (e) {
    const seen = await page.evaluate(() => ({ conn: document.getElementById('conn-status')?.textContent,
      banner: document.getElementById('banner')?.innerText, study: document.getElementById('study-answer')?.innerText,
      draws: window.ibDash?.studyDraws, log: document.getElementById('log')?.innerText.slice(-600) })).catch(() => ({}));
    throw new Error(`timed out waiting for ${what}; page shows ${JSON.stringify(seen)}`);
  }
}

function studyFile(resultsDir, prefix) {
  const name = fs.readdirSync(resultsDir).find((f) => f.startsWith(prefix) && f.endsWith('.study.json'));
  assert.ok(name, `a study file ${prefix}*.study.json in ${fs.readdirSync(resultsDir).join(', ')}`);
  return JSON.parse(fs.readFileSync(path.join(resultsDir, name), 'utf8'));
}

// What Plotly holds for a chart: traces (name, point count, x, y) and the shapes' names.
const chart = (id) => page.evaluate((i) => {
  const gd = document.getElementById(i);
  if (!gd || !gd.data) return null;
  return { traces: gd.data.map((t) => ({ name: t.name, n: (t.x || []).length, x: t.x, y: t.y })),
    shapes: (gd.layout.shapes || []).map((s) => ({ name: s.name, x0: s.x0, y0: s.y0 })) };
}, id);

before(async () => {
  if (missing.length) return;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ib-web-study-'));
  fs.mkdirSync(path.join(tmp, 'results'));
  b = await launch({ downloads: true });
  page = b.page;
}, { timeout: 90000 });
after(async () => {
  if (b) await b.browser.close();
  if (dash) await dash.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}, { timeout: 60000 });
afterEach(() => {
  if (!b) return;
  assert.deepEqual(b.problems, [], 'no console errors or page errors');
  assert.deepEqual(b.offHost, [], 'no request leaves 127.0.0.1');
});

test('Study view: a search live, then its points, SLO lines and answer; History rows; Compare overlays two studies', {
  timeout: 420000,
  skip: missing.length ? `not built yet: ${missing.join(', ')}` : false,
}, async () => {
  const resultsDir = path.join(tmp, 'results');
  dash = await startDash({ resultsDir, experimentsDir: path.join(ROOT, 'tests/web/studies'), env: { IB_BIN_DIR: binDir } });
  await page.goto(dash.url);
  await waitFor('connected', () => document.getElementById('conn-status').textContent === 'connected');
  await waitFor('configs listed', () => document.querySelectorAll('#config-select option').length >= 3);
  await page.click('#tab-study');
  // The search first, the sweep queued behind it.
  await page.selectOption('#config-select', 'experiments/study-search.yaml');
  await page.click('#start-btn');
  await waitFor('the search queued', () => /Queued/.test(document.getElementById('notice').textContent));
  await page.selectOption('#config-select', 'experiments/study-sweep.yaml');
  await page.click('#start-btn');

  // Live: the Study view follows the running search and redraws as each probe ends.
  await waitFor('the search completed in the Study view',
    () => window.ibDash.studyDraws.some((d) => d.id.startsWith('study-search-') && d.status === 'completed'), null, 240000);
  const search = studyFile(resultsDir, 'study-search-');
  const n = search.curve.length;
  assert.ok(n >= 3, `a search of several probes (${n})`);
  const draws = (await page.evaluate(() => window.ibDash.studyDraws)).filter((d) => d.id === search.study_id);
  assert.ok(draws.some((d) => d.status === 'running' && d.points > 0 && d.points < n),
    `drawn while running with part of the curve: ${JSON.stringify(draws)}`);
  for (let i = 1; i < draws.length; i++) assert.ok(draws[i].points >= draws[i - 1].points, `the curve only grows: ${JSON.stringify(draws)}`);
  assert.equal(draws[draws.length - 1].points, n);

  await waitFor('the sweep completed', () => window.ibDash.app.studies.some((s) => s.study_id.startsWith('study-sweep-') && s.status === 'completed'), null, 180000);
  const sweep = studyFile(resultsDir, 'study-sweep-');
  assert.equal(sweep.curve.length, 3);

  // The finished search, chosen by hand (the view had followed the sweep meanwhile).
  await page.selectOption('#study-select', search.study_id);
  await waitFor('the search drawn', (id) => document.getElementById('study-title').textContent === id &&
    document.querySelectorAll('#study-table tbody tr').length > 0, search.study_id);
  const ans = search.answer;
  assert.equal(typeof ans.value, 'number', 'the search found an answer');
  const ansPoint = search.curve.find((p) => p.run_id === ans.passing_probe);
  // A saturation probe offers everything at once: a marker of its own, not on the rate axis.
  const sat = search.curve.filter((p) => p.offered === null);
  const paced = search.curve.filter((p) => p.offered !== null);
  const m = paced.length;
  assert.equal(sat.length, 1, 'the search ran one saturation probe');
  const tt = await chart('study-tput-ttft');
  const p50 = tt.traces.find((t) => t.name === 'TTFT p50');
  const p99 = tt.traces.find((t) => t.name === 'TTFT p99');
  assert.equal(p50.n, m, 'one point per paced probe');
  assert.deepEqual(p99.y, paced.slice().sort((a, c) => a.offered - c.offered).map((p) => p.output_tok_s), 'connected in offered order');
  const satTrace = tt.traces.find((t) => /^saturation probe/.test(t.name));
  assert.deepEqual(satTrace.x, [sat[0].ttft_ms.p50, sat[0].ttft_ms.p99]);
  assert.deepEqual(tt.shapes.filter((s) => s.name === 'SLO ttft_ms p99').map((s) => s.x0), [100], 'TTFT p99 SLO line at 100 ms');
  const star = tt.traces.find((t) => /^answer/.test(t.name));
  assert.ok(star, 'the answer is marked');
  assert.deepEqual([star.x[0], star.y[0]], [ansPoint.ttft_ms.p99, ansPoint.output_tok_s]);
  const tp = await chart('study-tput-tpot');
  assert.deepEqual(tp.shapes.filter((s) => s.name === 'SLO tpot_ms p99').map((s) => s.x0), [50]);
  assert.equal(tp.traces.find((t) => t.name === 'TPOT p50').n, m);
  const lat = await chart('study-lat-ttft');
  assert.deepEqual(lat.shapes.filter((s) => s.name === 'SLO ttft_ms p99').map((s) => s.y0), [100], 'horizontal SLO line over the swept value');
  assert.ok(lat.shapes.some((s) => s.name === `answer ${search.study_id}` && s.x0 === ans.value), 'the answer at its swept value');
  assert.deepEqual(lat.traces.find((t) => t.name === 'p50').x, paced.map((p) => p.offered).sort((a, c) => a - c), 'the paced probes at their offered rates');
  const rows = await page.$$eval('#study-table tbody tr', (trs) => trs.map((tr) => ({ id: tr.dataset.runId, answer: tr.classList.contains('answer') })));
  assert.equal(rows.length, n);
  assert.deepEqual(rows.filter((r) => r.answer).map((r) => r.id), [ans.passing_probe]);
  const answerText = await page.textContent('#study-answer');
  const shown = answerText.match(/^([\d,.]+) req\/s within .*TTFT p99 ≤ 100 ms/);
  assert.ok(shown, answerText);
  assert.ok(Math.abs(Number(shown[1].replace(/,/g, '')) - ans.value) <= 0.5, `${answerText} shows ${ans.value} (rounded)`);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'study-search.png'), fullPage: true });

  // PNG export of a Study chart: a real PNG downloads.
  const [download] = await Promise.all([
    page.waitForEvent('download', { timeout: 30000 }),
    page.locator('#study-charts .chart-card', { has: page.locator('#study-tput-ttft') }).locator('button.png').click(),
  ]);
  assert.equal(download.suggestedFilename(), `${search.study_id}-tput-ttft.png`);
  assert.deepEqual([...fs.readFileSync(await download.path()).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);

  // History: each study is one row; its iterations are not rows of their own until expanded.
  await page.click('#tab-history');
  await waitFor('study rows', () => document.querySelectorAll('#history-table tr.study-row').length === 2);
  const topIds = await page.$$eval('#history-table tbody tr .run-label', (els) => els.map((e) => e.textContent));
  assert.deepEqual(topIds.sort(), [search.study_id, sweep.study_id].sort());
  await page.locator('#history-table tr.study-row', { hasText: search.study_id }).click();
  await waitFor('its iterations', (k) => document.querySelectorAll('#history-table tr.iteration-row').length === k, search.iterations.length);
  const itIds = await page.$$eval('#history-table tr.iteration-row .run-label', (els) => els.map((e) => e.textContent));
  assert.deepEqual(itIds, search.iterations.map((it) => it.run_id));
  await page.locator('#history-table tr.iteration-row', { hasText: ans.passing_probe }).click();
  await waitFor('the probe opened', (id) => document.getElementById('history-title').textContent === id &&
    /requests/.test(document.getElementById('history-status').textContent), ans.passing_probe);

  // Compare: the two studies on the same axes, one colour each.
  await page.click('#tab-compare');
  await page.check(`#compare-study-pick input[value="${search.study_id}"]`);
  await page.check(`#compare-study-pick input[value="${sweep.study_id}"]`);
  await page.click('#compare-btn');
  await waitFor('the overlay', () => { const gd = document.getElementById('compare-study-tput-ttft'); return gd && gd.data && gd.data.length >= 4; });
  const cmp = await chart('compare-study-tput-ttft');
  assert.equal(cmp.traces.find((t) => t.name === `${search.study_id} TTFT p50`).n, m);
  assert.equal(cmp.traces.find((t) => t.name === `${sweep.study_id} TTFT p50`).n, 3);
  assert.ok(cmp.traces.some((t) => t.name.startsWith(`${search.study_id} answer`)), 'the search answer marked on the overlay');
  const x = await chart('compare-study-lat-e2e');
  assert.deepEqual(x.traces.find((t) => t.name === `${sweep.study_id} p50`).x, [5, 20, 60], 'the sweep at its swept rates');
  const table = await page.$$eval('#compare-study-table tbody tr', (trs) => trs.map((tr) => tr.innerText));
  assert.equal(table.length, 2);
  assert.ok(table.some((t) => t.includes(sweep.study_id) && /sglang/.test(t)) && table.some((t) => t.includes(search.study_id) && /vllm/.test(t)));
  await page.screenshot({ path: path.join(ARTIFACTS, 'study-compare.png'), fullPage: true });
  await page.goto('about:blank');
});
