#!/usr/bin/env node
/**
 * What a misbehaving collector costs the application: the same HTTP service (test/fixtures/safety/outage-app.js,
 * three spans a request) under the agent, exporting OTLP/HTTP to a collector that is healthy, refuses
 * connections, accepts and never answers, answers 500, 503 or 429, or answers after 2 s. For each: requests per
 * second and latency (p50, p99) under a fixed keep-alive load, and the application's CPU per request; printed as
 * medians over interleaved rounds (the order rotates each round, so machine drift hits every collector alike)
 * and as ratios to the healthy collector. test/safety/outage.test.ts asserts the behaviour with generous bounds;
 * the figures are here.
 *
 * Runs against the compiled agent (`npm run build`). Env: ROUNDS (default 3), SECONDS per run (default 4),
 * CONNECTIONS (default 16), FAULTS (comma list, default all). `--json` prints the summary as JSON.
 */
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const APP = path.join(ROOT, 'test', 'fixtures', 'safety', 'outage-app.js');
const ROUNDS = Number(process.env.ROUNDS || 3);
const SECONDS = Number(process.env.SECONDS || 4);
const CONNECTIONS = Number(process.env.CONNECTIONS || 16);
const FAULTS = (process.env.FAULTS || 'healthy,refused,hanging,500,503,429,slow').split(',');
const TICKS = 100; // USER_HZ on Linux

/** A collector with the given behaviour; resolves to { url, close }. */
async function startCollector(fault) {
  if (fault === 'refused') {
    const probe = net.createServer();
    await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = probe.address().port;
    await new Promise((resolve) => probe.close(resolve));
    return { url: `http://127.0.0.1:${port}/v1/traces`, close: async () => undefined };
  }
  if (fault === 'hanging') {
    const sockets = new Set();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('data', () => undefined);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      url: `http://127.0.0.1:${server.address().port}/v1/traces`,
      close: () => {
        for (const s of sockets) s.destroy();
        return new Promise((resolve) => server.close(resolve));
      },
    };
  }
  const timers = new Set();
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const answer = () => {
        const status = fault === 'healthy' || fault === 'slow' ? 200 : Number(fault);
        res.writeHead(status, { 'content-type': 'application/x-protobuf' });
        res.end();
      };
      if (fault !== 'slow') return answer();
      const timer = setTimeout(() => {
        timers.delete(timer);
        answer();
      }, 2000);
      timers.add(timer);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/v1/traces`,
    close: () => {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

function cleanEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OTEL_') && k !== 'NODE_OPTIONS') env[k] = v;
  return env;
}

function startApp(collectorUrl) {
  const child = spawn(process.execPath, ['--require', path.join(ROOT, 'register.js'), APP], {
    cwd: ROOT,
    env: { ...cleanEnv(), OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: collectorUrl, OTEL_SERVICE_NAME: 'bench-outage' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
      const m = /listening (\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]), stderr: () => stderr });
    });
    child.on('exit', (code) => reject(new Error(`app exited (${code}) before listening: ${stderr}`)));
  });
}

function cpuTicks(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return NaN; // not Linux: no CPU figure
  }
}

/** CONNECTIONS keep-alive connections, one request in flight on each, for `seconds`; latencies in ms. */
async function load(port, seconds) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const deadline = Date.now() + seconds * 1000;
  const latencies = [];
  let errors = 0;
  let n = 0;
  const one = () =>
    new Promise((resolve) => {
      const started = process.hrtime.bigint();
      const req = http.get({ host: '127.0.0.1', port, path: `/work/${n++}`, agent }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
          else errors++;
          resolve();
        });
      });
      req.on('error', () => {
        errors++;
        resolve();
      });
    });
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (Date.now() < deadline) await one();
    }),
  );
  agent.destroy();
  return { latencies, errors };
}

function percentile(sorted, p) {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function median(values) {
  const s = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)];
}

async function measure(fault) {
  const collector = await startCollector(fault);
  const app = await startApp(collector.url);
  try {
    await load(app.port, 1); // warm-up
    const cpu0 = cpuTicks(app.child.pid);
    const t0 = process.hrtime.bigint();
    const { latencies, errors } = await load(app.port, SECONDS);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = (cpuTicks(app.child.pid) - cpu0) / TICKS;
    latencies.sort((a, b) => a - b);
    return {
      rps: latencies.length / seconds,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      cpuPerRequestUs: (cpu / latencies.length) * 1e6,
      errors,
      warnings: app.stderr().split('\n').filter(Boolean).length,
    };
  } finally {
    app.child.kill('SIGKILL');
    await collector.close();
  }
}

async function main() {
  const runs = Object.fromEntries(FAULTS.map((f) => [f, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = FAULTS.map((_, i) => FAULTS[(i + round) % FAULTS.length]);
    for (const fault of order) {
      runs[fault].push(await measure(fault));
      process.stderr.write('.');
    }
  }
  process.stderr.write('\n');
  const summary = {};
  for (const fault of FAULTS) {
    const r = runs[fault];
    summary[fault] = {
      rps: median(r.map((x) => x.rps)),
      p50: median(r.map((x) => x.p50)),
      p99: median(r.map((x) => x.p99)),
      cpuPerRequestUs: median(r.map((x) => x.cpuPerRequestUs)),
      errors: r.reduce((a, x) => a + x.errors, 0),
      warnings: Math.max(...r.map((x) => x.warnings)),
    };
  }
  const base = summary.healthy ?? summary[FAULTS[0]];
  for (const fault of FAULTS) {
    const s = summary[fault];
    s.rpsRatio = s.rps / base.rps;
    s.p50Ratio = s.p50 / base.p50;
    s.p99Ratio = s.p99 / base.p99;
    s.cpuRatio = s.cpuPerRequestUs / base.cpuPerRequestUs;
  }
  if (process.argv.includes('--json')) {
    process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
    return;
  }
  console.log(`${ROUNDS} rounds × ${SECONDS} s, ${CONNECTIONS} keep-alive connections; medians, ratios to the healthy collector`);
  console.log('collector   req/s    ×      p50 ms   ×      p99 ms   ×      CPU µs/req  ×      errors  stderr lines');
  for (const fault of FAULTS) {
    const s = summary[fault];
    console.log(
      `${fault.padEnd(10)} ${s.rps.toFixed(0).padStart(6)}  ${s.rpsRatio.toFixed(2).padStart(5)}  ${s.p50.toFixed(2).padStart(7)}  ` +
        `${s.p50Ratio.toFixed(2).padStart(5)}  ${s.p99.toFixed(2).padStart(7)}  ${s.p99Ratio.toFixed(2).padStart(5)}  ` +
        `${s.cpuPerRequestUs.toFixed(1).padStart(10)}  ${s.cpuRatio.toFixed(2).padStart(5)}  ${String(s.errors).padStart(6)}  ${s.warnings}`,
    );
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
