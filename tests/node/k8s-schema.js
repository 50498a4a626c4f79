// Checks Kubernetes manifests against the API's OpenAPI definitions
// (third_party/k8s-openapi: Job, Secret, ConfigMap and what they reference): every field must
// be a property of its definition ($ref resolved), of the right type (string, integer within
// its format, number, boolean, object, array; int-or-string; base64 for format byte), and
// every required property present. An unknown field is an error: a misspelled key would be
// dropped by the API server (or refused with --validate=strict), never used.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const SCHEMA = path.resolve(__dirname, '..', '..', 'third_party', 'k8s-openapi', 'k8s-1.36-job-secret-configmap.json');

function loadSchema(file = SCHEMA) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

// The documents of a YAML stream whose documents are JSON ("---" separators, "#" comments).
function parseManifest(text) {
  return text.split(/^---$/m)
    .map((doc) => doc.split('\n').filter((line) => !line.startsWith('#')).join('\n').trim())
    .filter((doc) => doc !== '')
    .map((doc) => JSON.parse(doc));
}

function rootFor(schema, doc) {
  for (const [name, def] of Object.entries(schema.definitions)) {
    for (const gvk of def['x-kubernetes-group-version-kind'] || []) {
      const apiVersion = gvk.group ? `${gvk.group}/${gvk.version}` : gvk.version;
      if (apiVersion === doc.apiVersion && gvk.kind === doc.kind) return name;
    }
  }
  return null;
}

// Returns { errors: [...], fields: N } (fields: how many values were checked).
function checkDocument(schema, doc) {
  const errors = [];
  let fields = 0;
  const root = rootFor(schema, doc);
  if (!root) return { errors: [`no definition for apiVersion ${doc.apiVersion} kind ${doc.kind}`], fields };
  const resolve = (s, at) => {
    while (s && s.$ref) {
      const name = s.$ref.replace(/^#\/definitions\//, '');
      if (!schema.definitions[name]) throw new Error(`${at}: unresolved $ref ${s.$ref}`);
      s = schema.definitions[name];
    }
    return s;
  };
  const walk = (value, s, at) => {
    s = resolve(s, at);
    fields++;
    const type = s.type || (s.properties ? 'object' : undefined);
    const kind = Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value;
    if (s.format === 'int-or-string') {
      if (!(kind === 'string' || Number.isInteger(value))) errors.push(`${at}: expected an integer or a string, got ${kind}`);
      return;
    }
    switch (type) {
      case 'object': {
        if (kind !== 'object') { errors.push(`${at}: expected an object, got ${kind}`); return; }
        for (const [key, v] of Object.entries(value)) {
          if (s.properties) {
            if (!(key in s.properties)) { errors.push(`${at}.${key}: unknown field (not in ${at === '' ? root : 'its definition'})`); continue; }
            walk(v, s.properties[key], `${at}.${key}`);
          } else if (s.additionalProperties) {
            walk(v, s.additionalProperties, `${at}.${key}`);
          }
        }
        for (const key of s.required || []) if (!(key in value)) errors.push(`${at}.${key}: required field missing`);
        return;
      }
      case 'array':
        if (kind !== 'array') { errors.push(`${at}: expected an array, got ${kind}`); return; }
        value.forEach((v, i) => walk(v, s.items || {}, `${at}[${i}]`));
        return;
      case 'string':
        if (kind !== 'string') errors.push(`${at}: expected a string, got ${kind}`);
        else if (s.format === 'byte' && !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) errors.push(`${at}: expected base64`);
        return;
      case 'integer':
        if (!Number.isInteger(value)) errors.push(`${at}: expected an integer, got ${JSON.stringify(value)}`);
        else if (s.format === 'int32' && (value < -(2 ** 31) || value >= 2 ** 31)) errors.push(`${at}: out of int32 range`);
        return;
      case 'number':
        if (kind !== 'number') errors.push(`${at}: expected a number, got ${kind}`);
        return;
      case 'boolean':
        if (kind !== 'boolean') errors.push(`${at}: expected a boolean, got ${kind}`);
        return;
      default:
        return;  // no type: any value (e.g. RawExtension)
    }
  };
  walk(doc, schema.definitions[root], '');
  // Not in the OpenAPI document but required by the API server for every object.
  if (!doc.metadata || typeof doc.metadata.name !== 'string' || doc.metadata.name === '') errors.push('.metadata.name: required');
  return { errors, fields };
}

module.exports = { loadSchema, parseManifest, checkDocument, SCHEMA };
