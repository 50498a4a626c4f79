// Soak: a simulated run at a steady request rate with 10 Hz scraping, piped into ib-dash with
// a browser-less WebSocket client attached, for a given duration. Samples the RSS of every
// process of the pipeline each second and checks memory after warm-up, comparing the median RSS
// of the tenth of the run right after warm-up with the median of its last tenth:
//   - ib-run, ib-load, ib-scrape: flat, within 10 %.
//   - ib-sim: flat within 10 % once its prefix cache has filled its KV blocks (then LRU), which
//     takes minutes: checked only in runs of --seconds >= 600 (warm-up 300 s by default).
//   - ib-aggregate and ib-dash hold the whole run by design (ib-aggregate until it writes the
//     file; ib-dash feeds every stream to a lib/results aggregator so it can save a run that
//     arrives without a file, plus bounded buffers of the last 5000 requests and 900 GPU
//     samples): they grow with the requests, so their check is growth per request completed
//     after warm-up, at most 4 kB (the retained data is 1-2 kB per request; a leak is not).
//   node tests/soak/soak.js --seconds 60 --rate 20 [--warmup-s S] [--json FILE]
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const WebSocket = require('ws');

const ROOT = path.resolve(__dirname, '..', '..');
const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const SECONDS = Number(args.seconds || 60);
const RATE = Number(args.rate || 20);
const BIN = process.env.IB_BIN_DIR || path.join(ROOT, 'bazel-bin');
const tool = (name) => [path.join(BIN, name), path.join(BIN, 'tools', name, name)].find((p) => fs.existsSync(p));
const GROWTH_LIMIT = 0.10;
const LONG_RUN_S = 600;
const WARMUP_S = Number(args['warmup-s'] || (SECONDS >= LONG_RUN_S ? 300 : SECONDS / 2));
const FILLS = { 'ib-sim': 'prefix cache still filling' };
const HOLDS_RUN = { 'ib-aggregate': 'holds the run until it writes the file', 'ib-dash': 'holds the run to save it if no file appears' };
const PER_REQUEST_LIMIT_KB = 4;
const NOISE_KB = 1024;  // a page or two of allocator noise is not a leak

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ib-soak-'));
const config = path.join(work, 'soak.yaml');
fs.writeFileSync(config, `name: "soak"
model: {name: "Qwen/Qwen3-0.6B"}
framework: "vllm"
framework_options: {enable_prefix_caching: true}
infrastructure: {provider: "local", gpu_type: "RTX 4000 Ada", sim: {speed: 4.0}}
workload:
  type: "rate"
  request_rate: ${RATE}
  arrival: "poisson"
  duration_s: ${SECONDS}
  requests: {source: "${path.join(ROOT, 'prompts', 'baseline.jsonl')}", count: ${Math.ceil(RATE * SECONDS * 3) + 10}}
  parameters: {max_tokens: 48}
metrics: {sample_interval_ms: 100, output_dir: "${path.join(work, 'results')}"}
`);

function descendants(rootPid) {
  const children = new Map();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push({ pid: Number(entry), comm });
    } catch { /* the process ended */ }
  }
  const out = [];
  const walk = (pid) => (children.get(pid) || []).forEach((c) => { out.push(c); walk(c.pid); });
  walk(rootPid);
  return out;
}

function rssKb(pid) {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch { return null; }
}

