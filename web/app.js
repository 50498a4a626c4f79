// The dashboard page: one WebSocket to ib-dash (docs/dashboard-protocol.md), Plotly charts fed
// from web/model.js, Alpine.js for the small UI state. Chart data never goes through Alpine's
// reactive proxies (100k-request arrays would be slow there); it lives in plain objects below.
(function () {
  'use strict';
  const M = window.IbModel;

  const PALETTE = ['#6c8cff', '#00b894', '#fdcb6e', '#e17055', '#a29bfe', '#55efc4', '#fd79a8', '#74b9ff'];
  const HIST_INTERVAL_MS = 300; // request-derived charts rebuild at most ~3 times a second
  const MAX_LINE_POINTS = 2000; // per trace, after min/max downsampling
  const MAX_SEGMENTS = 4000; // request timeline segments drawn at once
  const LOG_KEEP = 5000;
  const LEVELS = { debug: 0, info: 1, warning: 2, warn: 2, error: 3, critical: 3 };

  const CHARTS = [
    { key: 'kv', title: 'KV-cache usage (%)', kind: 'gpu', empty: 'No GPU samples yet: they arrive from ib-scrape once the run executes.' },
    { key: 'reqs', title: 'Running & waiting requests', kind: 'gpu', empty: 'No GPU samples yet.' },
    { key: 'tput', title: 'Output throughput (tok/s, client, rolling window)', kind: 'req', empty: 'No completed requests yet.' },
    { key: 'ttft', title: 'TTFT distribution (ms)', kind: 'req', empty: 'No successful requests yet.' },
    { key: 'e2e', title: 'End-to-end latency distribution (ms)', kind: 'req', empty: 'No successful requests yet.' },
    { key: 'itl', title: 'Inter-token latency (TBT) distribution (ms)', kind: 'req', empty: 'No token gaps yet.' },
    { key: 'hit', title: 'Prefix-cache hit rate (%)', kind: 'gpu', empty: 'The server reports no prefix-cache data.' },
    { key: 'gen', title: 'Generation throughput, server-reported (tok/s)', kind: 'gpu', empty: 'The server reports no generation throughput.' },
    { key: 'timeline', title: 'Request timeline (start → end; red = failed)', kind: 'req', wide: true, empty: 'No completed requests yet.' },
  ];
  const GPU_FIELDS = { kv: ['kv'], reqs: ['running', 'waiting'], hit: ['hit'], gen: ['gen'] };
  const GPU_NAMES = { kv: ['KV cache'], reqs: ['running', 'waiting'], hit: ['hit rate'], gen: ['generation'] };

  function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }
  function themeColors() {
    return { bg: cssVar('--card'), text: cssVar('--text'), muted: cssVar('--muted'), grid: cssVar('--grid'),
      ok: cssVar('--green'), bad: cssVar('--red'), accent: cssVar('--accent'), orange: cssVar('--orange') };
  }

  function baseLayout(title, xTitle, yTitle, uirev) {
    const c = themeColors();
    return {
      title: { text: title, x: 0.01, xanchor: 'left', font: { size: 13, color: c.text } },
      margin: { l: 56, r: 14, t: 34, b: 40 }, paper_bgcolor: c.bg, plot_bgcolor: c.bg,
      font: { color: c.muted, size: 11, family: 'system-ui, -apple-system, Segoe UI, Roboto, sans-serif' },
      xaxis: { title: { text: xTitle, standoff: 6 }, gridcolor: c.grid, zerolinecolor: c.grid, linecolor: c.grid },
      yaxis: { title: { text: yTitle, standoff: 6 }, gridcolor: c.grid, zerolinecolor: c.grid, linecolor: c.grid, rangemode: 'tozero' },
      showlegend: true, legend: { orientation: 'h', x: 1, xanchor: 'right', y: 1.14, font: { size: 10 } },
      hovermode: 'closest', uirevision: uirev, bargap: 0.04,
    };
  }
  const PLOT_CONFIG = (name) => ({
    responsive: true, displaylogo: false, modeBarButtonsToRemove: ['lasso2d', 'select2d', 'autoScale2d'],
    toImageButtonOptions: { format: 'png', filename: name, scale: 2 },
  });

  // ---- A set of the nine charts, bound to a container ----
  class ChartSet {
    constructor(container, prefix, mode) {
      this.prefix = prefix;
      this.mode = mode; // 'live' | 'history'
      this.run = null;
      this.baseline = null; // {id, run}
      this.windowS = 10;
      this.ranges = {}; // key -> [lo, hi] zoom range (seconds) for range-aware redraws
      this.drawnGpu = 0; // live: GPU samples already drawn
      this.gpuRebuild = true;
      this.divs = {};
      this.pngName = prefix;
      container.innerHTML = '';
      for (const ch of CHARTS) {
        const card = document.createElement('div');
        card.className = 'card chart-card' + (ch.wide ? ' wide' : '');
        card.innerHTML = `<button class="png ghost" title="Download as PNG">PNG</button>` +
          `<div class="chart" id="${prefix}-${ch.key}"></div><div class="chart-empty"></div>`;
        card.querySelector('.chart-empty').textContent = ch.empty;
        card.querySelector('.png').addEventListener('click', () => this.png(ch.key));
        container.appendChild(card);
        this.divs[ch.key] = card.querySelector('.chart');
        this.divs[ch.key].parentElement.classList.add('is-empty');
      }
    }

    png(key) {
      const gd = this.divs[key];
      if (!gd.data) return;
      Plotly.downloadImage(gd, { format: 'png', filename: `${this.pngName}-${key}`, width: 1200, height: 500 });
    }

    setEmpty(key, empty, message) {
      const card = this.divs[key].parentElement;
      card.classList.toggle('is-empty', empty);
      if (message) card.querySelector('.chart-empty').textContent = message;
    }

    plot(key, traces, layout) {
      const gd = this.divs[key];
      // A legend (this run and a baseline: long names) goes under the plot, in a bottom margin
      // of its own, so it never covers the chart's title, the lines or the x-axis title.
      if (layout.showlegend) {
        const rows = Math.ceil(traces.filter((t) => t.showlegend !== false).length / 2);
        layout.legend = { orientation: 'h', x: 0, xanchor: 'left', yref: 'container', y: 0, yanchor: 'bottom', font: { size: 10 } };
        layout.margin = Object.assign({}, layout.margin, { b: 44 + 18 * rows });
      }
      Plotly.react(gd, traces, layout, PLOT_CONFIG(`${this.pngName}-${key}`));
      if (!gd._ibHooked) {
        gd._ibHooked = true;
        gd.on('plotly_relayout', (ev) => this.onRelayout(key, ev));
      }
    }

    // Zooming a big history chart redraws it from the full data within the new x range, so
    // detail appears as you zoom although only ~2k points per trace are ever drawn.
    onRelayout(key, ev) {
      if (this.mode !== 'history' || !this.run) return;
      let r = null;
      if (ev['xaxis.range[0]'] !== undefined) r = [ev['xaxis.range[0]'], ev['xaxis.range[1]']];
      else if (Array.isArray(ev['xaxis.range'])) r = ev['xaxis.range'];
      else if (!ev['xaxis.autorange']) return;
      const prev = this.ranges[key];
      if ((!r && !prev) || (r && prev && r[0] === prev[0] && r[1] === prev[1])) return;
      const big = key === 'timeline' ? this.run.req.start.length > MAX_SEGMENTS : this.run.gpu.t.length > MAX_LINE_POINTS * 2;
      if (!big) return;
      this.ranges[key] = r;
      if (key === 'timeline') this.drawTimeline(); else if (GPU_FIELDS[key]) this.drawGpuChart(key);
    }

    setRun(run) {
      this.run = run;
      this.ranges = {};
      this.drawnGpu = 0;
      this.gpuRebuild = true;
      this.drawAll();
    }

    drawAll() {
      this.drawGpu();
      this.drawRequests();
    }

    // History: one chart per task, so a big run never blocks the page for the whole redraw and
    // the first charts appear while the others are still being computed. A newer setRun cancels.
    async setRunProgressive(run) {
      this.run = run;
      this.ranges = {};
      const token = (this.drawToken = (this.drawToken || 0) + 1);
      const steps = [
        ...Object.keys(GPU_FIELDS).map((k) => () => this.drawGpuChart(k)),
        () => this.drawThroughput(), () => this.drawHist('ttft', 'ttft', 'ms'), () => this.drawHist('e2e', 'e2e', 'ms'),
        () => this.drawHist('itl', 'itl', 'ms'), () => this.drawTimeline(),
      ];
      for (const step of steps) {
        if (token !== this.drawToken) return false;
        step();
        if (this.firstChartAt == null) this.firstChartAt = performance.now();
        await new Promise((r) => setTimeout(r, 0));
      }
      this.drawnGpu = run.gpu.t.length;
      return token === this.drawToken;
    }

    gpuTrace(key, field, idx, run, style) {
      const [lo, hi] = this.ranges[key] || [null, null];
      const d = M.downsample(run.gpu.t, run.gpu[field], MAX_LINE_POINTS, lo, hi);
      const c = themeColors();
      const colors = { kv: c.accent, running: c.accent, waiting: c.orange, hit: c.ok, gen: c.accent };
      return Object.assign({ type: 'scatter', mode: 'lines', x: d.x, y: d.y, name: GPU_NAMES[key][idx],
        line: { color: colors[field], width: 1.6 }, connectgaps: false,
        hovertemplate: `%{y:.1f}<extra>${GPU_NAMES[key][idx]}</extra>` }, style || {});
    }

    drawGpuChart(key) {
      const run = this.run;
      const fields = GPU_FIELDS[key];
      const traces = fields.map((f, i) => this.gpuTrace(key, f, i, run));
      const hasData = run.gpu[fields[0]].some((v) => v != null) || (fields[1] && run.gpu[fields[1]].some((v) => v != null));
      if (this.baseline) {
        const b = this.baseline.run;
        fields.forEach((f, i) => traces.push(this.gpuTrace(key, f, i, b, {
          name: `${GPU_NAMES[key][i]} (baseline)`, line: { color: themeColors().muted, width: 1.2, dash: 'dot' },
          hovertemplate: `%{y:.1f}<extra>baseline ${GPU_NAMES[key][i]}</extra>` })));
      }
      const yTitle = { kv: '%', reqs: 'requests', hit: '%', gen: 'tok/s' }[key];
      const layout = baseLayout(CHARTS.find((c) => c.key === key).title, 'time (s)', yTitle, `${this.prefix}-${run.runId}`);
      if (key === 'kv' || key === 'hit') layout.yaxis.range = [0, 100];
      layout.showlegend = traces.length > 1;
      const r = this.ranges[key];
      if (r) { layout.xaxis.range = r; layout.xaxis.autorange = false; }
      this.plot(key, traces, layout);
      this.setEmpty(key, !hasData && !this.baseline);
    }

    drawGpu() {
      for (const key of Object.keys(GPU_FIELDS)) this.drawGpuChart(key);
      this.drawnGpu = this.run.gpu.t.length;
      this.gpuRebuild = false;
    }

    // Live: append the samples that arrived since the last frame with extendTraces.
    appendGpu() {
      const run = this.run;
      const n = run.gpu.t.length;
      if (this.gpuRebuild || n > MAX_LINE_POINTS * 4) { this.drawGpu(); return; }
      if (n <= this.drawnGpu) return;
      const from = this.drawnGpu;
      for (const key of Object.keys(GPU_FIELDS)) {
        const fields = GPU_FIELDS[key];
        const gd = this.divs[key];
        if (!gd.data) { this.drawGpuChart(key); continue; }
        Plotly.extendTraces(gd, {
          x: fields.map(() => run.gpu.t.slice(from, n)),
          y: fields.map((f) => run.gpu[f].slice(from, n)),
        }, fields.map((_, i) => i));
        const hasData = fields.some((f) => run.gpu[f].some((v) => v != null));
        this.setEmpty(key, !hasData && !this.baseline);
      }
      this.drawnGpu = n;
    }

    histTraces(key, values, baseValues, unit, intendedValues, intendedName, serverHist) {
      const c = themeColors();
      const sets = [values].concat(baseValues ? [baseValues] : [], intendedValues ? [intendedValues] : []);
      const bins = M.binsFor(sets);
      if (!bins) return [];
      const norm = !!baseValues;
      const h = M.histogram(values, bins, norm);
      const lastLabel = bins.clippedAbove != null ? `≥ ${M.fmtNum(bins.clippedAbove)}` : null;
      const text = h.x.map((x, k) => (lastLabel && k === h.x.length - 1 ? `${lastLabel} ${unit}` :
        `${M.fmtNum(x - h.width / 2)}–${M.fmtNum(x + h.width / 2)} ${unit}`));
      const colors = h.x.map((_, k) => (lastLabel && k === h.x.length - 1 ? c.orange : c.accent));
      const traces = [{ type: 'bar', x: h.x, y: h.y, width: h.width, name: norm ? 'this run' : 'requests',
        marker: { color: colors, opacity: norm ? 0.75 : 0.9 }, text, textposition: 'none',
        hovertemplate: `%{text}<br>%{y${norm ? ':.1f' : ''}}${norm ? ' %' : ''}<extra></extra>` }];
      if (baseValues) {
        const b = M.histogram(baseValues, bins, true);
        traces.push({ type: 'scatter', mode: 'lines', line: { shape: 'hvh', color: c.text, width: 1.4, dash: 'dot' },
          x: b.x, y: b.y, name: `baseline ${this.baseline.id}`, hovertemplate: `%{y:.1f} %<extra>baseline</extra>` });
      }
      if (intendedValues) {  // the same requests measured from their intended start (docs/metrics.md)
        const i = M.histogram(intendedValues, bins, norm);
        traces.push({ type: 'scatter', mode: 'lines', line: { shape: 'hvh', color: c.orange, width: 1.4 },
          x: i.x, y: i.y, name: intendedName, hovertemplate: `%{y${norm ? ':.1f' : ''}}<extra>${intendedName}</extra>` });
      }
      // The server's own histogram of the same run (its /metrics buckets, spread over these bins).
      const sv = serverHist ? M.serverOnBins(serverHist, bins, norm) : null;
      if (sv) {
        traces.push({ type: 'scatter', mode: 'lines', line: { shape: 'hvh', color: c.ok, width: 1.6, dash: 'dash' },
          x: sv.x, y: sv.y, name: 'server (/metrics)', meta: 'server',
          hovertemplate: `%{y:.1f}${norm ? ' %' : ''}<extra>server (/metrics buckets)</extra>` });
      }
      return traces;
    }

    drawHist(key, field, unit) {
      const run = this.run;
      const base = this.baseline ? this.baseline.run[field] : null;
      // TTFT and E2E: when the client held requests back, the intended-start view beside the write's.
      // TBT: when events carried several tokens, the per-token view beside the per-event one.
      const held = field === 'itl' ? run.itlPerToken : run[field + 'Intended'];
      const intended = held && held.length && (field === 'itl' ? held.length !== run.itl.length :
        held.some((v, k) => v - run[field][k] > 0.5)) ? held : null;
      const server = field === 'ttft' || field === 'e2e' ? run.serverHist[field + '_ms'] : null;
      const traces = this.histTraces(key, run[field], base && base.length ? base : null, unit, intended,
        field === 'itl' ? 'per token' : 'from intended start', server);
      const layout = baseLayout(CHARTS.find((c) => c.key === key).title, unit, base ? '% of requests' : 'requests', `${this.prefix}-${run.runId}-${!!base}`);
      layout.barmode = 'overlay';
      layout.showlegend = !!base || !!intended || traces.some((t) => t.meta === 'server');
      layout.yaxis.rangemode = 'tozero';
      this.plot(key, traces, layout);
      this.setEmpty(key, !run[field].length);
    }

    drawThroughput() {
      const run = this.run;
      const c = themeColors();
      const t = M.rollingThroughput(run, this.windowS);
      const traces = [{ type: 'scatter', mode: 'lines', x: t.x, y: t.y, name: 'this run', line: { color: c.ok, width: 1.6 },
        hovertemplate: '%{y:.0f} tok/s at %{x:.1f} s<extra></extra>' }];
      if (this.baseline) {
        const b = M.rollingThroughput(this.baseline.run, this.windowS);
        traces.push({ type: 'scatter', mode: 'lines', x: b.x, y: b.y, name: `baseline ${this.baseline.id}`,
          line: { color: c.muted, width: 1.2, dash: 'dot' }, hovertemplate: '%{y:.0f} tok/s<extra>baseline</extra>' });
      }
      // The offered load (arrivals per second at their intended start) on its own axis: where
      // output throughput stops following it, the server stopped keeping up.
      const offered = M.offeredRate(run, this.windowS);
      if (offered.x.length) {
        traces.push({ type: 'scatter', mode: 'lines', x: offered.x, y: offered.y, name: 'offered (req/s)', yaxis: 'y2',
          line: { color: c.muted, width: 1.4, dash: 'dash', shape: 'hv' }, hovertemplate: '%{y:.2f} req/s offered at %{x:.1f} s<extra></extra>' });
      }
      const layout = baseLayout(`Output throughput (tok/s, client, rolling ${this.windowS} s)`, 'time (s)', 'tok/s', `${this.prefix}-${run.runId}`);
      if (offered.x.length) {
        layout.yaxis2 = { title: { text: 'offered req/s', standoff: 6 }, overlaying: 'y', side: 'right', rangemode: 'tozero',
          showgrid: false, zeroline: false, linecolor: c.grid };
        layout.margin = { ...layout.margin, r: 56 };
      }
      layout.showlegend = traces.length > 1;
      this.plot('tput', traces, layout);
      this.setEmpty('tput', !run.req.end.length);
    }

    drawTimeline() {
      const run = this.run;
      const c = themeColors();
      const [lo, hi] = this.ranges.timeline || [null, null];
      const tl = M.timeline(run, MAX_SEGMENTS, lo, hi);
      const seg = (d, name, color) => ({ type: 'scatter', mode: 'lines', x: d.x, y: d.y, name,
        line: { color, width: 2 }, connectgaps: false, hovertemplate: `request #%{y}<br>%{x:.3f} s<extra>${name}</extra>` });
      const traces = [seg(tl.ok, 'ok', c.ok), seg(tl.bad, 'failed', c.bad)];
      const note = tl.drawn < tl.total ? ` — showing ${tl.drawn.toLocaleString('en-US')} of ${tl.total.toLocaleString('en-US')} requests (zoom for more)` : '';
      const layout = baseLayout(`Request timeline (start → end; red = failed)${note}`, 'time (s)', 'request #', `${this.prefix}-${run.runId}`);
      layout.yaxis.rangemode = 'normal';
      const r = this.ranges.timeline;
      if (r) { layout.xaxis.range = r; layout.xaxis.autorange = false; }
      this.plot('timeline', traces, layout);
      this.setEmpty('timeline', !run.req.end.length);
    }

    drawRequests() {
      this.drawHist('ttft', 'ttft', 'ms');
      this.drawHist('e2e', 'e2e', 'ms');
      this.drawHist('itl', 'itl', 'ms');
      this.drawThroughput();
      this.drawTimeline();
    }

    setBaseline(b) {
      this.baseline = b;
      if (this.run) { this.gpuRebuild = true; this.drawAll(); }
    }

    resize() {
      for (const gd of Object.values(this.divs)) if (gd.data && gd.offsetParent) Plotly.Plots.resize(gd);
    }

    restyleTheme() { if (this.run) { this.gpuRebuild = true; this.drawAll(); } }
  }

  // ---- Compare overlays ----
  function drawCompare(container, files) {
    container.innerHTML = '';
    const runs = files.map((f) => ({ id: f.run_id, run: M.runFromResults(f) }));
    const specs = [
      { key: 'ttft', title: 'TTFT distribution (% of requests)', x: 'ms' },
      { key: 'e2e', title: 'End-to-end latency distribution (% of requests)', x: 'ms' },
      { key: 'tput', title: 'Output throughput over time (tok/s, rolling 10 s)', x: 'time (s)' },
      { key: 'kv', title: 'KV-cache usage over time (%)', x: 'time (s)' },
    ];
    for (const s of specs) {
      const card = document.createElement('div');
      card.className = 'card chart-card';
      card.innerHTML = `<button class="png ghost" title="Download as PNG">PNG</button><div class="chart" id="compare-${s.key}"></div>`;
      container.appendChild(card);
      const gd = card.querySelector('.chart');
      card.querySelector('.png').addEventListener('click', () => Plotly.downloadImage(gd, { format: 'png', filename: `compare-${s.key}`, width: 1200, height: 500 }));
      let traces;
      if (s.key === 'ttft' || s.key === 'e2e') {
        const bins = M.binsFor(runs.map((r) => r.run[s.key]));
        traces = bins ? runs.map((r, i) => {
          const h = M.histogram(r.run[s.key], bins, true);
          return { type: 'scatter', mode: 'lines', line: { shape: 'hvh', color: PALETTE[i % PALETTE.length], width: 2 },
            fill: i === 0 ? 'tozeroy' : 'none', fillcolor: PALETTE[0] + '33', x: h.x, y: h.y, name: r.id,
            hovertemplate: `%{x:.1f} ms: %{y:.1f} %<extra>${r.id}</extra>` };
        }) : [];
      } else if (s.key === 'tput') {
        traces = runs.map((r, i) => { const t = M.rollingThroughput(r.run, 10);
          return { type: 'scatter', mode: 'lines', x: t.x, y: t.y, name: r.id, line: { color: PALETTE[i % PALETTE.length], width: 1.6 } }; });
      } else {
        traces = runs.map((r, i) => { const d = M.downsample(r.run.gpu.t, r.run.gpu.kv, MAX_LINE_POINTS);
          return { type: 'scatter', mode: 'lines', x: d.x, y: d.y, name: r.id, line: { color: PALETTE[i % PALETTE.length], width: 1.6 } }; });
      }
      const layout = baseLayout(s.title, s.x, s.key === 'tput' ? 'tok/s' : '%', 'compare');
      // Run ids are long: the legend goes under the plot so it never covers the lines.
      layout.legend = { orientation: 'h', x: 0, y: -0.2, yanchor: 'top', font: { size: 10 } };
      layout.margin.b = 40 + 18 * Math.ceil(runs.length / 2);
      gd.style.height = `${270 + 18 * Math.ceil(runs.length / 2)}px`;
      Plotly.react(gd, traces, layout, PLOT_CONFIG(`compare-${s.key}`));
    }
  }

  // ---- Log panel (plain DOM: thousands of lines stay cheap) ----
  class LogPanel {
    constructor(el, onState) {
      this.el = el;
      this.entries = [];
      this.min = 1;
      this.pending = [];
      this.hover = false;
      this.onState = onState;
      el.addEventListener('mouseenter', () => { this.hover = true; this.report(); });
      el.addEventListener('mouseleave', () => { this.hover = false; this.follow(); this.report(); });
      el.addEventListener('scroll', () => this.report());
    }
    atBottom() { return this.el.scrollHeight - this.el.scrollTop - this.el.clientHeight < 24; }
    following() { return !this.hover && this.userFollow !== false; }
    report() {
      if (!this.hover) this.userFollow = this.atBottom() || this.userFollow === undefined ? true : this.userFollow;
      this.onState(this.hover ? 'paused while the pointer is over the log' : (this.atBottom() ? 'following' : 'scrolled up: scroll to the bottom to follow'));
    }
    add(e) {
      this.entries.push(e);
      if (this.entries.length > LOG_KEEP) this.entries.splice(0, this.entries.length - LOG_KEEP);
      this.pending.push(e);
    }
    line(e) {
      const div = document.createElement('div');
      const level = (e.level || 'info').toLowerCase();
      div.className = `log-line lvl-${level}`;
      const ts = e.timestamp ? new Date(e.timestamp) : null;
      const time = ts && !isNaN(ts) ? ts.toLocaleTimeString('en-GB', { hour12: false }) : '--:--:--';
      const parts = [['log-time', time], ['log-level', level.toUpperCase()], ['log-src', e.source || ''], ['log-msg', e.message || '']];
      for (const [cls, text] of parts) { const s = document.createElement('span'); s.className = cls; s.textContent = text; div.appendChild(s); }
      return div;
    }
    visible(e) { return (LEVELS[(e.level || 'info').toLowerCase()] ?? 1) >= this.min; }
    flush() {
      if (!this.pending.length) return;
      const stick = this.atBottom() && !this.hover;
      const frag = document.createDocumentFragment();
      for (const e of this.pending) if (this.visible(e)) frag.appendChild(this.line(e));
      this.pending = [];
      this.el.appendChild(frag);
      while (this.el.childElementCount > LOG_KEEP) this.el.firstChild.remove();
      if (stick) this.el.scrollTop = this.el.scrollHeight;
    }
    follow() { this.el.scrollTop = this.el.scrollHeight; }
    setLevel(name) {
      this.min = LEVELS[name] ?? 1;
      this.el.innerHTML = '';
      this.pending = this.entries.slice();
      this.flush();
      this.follow();
    }
    clear() { this.entries = []; this.pending = []; this.el.innerHTML = ''; }
  }

  // ---- The Alpine component ----
  document.addEventListener('alpine:init', () => {
    let ws = null;
    let live = null; // ChartSet
    let history = null;
    let liveRun = M.newRun('');
    let logPanel = null;
    let frameQueued = false;
    let reqDirty = false;
    let lastHist = 0;
    let histTimer = null;
    let reconnectTimer = null;
    let countdownTimer = null;
    let arrivalOrigin = null;
    const resultCache = new Map();
    const studyCache = new Map(); // study id -> the study file (small: a point per iteration)
    const studyDraws = []; // what the Study view drew, in order (tests read it)

    window.Alpine.data('dash', () => ({
      token: '',
      port: '',
      theme: document.documentElement.dataset.theme || 'dark',
      tab: 'live',
      conn: { state: 'connecting', attempt: 0, retryIn: 0, detail: '' },
      configs: [],
      selectedConfig: '',
      serverUrl: '',
      runName: '',
      costConfirmed: false,
      queue: [],
      results: [],
      notice: { text: '', kind: '' },
      run: { runId: '', name: '', framework: '', model: '', gpuType: '', gpuCount: null, phase: '', phaseIndex: 0,
        phaseCount: 4, phaseLabel: '', iterationName: '', total: null, completed: 0, startedMs: null, endedMs: null, status: 'idle',
        iteration: 0, iterationTotal: 0, reason: '' },
      now: Date.now(),
      liveSummary: [],
      liveGaps: [],      // "client sees +38 ms TTFT p50 over the server: ..." (summary.server_vs_client)
      baselineId: '',
      windowS: 10,
      logLevel: 'info',
      logState: 'following',
      historyId: '',
      historyStatus: '',
      historySummary: [],
      historyGaps: [],
      compareIds: [],
      compareLoaded: [],
      compareRows: [],
      compareNotes: [],
      studies: [],
      studyId: '',
      studyFollow: true, // follow the running study (until the user picks another one)
      studyInfo: { id: '', status: '', meta: '', answer: '', cost: '' },
      expanded: {},
      compareStudyIds: [],
      compareStudies: [],

      init() {
        const meta = document.querySelector('meta[name="ib-token"]');
        this.token = meta ? meta.content : '';
        this.port = location.port;
        live = new ChartSet(document.getElementById('live-charts'), 'live', 'live');
        live.setRun(liveRun);
        history = new ChartSet(document.getElementById('history-charts'), 'history', 'history');
        logPanel = new LogPanel(document.getElementById('log'), (s) => { this.logState = s; });
        logPanel.setLevel(this.logLevel);
        setInterval(() => { this.now = Date.now(); }, 1000);
        this.$watch('selectedConfig', () => { this.costConfirmed = false; });
        this.refreshConfigs();
        this.refreshResults();
        this.checkSchema();
        this.connect();
        this.refreshStudies();
        window.ibDash = { live: () => live, history: () => history, liveRun: () => liveRun, app: this, studyDraws };
      },

      // ---- connection ----
      connLabel() {
        const c = this.conn;
        if (c.state === 'open') return 'connected';
        if (c.state === 'connecting') return 'connecting…';
        if (c.state === 'reconnecting') return `reconnecting${c.retryIn > 0 ? ' in ' + c.retryIn + ' s' : '…'} (attempt ${c.attempt})`;
        return 'closed';
      },
      connect() {
        clearTimeout(reconnectTimer);
        if (ws) { ws.onclose = null; try { ws.close(); } catch (e) { /* already closed */ } }
        const url = `ws://${location.host}/ws?token=${encodeURIComponent(this.token)}`;
        const sock = new WebSocket(url);
        ws = sock;
        sock.onopen = () => {
          this.conn = { state: 'open', attempt: 0, retryIn: 0, detail: `ws://${location.host}/ws` };
          clearInterval(countdownTimer);
        };
        sock.onmessage = (m) => {
          let msg;
          try { msg = JSON.parse(m.data); } catch (e) { this.logLocal('error', `unreadable message from ib-dash: ${String(m.data).slice(0, 120)}`); return; }
          this.onMessage(msg);
        };
        sock.onclose = () => { if (ws === sock) this.scheduleReconnect(); };
      },
      // Exponential backoff: 0.5 s, 1 s, 2 s ... capped at 10 s; after 12 failures in a row the
      // page stops trying and says "closed" (a Reconnect button restarts it). A restarted ib-dash
      // has a new launch token, so each retry first re-reads it from the served page.
      scheduleReconnect() {
        const attempt = this.conn.attempt + 1;
        if (attempt > 12) { this.conn = { state: 'closed', attempt: attempt - 1, retryIn: 0, detail: 'gave up after 12 attempts' }; return; }
        const delay = Math.min(10000, 500 * 2 ** (attempt - 1));
        this.conn = { state: 'reconnecting', attempt, retryIn: Math.ceil(delay / 1000), detail: `next attempt in ${delay} ms` };
        clearInterval(countdownTimer);
        countdownTimer = setInterval(() => { if (this.conn.retryIn > 0) this.conn.retryIn--; }, 1000);
        reconnectTimer = setTimeout(async () => {
          clearInterval(countdownTimer);
          this.conn.retryIn = 0;
          await this.refreshToken();
          this.connect();
        }, delay);
      },
      async refreshToken() {
        try {
          const res = await fetch('/', { cache: 'no-store' });
          if (!res.ok) return;
          const m = (await res.text()).match(/<meta name="ib-token" content="([^"]*)"/);
          if (m) this.token = m[1];
        } catch (e) { /* server still down: the WebSocket attempt will fail and back off */ }
      },
      reconnectNow() { this.conn = { state: 'connecting', attempt: 0, retryIn: 0, detail: '' }; this.refreshToken().then(() => this.connect()); },
      send(obj) {
        if (!ws || ws.readyState !== 1) { this.say('Not connected to ib-dash.', 'error'); return false; }
        ws.send(JSON.stringify(obj));
        return true;
      },

      // ---- messages ----
      onMessage(msg) {
        switch (msg.type) {
          case 'state': return this.applyState(msg.data || {});
          case 'run': return this.applyRun(msg.data || null);
          case 'phase': return this.onPhase(msg);
          case 'gpu_sample': return this.onGpu(msg);
          case 'request_complete': return this.onRequest(msg);
          case 'log': logPanel.add(msg); return this.schedule();
          case 'summary': return this.onSummary(msg);
          case 'error': return this.onError(msg);
          case 'configs': this.configs = msg.data || []; return;
          case 'results': this.results = msg.data || []; this.restoreBaseline(); return;
          case 'result': resultCache.set(msg.run_id, msg.data); return;
          case 'queue': this.queue = msg.data || []; return;
          case 'study': return this.onStudy(msg);
          case 'ack':
            if (msg.command === 'start_experiment') this.say(`Queued (${(msg.data && msg.data.queue_id) || 'ok'}).`, 'ok');
            else if (msg.command === 'stop_experiment') this.say('Stopping the run…', 'ok');
            return;
          default: return; // unknown types are ignored: newer ib-dash, older page
        }
      },

      applyState(s) {
        if (s.port) this.port = String(s.port);
        this.queue = s.queue || [];
        const cr = s.current_run;
        resetLive(cr ? cr.run_id : '');
        this.applyRun(cr || null);
        // The state may still hold events of the previous run: draw only the current run's (or,
        // between runs, the last run's).
        const gpu = s.recent_gpu_samples || [];
        const reqs = s.recent_requests || [];
        const last = [...gpu, ...reqs].map((e) => e.run_id).filter(Boolean).pop() || '';
        const runId = cr ? cr.run_id : (liveRun.runId || last);
        if (!cr) liveRun.runId = runId;
        const mine = (e) => !e.run_id || !runId || e.run_id === runId;
        for (const e of gpu) if (mine(e)) M.addGpuSample(liveRun, M.eventData(e));
        for (const e of reqs) if (mine(e)) addLiveRequest(e);
        logPanel.clear();
        for (const e of s.log_tail || []) logPanel.add(e);
        const lastSummary = s.last_summary && (!cr || s.last_summary.run_id === cr.run_id) ? s.last_summary.data : null;
        this.liveSummary = lastSummary ? M.summaryCards(lastSummary) : [];
        this.liveGaps = lastSummary ? M.serverGapLines(lastSummary) : [];
        if (lastSummary) M.setServerLatency(liveRun, lastSummary.server_latency);
        live.setRun(liveRun);
        this.schedule();
        this.refreshResults();
        this.refreshStudies();
        if (!this.configs.length) this.refreshConfigs();
      },

      // The run as ib-dash's live state decides it (lib/dash/live_state): which run is current,
      // its experiment's name, model and GPU, the phase, the iteration, the status. The page
      // renders it and decides none of it; a new run id starts empty charts.
      applyRun(cr) {
        if (!cr) {
          Object.assign(this.run, { runId: '', name: '', framework: '', model: '', gpuType: '', gpuCount: null, phase: '', phaseLabel: '',
            phaseIndex: 0, total: null, completed: 0, startedMs: null, endedMs: null, status: 'idle', iteration: 0, iterationTotal: 0,
            iterationName: '', reason: '' });
          return;
        }
        const wasRunning = this.run.status === 'running';
        if (cr.run_id !== liveRun.runId) {
          resetLive(cr.run_id);
          this.liveSummary = [];
          this.liveGaps = [];
          if (live) live.setRun(liveRun);
        }
        const time = (iso) => { const t = iso ? Date.parse(iso) : NaN; return Number.isFinite(t) ? t : null; };
        Object.assign(this.run, {
          runId: cr.run_id, name: cr.name || '', framework: cr.framework || '', model: cr.model || '', gpuType: cr.gpu_type || '',
          gpuCount: cr.gpu_count, phase: cr.phase || '', phaseLabel: cr.phase_label || '', phaseIndex: cr.phase_index || 0,
          phaseCount: cr.phase_count || 4, total: cr.total_requests ?? null, completed: cr.completed_requests || 0,
          startedMs: time(cr.started_at), endedMs: time(cr.ended_at), status: cr.status || 'running',
          iteration: cr.iteration || 0, iterationTotal: cr.iteration_total || 0, iterationName: cr.iteration_name || '', reason: cr.reason || '',
        });
        if (wasRunning && this.run.status !== 'running') this.refreshResults();
        this.schedule();
      },

      // Phases reach the banner as the `run` message that follows each one, and the log as the
      // `log` line ib-dash stamps with its own time.
      onPhase() {},

      // Only the current run's samples and requests are drawn (a stream without phases makes
      // its first event's run current on the server as well).
      current(e) { return !e.run_id || !this.run.runId || e.run_id === this.run.runId; },

      onGpu(e) {
        if (!this.current(e)) return;
        if (M.addGpuSample(liveRun, M.eventData(e))) this.schedule();
      },

      onRequest(e) {
        if (!this.current(e)) return;
        if (addLiveRequest(e)) { this.run.completed++; reqDirty = true; this.schedule(); }
      },

      onSummary(e) {
        if (!this.current(e)) { this.refreshResults(); return; }
        const d = M.eventData(e);
        this.liveSummary = M.summaryCards(d);
        this.liveGaps = M.serverGapLines(d);
        // The run's final server histograms (the live stream may have thinned its samples).
        if (M.setServerLatency(liveRun, d.server_latency)) { reqDirty = true; this.schedule(); }
        this.refreshResults();
      },

      onError(e) {
        const d = e.data || {};
        logPanel.add({ level: 'error', source: d.source || 'ib-dash', message: e.message || 'error', timestamp: new Date().toISOString() });
        if (d.command) this.say(`${d.command} failed: ${e.message}`, 'error');
        this.schedule();
      },

      logLocal(level, message) { logPanel.add({ level, message, source: 'page', timestamp: new Date().toISOString() }); this.schedule(); },

      // One redraw per animation frame, whatever the event rate; request-derived charts at most
      // every HIST_INTERVAL_MS.
      schedule() {
        if (frameQueued) return;
        frameQueued = true;
        requestAnimationFrame(() => {
          frameQueued = false;
          logPanel.flush();
          live.appendGpu();
          if (reqDirty) {
            const wait = lastHist + HIST_INTERVAL_MS - performance.now();
            if (wait <= 0) { reqDirty = false; lastHist = performance.now(); live.drawRequests(); }
            else if (!histTimer) histTimer = setTimeout(() => { histTimer = null; this.schedule(); }, wait);
          }
        });
      },

      // The event fields the model reads must exist in ib-dash's schema (one definition in lib/events).
      async checkSchema() {
        try {
          const r = await fetch('/api/schema');
          if (!r.ok) return;
          const missing = M.checkSchema(await r.json());
          if (missing.length) console.warn(`ib-dash: the page reads request fields the server no longer defines: ${missing.join(', ')}`);
        } catch (e) { /* offline: nothing to check against */ }
      },

      // ---- left column ----
      async refreshConfigs() {
        try { const r = await fetch('/api/configs'); if (r.ok) this.configs = await r.json(); } catch (e) { /* offline: the WS reply fills it */ }
      },
      async refreshResults() {
        try { const r = await fetch('/api/results', { cache: 'no-store' }); if (r.ok) this.results = await r.json(); } catch (e) { /* retried on reconnect */ }
        this.restoreBaseline();
      },
      restoreBaseline() {
        if (this.baselineId) return;
        let saved = '';
        try { saved = localStorage.getItem('ib-baseline') || ''; } catch (e) { /* private mode */ }
        if (!saved || !this.results.some((r) => r.run_id === saved && r.readable !== false)) return;
        this.baselineId = saved;
        this.$nextTick(() => this.setBaseline());
      },
      config() { return this.configs.find((c) => c.path === this.selectedConfig) || null; },
      // ib-dash gives estimated_cost_usd when it can price the whole run, cost_per_hr_usd always
      // for a known GPU; a local run is free.
      costText(c) {
        if (!c) return '—';
        if (c.provider === 'local') return 'free (local)';
        if (this.serverUrl) return 'none (existing server)';
        if (c.cost_estimate) return c.cost_estimate;  // ib-run's own estimate (lib/pricing)
        const parts = [];
        if (c.estimated_cost_usd != null) parts.push(`$${Number(c.estimated_cost_usd).toFixed(2)}`);
        if (c.cost_per_hr_usd != null) parts.push(`$${Number(c.cost_per_hr_usd).toFixed(2)}/h`);
        return parts.length ? parts.join(' · ') + (c.estimated_cost_usd == null ? ' (total unknown)' : '') : 'unknown';
      },
      // ib-dash refuses to rent a pod without confirm: true; the page asks first.
      needsCostConfirm() { const c = this.config(); return !!c && !!c.provider && c.provider !== 'local' && !this.serverUrl; },
      canStart() {
        const c = this.config();
        return this.conn.state === 'open' && !!c && !c.base && !(c.errors || []).length && (!this.needsCostConfirm() || this.costConfirmed);
      },
      canStop() { return this.conn.state === 'open' && this.running(); },
      running() { return this.run.status === 'running'; },
      start() {
        if (!this.canStart()) return;
        const options = { confirm: this.needsCostConfirm() ? this.costConfirmed : true };
        if (this.serverUrl) options.server_url = this.serverUrl;
        if (this.runName) options.name = this.runName;
        if (this.send({ type: 'start_experiment', config_path: this.selectedConfig, options })) this.say('Starting…', 'ok');
      },
      stop() { if (this.send({ type: 'stop_experiment', run_id: this.run.runId })) this.say('Stop sent.', 'ok'); },
      cancelQueued(id) { this.send({ type: 'cancel_queued', queue_id: id }); },
      say(text, kind) {
        this.notice = { text, kind };
        clearTimeout(this._noticeTimer);
        this._noticeTimer = setTimeout(() => { this.notice = { text: '', kind: '' }; }, kind === 'error' ? 15000 : 5000);
      },

      // ---- banner ----
      phaseLabel() { return (this.run.phaseLabel || 'waiting') + (this.run.reason && this.run.status !== 'stopped' ? ` (${this.run.reason})` : ''); },
      progressPct() { return this.run.total ? Math.min(100, (100 * this.run.completed) / this.run.total) : 0; },
      elapsedText() {
        if (!this.run.startedMs) return '';
        const end = this.run.endedMs || this.now;
        return `elapsed ${M.fmtDuration(Math.max(0, (end - this.run.startedMs) / 1000))}`;
      },

      // ---- tabs ----
      show(tab) {
        this.tab = tab;
        this.$nextTick(() => { if (tab === 'live') live.resize(); if (tab === 'history') history.resize(); if (tab === 'compare') this.resizeCompare();
          if (tab === 'study') document.querySelectorAll('#study-charts .chart').forEach((gd) => gd.data && Plotly.Plots.resize(gd)); });
      },
      resizeCompare() { document.querySelectorAll('#compare-charts .chart, #compare-study-charts .chart').forEach((gd) => gd.data && Plotly.Plots.resize(gd)); },
      toggleTheme() {
        this.theme = this.theme === 'dark' ? 'light' : 'dark';
        document.documentElement.dataset.theme = this.theme;
        try { localStorage.setItem('ib-theme', this.theme); } catch (e) { /* private mode */ }
        live.restyleTheme(); history.restyleTheme();
        if (this.studyId) this.drawStudy();
        if (this.compareLoaded.length || this.compareStudies.length) this.compare();
      },
      windowChanged() { live.windowS = this.windowS; history.windowS = this.windowS; live.drawThroughput(); if (history.run) history.drawThroughput(); },
      relog() { logPanel.setLevel(this.logLevel); },

      async loadResult(id) {
        if (resultCache.has(id)) return resultCache.get(id);
        const res = await fetch(`/api/results/${encodeURIComponent(id)}`);
        if (!res.ok) throw new Error(`ib-dash answered ${res.status} for ${id}`);
        const file = M.parseResultsText(await res.text());
        resultCache.set(id, file);
        if (resultCache.size > 8) resultCache.delete(resultCache.keys().next().value);
        return file;
      },

      // The chosen baseline survives a reload (localStorage), and is dropped only when its
      // results file is gone.
      async setBaseline() {
        try { if (this.baselineId) localStorage.setItem('ib-baseline', this.baselineId); else localStorage.removeItem('ib-baseline'); } catch (e) { /* private mode */ }
        if (!this.baselineId) { live.setBaseline(null); return; }
        try {
          const f = await this.loadResult(this.baselineId);
          live.setBaseline({ id: this.baselineId, run: M.runFromResults(f) });
        } catch (e) { this.say(`Cannot load baseline: ${e.message}`, 'error'); }
      },

      async openHistory(id) {
        this.show('history');
        this.historyId = id;
        this.historyStatus = 'loading…';
        this.historySummary = [];
        this.historyGaps = [];
        const timing = { id };
        try {
          let t = performance.now();
          const t0 = t;
          let f = resultCache.get(id);
          if (!f) {
            const res = await fetch(`/api/results/${encodeURIComponent(id)}`);
            if (!res.ok) throw new Error(`ib-dash answered ${res.status} for ${id}`);
            const text = await res.text();
            timing.fetchMs = performance.now() - t;
            t = performance.now();
            f = M.parseResultsText(text);
            timing.parseMs = performance.now() - t;
            resultCache.set(id, f);
            if (resultCache.size > 8) resultCache.delete(resultCache.keys().next().value);
          }
          if (this.historyId !== id) return;
          t = performance.now();
          const run = M.runFromResults(f);
          timing.modelMs = performance.now() - t;
          history.pngName = id;
          this.historySummary = M.summaryCards(f.summary, f.metadata);
          this.historyGaps = M.serverGapLines(f.summary);
          await this.$nextTick();
          t = performance.now();
          history.firstChartAt = null;
          if (!(await history.setRunProgressive(run))) return;
          timing.drawMs = performance.now() - t;
          timing.firstChartMs = history.firstChartAt - t0; // click to the first chart on screen
          timing.totalMs = performance.now() - t0;
          const m = f.metadata || {};
          this.historyStatus = `${f.status || 'unknown'} · ${[m.framework || (f.experiment || {}).framework, m.model || ((f.experiment || {}).model || {}).name, m.gpu_type].filter(Boolean).join(' · ')} · ${run.req.end.length.toLocaleString('en-US')} requests, ${run.gpu.t.length.toLocaleString('en-US')} GPU samples · drawn in ${Math.round(timing.totalMs)} ms`;
          window.ibDash.lastHistory = timing;
        } catch (e) {
          this.historyStatus = `cannot open: ${e.message}`;
        }
      },

      palette(i) { return PALETTE[i % PALETTE.length]; },
      async compare() {
        this.compareStudiesNow();
        const ids = this.results.map((r) => r.run_id).filter((id) => this.compareIds.includes(id)).reverse(); // oldest first: the reference
        if (ids.length < 2) { this.compareLoaded = []; this.compareRows = []; return; }
        try {
          // The table is ib-dash's (lib/results' Compare, as ib-results compare); the charts are drawn here.
          const res = await fetch(`/api/compare/${ids.map(encodeURIComponent).join(',')}`);
          const table = await res.json();
          if (!res.ok) throw new Error(table.error || `ib-dash answered ${res.status}`);
          const files = [];
          for (const id of ids) files.push(await this.loadResult(id));
          this.compareLoaded = ids;
          this.compareRows = M.compareTable(table);
          this.compareNotes = table.notes || [];
          await this.$nextTick();
          drawCompare(document.getElementById('compare-charts'), files);
        } catch (e) { this.say(`Cannot compare: ${e.message}`, 'error'); }
      },

      // ---- studies (web/study.js) ----
      async refreshStudies() {
        try { const r = await fetch('/api/studies', { cache: 'no-store' }); if (r.ok) this.studies = await r.json(); } catch (e) { /* retried on reconnect */ }
        if (!this.studyId) {
          const running = this.studies.find((s) => s.status === 'running');
          if (running) this.showStudy(running.study_id, true);
        }
      },
      studyLive() { return this.studies.some((s) => s.status === 'running'); },
      async loadStudy(id, fresh) {
        if (!fresh && studyCache.has(id)) return studyCache.get(id);
        const res = await fetch(`/api/studies/${encodeURIComponent(id)}`, { cache: 'no-store' });
        if (!res.ok) throw new Error(`ib-dash answered ${res.status} for study ${id}`);
        const study = await res.json();
        studyCache.set(id, study);
        return study;
      },
      // ib-dash pushes the running study's file each time ib-run rewrites it (an iteration ended).
      onStudy(msg) {
        if (!msg.study_id || !msg.data) return;
        studyCache.set(msg.study_id, msg.data);
        const i = this.studies.findIndex((s) => s.study_id === msg.study_id);
        if (i < 0 || this.studies[i].status !== msg.data.status || this.studies[i].points !== (msg.data.curve || []).length) this.refreshStudies();
        if (this.studyId === msg.study_id || this.studyFollow) this.showStudy(msg.study_id, true);
        if (this.compareStudies.some((c) => c.id === msg.study_id)) this.compareStudiesNow();
      },
      openStudy(id) { this.studyFollow = false; this.show('study'); this.showStudy(id, false); },
      async showStudy(id, follow) {
        this.studyId = id;
        if (follow) this.studyFollow = true;
        if (!id) return;
        try {
          const study = await this.loadStudy(id, !follow);
          if (this.studyId === id) { await this.$nextTick(); this.drawStudy(study); }
        } catch (e) { this.studyInfo = { id, status: 'unreadable', meta: '', answer: `cannot open: ${e.message}`, cost: '' }; }
      },
      drawStudy(study) {
        study = study || studyCache.get(this.studyId);
        if (!study) return;
        const S = window.IbStudy;
        const c = study.config || {};
        const infra = c.infrastructure || {};
        this.studyInfo = { id: study.study_id, status: study.status || '',
          meta: [study.kind, study.over && `over ${study.over}`, c.framework, (c.model || {}).name, infra.gpu_type && `${infra.gpu_type} ×${infra.gpu_count || 1}`,
            `${(study.curve || []).length} points`, study.prompts].filter(Boolean).join(' · '),
          answer: S.model.answerText(study), cost: S.model.costText(study) };
        S.draw(document.getElementById('study-charts'), 'study', [{ id: study.study_id, study }], { pngName: study.study_id });
        S.drawTable(document.getElementById('study-table'), study);
        studyDraws.push({ id: study.study_id, status: study.status, points: (study.curve || []).length });
      },
      studyTableClick(ev) { const tr = ev.target.closest('tr[data-run-id]'); if (tr && this.results.some((r) => r.run_id === tr.dataset.runId)) this.openHistory(tr.dataset.runId); },
      // History: a study is one row (its iterations underneath when expanded); runs outside any
      // study are rows of their own; newest first.
      historyRows() {
        const byId = new Map(this.results.map((r) => [r.run_id, r]));
        const inStudy = new Set(this.studies.flatMap((s) => s.run_ids || []));
        const rows = [];
        for (const s of this.studies) {
          const its = (s.run_ids || []).map((id) => byId.get(id)).filter(Boolean);
          const reqs = its.reduce((a, r) => a + (r.total_requests || 0), 0);
          const ok = its.reduce((a, r) => a + (r.successful_requests || 0), 0);
          rows.push({ type: 'study', key: `study:${s.study_id}`, when: s.modified_at || 0, s,
            label: `${s.kind || 'study'} · ${(s.run_ids || []).length} ${s.kind === 'search' ? 'probes' : 'iterations'}${s.answer_value != null ? ` · answer ${M.fmtNum(s.answer_value)}` : ''}`,
            r: { run_id: s.study_id, status: s.status, framework: s.framework, model: s.model, gpu_type: s.gpu_type, gpu_count: s.gpu_count,
              started_at: s.modified_at ? new Date(s.modified_at).toISOString() : null, total_requests: its.length ? reqs : null, successful_requests: ok,
              tokens_per_second: s.answer_output_tok_s, ttft_p50_ms: null, readable: s.readable, error: s.error } });
        }
        for (const r of this.results) if (!inStudy.has(r.run_id)) rows.push({ type: 'run', key: r.run_id, when: Date.parse(r.started_at) || 0, r });
        rows.sort((a, b) => b.when - a.when);
        const out = [];
        for (const row of rows) {
          out.push(row);
          if (row.type !== 'study' || !this.expanded[row.s.study_id]) continue;
          for (const id of row.s.run_ids || []) {
            const r = byId.get(id) || { run_id: id, status: 'missing', readable: false, error: 'no results file for this iteration' };
            out.push({ type: 'iteration', key: `${row.key}/${id}`, r });
          }
        }
        return out;
      },
      historyClick(row) {
        if (row.type === 'study') { this.expanded = Object.assign({}, this.expanded, { [row.r.run_id]: !this.expanded[row.r.run_id] }); return; }
        if (row.r.readable === false && row.r.status === 'missing') return;
        this.openHistory(row.r.run_id);
      },
      async compareStudiesNow() {
        const ids = this.studies.map((s) => s.study_id).filter((id) => this.compareStudyIds.includes(id)).reverse();
        if (ids.length < 2) { this.compareStudies = []; return; }
        try {
          const list = [];
          for (const id of ids) list.push({ id, study: await this.loadStudy(id, true) });
          const S = window.IbStudy;
          this.compareStudies = list.map(({ id, study }) => {
            const c = study.config || {};
            const a = study.answer || {};
            const cost = (study.cost || {}).usd_per_million_output_tokens;
            return { id, kind: study.kind || '', framework: c.framework || '', gpu: (c.infrastructure || {}).gpu_type || '',
              answer: a.value != null ? `${study.over} ${M.fmtNum(a.value)}` : '—', tok: a.output_tok_s != null ? M.fmtTps(a.output_tok_s) : '—',
              cost: cost != null ? `$${cost.toFixed(3)}` : '—' };
          });
          await this.$nextTick();
          S.draw(document.getElementById('compare-study-charts'), 'compare-study', list, { pngName: 'compare-study' });
        } catch (e) { this.say(`Cannot compare studies: ${e.message}`, 'error'); }
      },

      fmtMs(v) { return M.fmtMs(v); },
      fmtTps(v) { return M.fmtTps(v); },
      shortDate(iso) {
        const d = iso ? new Date(iso) : null;
        if (!d || isNaN(d)) return '—';
        return d.toLocaleString('en-GB', { year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false });
      },
    }));

    function resetLive(runId) {
      liveRun = M.newRun(runId);
      arrivalOrigin = null;
      reqDirty = true;
    }

    function addLiveRequest(e) {
      const d = M.eventData(e);
      let fallback = null;
      if (d.start_ms == null && d.end_ms == null) {
        // Stream v1 events carry no offsets: place them at their arrival time.
        if (arrivalOrigin == null) arrivalOrigin = performance.now();
        fallback = performance.now() - arrivalOrigin;
      }
      return M.addRequest(liveRun, d, null, fallback);
    }
  });
})();
