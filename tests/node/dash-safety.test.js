// ib-dash's safety promises against the real binary: secrets kept in the user's config file are
// never sent; a slow client is trimmed (old GPU samples) without losing a request event or slowing
// the others; configs are confined to experiments/ (symlinks out, traversal, odd names).
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startDash, request, connect, line, tmpDir, FIXTURES } = require('./dash-helpers');

test('the RunPod key and HF token from the config file never appear in a reply or an event', async () => {
  const xdg = tmpDir('ib-dash-xdg-');
  fs.mkdirSync(path.join(xdg, 'ib'));
  const key = 'rpa_FILEKEY_0123456789abcdef';
  const token = 'hf_FILETOKEN_0123456789abcdef';
  fs.writeFileSync(path.join(xdg, 'ib', 'config.yaml'), `runpod:\n  api_key: "${key}"\nhuggingface:\n  token: "${token}"\n`, { mode: 0o600 });
  const resultsDir = tmpDir('ib-dash-results-');
  const run = 'leaky-20261128-060000';
  fs.writeFileSync(path.join(resultsDir, `${run}.json`), JSON.stringify({ run_id: run, status: 'completed', metadata: { note: `launched with ${key}` }, summary: {}, requests: [] }));
  const env = { XDG_CONFIG_HOME: xdg, RUNPOD_API_KEY: '', HF_TOKEN: '' };
  const dash = await startDash({ resultsDir, env });
  try {
    const c = await connect(dash.wsUrl());
    dash.proc.stdin.write(line({ type: 'log', run_id: 'live-1', level: 'error', message: `auth failed for ${key} / ${token}`, timestamp: '2026-11-28T06:00:00Z', source: 'ib-provision' }));
    const log = await c.wait((m) => m.type === 'log' && m.run_id === 'live-1');
    assert.match(log.message, /auth failed for \[redacted\] \/ \[redacted\]/);
    c.send({ type: 'load_result', run_id: run });
    const loaded = await c.wait((m) => m.type === 'result');
    assert.equal(loaded.data.metadata.note, 'launched with [redacted]');
    const replies = [];
    for (const route of ['/api/results', `/api/results/${run}`, '/api/state', '/api/configs', '/api/stats', '/api/queue']) {
      const r = await request(dash.base + route);
      assert.equal(r.status, 200, route);
      replies.push(r.body);
    }
    assert.match(replies[1], /launched with \[redacted\]/);
    const late = await connect(dash.wsUrl());
    await late.wait((m) => m.type === 'state');
    for (const text of [...replies, JSON.stringify(c.messages), JSON.stringify(late.messages), dash.stderr()]) {
      assert.ok(!text.includes('FILEKEY') && !text.includes('FILETOKEN'), text.slice(0, 300));
    }
    await Promise.all([c.close(), late.close()]);
  } finally {
    await dash.stop();
  }
  assert.ok(fs.readFileSync(path.join(resultsDir, `${run}.json`), 'utf8').includes(key), 'the file itself is untouched');
});

test('a slow client loses old GPU samples, never a request event, and does not hold up the others', async () => {
  const dash = await startDash({ args: ['--save-grace', '3600'] });
  try {
    const slow = await connect(dash.wsUrl());
    const fast = await connect(dash.wsUrl());
    await slow.wait((m) => m.type === 'state');
    slow.ws._socket.pause();  // stops reading: the kernel buffers fill, then ib-dash's queue
    const run = 'slow-20261128-060100';
    const pad = 'x'.repeat(1000);
    const requests = 6000;
    let input = line({ type: 'phase', run_id: run, phase: 'execution', data: { total_requests: requests } });
    for (let i = 0; i < requests; i++) {
      // GPU samples one second apart in run time: none is downsampled away before the queue.
      for (let k = 0; k < 4; k++) input += line({ type: 'gpu_sample', run_id: run, data: { t_s: i * 4 + k, kv_cache_usage_frac: 0.5, pad } });
      input += line({ type: 'request_complete', run_id: run, data: { request_index: i, start_ms: i, end_ms: i + 5, pad } });
    }
    dash.proc.stdin.write(input);
    await fast.wait((m) => m.type === 'request_complete' && m.data.request_index === requests - 1, 60000);
    const fastSamples = fast.messages.filter((m) => m.type === 'gpu_sample' && m.run_id === run).length;
    assert.equal(fastSamples, requests * 4, 'the fast client got every sample');
    const stats = JSON.parse((await request(dash.base + '/api/stats')).body);
    const trimmed = stats.clients.find((x) => x.dropped_gpu_samples > 0);
    assert.ok(trimmed, 'the slow client was trimmed: ' + JSON.stringify(stats.clients));
    slow.ws._socket.resume();
    await slow.wait((m) => m.type === 'request_complete' && m.data.request_index === requests - 1, 60000);
    const got = slow.messages.filter((m) => m.type === 'request_complete' && m.run_id === run).map((m) => m.data.request_index);
    assert.deepEqual(got, [...Array(requests).keys()], 'every request event, in order');
    const slowSamples = slow.messages.filter((m) => m.type === 'gpu_sample' && m.run_id === run);
    assert.ok(slowSamples.length < requests * 4, `${slowSamples.length} samples after trimming`);
    const order = slowSamples.map((m) => m.data.t_s);
    assert.deepEqual(order, [...order].sort((a, b) => a - b), 'the samples kept stay in order');
    await Promise.all([slow.close(), fast.close()]);
  } finally {
    await dash.stop();
  }
});

test('configs stay inside experiments/: symlinks out, traversal and odd names are refused', async () => {
  const experiments = tmpDir('ib-dash-exp-');
  const outside = tmpDir('ib-dash-outside-');
  fs.copyFileSync(path.join(FIXTURES, 'experiments', 'fake-quick.yaml'), path.join(experiments, 'good.yaml'));
  fs.copyFileSync(path.join(FIXTURES, 'experiments', 'fake-quick.yaml'), path.join(outside, 'elsewhere.yaml'));
  fs.symlinkSync(path.join(outside, 'elsewhere.yaml'), path.join(experiments, 'link-out.yaml'));
  fs.symlinkSync(outside, path.join(experiments, 'dir-out'));
  fs.copyFileSync(path.join(FIXTURES, 'experiments', 'fake-quick.yaml'), path.join(experiments, 'odd name\u00e9.yaml'));
  const dash = await startDash({ experimentsDir: experiments });
  try {
    const list = JSON.parse((await request(dash.base + '/api/configs')).body);
    assert.deepEqual(list.map((x) => x.path), ['experiments/good.yaml']);
    const c = await connect(dash.wsUrl());
    const bad = ['experiments/link-out.yaml', 'experiments/dir-out/elsewhere.yaml', 'experiments/../good.yaml',
      `${experiments}/good.yaml`, 'experiments/odd name\u00e9.yaml', 'experiments/a\u0000.yaml', 'experiments/.hidden.yaml'];
    for (const config_path of bad) c.send({ type: 'start_experiment', config_path, options: { confirm: true } });
    const errors = () => c.messages.filter((m) => m.type === 'error' && m.data.command === 'start_experiment');
    await c.wait(() => errors().length === bad.length);
    assert.ok(!c.messages.some((m) => m.type === 'ack'), 'nothing was queued');
    await c.close();
  } finally {
    await dash.stop();
  }
});
