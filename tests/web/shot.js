#!/usr/bin/env node
// Development helper: open a dashboard URL in headless Chromium, run optional steps, save
// screenshots and print console errors. `node tests/web/shot.js URL OUTDIR [--wait-ms N]`
'use strict';
const { launch } = require('./browser');
(async () => {
  const [url, out = '/tmp/ibweb'] = process.argv.slice(2);
  const waitMs = Number((process.argv.find((a) => a.startsWith('--wait-ms=')) || '--wait-ms=3000').split('=')[1]);
  const { browser, page, problems } = await launch();
  try {
    await page.setViewportSize({ width: 1600, height: 1300 });
    await page.goto(url);
    await page.waitForTimeout(waitMs);
    await page.screenshot({ path: `${out}/live.png`, fullPage: true });
    for (const tab of ['history', 'compare']) {
      await page.click(`#tab-${tab}`);
      if (tab === 'history') { await page.locator('#history-table tbody tr').first().click(); await page.waitForTimeout(1500); }
      if (tab === 'compare') {
        const boxes = await page.$$('#compare-pick input');
        for (const b of boxes.slice(0, 3)) await b.check();
        await page.click('#compare-btn');
        await page.waitForTimeout(1500);
      }
      await page.screenshot({ path: `${out}/${tab}.png`, fullPage: true });
    }
  } finally {
    console.log(problems.length ? problems.join('\n') : 'no console errors');
    await browser.close();
  }
})();