async function main() {
  const ibRun = spawn(tool('ib-run'), [config, '--ndjson', '--quiet'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const dash = spawn(tool('ib-dash'), ['--port', '0', '--no-browser', '--results-dir', path.join(work, 'results'),
    '--experiments-dir', path.join(ROOT, 'experiments'), '--web-dir', path.join(ROOT, 'web')],
  { stdio: ['pipe', 'ignore', 'pipe'] });
  ibRun.stdout.pipe(dash.stdin);
  let dashErr = '';
  const port = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('ib-dash did not start: ' + dashErr)), 20000);
    dash.stderr.on('data', (d) => {
      dashErr += d;
      const m = /serving http:\/\/127\.0\.0\.1:(\d+)/.exec(dashErr);
      if (m) { clearTimeout(t); resolve(Number(m[1])); }
    });
  });
  const page = await new Promise((resolve, reject) => http.get(`http://127.0.0.1:${port}/`, (res) => {
    let body = ''; res.on('data', (d) => { body += d; }); res.on('end', () => resolve(body));
  }).on('error', reject));
  const token = (/name="ib-token" content="([^"]+)"/.exec(page) || [])[1];
  const counts = {};
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${token}`, { origin: `http://127.0.0.1:${port}` });
  ws.on('message', (m) => { const t = JSON.parse(m).type; counts[t] = (counts[t] || 0) + 1; });
  await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });

  const samples = [];  // {t, byName: {name: kb}}
  const start = Date.now();
  const ibRunDone = new Promise((resolve) => ibRun.on('exit', (code) => resolve(code)));
  let finished = false;
  ibRunDone.then(() => { finished = true; });
  while (!finished) {
    const byName = {};
    for (const p of [...descendants(process.pid)]) {
      if (!p.comm.startsWith('ib-')) continue;
      const kb = rssKb(p.pid);
      if (kb !== null) byName[p.comm] = (byName[p.comm] || 0) + kb;
    }
    samples.push({ t: (Date.now() - start) / 1000, byName, requests: counts.request_complete || 0 });
    await new Promise((r) => setTimeout(r, 1000));
  }
  const code = await ibRunDone;
  await new Promise((r) => setTimeout(r, 1500));  // let ib-dash forward the tail
  ws.close();
  // ib-dash may still save into work/results as it stops: wait for it before counting files.
  const dashExited = new Promise((r) => { if (dash.exitCode !== null || dash.signalCode !== null) r(); else dash.on('exit', r); });
  dash.kill('SIGTERM');
  const dashTimer = setTimeout(() => dash.kill('SIGKILL'), 15000);
  await dashExited;
  clearTimeout(dashTimer);

  // Flatness: the median of the tenth of the run right after warm-up against the median of the
  // last tenth of the samples taken while the workload was still running (the final seconds are
  // shutdown). Medians, so one sample taken mid-allocation does not decide.
  const running = samples.filter((s) => s.byName['ib-load']);
  const span = Math.max(3, Math.floor(running.length / 10));
  const after = running.filter((s) => s.t >= WARMUP_S).slice(0, span);
  const tail = running.slice(-span);
  const median = (xs) => { const v = xs.filter((x) => x).sort((a, b) => a - b); return v.length ? v[Math.floor(v.length / 2)] : 0; };
  let failures = 0;
  console.log(`soak: ${SECONDS}s at ${RATE} req/s, warm-up ${WARMUP_S}s, ${samples.length} RSS samples, ib-run exit ${code}`);
  if (after.length === 0 || tail.length === 0) { console.log('soak: the workload ended before warm-up did'); failures++; }
  const names = new Set(tail.flatMap((s) => Object.keys(s.byName)));
  const report = {};
  console.log('soak: process       RSS after warm-up   RSS at end   growth   max');
  for (const name of [...names].sort()) {
    const a = median(after.map((s) => s.byName[name])); const b = median(tail.map((s) => s.byName[name]));
    const max = Math.max(...samples.map((s) => s.byName[name] || 0));
    if (!a || !b) continue;
    const growth = (b - a) / a;
    let note = '';
    let checked = true;
    let perRequestKb = null;
    if (HOLDS_RUN[name]) {
      const requests = median(tail.map((s) => s.requests)) - median(after.map((s) => s.requests));
      perRequestKb = requests > 0 ? (b - a) / requests : 0;
      const bad = perRequestKb > PER_REQUEST_LIMIT_KB && b - a > NOISE_KB;
      if (bad) failures++;
      note = `  (${HOLDS_RUN[name]}: ${perRequestKb.toFixed(2)} kB per request over ${requests} requests${bad ? ', NOT BOUNDED' : ''})`;
      checked = false;
    } else if (FILLS[name] && SECONDS < LONG_RUN_S && !args['warmup-s']) { checked = false; note = `  (not checked in a run under ${LONG_RUN_S} s: ${FILLS[name]})`; }
    const bad = checked && growth > GROWTH_LIMIT && b - a > NOISE_KB;
    if (bad) { failures++; note += '  NOT FLAT'; }
    report[name] = { after_warmup_kb: a, end_kb: b, max_kb: max, growth_pct: Number((growth * 100).toFixed(1)), checked, per_request_kb: perRequestKb };
    console.log(`soak: ${name.padEnd(14)}${String(a).padStart(10)} kB ${String(b).padStart(12)} kB ${(growth * 100).toFixed(1).padStart(7)} % ${String(max).padStart(7)} kB${note}`);
  }
  const results = fs.existsSync(path.join(work, 'results')) ? fs.readdirSync(path.join(work, 'results')).filter((f) => f.endsWith('.json')) : [];
  console.log(`soak: WebSocket client received ${JSON.stringify(counts)}; results files: ${results.length}`);
  if (results.length === 1) {
    const doc = JSON.parse(fs.readFileSync(path.join(work, 'results', results[0]), 'utf8'));
    const g = doc.gpu_metrics || {};
    const n = doc.summary.total_requests;
    console.log(`soak: results: ${doc.status}, ${n} requests (${doc.summary.failed_requests} failed), ${g.total_scrapes} scrapes (${g.scrape_errors} errors) = ${(g.total_scrapes / SECONDS).toFixed(1)} Hz`);
    if (doc.status !== 'completed') { console.log('soak: the run did not complete'); failures++; }
    if (doc.summary.failed_requests > 0) { console.log('soak: requests failed'); failures++; }
  }
  if (args.json) fs.writeFileSync(args.json, JSON.stringify({ seconds: SECONDS, rate: RATE, warmup_s: WARMUP_S, processes: report, ws: counts }, null, 1));
  if (code !== 0) { console.log('soak: ib-run failed'); failures++; }
  if (!counts.request_complete) { console.log('soak: the WebSocket client saw no request events'); failures++; }
  if (results.length !== 1) { console.log('soak: expected one results file'); failures++; }
  console.log(failures ? 'soak: FAILED' : 'soak: ok');
  fs.rmSync(work, { recursive: true, force: true });
  process.exit(failures ? 1 : 0);
}

main().catch((e) => { console.error('soak: FAILED:', e.message); process.exit(1); });
