'use strict';
/**
 * What the load and memory benchmarks share: starting the benchmark app under an agent (pinned to a core with
 * `taskset` where it exists), the environment each agent gets, and reading the app's CPU time and memory from
 * /proc.
 */
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startListening } = require('./start-listening');

const ROOT = path.join(__dirname, '..', '..');
const APPS = path.join(__dirname, '..', 'apps');

const HAS_TASKSET = (() => {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const CORES = os.availableParallelism?.() ?? os.cpus().length;
const PINNED = HAS_TASKSET && CORES >= 2;

function pin(pid, core) {
  if (!PINNED) return;
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

/** The process's CPU time so far (utime + stime), in milliseconds. */
function cpuMillis(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS;
}

/** `VmHWM` (the peak resident set so far) and `VmRSS` (now), in MB. */
function memoryMb(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
  const rss = /VmRSS:\s+(\d+) kB/.exec(status);
  return { peak: hwm ? Number(hwm[1]) / 1024 : NaN, now: rss ? Number(rss[1]) / 1024 : NaN };
}

async function sinkCount(port) {
  const res = await fetch(`http://127.0.0.1:${port}/count`);
  return (await res.json()).spans;
}

function agentArgs(agent) {
  if (agent.startsWith('zerotel')) return ['--require', path.join(ROOT, 'register.js')];
  if (agent.startsWith('opentelemetry')) return ['--require', require.resolve('@opentelemetry/auto-instrumentations-node/register')];
  // Not an agent: AsyncLocalStorage and a store per request only, the floor of any agent built on it.
  if (agent === 'als-only') return ['--require', path.join(__dirname, 'als-only-preload.js')];
  return [];
}

/** The benchmark app's own environment, whatever the agent: where PostgreSQL, Redis and the downstream service are. */
function appEnv(downstreamPort) {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PGHOST: process.env.PGHOST || '127.0.0.1',
    PGPORT: process.env.PGPORT || '5432',
    PGUSER: process.env.PGUSER || 'postgres',
    PGDATABASE: process.env.PGDATABASE || 'test',
    REDIS_URL: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
    DOWNSTREAM_URL: `http://127.0.0.1:${downstreamPort}`,
  };
}

/**
 * The app's environment: `-down` agents export to a closed port; `extraEnv` goes to the agents, never to `none`.
 * An agent named with settings after colons (`zerotel:OTEL_TRACES_EXPORTER=none`) runs with them as well, so
 * that variants of one agent can be interleaved in one run (what a part of the agent costs, measured under load).
 */
function agentEnv(agent, sinkPort, downstreamPort, extraEnv) {
  const [base, ...settings] = agent.split(':');
  const down = base.endsWith('-down');
  const endpoint = down ? 'http://127.0.0.1:9' : `http://127.0.0.1:${sinkPort}`;
  const env = appEnv(downstreamPort);
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
    ...extraEnv,
    ...Object.fromEntries(settings.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])),
  };
}

/** Starts the scenario's app under `agent` on core 0; resolves { child, port, startMs, url }. */
async function startApp(agent, scenario, services, extraEnv) {
  const script = scenario === 'http' ? 'http-app.js' : 'express-app.js';
  const app = await startNode([...agentArgs(agent), path.join(APPS, script)], agentEnv(agent, services.sink.port, services.downstream.port, extraEnv), 0);
  return { ...app, url: `http://127.0.0.1:${app.port}/${scenario === 'http' ? '' : scenario}` };
}

/** The OTLP sink and the downstream service of the `work` route, on core 1; resolves { sink, downstream }. */
async function startServices() {
  const sink = await startNode([path.join(__dirname, 'otlp-sink.js')], { PATH: process.env.PATH }, 1);
  const downstream = await startNode([path.join(__dirname, 'downstream.js')], { PATH: process.env.PATH }, 1);
  return { sink, downstream };
}

async function stopServices(services) {
  await stop(services.sink.child);
  await stop(services.downstream.child);
}

function median(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

module.exports = { appEnv, CORES, PINNED, pin, stop, cpuMillis, memoryMb, sinkCount, startApp, startServices, stopServices, median };
