#!/usr/bin/env node
'use strict';
/**
 * Instructions per request, counted by valgrind's callgrind: the benchmark app (bench/apps/express-app.js) under
 * no agent and under zerotel, driven by a fixed number of requests over keep-alive connections. Instruction
 * counts do not depend on what else the machine is doing, so this is the figure to compare before and after a
 * change to a hot path (the load benchmark's req/s on a shared 2-core machine moves by ±10 % between runs).
 *
 * Only the application's main thread is counted (`--separate-threads=yes`): V8 compiles on background threads,
 * and with valgrind's slowdown that compilation was still going on after thousands of requests — counted with
 * the rest, it was more than half of every figure (measured: 380M of 665M instructions, no agent, http) and moved
 * with whatever changed what got optimised when.
 *
 * The app starts with instrumentation off (`--instr-atstart=no`), gets `--warm` requests so that V8 has compiled
 * the hot code, then callgrind counts the next `--requests` requests and the agent's batch export of their spans
 * (full batches of 512 as under load, and the rest on the 5 s schedule, which the window waits for).
 *
 * `--scenario http` drives the plain node:http app (bench/apps/http-app.js) instead.
 *
 * Usage: node bench/instructions.js [--scenario hello|work|http] [--agents none,zerotel] [--warm 10000]
 *          [--requests 3000] [--connections 4] [--env KEY=VALUE,...] [--keep]   (--keep leaves callgrind.out.*)
 *          [--preload file]   (another preload in zerotel's place, for experiments)
 *   --env goes to every app, `none` included (NODE_OPTIONS=--perf-basic-prof names the JIT code in both profiles).
 *          [--cache-sim]   also simulate the caches and branch predictor (valgrind --cache-sim --branch-sim):
 *   L1 instruction and data misses, last-level misses and mispredicted branches a request, besides instructions.
 *   Instructions alone undercount what an agent costs: what it runs also evicts the application's code and data
 *   from the caches and its branches from the predictor (see docs/performance-notes.md, "Where the time goes").
 */
const { execFileSync } = require('node:child_process');
const { appEnv } = require('./lib/app-under-load');
const { parseEnvOption } = require('./lib/env-option');
const { startListening } = require('./lib/start-listening');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');

const ROOT = path.join(__dirname, '..');
const { values: opts } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'hello' },
    agents: { type: 'string', default: 'none,zerotel' },
    warm: { type: 'string', default: '10000' },
    requests: { type: 'string', default: '3000' },
    connections: { type: 'string', default: '4' },
    env: { type: 'string', default: '' },
    keep: { type: 'boolean', default: false },
    preload: { type: 'string', default: path.join(ROOT, 'register.js') },
    json: { type: 'boolean', default: false },
    'cache-sim': { type: 'boolean', default: false },
  },
});

const APP = opts.scenario === 'http' ? 'http-app.js' : 'express-app.js';
const PATH_NAME = opts.scenario === 'http' ? '/' : `/${opts.scenario}`;

function drive(port, pathName, total, connections) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  let sent = 0;
  let done = 0;
  return new Promise((resolve, reject) => {
    const one = () => {
      if (sent >= total) return;
      sent++;
      http
        .get({ host: '127.0.0.1', port, path: pathName, agent }, (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode !== 200) return reject(new Error(`status ${res.statusCode}`));
            if (++done === total) {
              agent.destroy();
              resolve();
            } else one();
          });
        })
        .on('error', reject);
    };
    for (let i = 0; i < connections; i++) one();
  });
}

const callgrindControl = (...args) => execFileSync('callgrind_control', args, { encoding: 'utf8' });

