#!/usr/bin/env node
// A development stand-in for ib-dash, for working on web/ without a C++ build: it serves web/
// with the launch token substituted, answers the REST routes of docs/dashboard-protocol.md from a
// results directory, and on start_experiment replays a golden NDJSON stream over the WebSocket.
// It is NOT what the browser tests run against (they start the real ib-dash); it only lets the
// page be iterated on while ib-dash is being built.
//
//   node tests/web/dev-server.js [--port 0] [--results DIR] [--stream FILE] [--delay-ms N]
//                                [--replay] [--stdin] [--port-file FILE]
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');
const crypto = require('crypto');
const { WebSocketServer } = require('ws');

const root = path.resolve(__dirname, '../..');
const opts = { port: 0, results: path.join(__dirname, 'fixtures/results'),
  stream: path.join(__dirname, 'fixtures/stream-live.ndjson'), delayMs: 15, replay: false, portFile: '' };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  const next = () => process.argv[++i];
  if (a === '--port') opts.port = Number(next());
  else if (a === '--results') opts.results = path.resolve(next());
  else if (a === '--stream') opts.stream = path.resolve(next());
  else if (a === '--delay-ms') opts.delayMs = Number(next());
  else if (a === '--replay') opts.replay = true;
  else if (a === '--stdin') opts.stdin = true;
  else if (a === '--port-file') opts.portFile = next();
  else { console.error(`dev-server: unknown flag ${a}`); process.exit(2); }
}

const token = crypto.randomBytes(16).toString('hex');
const webDir = path.join(root, 'web');
const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.png': 'image/png' };

const state = { port: 0, current_run: null, recent_gpu_samples: [], recent_requests: [], log_tail: [], queue: [], last_summary: null };
let replayTimer = null;

function listResults() {
  const out = [];
  for (const f of fs.existsSync(opts.results) ? fs.readdirSync(opts.results) : []) {
    if (!f.endsWith('.json')) continue;
    const id = f.slice(0, -5);
    try {
      const r = JSON.parse(fs.readFileSync(path.join(opts.results, f), 'utf8'));
      const m = r.metadata || {};
      const s = r.summary || {};
      out.push({ run_id: r.run_id || id, status: r.status || 'unknown', framework: m.framework || r.experiment?.framework || null,
        model: m.model || r.experiment?.model?.name || null, gpu_type: m.gpu_type || null, gpu_count: m.gpu_count || null,
        started_at: m.started_at || null, finished_at: m.finished_at || null, total_requests: s.total_requests ?? null,
        successful_requests: s.successful_requests ?? null, ttft_p50_ms: s.ttft?.p50 ?? null, readable: true, error: null });
    } catch (e) {
      out.push({ run_id: id, status: 'unknown', readable: false, error: `cannot parse ${f}: ${e.message}` });
    }
  }
  return out.sort((a, b) => String(b.started_at || '').localeCompare(String(a.started_at || '')));
}

function listConfigs() {
  const out = [];
  const walk = (dir) => {
    for (const f of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, f.name);
      if (f.isDirectory()) walk(p);
      else if (f.name.endsWith('.yaml')) {
        const text = fs.readFileSync(p, 'utf8');
        const get = (k) => (text.match(new RegExp(`^\\s*${k}:\\s*"?([^"\\n]*)"?`, 'm')) || [])[1] || null;
        const rel = path.relative(root, p);
        out.push({ path: rel, name: get('name') || path.basename(p, '.yaml'), description: get('description') || '',
          framework: get('framework') || 'vllm', model: get('name', 1), provider: get('provider') || 'runpod',
          gpu_type: get('gpu_type'), gpu_count: 1, workload_type: get('type'), iterations: 1,
          total_requests: Number(get('count')) || null, estimated_cost_usd: get('provider') === 'local' ? 0 : 0.42, errors: [] });
      }
    }
  };
  walk(path.join(root, 'experiments'));
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

const clients = new Set();
function broadcast(obj) {
  const text = typeof obj === 'string' ? obj : JSON.stringify(obj);
  for (const ws of clients) if (ws.readyState === 1) ws.send(text);
}

function remember(line) {
  const e = JSON.parse(line);
  const run = state.current_run;
  if (e.type === 'phase') {
    if (!run || run.run_id !== e.run_id) {
      state.current_run = { run_id: e.run_id, name: e.run_id.replace(/-\d{8}-\d{6}$/, ''), framework: null, model: null,
        gpu_type: null, gpu_count: null, phase: e.phase, phase_index: 1, phase_count: 4, total_requests: null,
        completed_requests: 0, started_at: new Date().toISOString() };
      state.recent_gpu_samples = []; state.recent_requests = [];
    }
    const r = state.current_run;
    r.phase = e.phase;
    const idx = { provisioning: 1, provisioning_done: 1, provisioning_skipped: 1, model_loading: 2, model_loading_done: 2,
      execution: 3, sweep_iteration: 3, iteration_done: 3, cleanup: 4, done: 4, failed: 4 }[e.phase];
    r.phase_index = idx || r.phase_index;
    const md = e.data.metadata || {};
    r.framework = md.framework || e.data.framework || r.framework;
    r.model = md.model || e.data.model || r.model;
    r.gpu_type = md.gpu_type || e.data.gpu_type || r.gpu_type;
    r.total_requests = e.data.total_requests ?? r.total_requests;
  } else if (e.type === 'gpu_sample') state.recent_gpu_samples.push(e);
  else if (e.type === 'request_complete') {
    state.recent_requests.push(e);
    if (state.current_run) state.current_run.completed_requests++;
  } else if (e.type === 'log') {
    state.log_tail.push(e);
    if (state.log_tail.length > 500) state.log_tail.shift();
  } else if (e.type === 'summary') state.last_summary = e;
}

