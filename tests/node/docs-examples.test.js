// The README and docs pipelines that once did not work as written, run as written: each line
// is read from the doc itself (so editing the doc changes what runs), with only the paths a
// test must own substituted (bin/, the FIFO, the results directory, the server's port).
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn, spawnSync } = require('child_process');

const ROOT = path.resolve(__dirname, '../..');
const BIN = process.env.IB_BIN_DIR || path.join(ROOT, 'bazel-bin');
const tool = (t) => path.join(BIN, 'tools', t, t);
const missing = ['ib-run', 'ib-sim', 'ib-load', 'ib-aggregate', 'ib-results', 'ib-dash', 'ib-scrape'].filter((t) => !fs.existsSync(tool(t)));

// A directory holding one symlink per tool, for PATH and for `bin/`.
function binDir(tmp) {
  const dir = path.join(tmp, 'bin');
  fs.mkdirSync(dir);
  for (const t of fs.readdirSync(path.join(BIN, 'tools'))) if (fs.existsSync(tool(t))) fs.symlinkSync(tool(t), path.join(dir, t));
  return dir;
}

function docLine(file, needle) {
  const line = fs.readFileSync(path.join(ROOT, file), 'utf8').split('\n').find((l) => l.includes(needle));
  assert.ok(line, `${file} has no line with ${needle}`);
  return line;
}

test('docs/ib-aggregate.md: ib-load | ib-aggregate, then ib-results show, shows this run', {
  timeout: 120000, skip: missing.length ? `not built: ${missing.join(', ')}` : false,
}, async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ib-docs-'));
  const bin = binDir(tmp);
  for (const d of ['experiments', 'prompts']) fs.symlinkSync(path.join(ROOT, d), path.join(tmp, d));
  const sim = spawn(tool('ib-sim'), ['--port', '0', '--preset', 'qwen3-0.6b-rtx4000', '--speed', '20'], { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    const port = await new Promise((resolve, reject) => {
      let err = '';
      sim.stderr.on('data', (c) => { err += c; const m = err.match(/127\.0\.0\.1:(\d+)/); if (m) resolve(m[1]); });
      sim.on('exit', () => reject(new Error(`ib-sim exited: ${err}`)));
    });
    const line = docLine('docs/ib-aggregate.md', '| ib-aggregate');
    const cmd = line.match(/`(ib-load [^`]*)`/)[1].replace('127.0.0.1:8000', `127.0.0.1:${port}`);
    const r = spawnSync('bash', ['-o', 'pipefail', '-c', cmd], { cwd: tmp, env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }, encoding: 'utf8', timeout: 90000 });
    assert.equal(r.status, 0, `${cmd}\n${r.stderr}`);
    const files = fs.readdirSync(path.join(tmp, 'results'));
    assert.equal(files.length, 1, files.join(', '));
    assert.match(r.stdout, new RegExp(`Run: ${files[0].replace(/\.json$/, '')}`), 'ib-results shows the run just written');
    assert.doesNotMatch(r.stderr, /Broken pipe|error/i);
  } finally {
    sim.kill();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('README: the FIFO example feeds ib-dash a run', {
  timeout: 180000, skip: missing.length ? `not built: ${missing.join(', ')}` : false,
}, async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ib-docs-'));
  const bin = binDir(tmp);
  fs.symlinkSync(bin, path.join(tmp, 'bin-link'));
  const line = docLine('README.md', 'mkfifo').trim();
  const fifo = path.join(tmp, 'ib.fifo');
  const results = path.join(tmp, 'results');
  // ib-dash runs until stopped: it gets a port of its own and a results directory, and the
  // shell waits for ib-run only.
  const cmd = line.replaceAll('/tmp/ib.fifo', fifo).replaceAll('bin/', `${bin}/`)
    .replace('x.yaml', path.join(ROOT, 'experiments/examples/sim-smoke.yaml') + ` --output-dir ${results}`)
    .replace('--fifo', `--no-browser --port 0 --results-dir ${results} --fifo`);
  const r = spawnSync('bash', ['-c', `${cmd}; rc=$?; sleep 1; kill %1; exit $rc`], { cwd: ROOT, env: { ...process.env, IB_BIN_DIR: BIN }, encoding: 'utf8', timeout: 150000 });
  try {
    assert.equal(r.status, 0, `${cmd}\n${r.stderr}`);
    assert.doesNotMatch(r.stderr, /not a FIFO/);
    assert.ok(fs.readdirSync(results).some((f) => f.startsWith('sim-smoke-')), 'the run reached its results file');
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------------------------
// Every command example in README.md and docs/*.md: each line in a code block (fenced, or
// indented four spaces) that starts with an ib tool, bin/, scripts/, mkfifo or promtool is
//  - a synopsis (it has `[`): every --flag it names must be one the tool's --help lists;
//  - or run below as written, with only these substitutions: ports 8000/30000 and host `h` ->
//    a local ib-sim's, ib-dash gets `--no-browser --port 0`, ib-scrape's `--duration-s 60` -> 2,
//    promtool's `/path/to/prometheus/data` -> a temporary directory, jq gets `--unbuffered`
//    (its stdout is a pipe here, where a reader at a terminal sees each line at once);
//  - or listed in NOT_RUN with the reason.
// A new example that is none of these fails the first test, naming the line: run it here.
const DOC_FILES = ['README.md', ...fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
const COMMAND_START = /^(bin\/)?ib-[a-z]+(\s|$)|^scripts\/[a-z]+|^mkfifo\s|^promtool\s/;

function docExamples() {
  const out = [];
  for (const file of DOC_FILES) {
    const lines = fs.readFileSync(path.join(ROOT, file), 'utf8').split('\n');
    let fenced = false;
    let prevCode = false;
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i];
      if (/^\s*```/.test(l)) { fenced = !fenced; prevCode = false; continue; }
      const code = fenced || (/^ {4,}\S/.test(l) && (prevCode || i === 0 || lines[i - 1].trim() === ''));
      prevCode = code && l.trim() !== '';
      if (!code) continue;
      let text = l.trim();
      if (!COMMAND_START.test(text)) continue;
      // A synopsis continues on lines that start with `[` (docs/ib-sim.md, docs/ib-run.md).
      while (i + 1 < lines.length && /^\s+\[/.test(lines[i + 1])) text += ' ' + lines[++i].trim();
      out.push({ where: `${file}:${i + 1}`, text });
    }
  }
  return out;
}

