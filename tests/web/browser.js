// Launches the system Chromium through playwright-core the way every browser test does: headless,
// no sandbox (containers), nothing that phones home, a fresh profile, and a record of every
// console error, page error and request that leaves 127.0.0.1.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const CHROMIUM = process.env.IB_CHROMIUM || '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

async function launch({ viewport = { width: 1440, height: 1000 }, downloads = false } = {}) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ib-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: ARGS, viewport, acceptDownloads: downloads, timeout: 60000,
  });
  const problems = [];
  const offHost = [];
  const watch = (page) => {
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (!['127.0.0.1', 'localhost'].includes(u.hostname) && !['data:', 'blob:', 'about:'].includes(u.protocol)) offHost.push(r.url());
    });
  };
  context.on('page', watch);
  const page = context.pages()[0] || (await context.newPage());
  watch(page);
  const browser = {
    async close() { await context.close().catch(() => {}); fs.rmSync(profile, { recursive: true, force: true }); },
  };
  return { browser, context, page, problems, offHost };
}

module.exports = { launch, CHROMIUM, ARGS };
