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
