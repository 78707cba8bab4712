#!/usr/bin/env node
'use strict';
/**
 * Startup cost: `node -e 0` with no agent, with zerotel (`--require register.js`) and with the OpenTelemetry
 * auto-instrumentations (`--require @opentelemetry/auto-instrumentations-node/register`), runs interleaved,
 * medians. The figure is the time from process start to the first line of the program (performance.now() at
 * that point, which counts from the process's time origin), so that process teardown does not blur it.
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
  opentelemetry: ['--require', require.resolve('@opentelemetry/auto-instrumentations-node/register')],
};
const ENV = {
  PATH: process.env.PATH,
  OTEL_TRACES_EXPORTER: 'otlp',
  OTEL_METRICS_EXPORTER: 'none',
  OTEL_LOGS_EXPORTER: 'none',
  OTEL_NODE_RESOURCE_DETECTORS: 'env,host,os,process',
};

function once(args) {
  const r = spawnSync(process.execPath, [...args, '-e', 'process.stdout.write(String(performance.now()))'], { env: ENV, encoding: 'utf8' });
  const ms = Number(r.stdout);
  if (r.status !== 0 || !Number.isFinite(ms)) throw new Error(`run failed: ${r.stderr}`);
  return ms;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const times = Object.fromEntries(Object.keys(SUBJECTS).map((k) => [k, []]));
for (const args of Object.values(SUBJECTS)) once(args); // warm the file cache
for (let i = 0; i < Number(opts.runs); i++) {
  const names = Object.keys(SUBJECTS);
  const order = names.slice(i % names.length).concat(names.slice(0, i % names.length));
  for (const name of order) times[name].push(once(SUBJECTS[name]));
}
const none = median(times.none);
const result = {
  benchmark: 'startup (process start to first line of `node -e`)',
  runs: Number(opts.runs),
  medianMs: Object.fromEntries(Object.entries(times).map(([k, v]) => [k, Number(median(v).toFixed(2))])),
  addedMs: Object.fromEntries(Object.entries(times).map(([k, v]) => [k, Number((median(v) - none).toFixed(2))])),
};
if (opts.json) process.stdout.write(JSON.stringify(result) + '\n');
else {
  console.log(`${result.benchmark}, median of ${result.runs} interleaved runs`);
  for (const k of Object.keys(SUBJECTS)) console.log(`  ${k.padEnd(14)} ${result.medianMs[k].toFixed(1).padStart(7)} ms  (${k === 'none' ? '—' : '+' + result.addedMs[k].toFixed(1) + ' ms'})`);
}
