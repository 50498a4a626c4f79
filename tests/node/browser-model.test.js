// web/model.js in Node: normalisation of both event versions and both results formats, and the
// numbers the charts draw (histogram bins, rolling throughput, downsampling, timeline, deltas).
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const M = require('../../web/model.js');

const ROOT = path.resolve(__dirname, '../..');
const golden = (f) => fs.readFileSync(path.join(ROOT, 'tests/golden', f), 'utf8').split('\n').filter(Boolean).map((l) => { try { return JSON.parse(l); } catch { return null; } });

test('stream v2 and v1 events land in the same columns', () => {
  const run = M.newRun('r');
  for (const e of golden('stream-v2.ndjson')) {
    if (e.type === 'gpu_sample') M.addGpuSample(run, M.eventData(e));
    if (e.type === 'request_complete') M.addRequest(run, M.eventData(e), null, null);
  }
  assert.deepEqual(run.gpu.t, [0.1]);
  assert.deepEqual(run.gpu.kv, [25]);
  assert.deepEqual(run.gpu.running, [2]);
  assert.deepEqual(run.gpu.hit, [null], 'a null hit rate stays a gap, not 0');
  assert.deepEqual(run.req.start, [1, 1.2]);
  assert.deepEqual(run.req.end, [91, 3]);
  assert.deepEqual(run.req.ok, [true, false]);
  assert.deepEqual(run.ttft, [50]);
  assert.deepEqual(run.itl, [10, 10, 10, 10]);
  assert.equal(run.failed, 1);

  const v1 = M.newRun('v1');
  for (const e of golden('stream-v1-plan.ndjson')) {
    if (!e) continue;
    if (e.type === 'gpu_sample') M.addGpuSample(v1, M.eventData(e));
    if (e.type === 'request_complete') M.addRequest(v1, M.eventData(e), null, 5000);
  }
  assert.deepEqual(v1.gpu.t, [12.5]);
  assert.deepEqual(v1.gpu.kv, [45]);
  assert.deepEqual(v1.gpu.waiting, [0]);
  assert.deepEqual(v1.gpu.gen, [42.5]);
  assert.deepEqual(v1.itl, [28.4], 'v1 tbt_ms stands in for the gap list');
  assert.deepEqual([v1.req.start[0], v1.req.end[0]], [5000 - 1450.3, 5000], 'placed at arrival time');
});

test('warmup requests are counted but kept out of every chart', () => {
  const run = M.newRun('r');
  assert.equal(M.addRequest(run, { warmup: true, start_ms: 0, end_ms: 5, ttft_ms: 1, e2e_latency_ms: 5, error: null }), false);
  assert.equal(run.warmup, 1);
  assert.equal(run.req.end.length, 0);
});

test('an original-tool results file: wall-clock times become run offsets', () => {
  const f = JSON.parse(fs.readFileSync(path.join(ROOT, 'tests/web/fixtures/results/quick-smoke-test-20260212-150000.json'), 'utf8'));
  const run = M.runFromResults(f);
  assert.equal(run.req.end.length, f.requests.length);
  assert.equal(run.ttft.length, f.summary.successful_requests);
  assert.equal(run.gpu.t.length, f.gpu_metrics.time_series.length);
  const first = f.requests[0];
  assert.ok(Math.abs(run.req.start[0] - (Date.parse(first.started_at) - Date.parse(f.metadata.started_at))) < 1e-6);
  assert.ok(run.req.start.every((s, i) => run.req.end[i] >= s));
  assert.deepEqual(M.runFromResults(null).req.end, [], 'nothing to draw, no crash');
  assert.deepEqual(M.runFromResults({ run_id: 'x' }).gpu.t, []);
});

test('bare NaN from the original tool is read as null', () => {
  const f = M.parseResultsText('{"a": NaN, "b": [1, -Infinity], "s": "NaN stays"}');
  assert.deepEqual(f, { a: null, b: [1, null], s: 'NaN stays' });
  assert.throws(() => M.parseResultsText('{"a": '), SyntaxError);
});

test('histogram bins are shared, nice, and count every value (tail clamped into the last bin)', () => {
  const values = [];
  for (let i = 0; i < 1000; i++) values.push(100 + (i % 100));
  values.push(100000); // one wild outlier must not squash the rest
  const bins = M.binsFor([values]);
  assert.ok(bins.width <= 10, `width ${bins.width}`);
  assert.ok(bins.clippedAbove != null);
  const h = M.histogram(values, bins, false);
  assert.equal(h.y.reduce((a, b) => a + b, 0), values.length);
  assert.equal(h.y[h.y.length - 1] >= 1, true);
  const pctH = M.histogram(values, bins, true);
  assert.ok(Math.abs(pctH.y.reduce((a, b) => a + b, 0) - 100) < 1e-9);
  assert.equal(M.binsFor([[], []]), null);
  const one = M.binsFor([[5, 5, 5]]);
  assert.equal(M.histogram([5, 5, 5], one, false).y.reduce((a, b) => a + b, 0), 3);
});

