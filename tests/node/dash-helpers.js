// Helpers for the ib-dash WebSocket tests: start a real ib-dash on an ephemeral port, read its
// token from the served page, open WebSocket clients (Node's `ws`) and wait for messages.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const WebSocket = require('ws');
const { logChild } = require('./child-log');

const ROOT = path.resolve(__dirname, '..', '..');
const BIN_DIR = process.env.IB_BIN_DIR || path.join(ROOT, 'bazel-bin');
const IB_DASH = path.join(BIN_DIR, 'tools', 'ib-dash', 'ib-dash');
const FIXTURES = path.join(ROOT, 'tests', 'dash');

function tmpDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

// A bin dir whose ib-run is the fake (tests/dash/fake-ib-run), for IB_BIN_DIR.
function fakeBinDir() {
  const dir = tmpDir('ib-dash-bin-');
  fs.symlinkSync(path.join(FIXTURES, 'fake-ib-run'), path.join(dir, 'ib-run'));
  return dir;
}

// Starts ib-dash; resolves to {proc, port, base, token, stderr(), stop()} once it serves.
async function startDash({ args = [], env = {}, stdin = 'pipe', resultsDir, experimentsDir, webDir } = {}) {
  resultsDir = resultsDir || tmpDir('ib-dash-results-');
  const argv = ['--port', '0', '--no-browser', '--results-dir', resultsDir,
    '--experiments-dir', experimentsDir || path.join(FIXTURES, 'experiments'),
    '--web-dir', webDir || path.join(FIXTURES, 'web'), ...args];
  const proc = spawn(IB_DASH, argv, { env: { ...process.env, ...env }, stdio: [stdin, 'ignore', 'pipe'] });
  logChild('ib-dash', proc);
  let stderr = '';
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('ib-dash did not start: ' + stderr)), 15000);
    proc.stderr.on('data', (d) => {
      stderr += d;
      const m = /serving http:\/\/127\.0\.0\.1:(\d+)\//.exec(stderr);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`ib-dash exited ${code}: ${stderr}`)); });
  });
  const base = `http://127.0.0.1:${port}`;
  const page = await get(base + '/');
  const token = /<meta name="ib-token" content="([0-9a-f]+)">/.exec(page.body)[1];
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    proc, port, base, token, resultsDir,
    stderr: () => stderr,
    wsUrl: (t = token) => `ws://127.0.0.1:${port}/ws?token=${t}`,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15000);
      const r = await exited;
      clearTimeout(timer);
      return r;
    },
  };
}

// Plain HTTP request; resolves {status, headers, body} (body as a string, or Buffer if raw).
// `url` may be {port, path} to send a path exactly as written (a URL string gets its dot
// segments resolved by Node before it is sent).
function request(url, { method = 'GET', headers = {}, raw = false, body } = {}) {
  return new Promise((resolve, reject) => {
    const target = typeof url === 'string' ? new URL(url) : { hostname: '127.0.0.1', port: url.port, path: url.path };
    const options = typeof url === 'string'
      ? { hostname: target.hostname, port: target.port, path: target.pathname + target.search }
      : target;
    const req = http.request({ ...options, method, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        resolve({ status: res.statusCode, headers: res.headers, body: raw ? buf : buf.toString() });
      });
    });
    req.setTimeout(10000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}
const get = (url, opts) => request(url, opts);

// A WebSocket client that records every message; wait(pred) resolves with the first message
// (already received or future) matching pred.
function connect(url, options = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    const client = { ws, messages: [], waiters: [] };
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString());
      client.messages.push(msg);
      client.waiters = client.waiters.filter((w) => !(w.pred(msg) && (w.resolve(msg), true)));
    });
    client.send = (obj) => ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
    client.wait = (pred, ms = 15000) => {
      const found = client.messages.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((res, rej) => {
        const timer = setTimeout(() => rej(new Error('timed out waiting; got ' +
          JSON.stringify(client.messages.slice(-5)).slice(0, 2000))), ms);
        client.waiters.push({ pred, resolve: (m) => { clearTimeout(timer); res(m); } });
      });
    };
    client.close = () => new Promise((res) => {
      if (ws.readyState === WebSocket.CLOSED) return res();
      ws.once('close', res);
      ws.close();
    });
    ws.once('open', () => resolve(client));
    ws.once('error', reject);
    ws.once('unexpected-response', (req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
}

function line(obj) { return JSON.stringify({ v: 2, ...obj }) + '\n'; }

// Resolves once a request_complete of `run` (a run id, or a test on it) with `index` (if given)
// reached client `c`: streamed, or in the {"type":"state"} a client gets first. Events ib-dash
// read before the client's registration are in that state, not streamed again (state and
// registration are one step: lib/dash/live_hub.h), and a WebSocket opens before it is registered.
function waitRequest(c, run, index) {
  const match = (e) => (typeof run === 'function' ? run(e.run_id) : e.run_id === run) &&
    (index === undefined || e.data.request_index === index);
  return c.wait((m) => (m.type === 'request_complete' && match(m)) ||
    (m.type === 'state' && (m.data.recent_requests || []).some(match)));
}

module.exports = {
  waitRequest, ROOT, FIXTURES, IB_DASH, tmpDir, fakeBinDir, startDash, request, get, connect, line };
