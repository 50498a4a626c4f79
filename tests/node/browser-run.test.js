// Running experiments from the page, in real Chromium against the real ib-dash: pick a config,
// Start, watch it fill the charts, queue a second one and cancel it, Stop the first; the cost
// confirmation of a paid config; and (when ib-run's whole pipeline is built) a real local run of
// experiments/examples/sim-smoke.yaml that ends up in History.
'use strict';
const { test, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { launch } = require('../web/browser');
const { startDash, ROOT } = require('../web/server');

const ARTIFACTS = path.join(ROOT, '.cache/browser-artifacts');
const WAIT = { timeout: 60000 };
let b;
let page;
const servers = [];
const tmps = [];

function tmpDir(prefix) { const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix)); tmps.push(d); return d; }

async function waitFor(what, fn, arg, timeout = WAIT.timeout) {
  if (process.env.IB_WEB_DEBUG) process.stderr.write(`# ${new Date().toISOString()} waiting for ${what}\n`);
  try {
    await page.waitForFunction(fn, arg, { timeout });
  } catch (e) {
    const seen = await page.evaluate(() => ({ conn: document.getElementById('conn-status')?.textContent,
      banner: document.getElementById('banner')?.innerText, queue: document.getElementById('queue')?.innerText,
      notice: document.getElementById('notice')?.innerText, log: document.getElementById('log')?.innerText.slice(-600) })).catch(() => ({}));
    throw new Error(`timed out waiting for ${what}; page shows ${JSON.stringify(seen)}`);
  }
}

before(async () => { b = await launch(); page = b.page; }, { timeout: 90000 });
after(async () => {
  if (b) await b.browser.close();
  for (const s of servers) await s.stop();
  for (const d of tmps) fs.rmSync(d, { recursive: true, force: true });
}, { timeout: 60000 });
afterEach(() => {
  assert.deepEqual(b.problems, [], 'no console errors or page errors');
  assert.deepEqual(b.offHost, [], 'no request leaves 127.0.0.1');
});

test('Start, queue, cancel and Stop from the page (ib-dash running tests/web/fake-ib-run)', { timeout: 300000 }, async () => {
  // A stand-in ib-run whose fake-slow run streams for two minutes unless stopped; the configs
  // are ib-dash's test configs (a slow one, a quick one, a paid one, a broken one).
  const bin = tmpDir('ib-web-bin-');
  fs.symlinkSync(path.join(ROOT, 'tests/web/fake-ib-run'), path.join(bin, 'ib-run'));
  const dash = await startDash({ resultsDir: tmpDir('ib-web-results-'), experimentsDir: path.join(ROOT, 'tests/dash/experiments'), env: { IB_BIN_DIR: bin } });
  servers.push(dash);
  await page.goto(dash.url);
  await waitFor('connected', () => document.getElementById('conn-status').textContent === 'connected');
  await waitFor('configs listed', () => document.querySelectorAll('#config-select option').length > 3);

  // A paid config needs the cost box ticked before Start is enabled.
  await page.selectOption('#config-select', 'experiments/paid.yaml');
  assert.match(await page.textContent('#config-preview'), /\$\d+\.\d\d\/h/);
  // The confirmation shows the whole run's estimate, the one `ib-run --dry-run` prints.
  const paid = await page.evaluate(async () => (await (await fetch('/api/configs')).json()).find((c) => c.path === 'experiments/paid.yaml'));
  assert.ok(paid.estimated_cost_usd > 0);
  const confirmText = await page.textContent('label:has(#confirm-cost)');
  assert.ok(confirmText.includes(paid.cost_estimate), confirmText);
  assert.ok(confirmText.includes('~$' + paid.estimated_cost_usd.toFixed(2)), confirmText);
  assert.equal(await page.isDisabled('#start-btn'), true, 'no Start without accepting the cost');
  await page.check('#confirm-cost');
  assert.equal(await page.isDisabled('#start-btn'), false);
  // A broken config cannot be started and says why.
  await page.selectOption('#config-select', 'experiments/nested/broken.yaml');
  assert.equal(await page.isDisabled('#start-btn'), true);
  assert.ok((await page.textContent('#config-preview')).length > 0);

  await page.selectOption('#config-select', 'experiments/fake-slow.yaml');
  assert.match(await page.textContent('#config-cost'), /free \(local\)/);
  await page.click('#start-btn');
  await waitFor('fake-slow running in the banner', () => /fake-slow/.test(document.getElementById('banner').innerText)
    && /Running benchmark/.test(document.getElementById('banner-phase')?.textContent || ''));
  await waitFor('requests arriving', () => window.ibDash.liveRun().req.end.length > 5);
  await waitFor('GPU points drawn', () => (document.getElementById('live-kv').data || [])[0]?.x.length > 3);

  // A second start queues behind the running one; cancel it.
  await page.selectOption('#config-select', 'experiments/fake-quick.yaml');
  await page.click('#start-btn');
  await waitFor('two queue entries, running then queued', () => /running[\s\S]*queued/i.test(document.getElementById("queue").innerText)
    && document.querySelectorAll('#queue .queue-item').length === 2);
  await page.click('#queue .queue-item.queued button.cancel');
  await waitFor('the queued entry cancelled', () => document.querySelectorAll('#queue .queue-item').length === 1);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'run-started.png'), fullPage: true });

  // Stop: ib-dash SIGTERMs the run, which ends with phase failed, reason interrupted: a stop
  // the user asked for reads "stopped", calmly, with no ERROR line in the log.
  assert.equal(await page.isDisabled('#stop-btn'), false);
  await page.click('#stop-btn');
  await waitFor('the run stopped', () => /^stopped$/i.test(document.querySelector('#banner .badge')?.textContent || ''));
  assert.match(await page.textContent('#banner-phase'), /Stopped/);
  assert.doesNotMatch(await page.textContent('#banner-phase'), /Failed|interrupted/);
  await waitFor('the queue emptied', () => document.querySelectorAll('#queue .queue-item').length === 0);
  await waitFor('ib-dash logged the end', () => /ended: .*stopped from the page/.test(document.getElementById('log').innerText));
  const errors = await page.evaluate(() => [...document.querySelectorAll('#log .lvl-error')].map((l) => l.textContent));
  assert.deepEqual(errors, [], 'no ERROR line for a stop the user asked for');
  assert.match(await page.textContent('#log'), /stopped \(interrupted\)/);
  assert.equal(await page.isDisabled('#stop-btn'), true, 'nothing left to stop');
});