test('rolling throughput spreads tokens from first token to end', () => {
  const run = M.newRun('r');
  // 10 requests, each 100 tokens over 1 s, back to back: a steady 100 tok/s.
  for (let i = 0; i < 10; i++) M.addRequest(run, { request_index: i, start_ms: i * 1000, end_ms: (i + 1) * 1000, ttft_ms: 0, e2e_latency_ms: 1000, completion_tokens: 100, error: null });
  const t = M.rollingThroughput(run, 2);
  const mid = t.y.filter((_, k) => t.x[k] > 2 && t.x[k] < 9);
  assert.ok(mid.length > 0);
  for (const v of mid) assert.ok(Math.abs(v - 100) < 1e-6, `steady 100 tok/s, got ${v}`);
  assert.deepEqual(M.rollingThroughput(M.newRun('e'), 10), { x: [], y: [] });
});

test('downsampling keeps peaks and respects the zoom range', () => {
  const t = [];
  const y = [];
  for (let i = 0; i < 36000; i++) { t.push(i / 10); y.push(i === 12345 ? 999 : i % 7); }
  const d = M.downsample(t, y, 1000);
  assert.ok(d.x.length <= 2000);
  assert.ok(d.y.includes(999), 'the one spike survives');
  const z = M.downsample(t, y, 1000, 100, 110);
  assert.ok(z.x.length >= 100 && z.x.length <= 103, 'zoomed in: every point of the window');
  assert.ok(z.x[1] >= 100 && z.x[z.x.length - 2] <= 110);
});

test('the timeline draws at most N segments, failures first', () => {
  const run = M.newRun('r');
  for (let i = 0; i < 100000; i++) M.addRequest(run, { request_index: i, start_ms: i, end_ms: i + 50, e2e_latency_ms: 50, ttft_ms: 5, error: i % 1000 === 0 ? 'x' : null });
  const tl = M.timeline(run, 4000);
  assert.equal(tl.total, 100000);
  assert.ok(tl.drawn <= 4000);
  assert.equal(tl.bad.x.length / 3, 100, 'all 100 failures drawn');
  const zoom = M.timeline(run, 4000, 10, 11);
  assert.equal(zoom.drawn, zoom.total, 'a small window shows every request in it');
  assert.equal(zoom.total, 1051, "starts 9950..11000 ms overlap [10 s, 11 s]");
});

// Compare's rows are lib/results' (ib-results compare --json, served by ib-dash as
// /api/compare/A,B); the page only formats them. The real ib-results computes the table here.
const RESULTS_BIN = [process.env.IB_BIN_DIR && path.join(process.env.IB_BIN_DIR, 'tools/ib-results/ib-results'),
  process.env.IB_BIN_DIR && path.join(process.env.IB_BIN_DIR, 'ib-results'), path.join(ROOT, 'bazel-bin/tools/ib-results/ib-results')]
  .find((p) => p && fs.existsSync(p));
