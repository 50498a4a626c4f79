// Chaos: runs `ib-run CONFIG | ib-dash` and, at a random moment, sends a random signal
// (SIGINT, SIGTERM, SIGKILL) to a random process of the pipeline (any ib-* tool, ib-run and
// ib-dash included). After each round it checks: the pipeline ended by itself (no hang), no
// server it started is left running (the local analog of a leaked pod; with the fake RunPod API,
// its ledger shows every created pod deleted), and the run left exactly one results file that is
// valid JSON (complete or partial) — unless the kill came before the run started executing.
//   node tests/chaos/chaos.js --rounds 100 [--seed N] [--config FILE]
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const ROUNDS = Number(args.rounds || 100);
let seed = Number(args.seed || Date.now() % 100000);
const BIN = process.env.IB_BIN_DIR || path.join(ROOT, 'bazel-bin');
const tool = (name) => [path.join(BIN, name), path.join(BIN, 'tools', name, name)].find((p) => fs.existsSync(p));
// mulberry32: small, seeded, and well mixed even for consecutive seeds.
const random = () => {
  seed = (seed + 0x6D2B79F5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = (xs) => xs[Math.floor(random() * xs.length)];

function descendants(rootPid) {
  const children = new Map();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const fields = stat.slice(close + 2).split(' ');
      if (fields[0] === 'Z') continue;  // a zombie is already dead
      const ppid = Number(fields[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push({ pid: Number(entry), comm });
    } catch { /* gone */ }
  }
  const out = [];
  const walk = (pid) => (children.get(pid) || []).forEach((c) => { out.push(c); walk(c.pid); });
  walk(rootPid);
  return out;
}

function alive(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch { return false; }
}

function writeConfig(dir) {
  const file = path.join(dir, 'chaos.yaml');
  fs.writeFileSync(file, `name: "chaos"
model: {name: "Qwen/Qwen3-0.6B"}
framework: "${random() < 0.5 ? 'vllm' : 'sglang'}"
infrastructure: {provider: "local", gpu_type: "RTX 4000 Ada", sim: {speed: 1.0, load_time_s: 0.5}}
workload:
  type: "concurrent"
  concurrency: 4
  requests: {source: "${path.join(ROOT, 'prompts', 'baseline.jsonl')}", count: 60}
  parameters: {max_tokens: 64}
metrics: {sample_interval_ms: 100, output_dir: "${path.join(dir, 'results')}"}
`);
  return file;
}

async function round(n) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ib-chaos-'));
  const config = args.config || writeConfig(dir);
  const results = path.join(dir, 'results');
  fs.mkdirSync(results, { recursive: true });
  const run = spawn(tool('ib-run'), [config, '--ndjson', '--quiet', '--output-dir', results], { stdio: ['ignore', 'pipe', 'ignore'] });
  const dash = spawn(tool('ib-dash'), ['--port', '0', '--no-browser', '--results-dir', results,
    '--experiments-dir', path.join(ROOT, 'experiments'), '--web-dir', path.join(ROOT, 'web')], { stdio: ['pipe', 'ignore', 'ignore'] });
  run.stdout.pipe(dash.stdin);
  run.stdout.on('error', () => {});
  dash.stdin.on('error', () => {});
  let sawExecution = false;
  run.stdout.on('data', (d) => { if (String(d).includes('"phase":"execution"')) sawExecution = true; });
  const runExit = new Promise((r) => run.on('exit', (code, sig) => r(sig || code)));
  const dashExit = new Promise((r) => dash.on('exit', (code, sig) => r(sig || code)));

  const delayMs = 200 + random() * 5000;
  await new Promise((r) => setTimeout(r, delayMs));
  const candidates = descendants(process.pid).filter((p) => p.comm.startsWith('ib-'));
  const victim = candidates.length ? pick(candidates) : null;
  if (process.env.IB_CHAOS_DEBUG) console.log(candidates.map((c) => c.comm).join(" "));
  const signal = pick(['SIGINT', 'SIGTERM', 'SIGKILL']);
  const servers = candidates.filter((p) => p.comm === 'ib-sim' || p.comm === 'ib-provision').map((p) => p.pid);
  if (victim) { try { process.kill(victim.pid, signal); } catch { /* already gone */ } }

  // The run must end by itself; ib-dash runs until stopped, so stop it once ib-run is done.
  const problems = [];
  const timeout = new Promise((r) => setTimeout(() => r('hang'), 40000));
  const ended = await Promise.race([runExit, timeout]);
  if (ended === 'hang') {
    problems.push('ib-run did not end within 40 s');
    try { process.kill(run.pid, 'SIGKILL'); } catch { /* gone */ }
  }
  await new Promise((r) => setTimeout(r, 1500));  // ib-dash saves a stream that ended without a file
  try { dash.kill('SIGTERM'); } catch { /* gone */ }
  await Promise.race([dashExit, new Promise((r) => setTimeout(r, 5000))]);
  await new Promise((r) => setTimeout(r, 500));
  const leaked = servers.filter(alive);
  if (leaked.length) problems.push(`server process(es) left running: ${leaked.join(', ')}`);
  leaked.forEach((pid) => { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } });
  const files = fs.readdirSync(results).filter((f) => f.endsWith('.json'));
  const runFiles = files.filter((f) => f.startsWith('chaos-'));
  const statuses = [];
  for (const f of runFiles) {
    try { statuses.push(JSON.parse(fs.readFileSync(path.join(results, f), 'utf8')).status); } catch (e) { problems.push(`${f} is not valid JSON: ${e.message}`); }
  }
  if (sawExecution && runFiles.length === 0) problems.push('no results file for a run that had started executing');
  if (runFiles.length > 1) problems.push(`${runFiles.length} results files for one run: ${runFiles.join(', ')}`);
  const what = victim ? `${signal} ${victim.comm} at ${(delayMs / 1000).toFixed(1)}s` : `no process alive at ${(delayMs / 1000).toFixed(1)}s`;
  console.log(`chaos: round ${n}: ${what}: ib-run ${ended}, results ${JSON.stringify(statuses)}${problems.length ? ' — ' + problems.join('; ') : ''}`);
  fs.rmSync(dir, { recursive: true, force: true });
  return problems.length === 0;
}

(async () => {
  const firstSeed = seed;
  console.log(`chaos: ${ROUNDS} rounds, seed ${firstSeed}`);
  let failed = 0;
  for (let i = 1; i <= ROUNDS; ++i) if (!(await round(i))) failed++;
  console.log(failed ? `chaos: FAILED (${failed} of ${ROUNDS} rounds)` : `chaos: ok (${ROUNDS} rounds)`);
  process.exit(failed ? 1 : 0);
})();
