// The Kubernetes launcher end to end, without a cluster: `ib-run tests/k8s/four.yaml --emit k8s`
// writes the Indexed Job manifest and waits as the collector; this test then plays the
// cluster: for each completion index it runs the container's command and args exactly as the
// manifest writes them, with JOB_COMPLETION_INDEX and the Secret's values as environment and
// $(VAR) references expanded the way Kubernetes expands them, as local processes against the
// ib-sim that ib-run started. The ConfigMap's files are mounted (subPath) at their own paths,
// which on this machine are the files themselves: the test checks that each mount's content
// equals the ConfigMap's. The merged result must equal tests/k8s/one.yaml's single process in
// its counts, with each request index exactly once and shard = index mod 4 (as
// tests/slurm/slurm_test.sh checks for Slurm). A shard started with a wrong token is refused.
// The emitted manifest also passes the schema check of k8s-schema.test.js.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { logChild } = require('./child-log');
const { loadSchema, parseManifest, checkDocument } = require('./k8s-schema');

const ROOT = path.resolve(__dirname, '..', '..');
const BIN_DIR = process.env.IB_BIN_DIR || path.join(ROOT, 'bazel-bin');
const IB_RUN = path.join(BIN_DIR, 'tools', 'ib-run', 'ib-run');
const IB_LOAD_DIR = path.join(BIN_DIR, 'tools', 'ib-load');

// The pods reach the collector from another network namespace: the manifest must name an
// address of this machine that is not loopback (ib-run refuses a loopback address for k8s).
// Without a non-loopback interface (a bare container), this machine's host name, which the
// local "pods" resolve as any host would.
function hostAddress() {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list || []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return os.hostname();
}

function run(cmd, args, opts = {}) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  logChild(path.basename(cmd), child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const done = new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { child, done };
}

async function waitFor(fn, what, ms = 60000) {
  const until = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Kubernetes' expansion of command/args: $(VAR) becomes VAR's value when VAR is defined in the
// container's environment, else stays as written; $$ is a literal $.
function expand(s, env) {
  return s.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name) => {
    if (m === '$$') return '$';
    return name in env ? env[name] : m;
  });
}

// The environment Kubernetes gives container `c` of pod `index`: its env entries (values, or
// the Secret's keys through secretKeyRef) and JOB_COMPLETION_INDEX; PATH finds the image's
// ib-load (here: the built one).
function podEnv(c, index, secret) {
  const env = { PATH: `${IB_LOAD_DIR}:${process.env.PATH}`, JOB_COMPLETION_INDEX: String(index) };
  for (const e of c.env) {
    if (e.value !== undefined) env[e.name] = expand(e.value, env);
    else {
      const ref = e.valueFrom.secretKeyRef;
      assert.equal(ref.name, secret.metadata.name);
      assert.ok(ref.key in secret.stringData, `secret key ${ref.key}`);
      env[e.name] = secret.stringData[ref.key];
    }
  }
  return env;
}

function readResult(dir) {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json') && !f.endsWith('.study.json'));
  assert.equal(files.length, 1, `one results file in ${dir}: ${files}`);
  return JSON.parse(fs.readFileSync(path.join(dir, files[0]), 'utf8'));
}