test('compare table: lib/results\' rows and verdicts, formatted with units and signed deltas', { skip: RESULTS_BIN ? false : 'ib-results is not built' }, () => {
  const os = require('os');
  const { execFileSync } = require('child_process');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ib-compare-'));
  const a = { run_id: 'cmp-a-20260101-000000', status: 'completed', metadata: { framework: 'vllm', model: 'm', gpu_type: 'A100-80GB', gpu_count: 1 },
    summary: { total_requests: 10, successful_requests: 10, failed_requests: 0, tokens_per_second: 100, ttft: { p50: 200, p95: 300, p99: 400 }, total_duration_s: 10,
      gpu_summary: { kv_cache_usage_peak: 0.5 } } };
  const b = { run_id: 'cmp-b-20260101-000100', status: 'completed', metadata: { framework: 'sglang', model: 'm', gpu_type: 'A100-80GB', gpu_count: 1 },
    summary: { total_requests: 10, successful_requests: 9, failed_requests: 1, tokens_per_second: 150, ttft: { p50: 100, p95: 300, p99: 500 }, total_duration_s: 12,
      gpu_summary: { kv_cache_usage_peak: 0.6 } } };
  try {
    for (const r of [a, b]) fs.writeFileSync(path.join(dir, `${r.run_id}.json`), JSON.stringify(r));
    const table = JSON.parse(execFileSync(RESULTS_BIN, ['--dir', dir, 'compare', a.run_id, b.run_id, '--json'], { encoding: 'utf8' }));
    const rows = M.compareTable(table);
    const row = (l) => rows.find((r) => r.label === l);
    assert.deepEqual(row('Framework').values, ['vllm', 'sglang']);
    assert.deepEqual(row('GPU').values, ['A100-80GB x1', 'A100-80GB x1'], 'as ib-results compare prints it');
    assert.equal(row('Throughput (tok/s)').deltas[1].cls, 'better');
    assert.equal(row('Throughput (tok/s)').deltas[1].text, '+50.0 tok/s (+50.0%)');
    assert.equal(row('TTFT p50').values[0], M.fmtMs(200));
    assert.equal(row('TTFT p50').deltas[1].cls, 'better');
    assert.equal(row('TTFT p50').deltas[1].text, '-100 ms (-50.0%)');
    assert.equal(row('TTFT p95').deltas[1].cls, 'same');
    assert.equal(row('TTFT p99').deltas[1].cls, 'worse');
    assert.equal(row('Duration').deltas[1].cls, 'worse');
    assert.equal(row('Errors').deltas[1].cls, 'worse');
    assert.equal(row('KV Cache (peak)').values[1], '60.0 %');
    assert.equal(row('KV Cache (peak)').deltas[1].text, '+10.0 pt (+20.0%)');
    assert.equal(row('Latency p50'), undefined, 'a metric neither run has is not a row');
    assert.equal(rows.length, 4 + table.rows.length, 'every row of lib/results, no other');
  } finally { fs.rmSync(dir, { recursive: true, force: true }); }
  // A verdict the page does not know (a newer lib/results) is shown neutral, by name.
  const t = M.compareTable({ runs: [{}, {}], rows: [{ metric: 'X', unit: 'ms', better: 'lower', values: [10, 10.1], deltas: [null, { abs: 0.1, pct: 1, verdict: 'within_noise' }] }] });
  assert.deepEqual(t[4].deltas[1], { text: '+0.1 ms (+1.0%) within noise', cls: 'same', verdict: 'within_noise' });
});

test('summary cards carry the figures of ib-results show', () => {
  const f = JSON.parse(fs.readFileSync(path.join(ROOT, 'tests/web/fixtures/results/baseline-vllm-20261127-100000.json'), 'utf8'));
  const cards = M.summaryCards(f.summary, f.metadata);
  const by = Object.fromEntries(cards.map((c) => [c.label, c]));
  assert.equal(by.Requests.value, '200 / 200');
  assert.match(by.Throughput.value, / tok\/s$/);
  assert.match(by.TTFT.detail, /^p95 .* · p99 /);
  assert.match(by['KV cache'].value, /^peak \d+\.\d %$/);
  assert.equal(M.summaryCards({}, {}).find((c) => c.label === 'TTFT').value, 'n/a');
});

test('units read well', () => {
  assert.equal(M.fmtMs(0.5), '0.50 ms');
  assert.equal(M.fmtMs(42.25), '42.3 ms');
  assert.equal(M.fmtMs(1450), '1.45 s');
  assert.equal(M.fmtMs(null), '—');
  assert.equal(M.fmtDuration(125.3), '2m 05s');
  assert.equal(M.fmtDuration(3725), '1h 02m');
  assert.equal(M.fmtPct(0.4567), '45.7 %');
  assert.equal(M.fmtTps(12345.6), '12,346 tok/s');
});

test('requests held back by the client get an intended-start TTFT/E2E beside the write-based one', () => {
  const run = M.newRun('co');
  M.addRequest(run, { request_index: 0, start_ms: 0, end_ms: 90, ttft_ms: 30, e2e_latency_ms: 90, client_queue_ms: 0.2 }, null, null);
  M.addRequest(run, { request_index: 1, start_ms: 90, end_ms: 180, ttft_ms: 31, e2e_latency_ms: 90, client_queue_ms: 80 }, null, null);
  M.addRequest(run, { request_index: 2, start_ms: 180, end_ms: 270, ttft_ms: 30, e2e_latency_ms: 90 }, null, null);  // an old file: no field
  assert.deepEqual(run.ttft, [30, 31, 30]);
  assert.deepEqual(run.ttftIntended, [30.2, 111]);
  assert.deepEqual(run.e2eIntended, [90.2, 170]);
  const cards = M.summaryCards({ ttft: { p50: 30, p95: 31, p99: 31 }, ttft_intended: { p50: 70, p95: 110, p99: 111 } }, {});
  const labels = cards.map((c) => c.label);
  assert.ok(labels.includes('TTFT (intended start)'));
  assert.ok(!labels.includes('E2E (intended start)'), 'absent from the summary: no card');
  assert.equal(cards.find((c) => c.label === 'TTFT (intended start)').value, M.fmtMs(70));
});