const PIPELINE = ['ib-run', 'ib-sim', 'ib-load', 'ib-scrape', 'ib-aggregate'];
const binDir = process.env.IB_BIN_DIR || path.join(ROOT, 'bazel-bin');
const missing = PIPELINE.filter((t) => !fs.existsSync(path.join(binDir, 'tools', t, t)));

test('a real local run started from the page fills the charts and lands in History', {
  timeout: 240000,
  skip: missing.length ? `not built yet: ${missing.join(', ')}` : false,
}, async () => {
  const resultsDir = tmpDir('ib-web-results-');
  const dash = await startDash({ resultsDir, env: { IB_BIN_DIR: binDir } });
  servers.push(dash);
  await page.goto(dash.url);
  await waitFor('connected', () => document.getElementById('conn-status').textContent === 'connected');
  await waitFor('configs listed', () => document.querySelectorAll('#config-select option').length > 3);
  await page.selectOption('#config-select', 'experiments/examples/sim-smoke.yaml');
  await page.click('#start-btn');
  await waitFor('sim-smoke done', () => /Done/.test(document.getElementById('banner-phase')?.textContent || ''), null, 180000);
  const total = 20;
  await waitFor(`${total} timeline segments`, (n) => { const gd = document.getElementById('live-timeline'); return gd.data && gd.data.reduce((a, t) => a + t.x.filter((v) => v !== null).length / 2, 0) === n; }, total);
  assert.ok((await page.evaluate(() => window.ibDash.liveRun().gpu.t.length)) > 0, 'GPU samples from ib-scrape');
  assert.ok((await page.evaluate(() => window.ibDash.liveRun().ttft.length)) > 0);
  assert.match(await page.textContent('#log'), /ib-/, 'log lines from the tools');
  await waitFor('the summary', () => /Requests/i.test(document.getElementById('live-summary').innerText) && document.querySelectorAll('#live-summary .stat').length > 3);
  // The server's own TTFT/E2E histograms (ib-scrape's run delta of ib-sim's /metrics) drawn beside the client's.
  const serverTrace = (id) => { const gd = document.getElementById(id); const t = gd && gd.data && gd.data.find((x) => x.meta === 'server'); return t ? t.y.reduce((a, v) => a + v, 0) : 0; };
  await waitFor('the server TTFT distribution drawn', serverTrace, 'live-ttft');
  await waitFor('the server E2E distribution drawn', serverTrace, 'live-e2e');
  assert.match(await page.textContent('#live-summary'), /TTFT \(server\)/);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'run-real.png'), fullPage: true });
  await waitFor('the run in Past runs', () => /sim-smoke/.test(document.getElementById('past-runs').textContent));
  await page.locator('#past-runs li', { hasText: 'sim-smoke' }).first().click();
  await waitFor('its History charts', () => /requests/.test(document.getElementById('history-status').textContent));
  const segs = await page.evaluate(() => document.getElementById('history-timeline').data.reduce((a, t) => a + t.x.filter((v) => v !== null).length / 2, 0));
  assert.equal(segs, total);
  await waitFor('the server TTFT distribution in History', serverTrace, 'history-ttft');
  // Leave the page first: a page still connected while ib-dash stops logs refused reconnects.
  await page.goto('about:blank');
  await dash.stop();
});