// The text of an example as a command: its trailing comment dropped.
const commandOf = (text) => text.replace(/\s+#\s.*$/, '').trim();
// The same example written with or without `bin/` is one example.
const normalized = (text) => commandOf(text).replace(/(^|[\s|&;])bin\//g, '$1').replace(/\s+&$/, '');

const NOT_RUN = [
  { text: 'scripts/test', why: 'it is the command that runs this test' },
  { text: 'scripts/demo', why: 'it serves on port 8420 until stopped and writes into the checkout\'s results/; its parts run here and in browser-run.test.js (ib-dash --start)' },
];
// Examples the FIFO test above runs.
const RUN_BY_OTHER_TEST = [
  { text: 'mkfifo /tmp/ib.fifo; ib-dash --fifo /tmp/ib.fifo & ib-run x.yaml > /tmp/ib.fifo', by: 'README: the FIFO example feeds ib-dash a run' },
];
// Examples the last test of this file runs (normalized text).
const RUN_HERE = new Set([
  'ib-sim --preset llama-3.1-8b-a100 --port 8000',
  'ib-sim --port 8000',
  'ib-load --server-url http://127.0.0.1:8000 --config experiments/examples/sim-demo.yaml | ib-aggregate',
  'ib-results compare sim-demo-c4 sim-demo-c16',
  'ib-load --server-url http://127.0.0.1:8000 --config experiments/examples/sim-smoke.yaml | ib-aggregate',
  'ib-results export sim-smoke --format openmetrics > run.om',
  'promtool tsdb create-blocks-from openmetrics run.om /path/to/prometheus/data',
  'ib-scrape --url http://127.0.0.1:8000/metrics --framework auto | ib-dash',
  'ib-scrape --url http://127.0.0.1:8000/metrics',
  'ib-scrape --url http://h:30000/metrics --framework sglang | ib-dash',
  'ib-scrape --url http://h:8000/metrics --duration-s 60 > gpu.ndjson',
  'ib-scrape --url http://h:8000/metrics | jq -c \'select(.type=="gpu_sample") | .data.kv_cache_usage_frac\'',
  'ib-run experiments/examples/sim-smoke.yaml | ib-dash',
  'ib-dash',
]);

test('every command example in README.md and docs/ is run by a test, checked as a synopsis, or says why not', () => {
  const examples = docExamples();
  assert.ok(examples.length >= 20, `only ${examples.length} examples found: the extractor is broken`);
  const uncovered = examples.filter(({ text }) => {
    const n = normalized(text);
    return !text.includes('[') && !RUN_HERE.has(n) && !NOT_RUN.some((e) => e.text === n) &&
      !RUN_BY_OTHER_TEST.some((e) => e.text === n);
  });
  assert.deepEqual(uncovered.map((e) => `${e.where}: ${e.text}`), [],
    'examples no test runs: run them in tests/node/docs-examples.test.js (RUN_HERE) or list them in NOT_RUN with a reason');
  // Every entry of the lists is still in the docs (a stale entry would hide a removed example).
  const present = new Set(examples.map((e) => normalized(e.text)));
  for (const n of [...RUN_HERE, ...NOT_RUN.map((e) => e.text), ...RUN_BY_OTHER_TEST.map((e) => e.text)]) {
    assert.ok(present.has(n), `listed but in no doc: ${n}`);
  }
});

test('every --flag a synopsis in README.md and docs/ names is one the tool accepts (its --help)', {
  skip: missing.length ? `not built: ${missing.join(', ')}` : false,
}, () => {
  const synopses = docExamples().filter((e) => e.text.includes('['));
  assert.ok(synopses.length >= 8, `only ${synopses.length} synopses found`);
  const helpOf = new Map();
  const unknown = [];
  for (const { where, text } of synopses) {
    const name = text.match(/^(?:bin\/)?(ib-[a-z]+)/)?.[1];
    if (!name) continue;
    if (!helpOf.has(name)) {
      const r = spawnSync(tool(name), ['--help'], { encoding: 'utf8' });
      helpOf.set(name, r.stdout + r.stderr);
    }
    for (const flag of text.match(/--[a-z][a-z0-9-]*(?![a-z0-9*-])/g) || []) {
      if (!new RegExp(`${flag}(?![a-z0-9-])`).test(helpOf.get(name))) unknown.push(`${where}: ${name} ${flag}`);
    }
  }
  assert.deepEqual(unknown, [], 'flags the docs show that --help does not list');
});

// Runs each RUN_HERE example as written (the substitutions above) in a sandbox of its own.
test('the README and docs examples run as written against ib-sim', {
  timeout: 600000, skip: missing.length ? `not built: ${missing.join(', ')}` : false,
}, async (t) => {
  const net = require('net');
  const { logChild } = require('./child-log');
  const freePort = () => new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
  const examples = new Map(docExamples().map((e) => [normalized(e.text), e]));
  const top = fs.mkdtempSync(path.join(os.tmpdir(), 'ib-docs-all-'));
  const bin = binDir(top);
  const started = [];
  t.after(() => {
    for (const p of started) { try { process.kill(-p.pid, 'SIGKILL'); } catch { /* already gone */ } }
    fs.rmSync(top, { recursive: true, force: true });
  });
  let n = 0;
  const sandbox = () => {
    const dir = path.join(top, `s${++n}`);
    fs.mkdirSync(dir);
    // A checkout as the README's reader has it: the tools in bin/, the configs, the page.
    for (const d of ['experiments', 'prompts', 'web']) fs.symlinkSync(path.join(ROOT, d), path.join(dir, d));
    fs.symlinkSync(bin, path.join(dir, 'bin'));
    return dir;
  };
  const ports = { vllm: await freePort(), sglang: await freePort(), qwen: await freePort() };
  // The example's own line, made runnable by the substitutions this file's header lists.
  // Port 8000 is the README's llama-3.1-8b server unless an example pairs with its own (port8000).
  const asRun = (key, port8000 = ports.vllm) => {
    const ex = examples.get(key);
    assert.ok(ex, `no doc example ${key}`);
    return commandOf(ex.text).replace(/\s+&$/, '')
      .replace(/\bh:30000\b/g, `127.0.0.1:${ports.sglang}`).replace(/\bh:8000\b/g, `127.0.0.1:${port8000}`)
      .replace(/127\.0\.0\.1:8000\b/g, `127.0.0.1:${port8000}`).replace(/--port 8000\b/g, `--port ${port8000}`)
      .replace(/\bjq -c\b/, 'jq --unbuffered -c')
      .replace(/(^|\|\s*)((?:bin\/)?ib-dash)(?=\s*$|\s+[^-])/, '$1$2 --no-browser --port 0')
      .replace(/--duration-s 60\b/, '--duration-s 2')
      .replace('/path/to/prometheus/data', path.join(top, 'tsdb'));
  };
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, IB_BIN_DIR: BIN };
  // A finite example: runs to its end; returns {status, stdout, stderr}.
  const runToEnd = (key, cwd, port8000) => {
    const cmd = asRun(key, port8000);
    const r = spawnSync('bash', ['-o', 'pipefail', '-c', cmd], { cwd, env, encoding: 'utf8', timeout: 240000 });
    assert.equal(r.status, 0, `${examples.get(key).where}: ${cmd}\n${r.stderr}`);
    return r;
  };
  // A long-running example: started in its own process group, stopped by the caller.
  const start = (key, cwd, name, port8000) => {
    const cmd = asRun(key, port8000);
    const p = spawn('bash', ['-c', cmd], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    started.push(p);
    logChild(name, p);
    p.out = ''; p.err = '';
    p.stdout.on('data', (d) => { p.out += d; });
    p.stderr.on('data', (d) => { p.err += d; });
    p.exited = new Promise((resolve) => p.on('exit', (code) => resolve(code)));
    p.cmd = `${examples.get(key).where}: ${cmd}`;
    return p;
  };
  const stop = async (p) => { try { process.kill(-p.pid, 'SIGTERM'); } catch { /* gone */ } await p.exited; };
  const until = async (what, p, check, ms = 60000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await check();
      if (v) return v;
      if (p.exitCode !== null) assert.fail(`${p.cmd}\nexited (${p.exitCode}) before ${what}\n${p.err}`);
      if (Date.now() > deadline) assert.fail(`${p.cmd}\nno ${what} within ${ms / 1000} s\n${p.err}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const dashPort = (p) => p.err.match(/ib-dash: serving http:\/\/127\.0\.0\.1:(\d+)\//)?.[1];
  const fetchText = async (url) => { try { const r = await fetch(url); return r.ok ? await r.text() : ''; } catch { return ''; } };
  const listening = (p) => /ib-sim: listening on/.test(p.err);

  // The server every other example talks to, started by the README's own line (both of its
  // forms are the same command); an SGLang-personality one for the --framework sglang example.
  const sim = start('ib-sim --preset llama-3.1-8b-a100 --port 8000', sandbox(), 'ib-sim');
  await until('listening', sim, () => listening(sim));
  const sglangSim = spawn(tool('ib-sim'), ['--framework', 'sglang', '--port', String(ports.sglang)], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  started.push(sglangSim);
  sglangSim.err = ''; sglangSim.stderr.on('data', (d) => { sglangSim.err += d; });
  sglangSim.exited = new Promise((resolve) => sglangSim.on('exit', resolve));
  sglangSim.cmd = 'ib-sim --framework sglang';
  await until('listening', sglangSim, () => listening(sglangSim));

  await t.test('README: ib-load with sim-demo.yaml | ib-aggregate, then ib-results compare', () => {
    const dir = sandbox();
    runToEnd('ib-load --server-url http://127.0.0.1:8000 --config experiments/examples/sim-demo.yaml | ib-aggregate', dir);
    const files = fs.readdirSync(path.join(dir, 'results')).filter((f) => !f.endsWith('.study.json'));
    for (const c of ['sim-demo-c4-', 'sim-demo-c16-']) assert.ok(files.some((f) => f.startsWith(c)), files.join(', '));
    const r = runToEnd('ib-results compare sim-demo-c4 sim-demo-c16', dir);
    assert.match(r.stdout, /sim-demo-c4-\d/);
    assert.match(r.stdout, /sim-demo-c16-\d/);
  });

  await t.test('docs/ib-load.md and docs/ib-results.md: a run, exported as OpenMetrics, backfilled by promtool', async (st) => {
    const dir = sandbox();
    const qwen = start('ib-sim --port 8000', dir, 'ib-sim-qwen', ports.qwen);
    await until('listening', qwen, () => listening(qwen));
    runToEnd('ib-load --server-url http://127.0.0.1:8000 --config experiments/examples/sim-smoke.yaml | ib-aggregate', dir, ports.qwen);
    await stop(qwen);
    runToEnd('ib-results export sim-smoke --format openmetrics > run.om', dir);
    const om = fs.readFileSync(path.join(dir, 'run.om'), 'utf8');
    assert.match(om, /^ib_requests_total\{/m);
    assert.ok(om.endsWith('# EOF\n'));
    if (spawnSync('promtool', ['--version']).status !== 0) { st.skip('promtool is not installed (scripts/setup installs it)'); return; }
    runToEnd('promtool tsdb create-blocks-from openmetrics run.om /path/to/prometheus/data', dir);
    assert.ok(fs.readdirSync(path.join(top, 'tsdb')).some((f) => /^[0-9A-Z]{26}$/.test(f)), 'a TSDB block was written');
  });

  await t.test('docs/ib-scrape.md: to a file for a duration, to jq, and the live form', async () => {
    const dir = sandbox();
    runToEnd('ib-scrape --url http://h:8000/metrics --duration-s 60 > gpu.ndjson', dir);
    const samples = fs.readFileSync(path.join(dir, 'gpu.ndjson'), 'utf8').split('\n').filter(Boolean)
      .map((l) => JSON.parse(l)).filter((e) => e.type === 'gpu_sample');
    assert.ok(samples.length >= 2, `${samples.length} gpu_sample lines`);
    const jq = start('ib-scrape --url http://h:8000/metrics | jq -c \'select(.type=="gpu_sample") | .data.kv_cache_usage_frac\'', dir, 'ib-scrape-jq');
    await until('a KV-cache figure from jq', jq, () => /^\d+(\.\d+)?(e-?\d+)?$/m.test(jq.out));
    await stop(jq);
    const live = start('ib-scrape --url http://127.0.0.1:8000/metrics', dir, 'ib-scrape');
    await until('a gpu_sample line', live, () => /"type":"gpu_sample"/.test(live.out));
    await stop(live);
  });

  for (const key of ['ib-scrape --url http://127.0.0.1:8000/metrics --framework auto | ib-dash',
    'ib-scrape --url http://h:30000/metrics --framework sglang | ib-dash']) {
    await t.test(`${examples.get(key).where}: ${key}`, async () => {
      const p = start(key, sandbox(), 'ib-scrape-dash');
      const port = await until('ib-dash serving', p, () => dashPort(p));
      // The server's KV-cache gauge reached ib-dash through the pipe.
      await until('the server gauges on ib-dash /metrics', p, async () =>
        /^ib_server_kv_cache_usage_ratio(\{[^}]*\})? \S+/m.test(await fetchText(`http://127.0.0.1:${port}/metrics`)));
      await stop(p);
    });
  }

  await t.test('README, docs/ib-run.md, docs/ib-dash.md: ib-run sim-smoke.yaml | ib-dash', async () => {
    const dir = sandbox();
    const p = start('ib-run experiments/examples/sim-smoke.yaml | ib-dash', dir, 'ib-run-dash');
    const port = await until('ib-dash serving', p, () => dashPort(p));
    const results = path.join(dir, 'results');
    const file = await until('the run\'s results file', p, () =>
      (fs.existsSync(results) ? fs.readdirSync(results) : []).find((f) => /^sim-smoke-.*\.json$/.test(f)), 240000);
    assert.equal(JSON.parse(fs.readFileSync(path.join(results, file), 'utf8')).status, 'completed');
    assert.match(await fetchText(`http://127.0.0.1:${port}/`), /<html/i);
    await stop(p);
  });

  await t.test('README: ib-dash alone serves the page', async () => {
    const p = start('ib-dash', sandbox(), 'ib-dash');
    const port = await until('ib-dash serving', p, () => dashPort(p));
    assert.match(await fetchText(`http://127.0.0.1:${port}/`), /<html/i);
    await stop(p);
  });
  await stop(sim);
  await stop(sglangSim);
});