test('events carrying several tokens give a per-token ITL beside the per-event one', () => {
  const run = M.newRun('k4');
  M.addRequest(run, { request_index: 0, start_ms: 0, end_ms: 90, ttft_ms: 45, e2e_latency_ms: 105,
    inter_token_latencies_ms: [0.1, 20, 20, 20], itl_tokens: [0, 4, 4, 4], itl_token_source: 'usage' }, null, null);
  M.addRequest(run, { request_index: 1, start_ms: 0, end_ms: 90, ttft_ms: 45, e2e_latency_ms: 105,
    inter_token_latencies_ms: [10, 10] }, null, null);  // an old file: no itl_tokens
  assert.deepEqual(run.itl, [0.1, 20, 20, 20, 10, 10]);
  assert.equal(run.itlPerToken.length, 12);
  assert.ok(run.itlPerToken.every((v) => v === 5));
});

// web/study.js's pure part (the Study view's data): a hand-made search study.
test('study model: points in offered order, the saturation probe apart, SLO lines, answer, CI of repeats', () => {
  const S = require('../../web/study.js').model;
  const lat = (p50, p99, extra) => Object.assign({ p50, p90: null, p99, mean: null }, extra || {});
  const study = {
    study_id: 's', kind: 'search', over: 'request_rate', status: 'completed',
    iterations: [{ run_id: 'a', probe: 'lowest' }, { run_id: 'sat', probe: 'saturation' }, { run_id: 'c', probe: 'highest', verdict: 'TTFT p99 900 ms ✗' }, { run_id: 'b', probe: 'bisect' }],
    curve: [
      { run_id: 'a', value: 1, offered: 1, achieved_rps: 1, output_tok_s: 60, ttft_ms: lat(10, 15), passed: true },
      { run_id: 'sat', value: 1e6, offered: null, achieved_rps: 95, output_tok_s: 5800, ttft_ms: lat(2000, 4000) },
      { run_id: 'c', value: 90, offered: 90, achieved_rps: 80, output_tok_s: 5000, ttft_ms: lat(400, 900), passed: false },
      // With repeats (docs/results-format.md): means, and stats with each figure's interval.
      { run_id: 'b', value: 45, offered: 45, achieved_rps: 45, output_tok_s: 2900, passed: true, repeats: 3, run_ids: ['b', 'b2', 'b3'],
        ttft_ms: lat(20, 60), stats: { ttft_ms: { p50: { n: 3, mean: 20, stddev: 1, ci95_low: 18, ci95_high: 22 }, p99: { n: 3, mean: 60, stddev: 4, ci95_low: 50, ci95_high: 70 },
          p90: { n: 1, mean: 30, stddev: null, ci95_low: null, ci95_high: null } } } },
    ],
    answer: { over: 'request_rate', value: 45, slo: { ttft_ms: { p99: 100 }, tpot_ms: { p99: 50 } }, passing_probe: 'b', output_tok_s: 2900, probes: 4, end_reason: 'precision', bracket_pct: 4 },
    cost: { usd_per_million_output_tokens: 0.0278, pod_usd: 0.001, usd_per_hr: 0.29, price_source: 'gpu table' },
  };
  const pts = S.points(study);
  // The saturation probe has no offered load (x null); the table places it by its achieved rate.
  assert.deepEqual(pts.map((p) => [p.run_id, p.x]), [['a', 1], ['b', 45], ['c', 90], ['sat', null]]);
  assert.equal(pts[2].verdict, 'TTFT p99 900 ms ✗');
  assert.deepEqual(S.sloLines(study), [{ metric: 'ttft_ms', pct: 'p99', bound: 100 }, { metric: 'tpot_ms', pct: 'p99', bound: 50 }]);
  assert.equal(S.answerPoint(study).run_id, 'b');
  assert.equal(S.pctValue(pts[1].ttft_ms, 'p50'), 20);
  assert.deepEqual(S.pctCi(pts[1], 'ttft_ms', 'p50'), [18, 22]);
  assert.deepEqual(S.pctCi(pts[1], 'ttft_ms', 'p99'), [50, 70]);
  assert.equal(S.pctCi(pts[1], 'ttft_ms', 'p90'), null, 'n = 1: no interval');
  assert.equal(S.pctCi(pts[0], 'ttft_ms', 'p99'), null, 'no repeats, no interval');
  const rows = S.tableRows(study);
  assert.deepEqual(rows.map((r) => r.runId), ['a', 'b', 'c', 'sat']);
  assert.deepEqual(rows.filter((r) => r.answer).map((r) => r.runId), ['b']);
  const col = (name) => S.TABLE_COLUMNS.indexOf(name);
  assert.equal(rows[1].cells[col('TTFT p99')], '60.0 ±10.0');
  assert.equal(rows[3].cells[col('offered')], 'all at once');
  assert.equal(rows[1].cells[0], '4 bisect ×3', 'a point of 3 repeats');
  assert.equal(rows[2].cells[col('SLO')], '✗');
  assert.equal(S.answerText(study), '45.0 req/s within TTFT p99 ≤ 100 ms, TPOT p99 ≤ 50.0 ms → 2,900 output tok/s (4 probes, bracket 4.0 %, precision)');
  assert.match(S.costText(study), /^\$0\.028 per million output tokens/);
  // A sweep: every iteration stands at its swept value; no answer marker without an answer.
  const sweep = { kind: 'sweep', over: 'concurrency', curve: [{ run_id: 'x', value: 8, offered: 8 }, { run_id: 'y', value: 2, offered: 2 }], answer: null, status: 'running' };
  assert.deepEqual(S.points(sweep).map((p) => p.x), [2, 8]);
  assert.equal(S.answerPoint(sweep), null);
  assert.equal(S.answerText(sweep), 'running: no answer yet');
});

