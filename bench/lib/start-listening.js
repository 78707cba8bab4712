'use strict';
/**
 * Starts a process and resolves once it prints `listening <port>` on stdout — the benchmark apps, the OTLP sink
 * and the downstream service all do. `onSpawn(child)` runs at once (to pin it to a core, say).
 * Resolves { child, port, startMs (spawn to listening), stderr() }.
 */
const { spawn } = require('node:child_process');
const path = require('node:path');

function startListening(command, args, env, onSpawn, timeoutMs = 30_000) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, args, { cwd: path.join(__dirname, '..', '..'), env, stdio: ['ignore', 'pipe', 'pipe'] });
    if (onSpawn) onSpawn(child);
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${args.join(' ')} did not start: ${out} ${err}`));
    }, timeoutMs);
    child.stderr.on('data', (c) => (err += c));
    child.stdout.on('data', (c) => {
      out += c;
      const m = /listening (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]), startMs: Number(process.hrtime.bigint() - started) / 1e6, stderr: () => err });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited (${code}) before listening: ${out} ${err}`));
    });
  });
}

module.exports = { startListening };