test('ib-run --emit k8s: the manifest\'s pods, run as local processes, equal one process', { timeout: 240000 }, async () => {
  const ip = hostAddress();
  assert.ok(ip, 'this test needs an address of this machine that is not loopback, or a host name');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ib-k8s-'));
  const config = path.join(dir, 'four.yaml');
  // The start is 8 s after the manifest is written: time for the refused shard and the four.
  fs.writeFileSync(config, `extends: "${path.join(ROOT, 'tests', 'k8s', 'four.yaml')}"
infrastructure:
  load:
    advertise: "${ip}"
    k8s: {start_delay_s: 8}
metrics: {output_dir: "${path.join(dir, 'results-four')}"}
`);
  const emitDir = path.join(dir, 'manifests');
  fs.mkdirSync(emitDir);
  const ibRun = run(IB_RUN, [config, '--emit', 'k8s', '--emit-dir', emitDir, '--ndjson', '--quiet']);
  const file = await waitFor(() => fs.readdirSync(emitDir).find((f) => f.endsWith('.k8s.yaml')), 'the manifest');
  const text = fs.readFileSync(path.join(emitDir, file), 'utf8');
  assert.equal(fs.statSync(path.join(emitDir, file)).mode & 0o777, 0o600, 'the manifest holds the token: mode 0600');
  const docs = parseManifest(text);
  const schema = loadSchema();
  for (const doc of docs) assert.deepEqual(checkDocument(schema, doc).errors, [], doc.kind);
  const secret = docs.find((d) => d.kind === 'Secret');
  const files = docs.find((d) => d.kind === 'ConfigMap');
  const job = docs.find((d) => d.kind === 'Job');
  assert.equal(secret.stringData.report_to.split(':')[0], ip);
  assert.ok(!JSON.stringify(job).includes(secret.stringData.token), 'the token is in the Job');
  const pod = job.spec.template.spec;
  const c = pod.containers[0];
  assert.equal(job.spec.completions, 4);
  assert.equal(job.spec.parallelism, 4);
  // The volume: each mount is the ConfigMap key at the file's own path.
  assert.equal(pod.volumes[0].configMap.name, files.metadata.name);
  assert.ok(c.volumeMounts.length >= 3, 'the config, its parents and the prompts file');
  for (const m of c.volumeMounts) {
    assert.equal(fs.readFileSync(m.mountPath, 'utf8'), files.data[m.subPath], `${m.mountPath} differs from its ConfigMap key`);
  }
  const argv = (env) => [...c.command, ...c.args].map((a) => expand(a, env));

  // A shard with a wrong token is refused and exits 1, before the real ones connect.
  const badEnv = { ...podEnv(c, 0, secret), IB_REPORT_TOKEN: 'f'.repeat(32) };
  const [badCmd, ...badArgs] = argv(badEnv);
  const bad = await run(badCmd, badArgs, { env: badEnv }).done;
  assert.equal(bad.code, 1, bad.stderr);
  assert.match(bad.stderr, /refused this shard: missing or wrong token/);

  // The pods.
  const pods = [];
  for (let k = 0; k < job.spec.completions; k++) {
    const env = podEnv(c, k, secret);
    const [cmd, ...args] = argv(env);
    assert.equal(cmd, 'ib-load');
    pods.push(run(path.join(IB_LOAD_DIR, cmd), args, { env }).done);
  }
  const results = await Promise.all(pods);
  results.forEach((r, k) => assert.equal(r.code, 0, `pod ${k}: ${r.stderr}`));
  const four = await ibRun.done;
  assert.equal(four.code, 0, four.stderr);
  // The collector logged the refusal in the stream.
  assert.match(four.stdout, /refused a connection from [^"]*: missing or wrong token/);
  // ib-load told the user what to run.
  assert.match(four.stdout, new RegExp(`kubectl apply -f ${path.join(emitDir, file).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));

  const oneDir = path.join(dir, 'results-one');
  const one = await run(IB_RUN, [path.join(ROOT, 'tests', 'k8s', 'one.yaml'), '--output-dir', oneDir, '--ndjson', '--quiet']).done;
  assert.equal(one.code, 0, one.stderr);

  const a = readResult(oneDir);
  const b = readResult(path.join(dir, 'results-four'));
  assert.equal(a.status, 'completed');
  assert.equal(b.status, 'completed');
  assert.equal(b.metadata.shards.count, 4);
  assert.deepEqual(b.metadata.shards.lost, []);
  assert.equal(typeof b.metadata.shards.clock_offset_max_ms, 'number');
  assert.equal(a.metadata.shards, undefined);
  const indexes = b.requests.map((r) => r.request_index).sort((x, y) => x - y);
  assert.deepEqual(indexes, [...Array(60).keys()], 'each request index exactly once');
  for (const r of b.requests) assert.equal(r.shard, r.request_index % 4, `request ${r.request_index}`);
  const counts = (s) => ({ total: s.total_requests, ok: s.successful_requests, failed: s.failed_requests,
    completion: s.total_completion_tokens, prompt: s.total_prompt_tokens });
  assert.deepEqual(counts(b.summary), counts(a.summary));
  assert.equal(a.summary.successful_requests, 60);
  // The same schedule: the instants relative to the first arrival (the pods learn the start as
  // a wall-clock instant, so readings differ by microseconds).
  const rel = (res) => {
    const m = new Map(res.requests.map((r) => [r.request_index, r.scheduled_ms]));
    return (i) => m.get(i) - m.get(0);
  };
  const ra = rel(a);
  const rb = rel(b);
  for (let i = 0; i < 60; i++) assert.ok(Math.abs(ra(i) - rb(i)) < 0.05, `request ${i}: ${ra(i)} vs ${rb(i)}`);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('ib-run --emit k8s refuses what cannot work, before starting anything (exit 2)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ib-k8s-bad-'));
  const write = (name, text) => { fs.writeFileSync(path.join(dir, name), text); return path.join(dir, name); };
  const four = path.join(ROOT, 'tests', 'k8s', 'four.yaml');
  const cases = [
    // The launcher and the flag must agree.
    [[path.join(ROOT, 'tests', 'k8s', 'one.yaml'), '--emit', 'k8s'], /--emit k8s needs infrastructure.load.launcher: k8s/],
    [[four], /infrastructure.load.launcher is k8s: add --emit k8s/],
    [[four, '--emit', 'kubernetes'], /--emit takes k8s \(got 'kubernetes'\)/],
    // Loopback: the pods cannot reach it.
    [[write('b.yaml', `extends: "${four}"\ninfrastructure: {load: {collector: "127.0.0.1:0", advertise: "127.0.0.1"}}\n`), '--emit', 'k8s'],
      /b.yaml:2\): infrastructure.load: the Kubernetes pods cannot reach the collector at '127.0.0.1'/],
    // An address this machine does not have cannot be bound.
    [[write('c.yaml', `extends: "${four}"\ninfrastructure: {load: {collector: "203.0.113.77:7000", advertise: "203.0.113.77"}}\n`), '--emit', 'k8s'],
      /infrastructure.load.collector 203.0.113.77:7000: cannot listen on 203.0.113.77:7000/],
    [[write('d.yaml', `extends: "${four}"\ninfrastructure: {load: {collector: "no-such-host.invalid:7000"}}\n`), '--emit', 'k8s'],
      /infrastructure.load.collector no-such-host.invalid:7000: cannot resolve collector address/],
    [[write('e.yaml', `extends: "${four}"\ninfrastructure: {load: {tasks: 0}}\n`), '--emit', 'k8s'],
      /e.yaml:2\): infrastructure.load.tasks must be >= 1, got 0/],
    [[four, '--emit', 'k8s', '--emit-dir', path.join(dir, 'missing')],
      /--emit-dir .*missing is not a writable directory/],
  ];
  for (const [args, expected] of cases) {
    // A results directory of its own: should a case start a run after all, nothing lands in the checkout.
    const r = await run(IB_RUN, [...args, '--output-dir', path.join(dir, 'results'), '--ndjson', '--quiet']).done;
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, expected);
    assert.equal(r.stdout, '', 'nothing started');
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

test('Ctrl-C while ib-run waits for the pods: the shards not connected are given up, exit 130', { timeout: 120000 }, async () => {
  const ip = hostAddress();
  assert.ok(ip, 'this test needs an address of this machine that is not loopback, or a host name');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ib-k8s-int-'));
  const config = path.join(dir, 'four.yaml');
  fs.writeFileSync(config, `extends: "${path.join(ROOT, 'tests', 'k8s', 'four.yaml')}"
infrastructure: {load: {advertise: "${ip}", k8s: {start_delay_s: 600}}}
metrics: {output_dir: "${path.join(dir, 'results')}"}
`);
  const ibRun = run(IB_RUN, [config, '--emit', 'k8s', '--ndjson', '--quiet']);
  await waitFor(() => fs.existsSync(path.join(dir, 'results')) &&
    fs.readdirSync(path.join(dir, 'results')).some((f) => f.endsWith('.k8s.yaml')), 'the manifest');
  ibRun.child.kill('SIGINT');
  const r = await ibRun.done;
  assert.equal(r.code, 130, r.stderr);
  for (let k = 0; k < 4; k++) assert.match(r.stdout, new RegExp(`shard ${k} lost: interrupted before this shard connected`));
  fs.rmSync(dir, { recursive: true, force: true });
});

test('no pod ever connects: the iteration fails saying so, after start_delay_s + 60 s', { timeout: 180000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ib-k8s-none-'));
  const config = path.join(dir, 'four.yaml');
  fs.writeFileSync(config, `extends: "${path.join(ROOT, 'tests', 'k8s', 'four.yaml')}"
infrastructure: {load: {advertise: "${hostAddress()}", k8s: {start_delay_s: 1}}}
metrics: {output_dir: "${path.join(dir, 'results')}"}
`);
  const r = await run(IB_RUN, [config, '--emit', 'k8s', '--ndjson', '--quiet']).done;
  assert.equal(r.code, 1, r.stderr);
  for (let k = 0; k < 4; k++) assert.match(r.stdout, new RegExp(`shard ${k} lost: never connected within 61 s`));
  assert.match(r.stdout, /none of the 4 shards reported to the collector at [^ ]+ \(was the manifest applied, can the pods reach that address\?\)/);
  assert.match(r.stdout, /"phase":"failed"/);
  fs.rmSync(dir, { recursive: true, force: true });
});
