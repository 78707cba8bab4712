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
 *   the sink received per request. Reported as medians over rounds, and as ratios to no agent.
 * - Scenarios: `http` (a plain node:http hello world, bench/apps/http-app.js), `hello` (express 5, GET /hello)
 *   and `work` (express 5, GET /work: one outgoing HTTP call, one pg query, one Redis command); each agent also
 *   with its collector down (a closed port) for the `*-down` rows.
 *
 * Usage: node bench/load.js [--duration 10] [--warmup 3] [--rounds 3] [--connections 32] [--json out.json]
 *          [--scenarios http,hello,work] [--agents none,zerotel,...] [--env KEY=VALUE,...]
 *   --env adds environment variables to the agents' runs (not to `none`), for experiments such as
 *   OTEL_TRACES_SAMPLER=always_off or OTEL_NODE_DISABLED_INSTRUMENTATIONS=pg (README, Performance).
 */
const { execFileSync } = require('node:child_process');
const { parseEnvOption } = require('./lib/env-option');
const { startListening } = require('./lib/start-listening');
const fs = require('node:fs');
const path = require('node:path');
const { parseArgs } = require('node:util');

const ROOT = path.join(__dirname, '..');
const { values: opts } = parseArgs({
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

const HAS_TASKSET = (() => {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const CORES = require('node:os').availableParallelism?.() ?? require('node:os').cpus().length;

function pin(pid, core) {
  if (!HAS_TASKSET || CORES < 2) return;
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(core), String(pid)], { stdio: 'ignore' });
  } catch {
    // a process that already ended, or no permission: run unpinned
  }
}

/** Starts a node process (pinned to `core`) and resolves once it prints `listening <port>`. */
function startNode(args, env, core) {
  return startListening(process.execPath, args, env, (child) => pin(child.pid, core));
}

function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

const TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

function cpuMillis(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS; // utime + stime
}

function peakRssMb(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function sinkCount(port) {
  const res = await fetch(`http://127.0.0.1:${port}/count`);
  return (await res.json()).spans;
}

function agentArgs(agent) {
  if (agent.startsWith('zerotel')) return ['--require', path.join(ROOT, 'register.js')];
  if (agent.startsWith('opentelemetry')) return ['--require', require.resolve('@opentelemetry/auto-instrumentations-node/register')];
  return [];
}

function agentEnv(agent, sinkPort, downstreamPort) {
  const down = agent.endsWith('-down');
  const endpoint = down ? 'http://127.0.0.1:9' : `http://127.0.0.1:${sinkPort}`;
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PGHOST: process.env.PGHOST || '127.0.0.1',
    PGPORT: process.env.PGPORT || '5432',
    PGUSER: process.env.PGUSER || 'postgres',
    PGDATABASE: process.env.PGDATABASE || 'test',
    REDIS_URL: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
    DOWNSTREAM_URL: `http://127.0.0.1:${downstreamPort}`,
  };
  if (agent === 'none') return env;
  return {
    ...env,
    OTEL_SERVICE_NAME: 'bench-app',
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    // The OpenTelemetry agent's other signals and cloud detectors are off: traces only, like zerotel.
    OTEL_METRICS_EXPORTER: 'none',
    OTEL_LOGS_EXPORTER: 'none',
    OTEL_NODE_RESOURCE_DETECTORS: 'env,host,os,process',
    ...EXTRA_ENV,
  };
}

const EXTRA_ENV = parseEnvOption(opts.env);

async function measure(agent, scenario, services) {
  const script = scenario === 'http' ? 'http-app.js' : 'express-app.js';
  const app = await startNode([...agentArgs(agent), path.join(__dirname, 'apps', script)], agentEnv(agent, services.sink.port, services.downstream.port), 0);
  const url = `http://127.0.0.1:${app.port}/${scenario === 'http' ? '' : scenario}`;
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
      peakRssMb: peakRssMb(app.child.pid),
      spansPerRequest: spans / requests,
    };
  } finally {
    await stop(app.child);
  }
}

function median(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main() {
  pin(process.pid, 1);
  const sink = await startNode([path.join(__dirname, 'lib', 'otlp-sink.js')], { PATH: process.env.PATH }, 1);
  const downstream = await startNode([path.join(__dirname, 'lib', 'downstream.js')], { PATH: process.env.PATH }, 1);
  const services = { sink, downstream };
  const agents = opts.agents.split(',');
  const scenarios = opts.scenarios.split(',');
  const runs = [];
  try {
    for (let round = 0; round < Number(opts.rounds); round++) {
      for (const scenario of scenarios) {
        const order = agents.slice(round % agents.length).concat(agents.slice(0, round % agents.length));
        for (const agent of order) {
          const r = await measure(agent, scenario, services);
          runs.push(r);
          process.stderr.write(
            `round ${round + 1} ${scenario.padEnd(5)} ${agent.padEnd(18)} ${r.reqPerSec.toFixed(0).padStart(6)} req/s  ` +
              `cpu ${r.cpuUsPerRequest.toFixed(1).padStart(6)} µs/req  rss ${r.peakRssMb.toFixed(1)} MB  spans/req ${r.spansPerRequest.toFixed(2)}  errors ${r.errors}\n`,
          );
        }
      }
    }
  } finally {
    await stop(sink.child);
    await stop(downstream.child);
  }
  const summary = [];
  for (const scenario of scenarios) {
    const base = runs.filter((r) => r.scenario === scenario && r.agent === 'none');
    const baseReq = median(base.map((r) => r.reqPerSec));
    const baseCpu = median(base.map((r) => r.cpuUsPerRequest));
    const baseRss = median(base.map((r) => r.peakRssMb));
    const baseStart = median(base.map((r) => r.startMs));
    for (const agent of agents) {
      const mine = runs.filter((r) => r.scenario === scenario && r.agent === agent);
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
      row.reqPerSecRatio = row.reqPerSec / baseReq;
      row.cpuUsAdded = row.cpuUsPerRequest - baseCpu;
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
    pinned: HAS_TASKSET && CORES >= 2,
    options: opts,
    summary,
    runs,
  };
  if (opts.json) fs.writeFileSync(opts.json, JSON.stringify(out, null, 2));
  console.log(formatTable(summary));
}

function formatTable(summary) {
  const lines = [
    '| scenario | agent | req/s | vs none | p50 / p99 ms | CPU µs/req (added) | peak RSS MB (added) | app start ms (added) | spans/req |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of summary) {
    lines.push(
      `| ${r.scenario} | ${r.agent} | ${r.reqPerSec.toFixed(0)} | ${r.reqPerSecRatio.toFixed(2)}× | ${r.p50} / ${r.p99} | ` +
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
