// The Kubernetes manifest of `ib-run --emit k8s` against the Kubernetes API schema
// (third_party/k8s-openapi, release 1.36): every field of the golden manifest
// (tests/k8s/golden.k8s.yaml, written by lib/collect:k8s_test) exists in the batch/v1 Job,
// core/v1 Secret and ConfigMap definitions with the right type, and the checker itself refuses
// a misspelled field, a wrong type and a missing required field. tests/node/k8s.test.js runs
// the same check on a manifest emitted by a real run.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { loadSchema, parseManifest, checkDocument } = require('./k8s-schema');

const ROOT = path.resolve(__dirname, '..', '..');
const GOLDEN = path.join(ROOT, 'tests', 'k8s', 'golden.k8s.yaml');
const schema = loadSchema();
const docs = () => parseManifest(fs.readFileSync(GOLDEN, 'utf8'));

test('every field of the golden manifest is in the Kubernetes schema, with its type', () => {
  const all = docs();
  assert.deepEqual(all.map((d) => `${d.apiVersion} ${d.kind}`), ['v1 Secret', 'v1 ConfigMap', 'batch/v1 Job']);
  for (const doc of all) {
    const { errors, fields } = checkDocument(schema, doc);
    assert.deepEqual(errors, [], `${doc.kind}: ${errors.join('; ')}`);
    assert.ok(fields >= 8, `${doc.kind}: only ${fields} values checked`);
  }
  // The Job is the deep one: containers, env from the Secret, resources, mounts.
  assert.ok(checkDocument(schema, all[2]).fields > 50);
});

test('the Job is Indexed, one pod per shard, never retried, and takes the token from the Secret only', () => {
  const [secret, files, job] = docs();
  const spec = job.spec;
  assert.equal(spec.completionMode, 'Indexed');
  assert.equal(spec.completions, 3);
  assert.equal(spec.parallelism, 3);
  assert.equal(spec.backoffLimit, 0);
  const pod = spec.template.spec;
  assert.equal(pod.restartPolicy, 'Never');
  const c = pod.containers[0];
  assert.ok(!JSON.stringify(job).includes(secret.stringData.token), 'the token appears in the Job');
  for (const env of c.env) {
    const ref = env.valueFrom.secretKeyRef;
    assert.equal(ref.name, secret.metadata.name);
    assert.ok(ref.key in secret.stringData, `${env.name}: key ${ref.key} not in the Secret`);
  }
  assert.deepEqual(c.env.map((e) => e.name).sort(), ['IB_REPORT_TO', 'IB_REPORT_TOKEN']);
  assert.deepEqual(c.args.slice(-2), ['--shard', 'index/3']);
  for (const m of c.volumeMounts) assert.ok(m.subPath in files.data, `${m.mountPath}: ${m.subPath} not in the ConfigMap`);
  assert.equal(pod.volumes[0].configMap.name, files.metadata.name);
  for (const doc of [secret, files, job]) assert.equal(doc.metadata.namespace, 'bench');
});

// The checker must fail on what a typo would produce.
test('a misspelled field anywhere is refused', () => {
  const cases = [
    [(j) => { j.spec.completionsMode = j.spec.completionMode; delete j.spec.completionMode; }, '.spec.completionsMode: unknown field'],
    [(j) => { j.spec.template.spec.restartpolicy = 'Never'; }, '.spec.template.spec.restartpolicy: unknown field'],
    [(j) => { const e = j.spec.template.spec.containers[0].env[1].valueFrom; e.secretKeyRefs = e.secretKeyRef; delete e.secretKeyRef; },
      '.spec.template.spec.containers[0].env[1].valueFrom.secretKeyRefs: unknown field'],
    [(j) => { j.spec.template.spec.containers[0].resources.request = {}; }, '.spec.template.spec.containers[0].resources.request: unknown field'],
    [(j) => { j.metadata.label = {}; }, '.metadata.label: unknown field'],
  ];
  for (const [mutate, expected] of cases) {
    const job = docs()[2];
    mutate(job);
    const { errors } = checkDocument(schema, job);
    assert.ok(errors.some((e) => e.startsWith(expected)), `expected "${expected}", got ${JSON.stringify(errors)}`);
  }
  const secret = docs()[0];
  secret.stringdata = secret.stringData;
  assert.ok(checkDocument(schema, secret).errors.some((e) => e.startsWith('.stringdata: unknown field')));
});

test('a wrong type or a missing required field is refused', () => {
  const cases = [
    [(j) => { j.spec.completions = '3'; }, '.spec.completions: expected an integer'],
    [(j) => { j.spec.backoffLimit = 2 ** 31; }, '.spec.backoffLimit: out of int32 range'],
    [(j) => { j.spec.template.spec.containers[0].args = '--shard'; }, '.spec.template.spec.containers[0].args: expected an array'],
    [(j) => { j.spec.template.spec.containers[0].volumeMounts[0].readOnly = 'true'; }, '.spec.template.spec.containers[0].volumeMounts[0].readOnly: expected a boolean'],
    [(j) => { delete j.spec.template.spec.containers[0].name; }, '.spec.template.spec.containers[0].name: required field missing'],
    [(j) => { delete j.spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef.key; }, '.spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef.key: required field missing'],
    [(j) => { delete j.metadata.name; }, '.metadata.name: required'],
  ];
  for (const [mutate, expected] of cases) {
    const job = docs()[2];
    mutate(job);
    const { errors } = checkDocument(schema, job);
    assert.ok(errors.some((e) => e.startsWith(expected)), `expected "${expected}", got ${JSON.stringify(errors)}`);
  }
  const unknown = { apiVersion: 'batch/v2', kind: 'Job', metadata: { name: 'x' } };
  assert.match(checkDocument(schema, unknown).errors[0], /no definition for apiVersion batch\/v2/);
});

test('every $ref of the shipped definitions resolves', () => {
  const refs = JSON.stringify(schema).match(/"\$ref":"#\/definitions\/[^"]+"/g) || [];
  assert.ok(refs.length > 100);
  for (const r of refs) {
    const name = r.slice('"$ref":"#/definitions/'.length, -1);
    assert.ok(schema.definitions[name], `unresolved ${name}`);
  }
});
