#!/usr/bin/env node
'use strict';
/**
 * Startup cost, with no agent, with zerotel (`--require register.js`) and with the OpenTelemetry
 * auto-instrumentations (`--require @opentelemetry/auto-instrumentations-node/register`), runs interleaved,
 * medians, of two programs:
 * - `node -e`: the time from process start to the first line of the program (performance.now() at that point,
 *   which counts from the process's time origin), so that process teardown does not blur it;
 * - an express 5 app (express-hello-app.js: three middlewares, one route): from process start to listening,
 *   which adds loading and patching the modules an application actually uses (http, express, its router);
 * - the same app as an ES module (express-hello-app.mjs, `import express from 'express'`), where an agent must
 *   also instrument imports (each agent as its `--require` registers it, nothing more).
 *
 * Usage: node bench/startup.js [--runs 40] [--json]
 */
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { parseArgs } = require('node:util');

const ROOT = path.join(__dirname, '..');
const { values: opts } = parseArgs({ options: { runs: { type: 'string', default: '40' }, json: { type: 'boolean', default: false } } });

const SUBJECTS = {
  none: [],
  zerotel: ['--require', path.join(ROOT, 'register.js')],
  // The same without the runtime bundle's code cache (OTEL_NODE_CODE_CACHE=false): a process's start when no
  // cache can be written (a read-only installation). The warm-up run below makes the cache the `zerotel` runs use.
  'zerotel-no-code-cache': ['--require', path.join(ROOT, 'register.js')],
  opentelemetry: ['--require', require.resolve('@opentelemetry/auto-instrumentations-node/register')],
};
const SUBJECT_ENV = { 'zerotel-no-code-cache': { OTEL_NODE_CODE_CACHE: 'false' } };
const ENV = {
  PATH: process.env.PATH,
  OTEL_TRACES_EXPORTER: 'otlp',
  OTEL_METRICS_EXPORTER: 'none',
  OTEL_LOGS_EXPORTER: 'none',
  OTEL_NODE_RESOURCE_DETECTORS: 'env,host,os,process',
};

const PROGRAMS = {
  eval: ['-e', 'process.stdout.write(String(performance.now()))'],
  express: [path.join(__dirname, 'express-hello-app.js'), '--exit-when-listening'],
  esm: [path.join(__dirname, 'express-hello-app.mjs'), '--exit-when-listening'],
};

function once(name, program) {
  const r = spawnSync(process.execPath, [...SUBJECTS[name], ...PROGRAMS[program]], { env: { ...ENV, ...SUBJECT_ENV[name] }, encoding: 'utf8' });
  const ms = Number(r.stdout);
  if (r.status !== 0 || !Number.isFinite(ms)) throw new Error(`run failed: ${r.stderr}`);
  return ms;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function measure(program) {
  const times = Object.fromEntries(Object.keys(SUBJECTS).map((k) => [k, []]));
  for (const name of Object.keys(SUBJECTS)) once(name, program); // warm the file cache (and make the code cache)
  for (let i = 0; i < Number(opts.runs); i++) {
    const names = Object.keys(SUBJECTS);
    const order = names.slice(i % names.length).concat(names.slice(0, i % names.length));
    for (const name of order) times[name].push(once(name, program));
  }
  const none = median(times.none);
  return {
    medianMs: Object.fromEntries(Object.entries(times).map(([k, v]) => [k, Number(median(v).toFixed(2))])),
    addedMs: Object.fromEntries(Object.entries(times).map(([k, v]) => [k, Number((median(v) - none).toFixed(2))])),
  };
}

const evalRun = measure('eval');
const result = {
  benchmark: 'startup (process start to first line of `node -e`; express app start to listening)',
  runs: Number(opts.runs),
  ...evalRun,
  express: measure('express'),
  esm: measure('esm'),
};
if (opts.json) process.stdout.write(JSON.stringify(result) + '\n');
else {
  console.log(`${result.benchmark}, median of ${result.runs} interleaved runs`);
  for (const [label, r] of [['node -e', result], ['express app', result.express], ['express app, ES module', result.esm]]) {
    console.log(label);
    for (const k of Object.keys(SUBJECTS)) console.log(`  ${k.padEnd(22)} ${r.medianMs[k].toFixed(1).padStart(7)} ms  (${k === 'none' ? '—' : '+' + r.addedMs[k].toFixed(1) + ' ms'})`);
  }
}
