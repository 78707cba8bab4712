#!/usr/bin/env node
'use strict';
/**
 * The load benchmark: an express 5 app (bench/apps/express-app.js) under no agent, zerotel, and the OpenTelemetry
 * auto-instrumentations, each exporting every span over OTLP/HTTP protobuf to a local sink that counts them.
 *
 * - The app runs pinned to core 0, everything else (this process with autocannon, the sink, the downstream
 *   service) to core 1, with `taskset` where it exists.
 * - Rounds are interleaved (none, zerotel, opentelemetry, then rotated) so that machine drift hits all alike.
 * - Per run: req/s and p50/p99 latency (autocannon), the app's CPU time per request (utime+stime from
 *   /proc/<pid>/stat across the measured window — the steadiest figure), its peak RSS (VmHWM), and the spans
 *   the sink received per request. Reported as medians over rounds; the ratio to no agent and the CPU added are
 *   taken within each round (an agent's run against no agent's run of the same round and scenario, minutes
 *   apart) and their median reported, with the range of the rounds' ratios: this machine's speed changes from
 *   hour to hour, and a ratio of medians taken over the whole run once set a slow round of no agent beside a
 *   fast one of an agent (1.34× on `hello`, which no agent can be).
 * - Scenarios: `http` (a plain node:http hello world, bench/apps/http-app.js), `hello` (express 5, GET /hello)
 *   and `work` (express 5, GET /work: one outgoing HTTP call, one pg query, one Redis command); each agent also
 *   with its collector down (a closed port) for the `*-down` rows.
 *
 * Usage: node bench/load.js [--duration 10] [--warmup 3] [--rounds 3] [--connections 32] [--json out.json]
 *          [--scenarios http,hello,work] [--agents none,zerotel,...] [--env KEY=VALUE,...]
 *   --env adds environment variables to the agents' runs (not to `none`), for experiments such as
 *   OTEL_TRACES_SAMPLER=always_off or OTEL_NODE_DISABLED_INSTRUMENTATIONS=pg (README, Performance).
 *   `--agents none,als-only,zerotel` adds the floor of any agent built on AsyncLocalStorage: a preload that only
 *   runs each request in a store (bench/lib/als-only-preload.js), no span, no export.
 *   An agent named with settings after colons runs with them as well: `--agents none,zerotel,zerotel:OTEL_TRACES_EXPORTER=none`
 *   interleaves the agent with and without its export in one run.
 */
const { parseEnvOption } = require('./lib/env-option');
const { PINNED, CORES, pin, stop, cpuMillis, memoryMb, sinkCount, startApp, startServices, stopServices, median } = require('./lib/app-under-load');
const fs = require('node:fs');
const { parseArgs } = require('node:util');

// Parsed only when run: bench/run.js requires this file for formatTable with its own arguments (--quick).
const { values: opts } = parseArgs({
  args: require.main === module ? process.argv.slice(2) : [],
  options: {
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '32' },
    scenarios: { type: 'string', default: 'http,hello,work' },
    agents: { type: 'string', default: 'none,zerotel,opentelemetry,zerotel-down,opentelemetry-down' },
    json: { type: 'string' },
    // Extra environment for the agents' runs (not for `none`), for experiments: KEY=VALUE,...
    env: { type: 'string', default: '' },
  },
});

const autocannon = require('autocannon');
const EXTRA_ENV = parseEnvOption(opts.env);

async function measure(agent, scenario, services) {
  const app = await startApp(agent, scenario, services, EXTRA_ENV);
  const url = app.url;
  const connections = Number(opts.connections);
  try {
    await autocannon({ url, connections, duration: Number(opts.warmup) });
    await new Promise((r) => setTimeout(r, 200));
    const spansBefore = await sinkCount(services.sink.port);
    const cpuBefore = cpuMillis(app.child.pid);
    const result = await autocannon({ url, connections, duration: Number(opts.duration) });
    const cpuAfter = cpuMillis(app.child.pid);
    // let the last batch reach the sink (zerotel and OpenTelemetry both batch every 5 s by default)
    await new Promise((r) => setTimeout(r, agent === 'none' || agent.endsWith('-down') ? 100 : 5500));
    const spans = (await sinkCount(services.sink.port)) - spansBefore;
    const requests = result.requests.total;
    return {
      agent,
      scenario,
      startMs: app.startMs,
      reqPerSec: result.requests.average,
      p50: result.latency.p50,
      p99: result.latency.p99,
      errors: result.errors + result.non2xx,
      cpuUsPerRequest: ((cpuAfter - cpuBefore) * 1000) / requests,
      peakRssMb: memoryMb(app.child.pid).peak,
      spansPerRequest: spans / requests,
    };
  } finally {
    await stop(app.child);
  }
}

