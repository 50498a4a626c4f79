// Starts the server the browser tests talk to: the real ib-dash ($IB_BIN_DIR/tools/ib-dash/ib-dash,
// or bazel-bin), with a temporary results directory, reading the event stream from a stdin pipe
// the test writes to. IB_WEB_DEV_SERVER=1 swaps in tests/web/dev-server.js (development only).
'use strict';
const fs = require('fs');
const path = require('path');
const { spawn } = require('child_process');

const ROOT = path.resolve(__dirname, '../..');

function dashBinary() {
  const candidates = [];
  // IB_BIN_DIR is bazel-bin's layout or scripts/build's flat bin/ (optimized: what benchmarks want).
  if (process.env.IB_BIN_DIR) candidates.push(path.join(process.env.IB_BIN_DIR, 'tools/ib-dash/ib-dash'), path.join(process.env.IB_BIN_DIR, 'ib-dash'));
  candidates.push(path.join(ROOT, 'bazel-bin/tools/ib-dash/ib-dash'));
  return candidates.find((p) => fs.existsSync(p)) || null;
}

// Until ib-dash has landed on main, a checkout without it falls back to the dev server so the page
// is still exercised; IB_WEB_REQUIRE_DASH=1 forbids the fallback.
function useDevServer() {
  if (process.env.IB_WEB_DEV_SERVER === '1') return true;
  if (dashBinary() || process.env.IB_WEB_REQUIRE_DASH === '1') return false;
  if (!useDevServer.warned) { useDevServer.warned = true; process.stderr.write('# ib-dash is not built: the browser tests use tests/web/dev-server.js\n'); }
  return true;
}

// Resolves to {url, port, kind, proc, write(line), end(), stop(), kill()} once the server prints
// "serving http://127.0.0.1:PORT/"; rejects after timeoutMs or if it exits first.
function startDash({ resultsDir, experimentsDir = path.join(ROOT, 'experiments'), port = 0, timeoutMs = 30000, env = {} }) {
  let cmd;
  let args;
  let kind;
  if (useDevServer()) {
    kind = 'dev-server';
    cmd = process.execPath;
    args = [path.join(__dirname, 'dev-server.js'), '--port', String(port), '--results', resultsDir, '--stdin'];
  } else {
    kind = 'ib-dash';
    cmd = dashBinary();
    if (!cmd) return Promise.reject(new Error('ib-dash is not built: run `bazel build //tools/ib-dash` (or scripts/test)'));
    args = ['--port', String(port), '--no-browser', '--results-dir', resultsDir, '--experiments-dir', experimentsDir,
      '--web-dir', path.join(ROOT, 'web')];
  }
  const proc = spawn(cmd, args, { cwd: ROOT, stdio: ['pipe', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  proc.stdin.on('error', () => {}); // the server may be killed while we write
  require('../node/child-log').logChild(kind, proc);
  let stderr = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`${kind} did not start in ${timeoutMs} ms:\n${stderr}`)); }, timeoutMs);
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${kind} exited (${code}) before serving:\n${stderr}`)); });
    proc.stderr.on('data', (chunk) => {
      stderr += chunk;
      const m = stderr.match(/serving http:\/\/127\.0\.0\.1:(\d+)\//);
      if (!m) return;
      clearTimeout(timer);
      proc.removeAllListeners('exit');
      const p = Number(m[1]);
      const exited = new Promise((r) => proc.on('exit', r));
      resolve({
        url: `http://127.0.0.1:${p}/`, port: p, kind, proc, stderr: () => stderr,
        write(line) { proc.stdin.write(line.endsWith('\n') ? line : `${line}\n`); },
        end() { proc.stdin.end(); },
        async stop() {
          if (proc.exitCode !== null || proc.signalCode !== null) return;
          proc.kill('SIGTERM');
          const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
          // Bounded whatever happens: a server that ignores even SIGKILL must not hang a test.
          await Promise.race([exited, new Promise((r) => setTimeout(r, 15000))]);
          clearTimeout(t);
        },
        async kill() {
          if (proc.exitCode !== null || proc.signalCode !== null) return;
          proc.kill('SIGKILL');
          await exited;
        },
      });
    });
  });
}

module.exports = { startDash, dashBinary, useDevServer, ROOT };
