#!/usr/bin/env node
'use strict';
/**
 * Memory under sustained load: each scenario's app under no agent, zerotel and the OpenTelemetry
 * auto-instrumentations, one process each, under load for `--duration` seconds (60 by default), its resident set
 * read every `--sample` seconds.
 *
 * Why beside the load benchmark's peak RSS: that one is read after 13 s of load, and in that time V8 may or may
 * not have grown the app's young generation (it doubles the semi-spaces once enough bytes have survived
 * scavenges since the last growth, up to 16 MB each on Node 20). An agent keeps a few spans alive across
 * scavenges, so it reaches that step sooner; the app without an agent reaches it later in the same load
 * (measured on `http`: after ~35 s at 45 K req/s). A 13 s window then compares a grown heap with one that has
 * not grown yet. Here every app runs long enough to settle, and the table gives both the figure at the load
 * benchmark's point and the peak over the whole run.
 *
 * Usage: node bench/memory.js [--duration 60] [--sample 5] [--connections 32] [--scenarios http,hello,work]
 *          [--agents none,zerotel,opentelemetry] [--json out.json]
 */
const { PINNED, stop, memoryMb, startApp, startServices, stopServices } = require('./lib/app-under-load');
const fs = require('node:fs');
const { parseArgs } = require('node:util');

// Parsed only when run: bench/run.js requires this file for formatTable with its own arguments.
const { values: opts } = parseArgs({
  args: require.main === module ? process.argv.slice(2) : [],
  options: {
    duration: { type: 'string', default: '60' },
    sample: { type: 'string', default: '5' },
    connections: { type: 'string', default: '32' },
    scenarios: { type: 'string', default: 'http,hello,work' },
    agents: { type: 'string', default: 'none,zerotel,opentelemetry' },
    json: { type: 'string' },
  },
});

const autocannon = require('autocannon');

/** The load benchmark reads peak RSS after its 3 s warm-up and 10 s round. */
const LOAD_BENCHMARK_POINT_S = 13;

async function measure(agent, scenario, services) {
  const app = await startApp(agent, scenario, services, {});
  const sampleMs = Number(opts.sample) * 1000;
  const samples = [];
  const started = Date.now();
  const read = () => {
    try {
      samples.push({ s: (Date.now() - started) / 1000, ...memoryMb(app.child.pid) });
    } catch {
      // the app ended (it would show as an autocannon error)
    }
  };
  // One reading at the load benchmark's point, besides the regular ones.
  const pointTimer = setTimeout(read, LOAD_BENCHMARK_POINT_S * 1000);
  const timer = setInterval(read, sampleMs);
  try {
    const result = await autocannon({ url: app.url, connections: Number(opts.connections), duration: Number(opts.duration) });
    read();
    const atPoint = samples.find((x) => x.s >= LOAD_BENCHMARK_POINT_S - 0.5);
    return {
      agent,
      scenario,
      reqPerSec: result.requests.average,
      requests: result.requests.total,
      errors: result.errors + result.non2xx,
      peakAtPointMb: atPoint ? atPoint.peak : NaN,
      peakMb: samples[samples.length - 1].peak,
      rssAtEndMb: samples[samples.length - 1].now,
      samples,
    };
  } finally {
    clearTimeout(pointTimer);
    clearInterval(timer);
    await stop(app.child);
  }
}

const signed = (x) => (x >= 0 ? '+' : '') + x.toFixed(1);

function formatTable(rows, durationS) {
  const lines = [
    `| scenario | agent | req/s | peak RSS MB after ${LOAD_BENCHMARK_POINT_S} s (added) | peak RSS MB after ${durationS} s (added) | RSS MB at the end (added) |`,
    '|---|---|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const none = rows.find((x) => x.scenario === r.scenario && x.agent === 'none');
    const added = (k) => (r.agent === 'none' || !none ? '—' : signed(r[k] - none[k]));
    lines.push(
      `| ${r.scenario} | ${r.agent} | ${r.reqPerSec.toFixed(0)} | ${r.peakAtPointMb.toFixed(1)} (${added('peakAtPointMb')}) | ` +
        `${r.peakMb.toFixed(1)} (${added('peakMb')}) | ${r.rssAtEndMb.toFixed(1)} (${added('rssAtEndMb')}) |`,
    );
  }
  return lines.join('\n');
}

async function main() {
  const services = await startServices();
  const rows = [];
  try {
    for (const scenario of opts.scenarios.split(',')) {
      for (const agent of opts.agents.split(',')) {
        const r = await measure(agent, scenario, services);
        rows.push(r);
        process.stderr.write(
          `${scenario.padEnd(5)} ${agent.padEnd(14)} ${r.reqPerSec.toFixed(0).padStart(6)} req/s  peak after ${LOAD_BENCHMARK_POINT_S} s ` +
            `${r.peakAtPointMb.toFixed(1)} MB, after ${opts.duration} s ${r.peakMb.toFixed(1)} MB  errors ${r.errors}\n`,
        );
      }
    }
  } finally {
    await stopServices(services);
  }
  const out = { benchmark: 'memory', date: new Date().toISOString(), node: process.version, pinned: PINNED, options: opts, rows };
  if (opts.json) fs.writeFileSync(opts.json, JSON.stringify(out, null, 2));
  console.log(formatTable(rows, opts.duration));
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}

module.exports = { formatTable };