async function main() {
  pin(process.pid, 1);
  const services = await startServices();
  const agents = opts.agents.split(',');
  const scenarios = opts.scenarios.split(',');
  const runs = [];
  try {
    for (let round = 0; round < Number(opts.rounds); round++) {
      for (const scenario of scenarios) {
        const order = agents.slice(round % agents.length).concat(agents.slice(0, round % agents.length));
        for (const agent of order) {
          const r = await measure(agent, scenario, services);
          r.round = round + 1;
          runs.push(r);
          process.stderr.write(
            `round ${round + 1} ${scenario.padEnd(5)} ${agent.padEnd(18)} ${r.reqPerSec.toFixed(0).padStart(6)} req/s  ` +
              `cpu ${r.cpuUsPerRequest.toFixed(1).padStart(6)} µs/req  rss ${r.peakRssMb.toFixed(1)} MB  spans/req ${r.spansPerRequest.toFixed(2)}  errors ${r.errors}\n`,
          );
        }
      }
    }
  } finally {
    await stopServices(services);
  }
  const summary = [];
  for (const scenario of scenarios) {
    const base = runs.filter((r) => r.scenario === scenario && r.agent === 'none');
    const baseRss = median(base.map((r) => r.peakRssMb));
    const baseStart = median(base.map((r) => r.startMs));
    for (const agent of agents) {
      const mine = runs.filter((r) => r.scenario === scenario && r.agent === agent);
      // Within each round: this agent's run against no agent's run of the same round.
      const ratios = [];
      const cpuAdded = [];
      for (const r of mine) {
        const b = base.find((x) => x.round === r.round);
        if (b === undefined) continue;
        ratios.push(r.reqPerSec / b.reqPerSec);
        cpuAdded.push(r.cpuUsPerRequest - b.cpuUsPerRequest);
      }
      const row = {
        scenario,
        agent,
        reqPerSec: median(mine.map((r) => r.reqPerSec)),
        p50: median(mine.map((r) => r.p50)),
        p99: median(mine.map((r) => r.p99)),
        cpuUsPerRequest: median(mine.map((r) => r.cpuUsPerRequest)),
        peakRssMb: median(mine.map((r) => r.peakRssMb)),
        spansPerRequest: median(mine.map((r) => r.spansPerRequest)),
        startMs: median(mine.map((r) => r.startMs)),
        errors: mine.reduce((n, r) => n + r.errors, 0),
      };
      row.reqPerSecRatio = median(ratios);
      row.reqPerSecRatioMin = Math.min(...ratios);
      row.reqPerSecRatioMax = Math.max(...ratios);
      row.cpuUsAdded = median(cpuAdded);
      row.peakRssMbAdded = row.peakRssMb - baseRss;
      row.startMsAdded = row.startMs - baseStart;
      summary.push(row);
    }
  }
  const out = {
    benchmark: 'load',
    date: new Date().toISOString(),
    node: process.version,
    cores: CORES,
    pinned: PINNED,
    options: opts,
    summary,
    runs,
  };
  if (opts.json) fs.writeFileSync(opts.json, JSON.stringify(out, null, 2));
  console.log(formatTable(summary));
}

/** The median of the rounds' ratios, and their range when they differ: `0.86× (0.73–0.88)`. */
function formatRatio(r) {
  if (r.agent === 'none') return '1.00×';
  const range = r.reqPerSecRatioMin !== undefined && r.reqPerSecRatioMax - r.reqPerSecRatioMin >= 0.005 ? ` (${r.reqPerSecRatioMin.toFixed(2)}–${r.reqPerSecRatioMax.toFixed(2)})` : '';
  return `${r.reqPerSecRatio.toFixed(2)}×${range}`;
}

function formatTable(summary) {
  const lines = [
    '| scenario | agent | req/s | vs none (rounds) | p50 / p99 ms | CPU µs/req (added) | peak RSS MB (added) | app start ms (added) | spans/req |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of summary) {
    lines.push(
      `| ${r.scenario} | ${r.agent} | ${r.reqPerSec.toFixed(0)} | ${formatRatio(r)} | ${r.p50} / ${r.p99} | ` +
        `${r.cpuUsPerRequest.toFixed(1)} (${r.agent === 'none' ? '—' : (r.cpuUsAdded >= 0 ? '+' : '') + r.cpuUsAdded.toFixed(1)}) | ` +
        `${r.peakRssMb.toFixed(1)} (${r.agent === 'none' ? '—' : (r.peakRssMbAdded >= 0 ? '+' : '') + r.peakRssMbAdded.toFixed(1)}) | ` +
        `${r.startMs.toFixed(0)} (${r.agent === 'none' ? '—' : (r.startMsAdded >= 0 ? '+' : '') + r.startMsAdded.toFixed(0)}) | ${r.spansPerRequest.toFixed(2)} |`,
    );
  }
  return lines.join('\n');
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}

module.exports = { formatTable };
