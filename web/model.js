// The dashboard's data model: turns live events (stream v1 or v2) and results files (the original
// tool's or ib's) into one columnar shape, and computes what the charts draw from it (histogram
// bins, rolling throughput, downsampled series, request timeline segments, summary and compare
// rows). Pure functions only: no DOM, so Node's test runner loads this file too.
(function (root) {
  'use strict';

  const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  const pct = (frac) => (num(frac) == null ? null : frac * 100);
  const first = (...vals) => { for (const v of vals) if (v !== undefined && v !== null) return v; return null; };

  function newRun(runId) {
    return {
      runId: runId || '',
      gpu: { t: [], kv: [], running: [], waiting: [], hit: [], gen: [] },
      // One entry per non-warmup request, in arrival order.
      // intended: the instant the request should have started (intended_ms; null when absent).
      req: { index: [], start: [], end: [], ok: [], ttftAt: [], tokens: [], intended: [] },
      ttft: [], e2e: [], itl: [],
      // From the intended start (ttft + client_queue_ms): only requests that carry client_queue_ms.
      ttftIntended: [], e2eIntended: [],
      // Per token: each gap divided by the tokens its event carried (itl_tokens), once per token.
      itlPerToken: [],
      // The server's own latency histograms over the run ({ttft_ms: {le_ms, counts, metric}, ...}):
      // from gpu_sample.server_histograms live, from summary.server_latency in a results file.
      serverHist: {},
      failed: 0, warmup: 0, tMaxS: 0,
    };
  }

  // gpu_sample data, v2 (t_s, *_frac, running/waiting) or v1 / results time_series (timestamp,
  // kv_cache_usage, active/queued, prefix_cache_hit_rate, generation_throughput).
  function addGpuSample(run, d) {
    if (!d) return false;
    const t = num(first(d.t_s, d.timestamp));
    if (t == null) return false;
    run.gpu.t.push(t);
    run.gpu.kv.push(pct(first(d.kv_cache_usage_frac, d.kv_cache_usage)));
    run.gpu.running.push(num(first(d.running_requests, d.active_requests)));
    run.gpu.waiting.push(num(first(d.waiting_requests, d.queued_requests)));
    run.gpu.hit.push(pct(first(d.prefix_cache_hit_rate_frac, d.prefix_cache_hit_rate)));
    run.gpu.gen.push(num(first(d.generation_tokens_per_s, d.generation_throughput)));
    if (t > run.tMaxS) run.tMaxS = t;
    if (d.server_histograms) setServerLatency(run, d.server_histograms);
    return true;
  }

  // Keeps the latest server histograms (each carries the whole run's delta). Accepts
  // gpu_sample.server_histograms or summary.server_latency (same le_ms / counts).
  function setServerLatency(run, hists) {
    if (!hists || typeof hists !== 'object') return false;
    let any = false;
    for (const [name, h] of Object.entries(hists)) {
      if (!h || !Array.isArray(h.le_ms) || !Array.isArray(h.counts) || h.counts.length !== h.le_ms.length + 1) continue;
      run.serverHist[name] = { le_ms: h.le_ms, counts: h.counts, metric: h.metric || '' };
      any = true;
    }
    return any;
  }

  // The server's bucket counts spread over the chart's bins (uniform inside each bucket, the
  // first bucket from 0; the +Inf bucket lands in the last bin), so the server's distribution
  // is drawn on the same axis as the client's. normalize: % of the server's observations.
  function serverOnBins(h, bins, normalize) {
    if (!h || !bins) return null;
    const y = new Array(bins.count).fill(0);
    let total = 0;
    for (let i = 0; i < h.counts.length; i++) {
      const c = num(h.counts[i]) || 0;
      if (c <= 0) continue;
      total += c;
      if (i === h.le_ms.length) { y[bins.count - 1] += c; continue; }
      const lo = i === 0 ? 0 : h.le_ms[i - 1];
      const hi = h.le_ms[i];
      for (let k = 0; k < bins.count; k++) {
        const a = bins.start + k * bins.width;
        const b = k === bins.count - 1 && bins.clippedAbove != null ? Infinity : a + bins.width;
        const overlap = Math.min(b, hi) - Math.max(a, lo);
        if (overlap > 0) y[k] += (c * overlap) / (hi - lo);
      }
      // A bucket wholly below the first bin lands in it (as the client's values do).
      if (hi <= bins.start) y[0] += c;
    }
    if (!total) return null;
    if (normalize) for (let k = 0; k < y.length; k++) y[k] = (y[k] * 100) / total;
    const x = y.map((_, k) => bins.start + (k + 0.5) * bins.width);
    return { x, y, width: bins.width, total };
  }

  // The lines that say where the client's figure is beyond the server's bucket plus margin
  // (summary.server_vs_client, made by lib/results/server_view): ["client sees +38 ms ...", ...].
  function serverGapLines(summary) {
    const list = summary && Array.isArray(summary.server_vs_client) ? summary.server_vs_client : [];
    return list.filter((c) => c && c.exceeds === true && typeof c.message === 'string').map((c) => c.message);
  }

  // request_complete data or a results file's requests[] item. originMs converts wall-clock
  // started_at/finished_at (old files carry no run-relative offsets); fallbackEndMs places a v1
  // live event that carries no time at all (its arrival time).
  function addRequest(run, d, originMs, fallbackEndMs) {
    if (!d) return false;
    if (d.warmup === true) { run.warmup++; return false; }
    const ok = d.error === null || d.error === undefined;
    const e2e = num(d.e2e_latency_ms);
    let start = num(d.start_ms);
    let end = num(d.end_ms);
    if (start == null && originMs != null && d.started_at) {
      const s = Date.parse(d.started_at);
      if (Number.isFinite(s)) start = s - originMs;
      const f = d.finished_at ? Date.parse(d.finished_at) : NaN;
      if (Number.isFinite(f)) end = f - originMs;
    }
    if (start == null && end == null && fallbackEndMs != null) end = fallbackEndMs;
    if (start == null && end != null) start = end - (e2e || 0);
    if (end == null && start != null) end = start + (e2e || 0);
    if (start == null) { start = 0; end = e2e || 0; }
    const ttft = num(d.ttft_ms);
    run.req.index.push(num(d.request_index) ?? run.req.index.length);
    run.req.start.push(start);
    run.req.end.push(end);
    run.req.ok.push(ok);
    run.req.ttftAt.push(ok && ttft != null ? start + ttft : null);
    run.req.tokens.push(ok ? num(d.completion_tokens) || 0 : 0);
    run.req.intended.push(num(d.intended_ms));
    if (ok) {
      if (ttft != null) run.ttft.push(ttft);
      if (e2e != null) run.e2e.push(e2e);
      const queue = num(d.client_queue_ms);
      if (queue != null && ttft != null) run.ttftIntended.push(ttft + queue);
      if (queue != null && e2e != null) run.e2eIntended.push(e2e + queue);
      const itl = d.inter_token_latencies_ms;
      const tok = Array.isArray(d.itl_tokens) && Array.isArray(itl) && d.itl_tokens.length === itl.length ? d.itl_tokens : null;
      if (Array.isArray(itl) && itl.length) {
        for (let i = 0; i < itl.length; i++) { const v = itl[i]; if (typeof v === 'number' && Number.isFinite(v)) run.itl.push(v); }
        if (tok) {
          for (let i = 0; i < itl.length; i++) {
            const n = num(tok[i]);
            if (!(n > 0) || num(itl[i]) == null) continue;
            for (let k = Math.max(1, Math.round(n)); k > 0; k--) run.itlPerToken.push(itl[i] / n);
          }
        }
      } else if (num(d.tbt_ms) != null) {
        run.itl.push(d.tbt_ms); // stream v1 carried only the per-request mean
      }
    } else {
      run.failed++;
    }
    if (end / 1000 > run.tMaxS) run.tMaxS = end / 1000;
    return true;
  }

  // The request_complete / requests[] fields this file reads (besides v1's tbt_ms and old files'
  // finished_at). ib-dash serves the one definition (lib/events/request_fields.h) at /api/schema;
  // checkSchema names any field read here that the schema no longer has (a rename would
  // otherwise blank a chart silently). The node tests check it against the real ib-dash.
  const REQUEST_FIELDS = ['request_index', 'warmup', 'error', 'start_ms', 'end_ms', 'started_at',
    'ttft_ms', 'e2e_latency_ms', 'completion_tokens', 'inter_token_latencies_ms', 'client_queue_ms'];
  // The summary payload's figures summaryCards reads (lib/events/payloads.h, served beside the
  // request fields; its latency blocks are the results file's, docs/results-format.md). Named
  // "summary.<field>" when missing; a server without the summary list is not checked for them.
  const SUMMARY_FIELDS = ['total_requests', 'successful_requests', 'failed_requests', 'total_duration_s',
    'requests_per_second', 'tokens_per_second'];
  function checkSchema(schema) {
    const names = (list) => new Set((Array.isArray(list) ? list : []).map((f) => f && f.name));
    const have = names(schema && schema.request_complete);
    const missing = REQUEST_FIELDS.filter((name) => !have.has(name));
    if (schema && Array.isArray(schema.summary)) {
      const summary = names(schema.summary);
      for (const name of SUMMARY_FIELDS) if (!summary.has(name)) missing.push(`summary.${name}`);
    }
    return missing;
  }

  // A whole results file (either tool's) → run model.
  function runFromResults(file) {
    const run = newRun(file && file.run_id);
    if (!file || typeof file !== 'object') return run;
    const meta = file.metadata || {};
    const reqs = Array.isArray(file.requests) ? file.requests : [];
    let originMs = Date.parse(meta.started_at || '');
    if (!Number.isFinite(originMs)) {
      originMs = Infinity;
      for (const r of reqs) { const s = Date.parse(r.started_at || ''); if (s < originMs) originMs = s; }
      if (!Number.isFinite(originMs)) originMs = null;
    }
    // Old files: the wall-clock start of the first request is the best origin we have; it keeps
    // the timeline starting near 0 even when metadata.started_at is the iteration start.
    for (const r of reqs) addRequest(run, r, originMs, null);
    const ts = file.gpu_metrics && Array.isArray(file.gpu_metrics.time_series) ? file.gpu_metrics.time_series : [];
    for (const s of ts) addGpuSample(run, s);
    if (file.summary) setServerLatency(run, file.summary.server_latency);
    return run;
  }

  // Stream v1 put fields at the top level of some events; v2 nests them in data.
  function eventData(e) { return e.data && typeof e.data === 'object' ? e.data : e; }

  // ---- Statistics and chart computations ----

  // Quantile of values (linear interpolation), computed on a sample of at most 20k values so that
  // millions of inter-token latencies cost nothing.
  function quantile(values, q) {
    const n = values.length;
    if (!n) return null;
    const step = Math.max(1, Math.floor(n / 20000));
    const s = new Float64Array(Math.ceil(n / step));
    let k = 0;
    for (let i = 0; i < n; i += step) s[k++] = values[i];
    const a = s.subarray(0, k).sort();
    const pos = q * (a.length - 1);
    const lo = Math.floor(pos);
    const hi = Math.ceil(pos);
    return a[lo] + (a[hi] - a[lo]) * (pos - lo);
  }

  function niceStep(raw) {
    if (!(raw > 0)) return 1;
    const p = 10 ** Math.floor(Math.log10(raw));
    const m = raw / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10) * p;
  }

  // Shared bins for one or more value sets: from the minimum to 1.5 × the 98th percentile (a long
  // tail would squash every bar into one); values beyond land in the last bin, which says so.
  function binsFor(sets, target = 40) {
    let lo = Infinity;
    let hi = -Infinity;
    let tail = -Infinity;
    for (const v of sets) {
      if (!v.length) continue;
      let mn = Infinity;
      let mx = -Infinity;
      for (let i = 0; i < v.length; i++) { const x = v[i]; if (x < mn) mn = x; if (x > mx) mx = x; }
      lo = Math.min(lo, mn);
      hi = Math.max(hi, mx);
      tail = Math.max(tail, quantile(v, 0.98));
    }
    if (!Number.isFinite(lo)) return null;
    const top = hi > tail * 1.5 ? tail * 1.5 : hi;
    const width = niceStep(Math.max(top - lo, 1e-9) / target);
    const start = Math.floor(lo / width) * width;
    const count = Math.max(1, Math.floor((top - start) / width) + 1);
    return { start, width, count, clippedAbove: hi > start + count * width ? start + (count - 1) * width : null };
  }

  function histogram(values, bins, normalize) {
    const y = new Array(bins.count).fill(0);
    for (let i = 0; i < values.length; i++) {
      let k = Math.floor((values[i] - bins.start) / bins.width);
      if (k < 0) k = 0;
      if (k >= bins.count) k = bins.count - 1;
      y[k]++;
    }
    if (normalize && values.length) for (let k = 0; k < y.length; k++) y[k] = (y[k] * 100) / values.length;
    const x = y.map((_, k) => bins.start + (k + 0.5) * bins.width);
    return { x, y, width: bins.width };
  }

  // Client-side output throughput: each successful request's completion tokens are spread evenly
  // from its first token to its end, summed into bins, then averaged over a rolling window.
  function rollingThroughput(run, windowS) {
    const n = run.req.end.length;
    if (!n) return { x: [], y: [] };
    let tEnd = 0;
    for (let i = 0; i < n; i++) if (run.req.end[i] > tEnd) tEnd = run.req.end[i];
    tEnd /= 1000;
    const binS = Math.max(0.25, niceStep(tEnd / 1200));
    const nb = Math.max(1, Math.ceil(tEnd / binS) + 1);
    const bins = new Float64Array(nb);
    for (let i = 0; i < n; i++) {
      const tok = run.req.tokens[i];
      if (!tok) continue;
      const a = (run.req.ttftAt[i] ?? run.req.end[i]) / 1000;
      const b = run.req.end[i] / 1000;
      if (!(b > a)) { bins[Math.min(nb - 1, Math.max(0, Math.floor(b / binS)))] += tok; continue; }
      const rate = tok / (b - a);
      let k = Math.max(0, Math.floor(a / binS));
      const kb = Math.min(nb - 1, Math.floor(b / binS));
      for (; k <= kb; k++) {
        const lo = Math.max(a, k * binS);
        const hi = Math.min(b, (k + 1) * binS);
        if (hi > lo) bins[k] += rate * (hi - lo);
      }
    }
    const w = Math.max(1, Math.round(windowS / binS));
    const x = new Array(nb);
    const y = new Array(nb);
    let sum = 0;
    for (let k = 0; k < nb; k++) {
      sum += bins[k];
      if (k >= w) sum -= bins[k - w];
      const span = Math.min(k + 1, w) * binS;
      x[k] = (k + 1) * binS;
      y[k] = sum / span;
    }
    return { x, y };
  }

  // Offered load: arrivals per second, every request (failed ones too) counted at its intended
  // start (intended_ms), binned as rollingThroughput bins and averaged over the same window.
  // Empty when no request carries intended_ms.
  function offeredRate(run, windowS) {
    const at = run.req.intended.filter((v) => v != null);
    if (!at.length) return { x: [], y: [] };
    let tEnd = 0;
    for (let i = 0; i < run.req.end.length; i++) if (run.req.end[i] > tEnd) tEnd = run.req.end[i];
    for (const v of at) if (v > tEnd) tEnd = v;
    tEnd /= 1000;
    const binS = Math.max(0.25, niceStep(tEnd / 1200));
    const nb = Math.max(1, Math.ceil(tEnd / binS) + 1);
    const bins = new Float64Array(nb);
    for (const v of at) bins[Math.min(nb - 1, Math.max(0, Math.floor(v / 1000 / binS)))] += 1;
    const w = Math.max(1, Math.round(windowS / binS));
    const x = new Array(nb);
    const y = new Array(nb);
    let sum = 0;
    for (let k = 0; k < nb; k++) {
      sum += bins[k];
      if (k >= w) sum -= bins[k - w];
      x[k] = (k + 1) * binS;
      y[k] = sum / (Math.min(k + 1, w) * binS);
    }
    return { x, y, binS };
  }

  // Min/max downsampling of a time series to at most ~2*buckets points inside [lo, hi], keeping
  // peaks visible; returns all points when there are few.
  function downsample(t, y, buckets, lo, hi) {
    let i0 = 0;
    let i1 = t.length;
    if (lo != null) { while (i0 < t.length && t[i0] < lo) i0++; i0 = Math.max(0, i0 - 1); }
    if (hi != null) { i1 = i0; while (i1 < t.length && t[i1] <= hi) i1++; i1 = Math.min(t.length, i1 + 1); }
    const n = i1 - i0;
    if (n <= buckets * 2) return { x: t.slice(i0, i1), y: y.slice(i0, i1) };
    const xs = [];
    const ys = [];
    const size = n / buckets;
    for (let b = 0; b < buckets; b++) {
      const a = i0 + Math.floor(b * size);
      const e = Math.min(i1, i0 + Math.floor((b + 1) * size));
      let mi = -1;
      let ma = -1;
      for (let i = a; i < e; i++) {
        const v = y[i];
        if (v == null) continue;
        if (mi < 0 || v < y[mi]) mi = i;
        if (ma < 0 || v > y[ma]) ma = i;
      }
      if (mi < 0) { xs.push(t[a]); ys.push(null); continue; }
      const pair = mi <= ma ? [mi, ma] : [ma, mi];
      xs.push(t[pair[0]]); ys.push(y[pair[0]]);
      if (pair[1] !== pair[0]) { xs.push(t[pair[1]]); ys.push(y[pair[1]]); }
    }
    return { x: xs, y: ys };
  }

  // Request timeline segments (start→end at y = request index), split by success, at most
  // maxSegments drawn: requests overlapping [lo, hi] (seconds) are sampled evenly, failures first.
  function timeline(run, maxSegments, lo, hi) {
    const r = run.req;
    const picked = [];
    const fails = [];
    const inRange = [];
    for (let i = 0; i < r.start.length; i++) {
      const s = r.start[i] / 1000;
      const e = r.end[i] / 1000;
      if (lo != null && e < lo) continue;
      if (hi != null && s > hi) continue;
      if (r.ok[i]) inRange.push(i); else fails.push(i);
    }
    const failCap = Math.min(fails.length, Math.floor(maxSegments / 4));
    for (let k = 0; k < failCap; k++) picked.push(fails[Math.floor((k * fails.length) / failCap)]);
    const room = maxSegments - picked.length;
    const step = Math.max(1, inRange.length / room);
    for (let k = 0; k < inRange.length; k += step) picked.push(inRange[Math.floor(k)]);
    const mk = () => ({ x: [], y: [] });
    const ok = mk();
    const bad = mk();
    for (const i of picked) {
      const t = r.ok[i] ? ok : bad;
      const s = r.start[i] / 1000;
      const e = r.end[i] / 1000;
      t.x.push(s, e, null); t.y.push(r.index[i], r.index[i], null);
    }
    return { ok, bad, drawn: picked.length, total: inRange.length + fails.length };
  }

  // ---- Formatting ----
  function fmtMs(v) {
    if (num(v) == null) return '—';
    if (Math.abs(v) >= 10000) return `${(v / 1000).toFixed(1)} s`;
    if (Math.abs(v) >= 1000) return `${(v / 1000).toFixed(2)} s`;
    if (Math.abs(v) >= 100) return `${v.toFixed(0)} ms`;
    if (Math.abs(v) >= 10) return `${v.toFixed(1)} ms`;
    return `${v.toFixed(2)} ms`;
  }
  function fmtNum(v, d = 1) {
    if (num(v) == null) return '—';
    return Math.abs(v) >= 1000 ? Math.round(v).toLocaleString('en-US') : v.toFixed(Math.abs(v) >= 100 ? 0 : d);
  }
  const fmtPct = (frac) => (num(frac) == null ? '—' : `${(frac * 100).toFixed(1)} %`);
  const fmtTps = (v) => (num(v) == null ? '—' : `${fmtNum(v)} tok/s`);
  function fmtDuration(s) {
    if (num(s) == null) return '—';
    if (s < 60) return `${s.toFixed(1)} s`;
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const sec = Math.floor(s % 60);
    return h ? `${h}h ${String(m).padStart(2, '0')}m` : `${m}m ${String(sec).padStart(2, '0')}s`;
  }
  const fmtPcts = (st) => (st ? `p50 ${fmtMs(st.p50)} · p95 ${fmtMs(st.p95)} · p99 ${fmtMs(st.p99)}` : 'n/a');

  // The figures `ib-results show` prints, as cards: [{label, value, detail}].
  function summaryCards(summary, metadata) {
    const s = summary || {};
    const m = metadata || {};
    const cards = [];
    const ok = s.successful_requests;
    const total = s.total_requests;
    const reasons = s.errors_by_reason && typeof s.errors_by_reason === 'object' ? Object.entries(s.errors_by_reason).map(([k, v]) => `${k} ${v}`).join(', ') : '';
    cards.push({ label: 'Requests', value: `${ok ?? '—'} / ${total ?? '—'}`, detail: `errors ${s.failed_requests ?? (total != null && ok != null ? total - ok : '—')}${reasons ? ' (' + reasons + ')' : ''}` });
    cards.push({ label: 'Duration', value: fmtDuration(s.total_duration_s), detail: '' });
    cards.push({ label: 'Throughput', value: fmtTps(s.tokens_per_second), detail: num(s.requests_per_second) != null ? `${s.requests_per_second.toFixed(2)} req/s` : '' });
    // *_intended: from the instant each request should have started (docs/metrics.md), only in
    // runs that record it; the gap to the write-based figure is the client's hold-back.
    const lat = [['TTFT', s.ttft], ['TTFT (intended start)', s.ttft_intended], ['E2E latency', s.e2e_latency],
      ['E2E (intended start)', s.e2e_intended], ['TBT', s.tbt || s.itl], ['TTFC', s.ttfc], ['TPOT', s.tpot]];
    for (const [label, st] of lat) {
      if (!st && label !== 'TTFT' && label !== 'E2E latency' && label !== 'TBT') continue;
      cards.push({ label, value: st ? fmtMs(st.p50) : 'n/a', detail: st ? `p95 ${fmtMs(st.p95)} · p99 ${fmtMs(st.p99)}` : '' });
    }
    if (s.goodput && typeof s.goodput === 'object') {
      // lib/results: {slos: {ttft_ms, tpot_ms, e2e_latency_ms}, good_requests, requests_per_second, fraction}
      const g = s.goodput;
      const slo = Object.entries(g.slos || {}).map(([k, v]) => `${k.replace(/_ms$/, '').replace('e2e_latency', 'e2e').toUpperCase()} ≤ ${fmtMs(v)}`).join(', ');
      cards.push({ label: 'Goodput', value: `${fmtPct(g.fraction)} good`, detail: `${g.good_requests ?? '—'} req · ${fmtNum(g.requests_per_second, 2)} req/s${slo ? ' · ' + slo : ''}` });
    }
    // The server's own histograms (docs/metrics.md "Server view"): quantile interpolated in its bucket.
    const sl = s.server_latency && typeof s.server_latency === 'object' ? s.server_latency : null;
    for (const [key, label] of [['ttft_ms', 'TTFT (server)'], ['e2e_ms', 'E2E (server)']]) {
      const b = sl && sl[key];
      if (!b || !(num(b.count) > 0)) continue;
      const bucket = Array.isArray(b.p50_bucket_ms) ? ` · p50 in ${fmtNum(b.p50_bucket_ms[0], 0)}–${b.p50_bucket_ms[1] == null ? '∞' : fmtNum(b.p50_bucket_ms[1], 0)} ms` : '';
      cards.push({ label, value: fmtMs(b.p50), detail: `p90 ${fmtMs(b.p90)} · p99 ${fmtMs(b.p99)}${bucket}` });
    }
    const gs = s.gpu_summary;
    if (gs && (gs.total_samples ?? 0) > 0) {
      cards.push({ label: 'KV cache', value: `peak ${fmtPct(gs.kv_cache_usage_peak)}`, detail: `mean ${fmtPct(gs.kv_cache_usage_mean)}` });
      if (num(gs.prefix_cache_hit_rate) != null) cards.push({ label: 'Prefix-cache hits', value: fmtPct(gs.prefix_cache_hit_rate), detail: '' });
      if (num(gs.generation_throughput) != null) cards.push({ label: 'Gen throughput (server)', value: fmtTps(gs.generation_throughput), detail: '' });
      cards.push({ label: 'Running requests', value: `peak ${fmtNum(gs.active_requests_peak, 0)}`, detail: `mean ${fmtNum(gs.active_requests_mean)}` });
      cards.push({ label: 'GPU samples', value: fmtNum(gs.total_samples, 0), detail: `${gs.scrape_errors ?? 0} scrape errors` });
    }
    const cost = num(m.cost_usd) ?? (num(m.cost_per_hr) != null && num(s.total_duration_s) != null ? (m.cost_per_hr * s.total_duration_s) / 3600 : null);
    if (cost != null && cost > 0) cards.push({ label: 'Cost', value: `$${cost.toFixed(cost < 1 ? 4 : 2)}`, detail: num(m.cost_per_hr) != null ? `$${m.cost_per_hr}/h` : '' });
    return cards;
  }

  // The Compare table as ib-dash serves it (GET /api/compare/A,B: lib/results' Compare, the
  // table `ib-results compare --json` prints; its rows, units and directions are defined there
  // once), formatted for the page: head rows (framework, model, GPU, status), then one row per
  // metric with the delta against the first run, green when better, red when worse.
  const UNIT_FMT = {
    ms: fmtMs, 'tok/s': fmtTps, 'req/s': (v) => `${fmtNum(v, 2)} req/s`, s: (v) => fmtDuration(v),
    '%': (v) => `${v.toFixed(1)} %`, $: (v) => `$${v.toFixed(2)}`, '': (v) => (Number.isInteger(v) ? String(v) : fmtNum(v, 2)),
  };
  function deltaText(d, unit) {
    if (!d || num(d.abs) == null) return { text: '', cls: '' };
    const diff = d.abs;
    const sign = diff > 0 ? '+' : '';
    const pctText = num(d.pct) != null ? ` (${d.pct > 0 ? '+' : ''}${d.pct.toFixed(1)}%)` : '';
    const u = unit === '%' ? ' pt' : unit ? ` ${unit}` : '';
    const text = `${sign}${Math.abs(diff) >= 100 ? diff.toFixed(0) : diff.toFixed(1)}${u}${pctText}`;
    // better | worse | same; any other verdict (e.g. within noise) is shown neutral, named.
    const cls = d.verdict === 'better' || d.verdict === 'worse' || d.verdict === 'same' ? d.verdict : 'same';
    return { text: cls === d.verdict ? text : `${text} ${String(d.verdict).replace(/_/g, ' ')}`, cls, verdict: d.verdict };
  }
  function compareTable(c) {
    const runs = (c && c.runs) || [];
    const head = [
      { label: 'Framework', values: runs.map((r) => r.framework || '—'), deltas: [] },
      { label: 'Model', values: runs.map((r) => r.model || '—'), deltas: [] },
      { label: 'GPU', values: runs.map((r) => r.gpu || '—'), deltas: [] },
      { label: 'Status', values: runs.map((r) => r.status || '—'), deltas: [] },
    ];
    const rows = ((c && c.rows) || []).map((row) => {
      const f = UNIT_FMT[row.unit] || ((v) => `${fmtNum(v, 2)} ${row.unit}`);
      return {
        label: row.metric, better: row.better,
        values: (row.values || []).map((v) => (num(v) == null ? (typeof v === 'string' ? v : 'n/a') : f(v))),
        deltas: (row.deltas || []).map((d) => deltaText(d, row.unit)),
      };
    });
    return head.concat(rows);
  }

  // Reads a results-file body that may hold the original tool's bare NaN/Infinity (invalid JSON).
  function parseResultsText(text) {
    try { return JSON.parse(text); } catch (e) {
      const fixed = text.replace(/(?<=[:,\[]\s*)-?(NaN|Infinity)(?=\s*[,\]}])/g, 'null');
      return JSON.parse(fixed);
    }
  }

  const api = {
    num, newRun, addGpuSample, setServerLatency, serverOnBins, serverGapLines, addRequest, runFromResults, eventData, quantile, niceStep, binsFor,
    histogram, rollingThroughput, offeredRate, downsample, timeline, fmtMs, fmtNum, fmtPct, fmtTps, fmtDuration,
    fmtPcts, summaryCards, compareTable, parseResultsText,
    REQUEST_FIELDS, SUMMARY_FIELDS, checkSchema,
  };
  if (typeof module !== 'undefined' && module.exports) module.exports = api;
  else root.IbModel = api;
})(typeof window !== 'undefined' ? window : globalThis);
