#!/usr/bin/env node
// Lets forge drive the npm solc (solcjs) as if it were a native solc: forge only
// needs `--version` and `--standard-json` with the input on stdin.
'use strict';
const solc = require('solc');

const args = process.argv.slice(2);

if (args.includes('--version')) {
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
  return;
}
if (!args.includes('--standard-json')) {
  process.stderr.write('scripts/solc.js supports only --version and --standard-json\n');
  process.exitCode = 2;
  return;
}

// Read stdin with stream events: a synchronous read of a non-blocking pipe fails
// with EAGAIN, which is what breaks the stock solcjs CLI under forge.
const chunks = [];
process.stdin.on('data', (chunk) => chunks.push(chunk));
process.stdin.on('end', () => {
  const output = solc.compile(Buffer.concat(chunks).toString('utf8'));
  // No process.exit(): node flushes a large stdout to a pipe before exiting on its own.
  process.stdout.write(output);
});
