#!/usr/bin/env node
// Writes the dashboard's test fixtures: a golden live stream (stream version 2), results files in
// ib's format and in the original Python tool's format, and, on request, a large results file for
// the 100k-request benchmark. Deterministic (seeded), so the committed files never drift.
//
//   node tests/web/make-fixtures.js                 rewrite tests/web/fixtures/*
//   node tests/web/make-fixtures.js --big N OUT     write one N-request ib results file to OUT
'use strict';
const fs = require('fs');
const path = require('path');

function rng(seed) {
  // mulberry32: small, fast, deterministic.
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function round(x, d = 3) {
  const m = 10 ** d;
  return Math.round(x * m) / m;
}

// Linear-interpolated percentile (numpy's default), as lib/results computes it.
function stats(values) {
  if (!values.length) return null;
  const s = Float64Array.from(values).sort();
  const q = (p) => {
    const pos = (p / 100) * (s.length - 1);
    const lo = Math.floor(pos);
    const hi = Math.ceil(pos);
    return s[lo] + (s[hi] - s[lo]) * (pos - lo);
  };
  let sum = 0;
  for (const v of s) sum += v;
  const mean = sum / s.length;
  let sq = 0;
  for (const v of s) sq += (v - mean) ** 2;
  return {
    p50: round(q(50)), p95: round(q(95)), p99: round(q(99)), mean: round(mean),
    min: round(s[0]), max: round(s[s.length - 1]), std: round(Math.sqrt(sq / s.length)),
    count: s.length, p90: round(q(90)),
  };
}

// Simulates a concurrency-limited run against a server whose latency grows with load.
function simulate({ seed, count, concurrency, baseTtft, itl, failEvery, itlPerRequest = Infinity }) {
  const r = rng(seed);
  const slots = new Array(concurrency).fill(5); // ms at which each slot is free
  const requests = [];
  for (let i = 0; i < count; i++) {
    let k = 0;
    for (let j = 1; j < concurrency; j++) if (slots[j] < slots[k]) k = j;
    const start = slots[k] + r() * 3;
    const fail = failEvery > 0 && i % failEvery === failEvery - 1;
    const prompt = 80 + Math.floor(r() * 400);
    if (fail) {
      const end = start + 2 + r() * 20;
      requests.push({ i, start, end, fail: true, prompt });
      slots[k] = end;
      continue;
    }
    const completion = 32 + Math.floor(r() * 224);
    const ttft = baseTtft * (0.6 + r() * 0.8) + prompt * 0.05;
    const gaps = [];
    let t = ttft;
    const n = Math.min(completion - 1, itlPerRequest);
    for (let g = 0; g < completion - 1; g++) {
      const gap = itl * (0.7 + r() * 0.6) + (r() < 0.01 ? itl * 8 : 0);
      t += gap;
      if (g < n) gaps.push(round(gap));
    }
    const e2e = t;
    requests.push({ i, start, end: start + e2e, ttft, e2e, gaps, prompt, completion });
    slots[k] = start + e2e;
  }
  return requests;
}

function gpuSeries(requests, durationMs, intervalMs) {
  const series = [];
  let genTotal = 0;
  let promptTotal = 0;
  let hits = 0;
  let queries = 0;
  let prevGen = 0;
  let prevPrompt = 0;
  for (let t = intervalMs; t <= durationMs + intervalMs; t += intervalMs) {
    let running = 0;
    let tokensInFlight = 0;
    let gen = 0;
    let prm = 0;
    for (const q of requests) {
      if (q.start <= t && q.end > t) {
        running++;
        tokensInFlight += q.prompt + (q.completion || 0) * Math.min(1, (t - q.start) / (q.end - q.start));
      }
      if (q.end <= t && q.end > t - intervalMs && !q.fail) {
        gen += q.completion;
        prm += q.prompt;
      }
    }
    genTotal += gen;
    promptTotal += prm;
    queries += prm;
    hits += Math.floor(prm * 0.35);
    series.push({
      t_s: round(t / 1000),
      kv_cache_usage_frac: round(Math.min(0.98, tokensInFlight / 9000), 4),
      running_requests: running,
      waiting_requests: Math.max(0, Math.round(running * 0.5 - 2)),
      prefix_cache_hit_rate_frac: queries ? round(hits / queries, 4) : null,
      generation_tokens_per_s: round(((genTotal - prevGen) * 1000) / intervalMs, 1),
      prompt_tokens_per_s: round(((promptTotal - prevPrompt) * 1000) / intervalMs, 1),
      prompt_tokens_total: promptTotal,
      generation_tokens_total: genTotal,
      prefix_cache_hits_total: hits,
      prefix_cache_queries_total: queries,
      preemptions_total: 0,
      scrape_ms: 1.2,
    });
    prevGen = genTotal;
    prevPrompt = promptTotal;
  }
  return series;
}

function isoAt(baseMs, offsetMs) {
  return new Date(baseMs + offsetMs).toISOString();
}

function requestEventData(q, baseMs) {
  return {
    request_index: q.i, iteration: 0, conversation_index: null, turn_index: null, warmup: false,
    start_ms: round(q.start), end_ms: round(q.end), scheduled_ms: null, send_lag_ms: null,
    ttft_ms: q.fail ? null : round(q.ttft), ttfc_ms: q.fail ? null : round(q.ttft + 0.4),
    e2e_latency_ms: round(q.fail ? q.end - q.start : q.e2e),
    tpot_ms: q.fail ? null : round((q.e2e - q.ttft) / Math.max(1, q.completion - 1)),
    inter_token_latencies_ms: q.fail ? [] : q.gaps,
    prompt_tokens: q.fail ? null : q.prompt, completion_tokens: q.fail ? null : q.completion,
    token_count_source: q.fail ? '' : 'usage',
    error: q.fail ? 'HTTP 503: {"object":"error","message":"server overloaded"}' : null,
    error_kind: q.fail ? 'http_status' : null, http_status: q.fail ? 503 : 200,
    started_at: isoAt(baseMs, q.start), client_degraded: false,
  };
}

function summarize(requests, series) {
  const ok = requests.filter((q) => !q.fail);
  const durationS = Math.max(...requests.map((q) => q.end)) / 1000;
  const completion = ok.reduce((a, q) => a + q.completion, 0);
  const prompt = ok.reduce((a, q) => a + q.prompt, 0);
  const itls = [];
  for (const q of ok) for (const g of q.gaps) itls.push(g);
  const kv = series.map((s) => s.kv_cache_usage_frac);
  const act = series.map((s) => s.running_requests);
  const last = series[series.length - 1] || {};
  return {
    total_requests: requests.length, successful_requests: ok.length,
    failed_requests: requests.length - ok.length, total_duration_s: round(durationS),
    requests_per_second: round(requests.length / durationS), total_prompt_tokens: prompt,
    total_completion_tokens: completion, tokens_per_second: round(completion / durationS, 2),
    ttft: stats(ok.map((q) => q.ttft)), e2e_latency: stats(ok.map((q) => q.e2e)),
    tbt: stats(itls), itl: stats(itls),
    ttfc: stats(ok.map((q) => q.ttft + 0.4)),
    tpot: stats(ok.map((q) => (q.e2e - q.ttft) / Math.max(1, q.completion - 1))),
    errors_by_reason: requests.length - ok.length ? { http_status: requests.length - ok.length } : {},
    gpu_summary: series.length ? {
      kv_cache_usage_peak: Math.max(...kv), kv_cache_usage_mean: round(kv.reduce((a, b) => a + b, 0) / kv.length, 4),
      active_requests_peak: Math.max(...act), active_requests_mean: round(act.reduce((a, b) => a + b, 0) / act.length, 2),
      prefix_cache_hit_rate: last.prefix_cache_hit_rate_frac ?? null,
      generation_throughput: round(completion / durationS, 1), total_samples: series.length, scrape_errors: 0,
    } : null,
  };
}

function originalTimeSeries(series) {
  return series.map((s) => ({
    timestamp: s.t_s, kv_cache_usage: s.kv_cache_usage_frac, active_requests: s.running_requests,
    queued_requests: s.waiting_requests, prefix_cache_hit_rate: s.prefix_cache_hit_rate_frac,
    generation_throughput: s.generation_tokens_per_s, prompt_tokens_total: s.prompt_tokens_total,
    generation_tokens_total: s.generation_tokens_total, prefix_cache_hits_total: s.prefix_cache_hits_total,
    prefix_cache_queries_total: s.prefix_cache_queries_total,
  }));
}

function experimentOf(name, framework, model, gpu, workload, count, concurrency) {
  return {
    name, description: `${name} fixture`, extends: null, model: { name: model, quantization: null }, framework,
    framework_options: { max_model_len: null, gpu_memory_utilization: 0.9, enable_prefix_caching: null },
    infrastructure: { provider: 'local', gpu_type: gpu, gpu_count: 1 },
    workload: { type: workload, requests: { source: '/work/prompts/baseline.jsonl', count },
      parameters: { max_tokens: 256, temperature: 0.7 }, batch_size: null, concurrency, sweep: null, conversation: null },
    metrics: { collect_gpu_metrics: true, sample_interval_ms: 1000, output_dir: 'results/' },
  };
}

// An ib results file (every original key plus ib's).
function ibResults({ runId, name, startedAt, framework, model, gpu, requests, series, concurrency, status }) {
  const base = Date.parse(startedAt);
  const durationMs = Math.max(...requests.map((q) => q.end));
  return {
    run_id: runId, status: status || (requests.some((q) => q.fail) ? 'partial' : 'completed'), stop_reason: null,
    experiment: experimentOf(name, framework, model, gpu, 'concurrent', requests.length, concurrency),
    metadata: {
      experiment_name: name, started_at: startedAt, finished_at: isoAt(base, durationMs),
      server_url: 'http://127.0.0.1:8000', pod_id: null, gpu_type: gpu, gpu_count: 1, cost_per_hr: null,
      cost_usd: 0, framework, model, iteration: 0, params: {},
    },
    summary: summarize(requests, series),
    requests: requests.map((q) => {
      const d = requestEventData(q, base);
      return { ...d, finished_at: isoAt(base, q.end) };
    }),
    warmup_requests: [],
    gpu_metrics: {
      framework, sample_interval_ms: 1000, total_scrapes: series.length, scrape_errors: 0,
      time_series: originalTimeSeries(series).map((o, k) => ({
        ...o, prompt_throughput: series[k].prompt_tokens_per_s, preemptions_total: 0,
      })),
    },
    definitions_version: 1,
  };
}

// A file exactly as the original Python tool wrote it: no start/end offsets, wall clock only.
function originalResults({ runId, name, startedAt, requests, series }) {
  const base = Date.parse(startedAt);
  const s = summarize(requests, series);
  const strip = (p) => (p ? { p50: p.p50, p95: p.p95, p99: p.p99, mean: p.mean, min: p.min, max: p.max } : null);
  const fmt = (ms) => new Date(base + ms).toISOString().replace('Z', '+00:00');
  return {
    run_id: runId, status: requests.some((q) => q.fail) ? 'partial' : 'completed',
    experiment: experimentOf(name, 'vllm', 'Qwen/Qwen3-0.6B', 'A100-80GB', 'concurrent', requests.length, 4),
    metadata: {
      experiment_name: name, started_at: fmt(0), finished_at: fmt(Math.max(...requests.map((q) => q.end))),
      server_url: 'https://abc123-8000.proxy.runpod.net', pod_id: 'abc123', gpu_type: 'A100-80GB', gpu_count: 1,
      cost_per_hr: 1.99,
    },
    summary: {
      total_requests: s.total_requests, successful_requests: s.successful_requests, failed_requests: s.failed_requests,
      total_duration_s: s.total_duration_s, requests_per_second: s.requests_per_second,
      total_prompt_tokens: s.total_prompt_tokens, total_completion_tokens: s.total_completion_tokens,
      tokens_per_second: s.tokens_per_second, ttft: strip(s.ttft), e2e_latency: strip(s.e2e_latency), tbt: strip(s.tbt),
      gpu_summary: s.gpu_summary,
    },
    requests: requests.map((q) => ({
      request_index: q.i, ttft_ms: q.fail ? null : round(q.ttft), e2e_latency_ms: round(q.fail ? q.end - q.start : q.e2e),
      inter_token_latencies_ms: q.fail ? [] : q.gaps, prompt_tokens: q.fail ? null : q.prompt,
      completion_tokens: q.fail ? null : q.completion, error: q.fail ? 'Server error 503' : null,
      started_at: fmt(q.start), finished_at: fmt(q.end), turn_index: null, conversation_index: null,
    })),
    gpu_metrics: {
      framework: 'vllm', sample_interval_ms: 100, total_scrapes: series.length, scrape_errors: 0,
      time_series: originalTimeSeries(series),
    },
  };
}

// The golden live stream: what ib-run prints for one local run, in arrival order.
function liveStream(runId, requests, series, startedAt) {
  const base = Date.parse(startedAt);
  const lines = [];
  const ev = (o) => lines.push(JSON.stringify({ v: 2, ...o }));
  const log = (level, message, source, ms) =>
    ev({ type: 'log', run_id: runId, level, message, timestamp: isoAt(base, ms), source });
  ev({ type: 'phase', run_id: runId, phase: 'provisioning_skipped', data: { server_url: 'http://127.0.0.1:8000', elapsed_s: 0 } });
  log('info', 'provider local: using http://127.0.0.1:8000', 'ib-run', 0);
  ev({ type: 'phase', run_id: runId, phase: 'model_loading', data: { model: 'Qwen/Qwen3-0.6B' } });
  log('debug', 'GET /health -> 200', 'ib-run', 1);
  ev({ type: 'phase', run_id: runId, phase: 'model_loading_done', data: { elapsed_s: 0.2 } });
  ev({
    type: 'phase', run_id: runId, phase: 'execution',
    data: {
      total_requests: requests.length, workload_type: 'concurrent', iteration: 0, total: 1, params: {},
      metadata: { framework: 'vllm', model: 'Qwen/Qwen3-0.6B', gpu_type: 'A100-80GB', gpu_count: 1, server_url: 'http://127.0.0.1:8000' },
    },
  });
  // Interleave by time: requests at end_ms, samples at t_s.
  const items = [];
  for (const q of requests) items.push([q.end, 'r', q]);
  for (const s of series) items.push([s.t_s * 1000, 'g', s]);
  items.sort((a, b) => a[0] - b[0]);
  let done = 0;
  for (const [t, kind, x] of items) {
    if (kind === 'g') ev({ type: 'gpu_sample', run_id: runId, data: x });
    else {
      ev({ type: 'request_complete', run_id: runId, data: requestEventData(x, base) });
      done++;
      if (x.fail) log('warning', `request ${x.i} failed: HTTP 503`, 'ib-load', t);
      if (done % 50 === 0) log('info', `${done}/${requests.length} requests done`, 'ib-load', t);
    }
  }
  ev({ type: 'phase', run_id: runId, phase: 'iteration_done', data: { completed: requests.length, reason: 'finished' } });
  const summary = summarize(requests, series);
  ev({ type: 'summary', run_id: runId, data: { ...summary, result_path: `results/${runId}.json` } });
  log('info', `results saved: results/${runId}.json`, 'ib-aggregate', Math.max(...requests.map((q) => q.end)));
  ev({ type: 'phase', run_id: runId, phase: 'cleanup', data: {} });
  ev({ type: 'phase', run_id: runId, phase: 'done', data: { result_path: `results/${runId}.json` } });
  return lines.join('\n') + '\n';
}

function writeJson(file, obj) {
  fs.writeFileSync(file, JSON.stringify(obj) + '\n');
}

function main() {
  const args = process.argv.slice(2);
  if (args[0] === '--big') {
    const n = Number(args[1]);
    const out = args[2];
    if (!Number.isInteger(n) || n <= 0 || !out) {
      console.error('usage: make-fixtures.js --big N OUT');
      process.exit(2);
    }
    const requests = simulate({ seed: 7, count: n, concurrency: 64, baseTtft: 90, itl: 12, failEvery: 997, itlPerRequest: 16 });
    const durationMs = Math.max(...requests.map((q) => q.end));
    // One sample per 100 ms, like a 1 h run's 36k samples when the run is that long.
    const series = gpuSeriesFast(requests, durationMs, 100);
    const runId = `big-${n}-20261128-040000`;
    writeJson(out, ibResults({
      runId, name: `big-${n}`, startedAt: '2026-11-28T04:00:00.000Z', framework: 'vllm',
      model: 'Qwen/Qwen3-0.6B', gpu: 'H100-80GB', requests, series, concurrency: 64,
    }));
    console.log(`${out}: ${n} requests, ${series.length} GPU samples, ${(durationMs / 1000).toFixed(0)} s`);
    return;
  }
  const dir = path.join(__dirname, 'fixtures');
  fs.mkdirSync(path.join(dir, 'results'), { recursive: true });

  const live = simulate({ seed: 1, count: 240, concurrency: 8, baseTtft: 120, itl: 18, failEvery: 80 });
  const liveSeries = gpuSeries(live, Math.max(...live.map((q) => q.end)), 1000);
  fs.writeFileSync(path.join(dir, 'stream-live.ndjson'), liveStream('sim-demo-20261128-030000', live, liveSeries, '2026-11-28T03:00:00.000Z'));

  const a = simulate({ seed: 2, count: 200, concurrency: 8, baseTtft: 150, itl: 20, failEvery: 0 });
  writeJson(path.join(dir, 'results', 'baseline-vllm-20261127-100000.json'), ibResults({
    runId: 'baseline-vllm-20261127-100000', name: 'baseline-vllm', startedAt: '2026-11-27T10:00:00.000Z',
    framework: 'vllm', model: 'Qwen/Qwen3-0.6B', gpu: 'A100-80GB', requests: a,
    series: gpuSeries(a, Math.max(...a.map((q) => q.end)), 1000), concurrency: 8,
  }));
  const b = simulate({ seed: 3, count: 200, concurrency: 8, baseTtft: 90, itl: 14, failEvery: 100 });
  writeJson(path.join(dir, 'results', 'baseline-sglang-20261127-110000.json'), ibResults({
    runId: 'baseline-sglang-20261127-110000', name: 'baseline-sglang', startedAt: '2026-11-27T11:00:00.000Z',
    framework: 'sglang', model: 'Qwen/Qwen3-0.6B', gpu: 'A100-80GB', requests: b,
    series: gpuSeries(b, Math.max(...b.map((q) => q.end)), 1000), concurrency: 8,
  }));
  const o = simulate({ seed: 4, count: 50, concurrency: 4, baseTtft: 200, itl: 25, failEvery: 25 });
  writeJson(path.join(dir, 'results', 'quick-smoke-test-20260212-150000.json'), originalResults({
    runId: 'quick-smoke-test-20260212-150000', name: 'quick-smoke-test', startedAt: '2026-02-12T15:00:00.000Z',
    requests: o, series: gpuSeries(o, Math.max(...o.map((q) => q.end)), 1000),
  }));
  console.log(`wrote fixtures under ${dir}`);
}

// gpuSeries is O(samples × requests); for the big file, sweep requests once instead.
function gpuSeriesFast(requests, durationMs, intervalMs) {
  const n = Math.ceil(durationMs / intervalMs) + 1;
  const running = new Float64Array(n + 1);
  const gen = new Float64Array(n + 1);
  for (const q of requests) {
    const a = Math.floor(q.start / intervalMs);
    const b = Math.floor(q.end / intervalMs);
    running[a] += 1;
    running[b] -= 1;
    if (!q.fail) gen[b] += q.completion;
  }
  const series = [];
  let run = 0;
  let genTotal = 0;
  for (let k = 0; k < n; k++) {
    run += running[k];
    genTotal += gen[k];
    series.push({
      t_s: round(((k + 1) * intervalMs) / 1000), kv_cache_usage_frac: round(Math.min(0.98, run / 80), 4),
      running_requests: run, waiting_requests: Math.max(0, run - 60), prefix_cache_hit_rate_frac: 0.3,
      generation_tokens_per_s: round((gen[k] * 1000) / intervalMs, 1), prompt_tokens_per_s: 0,
      prompt_tokens_total: 0, generation_tokens_total: genTotal, prefix_cache_hits_total: 0,
      prefix_cache_queries_total: 0, preemptions_total: 0, scrape_ms: 1,
    });
  }
  return series;
}

main();