function startReplay(queueId, name) {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const lines = fs.readFileSync(opts.stream, 'utf8').split('\n').filter(Boolean);
  const oldId = JSON.parse(lines[0]).run_id;
  const newId = `${name || oldId.replace(/-\d{8}-\d{6}$/, '')}-${stamp}`;
  let i = 0;
  state.queue = [{ queue_id: queueId, config_path: 'experiments/examples/sim-demo.yaml', options: {}, state: 'running' }];
  broadcast({ type: 'queue', data: state.queue });
  const step = () => {
    if (i >= lines.length) {
      state.queue = [];
      broadcast({ type: 'queue', data: state.queue });
      replayTimer = null;
      return;
    }
    const line = lines[i++].split(oldId).join(newId);
    remember(line);
    broadcast(line);
    replayTimer = setTimeout(step, opts.delayMs);
  };
  step();
}

function handleCommand(ws, text) {
  let cmd;
  try { cmd = JSON.parse(text); } catch { return ws.send(JSON.stringify({ type: 'error', run_id: '', message: 'malformed JSON command', data: {} })); }
  const reply = (o) => ws.send(JSON.stringify(o));
  switch (cmd.type) {
    case 'list_configs': return reply({ type: 'configs', data: listConfigs() });
    case 'list_results': return reply({ type: 'results', data: listResults() });
    case 'load_result': {
      const f = path.join(opts.results, `${cmd.run_id}.json`);
      if (!/^[\w.-]+$/.test(cmd.run_id || '') || !fs.existsSync(f)) return reply({ type: 'error', run_id: '', message: `unknown run ${cmd.run_id}`, data: { command: 'load_result' } });
      return reply({ type: 'result', run_id: cmd.run_id, data: JSON.parse(fs.readFileSync(f, 'utf8')) });
    }
    case 'start_experiment': {
      const queueId = crypto.randomBytes(4).toString('hex');
      reply({ type: 'ack', command: 'start_experiment', data: { queue_id: queueId } });
      if (replayTimer) {
        state.queue.push({ queue_id: queueId, config_path: cmd.config_path, options: cmd.options || {}, state: 'queued' });
        broadcast({ type: 'queue', data: state.queue });
      } else startReplay(queueId, cmd.options?.name);
      return;
    }
    case 'stop_experiment': {
      if (replayTimer) clearTimeout(replayTimer);
      replayTimer = null;
      const id = state.current_run?.run_id || '';
      const stopLine = JSON.stringify({ v: 2, type: 'phase', run_id: id, phase: 'failed', data: { reason: 'stopped by user' } });
      remember(stopLine);
      broadcast(stopLine);
      state.queue = state.queue.filter((q) => q.state !== 'running');
      broadcast({ type: 'queue', data: state.queue });
      return reply({ type: 'ack', command: 'stop_experiment', data: { run_id: id } });
    }
    case 'cancel_queued':
      state.queue = state.queue.filter((q) => q.queue_id !== cmd.queue_id);
      broadcast({ type: 'queue', data: state.queue });
      return reply({ type: 'ack', command: 'cancel_queued', data: { queue_id: cmd.queue_id } });
    default:
      return reply({ type: 'error', run_id: '', message: `unknown command ${cmd.type}`, data: { command: cmd.type } });
  }
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  const send = (code, type, body) => { res.writeHead(code, { 'content-type': type }); res.end(body); };
  const json = (obj, code = 200) => send(code, 'application/json', JSON.stringify(obj));
  if (url.pathname === '/api/configs') return json(listConfigs());
  if (url.pathname === '/api/results') return json(listResults());
  if (url.pathname === '/api/state') return json(state);
  const m = url.pathname.match(/^\/api\/results\/(.+)$/);
  if (m) {
    const id = decodeURIComponent(m[1]);
    if (!/^[\w.-]+$/.test(id) || id.includes('..')) return json({ error: 'bad run id' }, 400);
    const f = path.join(opts.results, `${id}.json`);
    if (!fs.existsSync(f)) return json({ error: 'unknown run' }, 404);
    return send(200, 'application/json', fs.readFileSync(f));
  }
  let rel = url.pathname === '/' ? 'index.html' : url.pathname.slice(1);
  const file = path.join(webDir, rel);
  if (!file.startsWith(webDir + path.sep) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) return send(404, 'text/plain', 'not found');
  let body = fs.readFileSync(file);
  if (rel === 'index.html') body = body.toString().replace('__IB_TOKEN__', token);
  return send(200, types[path.extname(file)] || 'application/octet-stream', body);
});

const wss = new WebSocketServer({ noServer: true });
server.on('upgrade', (req, socket, head) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (url.pathname !== '/ws' || url.searchParams.get('token') !== token) {
    socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    clients.add(ws);
    ws.send(JSON.stringify({ type: 'state', data: state }));
    ws.on('message', (m) => handleCommand(ws, m.toString()));
    ws.on('close', () => clients.delete(ws));
  });
});

server.listen(opts.port, '127.0.0.1', () => {
  state.port = server.address().port;
  console.error(`dev-server: serving http://127.0.0.1:${state.port}/ (stand-in for ib-dash)`);
  if (opts.portFile) fs.writeFileSync(opts.portFile, String(state.port));
  if (opts.replay) startReplay('replay', null);
  if (opts.stdin) {
    // Like `ib-run ... | ib-dash`: every stdin line is remembered and forwarded as it arrives.
    require('readline').createInterface({ input: process.stdin }).on('line', (line) => {
      if (!line.trim()) return;
      try { remember(line); } catch (e) { return broadcast({ type: 'error', run_id: '', message: `stdin: ${e.message}`, data: { source: 'stdin' } }); }
      broadcast(line);
    });
  }
});
