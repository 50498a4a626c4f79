// The offered-load line in real Chromium: a trace replay's stream (tests/web/fixtures/
// stream-trace.ndjson, recorded from `ib-run` of experiments/examples/sim-trace.yaml with
// trace.max_requests 80 and speedup 3 against ib-sim) piped into a real ib-dash must draw, on
// the throughput chart, an "offered (req/s)" line on its own axis whose arrivals are the
// stream's requests counted at their intended_ms. The model's binning is checked in Node too.
'use strict';
const { test, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const M = require('../../web/model.js');
const { launch } = require('../web/browser');
const { startDash, ROOT } = require('../web/server');

const STREAM = fs.readFileSync(path.join(ROOT, 'tests/web/fixtures/stream-trace.ndjson'), 'utf8').split('\n').filter(Boolean);
const REQUESTS = STREAM.map((l) => JSON.parse(l)).filter((e) => e.type === 'request_complete').map((e) => e.data);
const WAIT = { timeout: 30000 };
let dash;
let tmp;
let b;
let page;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ib-web-trace-'));
  dash = await startDash({ resultsDir: tmp });
  b = await launch();
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

test('offeredRate counts every request once at its intended start', () => {
  const run = M.newRun('t');
  for (const d of REQUESTS) M.addRequest(run, d, null, null);
  assert.equal(REQUESTS.length, 80);
  assert.ok(REQUESTS.every((d) => typeof d.intended_ms === 'number'), 'a trace run records intended_ms');
  // A window of one bin: each bin's rate x its width is its arrival count; the counts add up.
  const one = M.offeredRate(run, 0);
  const total = one.y.reduce((a, v) => a + v * one.binS, 0);
  assert.ok(Math.abs(total - REQUESTS.length) < 1e-9, `arrivals ${total}`);
  // The busiest bin holds exactly as many requests as intended_ms puts there.
  const k = one.y.indexOf(Math.max(...one.y));
  const inBin = REQUESTS.filter((d) => Math.floor(d.intended_ms / 1000 / one.binS) === k).length;
  assert.equal(Math.round(one.y[k] * one.binS), inBin);
  // Without intended_ms (older streams) there is no line.
  const old = M.newRun('o');
  M.addRequest(old, { ...REQUESTS[0], intended_ms: undefined }, null, null);
  assert.deepEqual(M.offeredRate(old, 10), { x: [], y: [] });
});

test('the throughput chart draws the offered rate of a trace replay', { timeout: 90000 }, async () => {
  await page.goto(dash.url);
  await page.waitForFunction(() => document.getElementById('conn-status').textContent === 'connected', null, WAIT);
  for (const line of STREAM) dash.write(line);
  await page.waitForFunction((n) => window.ibDash && window.ibDash.liveRun().req.end.length === n, REQUESTS.length, WAIT);
  await page.waitForFunction(() => {
    const gd = document.getElementById('live-tput');
    return gd && gd.data && gd.data.some((t) => t.name === 'offered (req/s)');
  }, null, WAIT);
  const drawn = await page.evaluate(() => {
    const gd = document.getElementById('live-tput');
    const t = gd.data.find((d) => d.name === 'offered (req/s)');
    return { yaxis: t.yaxis, n: t.x.length, max: Math.max(...t.y), side: gd.layout.yaxis2 && gd.layout.yaxis2.side,
      // Drawn lines (throughput's and the offered one, which sits in the y2 overlay's layer).
      lines: [...gd.querySelectorAll('.scatterlayer .trace path.js-line')].filter((p) => (p.getAttribute('d') || '').length > 10).length };
  });
  assert.equal(drawn.yaxis, 'y2', 'on its own axis');
  assert.equal(drawn.side, 'right');
  assert.ok(drawn.n > 5, `points: ${drawn.n}`);
  assert.ok(drawn.max > 0, 'a nonzero rate');
  assert.equal(drawn.lines, 2, 'Plotly rendered the throughput line and the offered line');
  // The page's line is the model's offered rate of the same requests at the page's window.
  const run = M.newRun('t');
  for (const d of REQUESTS) M.addRequest(run, d, null, null);
  const want = M.offeredRate(run, 10);
  const got = await page.evaluate(() => document.getElementById('live-tput').data.find((d) => d.name === 'offered (req/s)').y);
  assert.deepEqual(got, want.y);
});
