// Keeps the stderr of the processes a Node test starts, so scripts/test can show their last lines
// under a failing test: with IB_TEST_LOG_DIR set, each process's stderr is appended to
// $IB_TEST_LOG_DIR/<test file>.<name>.<pid>.log; without it, this does nothing.
//
//   const proc = spawn(IB_DASH, argv, { stdio: ['pipe', 'ignore', 'pipe'] });
//   logChild('ib-dash', proc);
'use strict';
const fs = require('node:fs');
const path = require('node:path');

function logChild(name, proc) {
  const dir = process.env.IB_TEST_LOG_DIR;
  if (!dir || !proc.stderr || !proc.pid) return;
  const file = path.join(dir, `${path.basename(process.argv[1] || 'node')}.${name}.${proc.pid}.log`);
  proc.stderr.on('data', (d) => { try { fs.appendFileSync(file, d); } catch { /* the log is a courtesy */ } });
}

module.exports = { logChild };