test('the server\'s histograms are drawn beside the client\'s, and a gap beyond the buckets is said', () => {
  const run = M.newRun('r');
  // A gpu_sample carrying the run's delta of the server's TTFT histogram: 2 in (40, 60] ms, 1 over 100.
  M.addGpuSample(run, { t_s: 1, server_histograms: { ttft_ms: { metric: 'vllm:time_to_first_token_seconds', le_ms: [40, 60, 100], counts: [0, 2, 0, 1], count: 3, sum_ms: 300 } } });
  assert.deepEqual(run.serverHist.ttft_ms.counts, [0, 2, 0, 1]);
  const bins = { start: 40, width: 10, count: 4, clippedAbove: 70 };  // 40-50, 50-60, 60-70, ≥70
  const sv = M.serverOnBins(run.serverHist.ttft_ms, bins, false);
  assert.deepEqual(sv.y, [1, 1, 0, 1], 'uniform inside (40, 60]; the +Inf bucket lands in the clipped last bin');
  assert.equal(sv.total, 3);
  assert.deepEqual(M.serverOnBins(run.serverHist.ttft_ms, bins, true).y.map((v) => Math.round(v)), [33, 33, 0, 33]);
  // A results file's summary.server_latency feeds the same place.
  const fromFile = M.runFromResults({ run_id: 'x', requests: [], summary: { server_latency: { e2e_ms: { le_ms: [300], counts: [4, 0], p50: 150 } } } });
  assert.deepEqual(fromFile.serverHist.e2e_ms.counts, [4, 0]);
  // The cards and the line come from summary.server_latency / server_vs_client as lib/results wrote them.
  const summary = {
    ttft: { p50: 300, p95: 310, p99: 320 },
    server_latency: { ttft_ms: { count: 3, p50: 50, p90: 58, p99: 100, p50_bucket_ms: [40, 60] } },
    server_vs_client: [
      { metric: 'ttft_ms', percentile: 'p50', exceeds: true, message: 'client sees +250 ms TTFT p50 over the server: network, proxy or client' },
      { metric: 'e2e_ms', percentile: 'p50', exceeds: false, message: 'client and server agree on E2E p50' },
    ],
  };
  const card = M.summaryCards(summary, {}).find((c) => c.label === 'TTFT (server)');
  assert.equal(card.value, M.fmtMs(50));
  assert.match(card.detail, /p50 in 40–60 ms/);
  assert.deepEqual(M.serverGapLines(summary), ['client sees +250 ms TTFT p50 over the server: network, proxy or client']);
  assert.deepEqual(M.serverGapLines({}), []);
  assert.ok(!M.summaryCards({ ttft: { p50: 1 } }, {}).some((c) => c.label === 'TTFT (server)'), 'no server histograms: no card');
});
