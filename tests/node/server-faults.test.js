// Server-side faults through a whole run: `ib-run` (ib-sim, ib-scrape, ib-load, ib-aggregate)
// against an ib-sim that injects one fault kind (docs/ib-sim.md). Each run must end by itself
// (bounded: a hang fails the test), exit 0, and leave one `completed` results file in which the
// faulted requests are counted as failures under the right reason, or (for /metrics) the scrape
// errors are counted. ib-load's own suite (tests/load) checks each fault request by request;
// this checks that nothing between ib-load and the results file loses or hides them.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { logChild } = require('./child-log');

const ROOT = path.resolve(__dirname, '..', '..');
const BIN_DIR = process.env.IB_BIN_DIR || path.join(ROOT, 'bazel-bin');
const IB_RUN = path.join(BIN_DIR, 'tools', 'ib-run', 'ib-run');
const REQUESTS = 24;

function runWith(simArgs, workload = {}, speed = 4.0) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ib-faults-'));
  const results = path.join(dir, 'results');
  const extra = Object.entries(workload).map(([k, v]) => `  ${k}: ${v}\n`).join('');
  fs.writeFileSync(path.join(dir, 'fault.yaml'), `name: "fault"
model: {name: "Qwen/Qwen3-0.6B"}
framework: "vllm"
infrastructure: {provider: "local", gpu_type: "RTX 4000 Ada", sim: {speed: ${speed}, load_time_s: 0.2, args: ${JSON.stringify(simArgs)}}}
workload:
  type: "concurrent"
  concurrency: 4
${extra}  requests: {source: "${path.join(ROOT, 'prompts', 'baseline.jsonl')}", count: ${REQUESTS}}
  parameters: {max_tokens: 24}
metrics: {sample_interval_ms: 100, output_dir: "${results}"}
`);
  return new Promise((resolve) => {
    const child = spawn(IB_RUN, [path.join(dir, 'fault.yaml'), '--ndjson', '--quiet'], { stdio: ['ignore', 'pipe', 'pipe'] });
    logChild('ib-run', child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    // Never hangs: a run that does not end in 90 s is killed and reported as a hang.
    const timer = setTimeout(() => { child.kill('SIGKILL'); }, 90000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const files = fs.existsSync(results) ? fs.readdirSync(results).filter((f) => f.endsWith('.json')) : [];
      const docs = files.map((f) => JSON.parse(fs.readFileSync(path.join(results, f), 'utf8')));
      fs.rmSync(dir, { recursive: true, force: true });
      resolve({ code, signal, stdout, stderr, docs });
    });
  });
}

function assertCompletedRun(r) {
  assert.equal(r.signal, null, `ib-run hung and was killed; stderr: ${r.stderr.slice(-2000)}`);
  assert.equal(r.code, 0, `ib-run exit ${r.code}; stderr: ${r.stderr.slice(-2000)}`);
  assert.equal(r.docs.length, 1, 'one results file');
  const doc = r.docs[0];
  assert.equal(doc.status, 'completed');
  assert.equal(doc.summary.total_requests, REQUESTS, 'every request is accounted for');
  assert.equal(doc.summary.successful_requests + doc.summary.failed_requests, REQUESTS);
  const last = r.stdout.trim().split('\n').pop();
  assert.equal(JSON.parse(last).phase, 'done', 'the stream ends with phase done');
  return doc;
}

// Each request-level fault: [name, ib-sim flags, workload keys, the reason it is counted under].
// Rate 0.2 (seeded): well below ib-load's circuit breaker (half of the first requests failing).
const REQUEST_FAULTS = [
  ['HTTP 500', ['--fault-500-rate', '0.2'], {}, 'http_status', 500],
  ['HTTP 429', ['--fault-429-rate', '0.2'], {}, 'http_status', 429],
  ['connection reset mid-stream', ['--fault-drop-rate', '0.2'], { idle_timeout_s: 2 }, 'reset'],
  ['stall longer than the idle timeout', ['--fault-stall-rate', '0.2', '--fault-stall-s', '5'], { idle_timeout_s: 0.5 }, 'idle_timeout'],
  ['stall longer than the request timeout', ['--fault-stall-rate', '0.2', '--fault-stall-s', '5'], { timeout_s: 1 }, 'timeout'],
  ['garbage chunk (cut-off JSON)', ['--fault-malformed-rate', '0.2'], {}, 'sse_error'],
  ['SSE error event mid-stream', ['--fault-midstream-error-rate', '0.2'], {}, 'sse_error'],
];

for (const [name, simArgs, workload, reason, httpStatus] of REQUEST_FAULTS) {
  test(`a whole run completes with faults counted: ${name}`, { timeout: 120000 }, async () => {
    const r = await runWith(simArgs, workload);
    const doc = assertCompletedRun(r);
    const failed = doc.requests.filter((q) => q.error !== null && q.error !== undefined);
    assert.ok(doc.summary.failed_requests > 0, `${name}: some requests failed (seeded rate 0.2 of ${REQUESTS})`);
    assert.ok(doc.summary.successful_requests > 0, `${name}: the others succeeded`);
    assert.equal(failed.length, doc.summary.failed_requests, 'per-request errors match the summary');
    const byReason = doc.summary.errors_by_reason || {};
    const counted = Object.values(byReason).reduce((a, b) => a + b, 0);
    assert.equal(counted, doc.summary.failed_requests, `errors_by_reason ${JSON.stringify(byReason)} counts every failure`);
    if (reason) assert.equal(byReason[reason], doc.summary.failed_requests, `all counted as ${reason}: ${JSON.stringify(byReason)}`);
    if (httpStatus) for (const q of failed) assert.equal(q.http_status, httpStatus);
  });
}

// ib-scrape reports the first failure of a streak as an `error` event (docs/ib-scrape.md), which
// ib-aggregate counts: scrape_errors counts failure streaks, not failed scrapes.
test('a whole run completes when /metrics disappears mid-run, with the scrape errors counted', { timeout: 120000 }, async () => {
  // /metrics answers 404 1.5 s after ib-sim starts; the run (slow simulated server) lasts ~4 s.
  const r = await runWith(['--fault-metrics-gone-after-s', '1.5'], {}, 0.3);
  const doc = assertCompletedRun(r);
  assert.equal(doc.summary.failed_requests, 0, 'requests are not affected');
  const gpu = doc.gpu_metrics;
  assert.ok(gpu, 'gpu_metrics present');
  assert.ok(gpu.scrape_errors > 0, `scrape errors counted: ${JSON.stringify({ total: gpu.total_scrapes, errors: gpu.scrape_errors })}`);
  assert.ok(gpu.time_series.length > 0, 'the samples from before the fault are kept');
});