async function measure(agentName, services) {
  const outFile = path.join(os.tmpdir(), `callgrind.out.zerotel-bench-${agentName}-${process.pid}`);
  const env = appEnv(services.downstream.port);
  const nodeArgs = [];
  if (agentName !== 'none') {
    nodeArgs.push('--require', path.resolve(opts.preload));
    Object.assign(env, {
      OTEL_SERVICE_NAME: 'bench-app',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${services.sink.port}`,
    });
  }
  // Every app gets --env, so that a profile of the app without the agent can be made the same way
  // (NODE_OPTIONS=--perf-basic-prof for JIT code names).
  Object.assign(env, parseEnvOption(opts.env));
  const app = await startListening(
    'valgrind',
    ['--tool=callgrind', ...(opts['cache-sim'] ? ['--cache-sim=yes', '--branch-sim=yes'] : []), '--instr-atstart=no', '--separate-threads=yes', `--callgrind-out-file=${outFile}`, process.execPath, ...nodeArgs, path.join(__dirname, 'apps', APP)],
    env,
    undefined,
    180_000, // everything runs tens of times slower under valgrind
  );
  try {
    // Warm-up in two rounds: the first round's connections closing takes the server down paths it had not run
    // (socket destroy, close events), which changes the maps of sockets and streams, and V8 then deoptimises
    // some forty functions of node:http and node:stream at once (seen with --trace-deopt, with no agent as with
    // one). In one round, that happened at the start of the counted window, which then counted baseline code
    // and recompilation: the second round takes it before the window opens.
    const warm = Number(opts.warm);
    await drive(app.port, PATH_NAME, Math.ceil(warm / 2), Number(opts.connections));
    await drive(app.port, PATH_NAME, Math.floor(warm / 2), Number(opts.connections));
    await new Promise((r) => setTimeout(r, 500));
    callgrindControl('-i', 'on', String(app.child.pid));
    await drive(app.port, PATH_NAME, Number(opts.requests), Number(opts.connections));
    await new Promise((r) => setTimeout(r, 5500)); // the last batch: the default schedule is 5 s
    callgrindControl('-d', String(app.child.pid));
    await new Promise((r) => setTimeout(r, 500));
  } finally {
    app.child.kill('SIGKILL');
    await new Promise((r) => app.child.once('exit', r));
  }
  const dumps = fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith(path.basename(outFile)));
  let counts;
  for (const f of dumps) {
    // With --separate-threads each thread has its own dump, `<file>.<part>-<thread>`: thread 01 is the main one.
    if (f.endsWith('-01')) {
      const text = fs.readFileSync(path.join(os.tmpdir(), f), 'utf8');
      const events = /^events: (.+)$/m.exec(text);
      const totals = /^(?:summary|totals): (.+)$/m.exec(text);
      if (events && totals) {
        const names = events[1].trim().split(/\s+/);
        const values = totals[1].trim().split(/\s+/).map(Number);
        if (counts === undefined || values[0] > counts.Ir) counts = Object.fromEntries(names.map((n, i) => [n, values[i] ?? 0]));
      }
    }
    if (!opts.keep) fs.rmSync(path.join(os.tmpdir(), f));
  }
  if (counts === undefined || !(counts.Ir > 0)) throw new Error(`no main-thread callgrind dump among ${dumps.join(', ')}`);
  const perRequest = {};
  for (const [name, value] of Object.entries(counts)) perRequest[name] = value / Number(opts.requests);
  return perRequest;
}

/** callgrind's event names, as printed. */
const CACHE_EVENTS = [
  ['I1mr', 'L1 instruction misses'],
  ['D1mr', 'L1 data read misses'],
  ['D1mw', 'L1 data write misses'],
  ['ILmr', 'last-level instruction misses'],
  ['DLmr', 'last-level data read misses'],
  ['DLmw', 'last-level data write misses'],
  ['Bcm', 'mispredicted conditional branches'],
  ['Bim', 'mispredicted indirect branches'],
];

async function main() {
  const sink = await startListening(process.execPath, [path.join(__dirname, 'lib', 'otlp-sink.js')], { PATH: process.env.PATH });
  const downstream = await startListening(process.execPath, [path.join(__dirname, 'lib', 'downstream.js')], { PATH: process.env.PATH });
  const results = {};
  const caches = {};
  try {
    for (const agentName of opts.agents.split(',')) {
      const counts = await measure(agentName, { sink, downstream });
      results[agentName] = counts.Ir;
      process.stderr.write(`${opts.scenario} ${agentName}: ${(counts.Ir / 1000).toFixed(1)}K instructions/request\n`);
      if (opts['cache-sim']) {
        caches[agentName] = counts;
        for (const [event, label] of CACHE_EVENTS) process.stderr.write(`  ${(counts[event] ?? 0).toFixed(0).padStart(8)} ${label}/request\n`);
      }
    }
  } finally {
    sink.child.kill();
    downstream.child.kill();
  }
  if (results.none && results.zerotel) {
    process.stderr.write(`zerotel adds ${(((results.zerotel - results.none) / results.none) * 100).toFixed(1)} % (${((results.zerotel - results.none) / 1000).toFixed(1)}K instructions/request)\n`);
  }
  if (opts['cache-sim'] && caches.none && caches.zerotel) {
    for (const [event, label] of CACHE_EVENTS) {
      const added = caches.zerotel[event] - caches.none[event];
      if (caches.none[event] > 0) process.stderr.write(`zerotel adds ${((added / caches.none[event]) * 100).toFixed(1)} % ${label} (${added.toFixed(0)}/request)\n`);
    }
  }
  if (opts.json) {
    const out = { scenario: opts.scenario, instructionsPerRequest: results };
    if (opts['cache-sim']) out.eventsPerRequest = caches;
    process.stdout.write(JSON.stringify(out) + '\n');
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
