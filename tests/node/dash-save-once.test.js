// Every run ends up as exactly one results file, whoever writes it: the real ib-dash saves a
// stream only when no results file for it appeared within its grace (--save-grace), also when it
// is stopped. A real ib-aggregate fed the same stream, or a file written late, is kept as the
// run's only file (found by tests/chaos: `<id>.json` and `<id>-2.json` for one run).
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { startDash, connect, line, tmpDir, waitRequest } = require('./dash-helpers');
const { logChild } = require('./child-log');

const BIN_DIR = process.env.IB_BIN_DIR || path.join(__dirname, '..', '..', 'bazel-bin');
const IB_AGGREGATE = path.join(BIN_DIR, 'tools', 'ib-aggregate', 'ib-aggregate');

// A run that started and stopped early (no iteration_done): a partial run.
function runLines(run, { fromIbRun = false, requests = 5 } = {}) {
  let out = fromIbRun ? line({ type: 'phase', run_id: run, phase: 'sweep_iteration', data: { iteration: 1, total: 1 } }) : '';
  out += line({ type: 'phase', run_id: run, phase: 'execution', data: { total_requests: requests } });
  for (let i = 0; i < requests; i++) {
    out += line({ type: 'request_complete', run_id: run, data: { request_index: i, start_ms: i, end_ms: i + 10, ttft_ms: 3, e2e_latency_ms: 10, completion_tokens: 4 } });
  }
  return out;
}

const runFiles = (dir, run) => fs.readdirSync(dir).filter((f) => f.startsWith(run) && f.endsWith('.json')).sort();

// Starts the real ib-aggregate fed `input`; end() closes its stdin and resolves once it has
// written its file and exited.
function startAggregate(input, resultsDir) {
  assert.ok(fs.existsSync(IB_AGGREGATE), `${IB_AGGREGATE} is not built (bazel build //tools/ib-aggregate)`);
  const p = spawn(IB_AGGREGATE, ['--output-dir', resultsDir], { stdio: ['pipe', 'ignore', 'pipe'] });
  logChild('ib-aggregate', p);
  let stderr = '';
  p.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve, reject) => {
    const timer = setTimeout(() => { p.kill('SIGKILL'); reject(new Error('ib-aggregate hung: ' + stderr)); }, 30000);
    p.on('exit', (code) => { clearTimeout(timer); code === 0 ? resolve(stderr) : reject(new Error(`ib-aggregate exit ${code}: ${stderr}`)); });
  });
  p.stdin.write(input);
  return { end: () => { p.stdin.end(); return exited; } };
}
const aggregate = (input, resultsDir) => startAggregate(input, resultsDir).end();

test('a run another writer saves within the grace gets exactly one file', async () => {
  const fifo = path.join(tmpDir('ib-dash-fifo-'), 'events.fifo');
  // A long grace: the other writer is always first, and ib-dash says so as soon as it sees it.
  const dash = await startDash({ args: ['--fifo', fifo, '--save-grace', '60'], stdin: 'ignore' });
  try {
    const c = await connect(dash.wsUrl());
    // 1. The real ib-aggregate fed the same stream.
    const run1 = 'teed-20261128-040000';
    const input1 = runLines(run1);
    fs.writeFileSync(fifo, input1);  // one FIFO writer = one stream, ended
    await aggregate(input1, dash.resultsDir);
    await c.wait((m) => m.type === 'log' && m.run_id === run1 && /ib-aggregate wrote it/.test(m.message));
    assert.deepEqual(runFiles(dash.resultsDir, run1), [`${run1}.json`]);
    assert.equal(JSON.parse(fs.readFileSync(path.join(dash.resultsDir, `${run1}.json`))).status, 'partial');
    // 2. A file that appears a while after the stream ended.
    const run2 = 'late-20261128-040001';
    fs.writeFileSync(fifo, runLines(run2));
    await waitRequest(c, run2, 4);
    await new Promise((r) => setTimeout(r, 700));
    await aggregate(runLines(run2), dash.resultsDir);
    await c.wait((m) => m.type === 'log' && m.run_id === run2 && /ib-aggregate wrote it/.test(m.message));
    assert.deepEqual(runFiles(dash.resultsDir, run2), [`${run2}.json`]);
    assert.ok(!c.messages.some((m) => m.type === 'summary'), 'ib-dash saved nothing itself');
    await c.close();
  } finally {
    await dash.stop();
  }
  assert.deepEqual(fs.readdirSync(dash.resultsDir).sort(), ['late-20261128-040001.json', 'teed-20261128-040000.json']);
});

test('a stream without a writer is saved by ib-dash, exactly once', async () => {
  const dash = await startDash({ args: ['--save-grace', '0.5'] });
  try {
    const c = await connect(dash.wsUrl());
    const run = 'alone-20261128-040002';
    dash.proc.stdin.end(runLines(run));
    const summary = await c.wait((m) => m.type === 'summary' && m.run_id === run);
    assert.equal(summary.data.status, 'partial');
    assert.deepEqual(runFiles(dash.resultsDir, run), [`${run}.json`]);
    await c.close();
  } finally {
    await dash.stop();
  }
  assert.deepEqual(fs.readdirSync(dash.resultsDir), ['alone-20261128-040002.json']);
});

test('stopped within the grace, ib-dash still saves only the runs nobody else saved', async () => {
  const fifo = path.join(tmpDir('ib-dash-fifo-'), 'events.fifo');
  const dash = await startDash({ args: ['--fifo', fifo, '--save-grace', '60'] });
  const written = 'written-20261128-040003';  // its writer finishes while ib-dash stops
  const alone = 'alone-20261128-040004';      // nobody else writes it
  const c = await connect(dash.wsUrl());
  dash.proc.stdin.end(runLines(written));
  fs.writeFileSync(fifo, runLines(alone));
  for (const run of [written, alone]) {
    await waitRequest(c, run, 4);
  }
  const writer = startAggregate(runLines(written), dash.resultsDir);  // started, not yet ended
  const stopped = dash.stop();
  await writer.end();
  const exit = await stopped;
  assert.equal(exit.code, 0);  // being stopped is ib-dash's normal end (docs/pipeline.md "Exit codes")
  assert.deepEqual(fs.readdirSync(dash.resultsDir).sort(), [`${alone}.json`, `${written}.json`]);
  assert.equal(JSON.parse(fs.readFileSync(path.join(dash.resultsDir, `${alone}.json`))).status, 'partial');
});

test('stopped while ib-run still streams, ib-dash leaves the run to ib-run\'s ib-aggregate', async () => {
  const dash = await startDash({ args: ['--save-grace', '60'] });
  const run = 'sweep-20261128-040005-c1';
  const c = await connect(dash.wsUrl());
  dash.proc.stdin.write(runLines(run, { fromIbRun: true }));  // stdin stays open: ib-run goes on
  await waitRequest(c, run, 4);
  const exit = await dash.stop();
  assert.equal(exit.code, 0);  // being stopped is ib-dash's normal end (docs/pipeline.md "Exit codes")
  assert.deepEqual(runFiles(dash.resultsDir, run), [], 'ib-dash wrote nothing for it');
  // ib-run's own ib-aggregate, which outlives ib-dash, saves it: the only file.
  await aggregate(runLines(run, { fromIbRun: true }), dash.resultsDir);
  assert.deepEqual(runFiles(dash.resultsDir, run), [`${run}.json`]);
});
