// The Study view: the curve of a sweep or capacity search (results/<study_id>.study.json,
// docs/results-format.md "Study files") as (a) output throughput against latency, one point per
// iteration, connected, with the SLO lines and the answer; (b) each latency against the swept
// value with a p50..p99 band (and CI whiskers when the curve carries repeats); (c) the curve as
// a table. Several studies overlay on the same axes (Compare). Pure data code (IbStudy.model)
// is separate from drawing so that Node can test it; drawing needs Plotly.
(function (root) {
  'use strict';

  const PALETTE = ['#6c8cff', '#00b894', '#fdcb6e', '#e17055', '#a29bfe', '#55efc4', '#fd79a8', '#74b9ff'];
  const LATENCIES = [
    { key: 'ttft_ms', label: 'TTFT' },
    { key: 'tpot_ms', label: 'TPOT' },
    { key: 'itl_ms', label: 'ITL' },
    { key: 'e2e_ms', label: 'E2E latency' },
  ];
  const OVER_LABEL = { request_rate: 'request rate (req/s)', concurrency: 'concurrency' };

  // ---- model ----
  const isNum = (v) => typeof v === 'number' && Number.isFinite(v);

  // A percentile's value (with repeats, the mean over them: docs/results-format.md).
  function pctValue(lat, pct) {
    if (!lat || typeof lat !== 'object') return null;
    return isNum(lat[pct]) ? lat[pct] : null;
  }

  // The 95 % confidence interval [lo, hi] of a point's figure when the study ran repeats:
  // `stats.<metric>.<pct>.{ci95_low, ci95_high}` (null when n = 1 or without repeats).
  function pctCi(point, metric, pct) {
    const s = point && point.stats && point.stats[metric] && point.stats[metric][pct];
    return s && isNum(s.ci95_low) && isNum(s.ci95_high) ? [s.ci95_low, s.ci95_high] : null;
  }

  // The swept value a point is drawn at: the offered load. A search's saturation probe offers
  // everything at once (offered null): it has no place on that axis, and on the throughput vs
  // latency charts it is a marker of its own, not a step of the connected curve.
  function sweptX(study, p) {
    if (isNum(p.offered)) return p.offered;
    if (study.kind !== 'search' && isNum(p.value)) return p.value;
    return null;
  }

  // The curve's points in swept order (a search runs them out of order), each with its x.
  function points(study) {
    const curve = Array.isArray(study && study.curve) ? study.curve : [];
    const its = new Map(((study && study.iterations) || []).map((it) => [it.run_id, it]));
    return curve.map((p, i) => {
      const it = its.get(p.run_id) || {};
      return Object.assign({}, p, { x: sweptX(study, p), order: i, probe: it.probe || null, verdict: it.verdict || '' });
    }).sort((a, b) => {
      const ax = a.x == null ? (isNum(a.achieved_rps) ? a.achieved_rps : Infinity) : a.x;
      const bx = b.x == null ? (isNum(b.achieved_rps) ? b.achieved_rps : Infinity) : b.x;
      return ax - bx || a.order - b.order;
    });
  }

  // The SLO bounds: [{metric, pct, bound}] from the answer (a search) or the config's search block.
  function sloLines(study) {
    const slo = (study && study.answer && study.answer.slo) ||
      (study && study.config && study.config.workload && study.config.workload.search && study.config.workload.search.slo) || {};
    const out = [];
    for (const [metric, v] of Object.entries(slo)) {
      if (!v || typeof v !== 'object') continue;
      for (const [pct, bound] of Object.entries(v)) if (isNum(bound)) out.push({ metric, pct, bound });
    }
    return out;
  }

  // The curve point the answer names: a search's passing probe, a sweep's best throughput.
  function answerPoint(study, pts) {
    const a = study && study.answer;
    if (!a || typeof a !== 'object') return null;
    const id = a.passing_probe || a.best_throughput_run;
    return (pts || points(study)).find((p) => p.run_id === id) || null;
  }

  function fmt(v, digits) {
    if (!isNum(v)) return '—';
    const a = Math.abs(v);
    const d = digits != null ? digits : a >= 100 ? 0 : a >= 10 ? 1 : 2;
    return v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
  }

  function sloText(lines) {
    return lines.map((l) => `${l.metric.replace(/_ms$/, '').toUpperCase()} ${l.pct} ≤ ${fmt(l.bound)} ms`).join(', ');
  }

  // One line about the outcome: the answer of a search, the best point of a sweep.
  function answerText(study) {
    const a = study && study.answer;
    const unit = study.over === 'request_rate' ? ' req/s' : study.over === 'concurrency' ? ' concurrent' : '';
    if (!a) return study.status === 'running' ? 'running: no answer yet' : 'no answer';
    if (study.kind === 'search') {
      if (!isNum(a.value)) return `no load meets the SLO (${a.end_reason || 'lowest probe failed'})`;
      const bracket = isNum(a.bracket_pct) ? `, bracket ${fmt(a.bracket_pct, 1)} %` : '';
      return `${fmt(a.value)}${unit} within ${sloText(sloLines(study))} → ${fmt(a.output_tok_s, 0)} output tok/s (${a.probes} probes${bracket}, ${a.end_reason})`;
    }
    return `highest throughput at ${study.over} ${fmt(a.value)}: ${fmt(a.output_tok_s, 0)} output tok/s`;
  }

  function costText(study) {
    const c = (study && study.cost) || {};
    const parts = [];
    if (isNum(c.usd_per_million_output_tokens)) parts.push(`$${fmt(c.usd_per_million_output_tokens, 3)} per million output tokens`);
    if (isNum(c.pod_usd)) parts.push(`$${fmt(c.pod_usd, 4)} spent (${c.price_source || 'price'} $${fmt(c.usd_per_hr, 2)}/h)`);
    return parts.join(' · ');
  }

  // (c): the curve as rows of text, in swept order.
  const TABLE_COLUMNS = ['#', 'value', 'offered', 'achieved req/s', 'output tok/s', 'TTFT p50', 'TTFT p99', 'TPOT p50', 'TPOT p99',
    'ITL p50', 'E2E p99', 'goodput', 'KV peak', 'preempt.', 'degraded', 'SLO'];
  function tableRows(study) {
    const pts = points(study);
    const ans = answerPoint(study, pts);
    return pts.map((p) => {
      const ms = (k, pct) => { const v = pctValue(p[k], pct); const ci = pctCi(p, k, pct);
        return fmt(v) + (ci ? ` ±${fmt((ci[1] - ci[0]) / 2)}` : ''); };
      return {
        runId: p.run_id, answer: !!ans && ans.run_id === p.run_id, passed: p.passed,
        cells: [String(p.order + 1) + (p.probe ? ` ${p.probe}` : '') + (p.repeats > 1 ? ` ×${p.repeats}` : ''), fmt(p.value), p.offered == null ? 'all at once' : fmt(p.offered),
          fmt(p.achieved_rps), fmt(p.output_tok_s, 0), ms('ttft_ms', 'p50'), ms('ttft_ms', 'p99'), ms('tpot_ms', 'p50'), ms('tpot_ms', 'p99'),
          ms('itl_ms', 'p50'), ms('e2e_ms', 'p99'), isNum(p.goodput_frac) ? `${fmt(100 * p.goodput_frac, 1)} %` : '—',
          isNum(p.kv_cache_peak) ? `${fmt(100 * p.kv_cache_peak, 0)} %` : '—', fmt(p.preemptions, 0), fmt(p.client_degraded, 0),
          p.passed === true ? '✓' : p.passed === false ? '✗' : '—'],
      };
    });
  }

  const model = { pctValue, pctCi, sweptX, points, sloLines, answerPoint, answerText, costText, tableRows, TABLE_COLUMNS };

  // ---- drawing (the page only) ----
  function css(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }

  function layoutFor(title, xTitle, yTitle) {
    return {
      title: { text: title, x: 0.01, xanchor: 'left', font: { size: 13, color: css('--text') } },
      margin: { l: 60, r: 14, t: 34, b: 40 }, paper_bgcolor: css('--card'), plot_bgcolor: css('--card'),
      font: { color: css('--muted'), size: 11, family: 'system-ui, -apple-system, Segoe UI, Roboto, sans-serif' },
      xaxis: { title: { text: xTitle, standoff: 6 }, gridcolor: css('--grid'), zerolinecolor: css('--grid'), rangemode: 'tozero' },
      yaxis: { title: { text: yTitle, standoff: 6 }, gridcolor: css('--grid'), zerolinecolor: css('--grid'), rangemode: 'tozero' },
      hovermode: 'closest', shapes: [], annotations: [], uirevision: title,
    };
  }

  // Legends under the plot, in a margin of their own (never over the title or the lines).
  function legendBelow(layout, traces, gd) {
    const shown = traces.filter((t) => t.showlegend !== false);
    // Two entries a row, or one when names are long (study ids in Compare).
    const rows = shown.some((t) => String(t.name).length > 36) ? shown.length : Math.ceil(shown.length / 2);
    layout.showlegend = true;
    layout.legend = { orientation: 'h', x: 0, xanchor: 'left', yref: 'container', y: 0, yanchor: 'bottom', font: { size: 10 } };
    layout.margin.b = 44 + 18 * rows;
    gd.style.height = `${300 + 18 * rows}px`;
  }

  function sloShape(line, axis, color, label) {
    const vertical = axis === 'x';
    return {
      shape: { type: 'line', name: `SLO ${line.metric} ${line.pct}`, xref: vertical ? 'x' : 'paper', yref: vertical ? 'paper' : 'y',
        x0: vertical ? line.bound : 0, x1: vertical ? line.bound : 1, y0: vertical ? 0 : line.bound, y1: vertical ? 1 : line.bound,
        line: { color, width: 1.5, dash: 'dash' } },
      annotation: { xref: vertical ? 'x' : 'paper', yref: vertical ? 'paper' : 'y', x: vertical ? line.bound : 1, y: vertical ? 1 : line.bound,
        xanchor: vertical ? 'left' : 'right', yanchor: vertical ? 'top' : 'bottom', showarrow: false, text: label, font: { size: 10, color } },
    };
  }

  // The charts of one or more studies (`studies`: [{id, study}]) into `container`, ids
  // `${prefix}-<key>`; several studies share the axes, one colour each.
  function draw(container, prefix, studies, options) {
    const opts = options || {};
    const many = studies.length > 1;
    const red = css('--red') || '#e17055';
    const star = css('--orange') || '#fdcb6e';
    const charts = [];
    const sloMetrics = new Set(['ttft_ms', 'tpot_ms']);
    for (const s of studies) for (const l of sloLines(s.study)) if (LATENCIES.some((m) => m.key === l.metric)) sloMetrics.add(l.metric);
    for (const m of LATENCIES) if (sloMetrics.has(m.key)) charts.push({ key: `tput-${m.key.replace(/_ms$/, '')}`, kind: 'tput', metric: m });
    charts.push({ key: 'tput-x', kind: 'tputx' });
    for (const m of LATENCIES) charts.push({ key: `lat-${m.key.replace(/_ms$/, '')}`, kind: 'lat', metric: m });

    // Cards are made once per container and reused, so a live redraw keeps zoom and DOM.
    if (container._ibKeys !== charts.map((c) => c.key).join()) {
      container.innerHTML = '';
      container._ibKeys = charts.map((c) => c.key).join();
      for (const c of charts) {
        const card = document.createElement('div');
        card.className = 'card chart-card' + (c.kind === 'tput' ? ' study-main' : '');
        card.innerHTML = `<button class="png ghost" title="Download as PNG">PNG</button><div class="chart" id="${prefix}-${c.key}"></div>`;
        const gd = card.querySelector('.chart');
        card.querySelector('.png').addEventListener('click', () => {
          if (gd.data) Plotly.downloadImage(gd, { format: 'png', filename: `${opts.pngName || prefix}-${c.key}`, width: 1200, height: 600 });
        });
        container.appendChild(card);
      }
    }
    const overs = [...new Set(studies.map((s) => s.study.over).filter(Boolean))];
    const xTitle = overs.length === 1 ? (OVER_LABEL[overs[0]] || overs[0]) : `swept value (${overs.join(' / ')})`;
    const drawn = {};
    for (const c of charts) {
      const gd = document.getElementById(`${prefix}-${c.key}`);
      const traces = [];
      let layout;
      const seenSlo = new Set();
      studies.forEach((s, si) => {
        const color = PALETTE[si % PALETTE.length];
        const pts = points(s.study);
        const ans = answerPoint(s.study, pts);
        const tag = many ? `${s.id} ` : '';
        const hover = (p) => `${s.study.over || 'value'} ${fmt(p.value)}${p.probe ? ` (${p.probe})` : ''}${p.verdict ? `<br>${p.verdict}` : ''}`;
        const lines = sloLines(s.study);
        if (c.kind === 'tput') {
          layout = layout || layoutFor(`Output throughput vs ${c.metric.label}`, `${c.metric.label} (ms)`, 'output tok/s');
          for (const pct of ['p50', 'p99']) {
            const use = pts.filter((p) => p.x != null && isNum(pctValue(p[c.metric.key], pct)) && isNum(p.output_tok_s));
            traces.push({ type: 'scatter', mode: 'lines+markers', name: `${tag}${c.metric.label} ${pct}`,
              x: use.map((p) => pctValue(p[c.metric.key], pct)), y: use.map((p) => p.output_tok_s),
              text: use.map(hover), hovertemplate: `%{text}<br>${c.metric.label} ${pct} %{x:.1f} ms<br>%{y:.0f} tok/s<extra></extra>`,
              line: { color, width: 2, dash: pct === 'p99' ? 'dash' : 'solid' },
              marker: { color, size: 7, symbol: pct === 'p99' ? 'diamond' : 'circle',
                line: { color: use.map((p) => (p.passed === false ? red : color)), width: 1.5 } } });
          }
          const sat = pts.filter((p) => p.x == null && isNum(pctValue(p[c.metric.key], 'p99')) && isNum(p.output_tok_s));
          if (sat.length) {
            traces.push({ type: 'scatter', mode: 'markers', name: `${tag}saturation probe (all at once), p50 & p99`,
              x: sat.flatMap((p) => [pctValue(p[c.metric.key], 'p50'), pctValue(p[c.metric.key], 'p99')]),
              y: sat.flatMap((p) => [p.output_tok_s, p.output_tok_s]),
              marker: { color, size: 9, symbol: 'x-thin', line: { color, width: 2 } },
              hovertemplate: `saturation probe<br>${c.metric.label} %{x:.1f} ms<br>%{y:.0f} tok/s<extra></extra>` });
          }
          for (const l of lines.filter((l) => l.metric === c.metric.key)) {
            const k = `${l.metric}|${l.pct}|${l.bound}`;
            if (seenSlo.has(k)) continue;
            seenSlo.add(k);
            const sh = sloShape(l, 'x', red, `SLO ${l.pct} ${fmt(l.bound)} ms`);
            layout.shapes.push(sh.shape); layout.annotations.push(sh.annotation);
          }
          if (ans) {
            const pct = (lines.find((l) => l.metric === c.metric.key) || { pct: 'p99' }).pct;
            const v = pctValue(ans[c.metric.key], pct);
            if (isNum(v)) {
              traces.push({ type: 'scatter', mode: 'markers', name: `${tag}answer: ${s.study.over} ${fmt(ans.value)}`, x: [v], y: [ans.output_tok_s],
                marker: { symbol: 'star', size: 18, color: star, line: { color, width: 2 } },
                hovertemplate: `answer: ${s.study.over} ${fmt(ans.value)}<br>${c.metric.label} ${pct} %{x:.1f} ms<br>%{y:.0f} tok/s<extra></extra>` });
            }
          }
        } else if (c.kind === 'tputx') {
          layout = layout || layoutFor('Output throughput vs the swept value', xTitle, 'output tok/s');
          const use = pts.filter((p) => p.x != null && isNum(p.output_tok_s));
          traces.push({ type: 'scatter', mode: 'lines+markers', name: `${tag}output tok/s`, x: use.map((p) => p.x), y: use.map((p) => p.output_tok_s),
            text: use.map(hover), hovertemplate: '%{text}<br>%{y:.0f} tok/s<extra></extra>', line: { color, width: 2 }, marker: { color, size: 7 } });
          if (ans && ans.x != null) {
            traces.push({ type: 'scatter', mode: 'markers', name: `${tag}answer`, x: [ans.x], y: [ans.output_tok_s], showlegend: false,
              marker: { symbol: 'star', size: 18, color: star, line: { color, width: 2 } }, hovertemplate: 'answer<br>%{y:.0f} tok/s<extra></extra>' });
          }
        } else {
          layout = layout || layoutFor(`${c.metric.label} vs the swept value (p50 line, band to p99)`, xTitle, 'ms');
          const use = pts.filter((p) => p.x != null && isNum(pctValue(p[c.metric.key], 'p50')));
          const ci = (pct) => {
            const cis = use.map((p) => pctCi(p, c.metric.key, pct));
            if (!cis.some(Boolean)) return undefined;
            return { type: 'data', symmetric: false, color, thickness: 1.5, width: 5,
              array: use.map((p, i) => (cis[i] ? cis[i][1] - pctValue(p[c.metric.key], pct) : 0)),
              arrayminus: use.map((p, i) => (cis[i] ? pctValue(p[c.metric.key], pct) - cis[i][0] : 0)) };
          };
          traces.push({ type: 'scatter', mode: 'lines+markers', name: `${tag}p50`, x: use.map((p) => p.x),
            y: use.map((p) => pctValue(p[c.metric.key], 'p50')), error_y: ci('p50'), text: use.map(hover),
            hovertemplate: `%{text}<br>p50 %{y:.1f} ms<extra></extra>`, line: { color, width: 2 }, marker: { color, size: 6 } });
          traces.push({ type: 'scatter', mode: 'lines+markers', name: `${tag}p99`, x: use.map((p) => p.x),
            y: use.map((p) => pctValue(p[c.metric.key], 'p99')), error_y: ci('p99'), text: use.map(hover),
            hovertemplate: `%{text}<br>p99 %{y:.1f} ms<extra></extra>`, fill: 'tonexty', fillcolor: `${color}2e`,
            line: { color, width: 1.2, dash: 'dash' }, marker: { color, size: 5, symbol: 'diamond' } });
          for (const l of lines.filter((l) => l.metric === c.metric.key)) {
            const k = `${l.metric}|${l.pct}|${l.bound}`;
            if (seenSlo.has(k)) continue;
            seenSlo.add(k);
            const sh = sloShape(l, 'y', red, `SLO ${l.pct} ${fmt(l.bound)} ms`);
            layout.shapes.push(sh.shape); layout.annotations.push(sh.annotation);
          }
          if (ans && ans.x != null) {
            layout.shapes.push({ type: 'line', name: `answer ${s.id}`, xref: 'x', yref: 'paper', x0: ans.x, x1: ans.x, y0: 0, y1: 1,
              line: { color: star, width: 1.5, dash: 'dot' } });
          }
        }
      });
      legendBelow(layout, traces, gd);
      Plotly.react(gd, traces, layout, { responsive: true, displaylogo: false, modeBarButtonsToRemove: ['lasso2d', 'select2d', 'autoScale2d'],
        toImageButtonOptions: { format: 'png', filename: `${opts.pngName || prefix}-${c.key}`, scale: 2 } });
      drawn[c.key] = traces.length;
    }
    return drawn;
  }

  // (c) the curve table of one study into `el` (plain DOM).
  function drawTable(el, study) {
    el.innerHTML = '';
    const table = document.createElement('table');
    table.className = 'runs-table study-table';
    const head = document.createElement('tr');
    for (const c of TABLE_COLUMNS) { const th = document.createElement('th'); th.textContent = c; if (c !== '#') th.className = 'num'; head.appendChild(th); }
    const thead = document.createElement('thead'); thead.appendChild(head); table.appendChild(thead);
    const tbody = document.createElement('tbody');
    for (const r of tableRows(study)) {
      const tr = document.createElement('tr');
      tr.dataset.runId = r.runId;
      if (r.answer) tr.className = 'answer';
      r.cells.forEach((v, i) => { const td = document.createElement('td'); td.textContent = v; if (i > 0) td.className = 'num'; if (i === r.cells.length - 1 && r.passed != null) td.classList.add(r.passed ? 'better' : 'worse'); tr.appendChild(td); });
      tr.title = `${r.runId}${r.answer ? ' (the answer)' : ''}: click to open in History`;
      tbody.appendChild(tr);
    }
    table.appendChild(tbody);
    el.appendChild(table);
  }

  const api = { model, draw, drawTable, PALETTE };
  if (typeof module !== 'undefined' && module.exports) module.exports = api;
  else root.IbStudy = api;
})(typeof window !== 'undefined' ? window : globalThis);
