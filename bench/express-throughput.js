#!/usr/bin/env node
/**
 * Requests per second and CPU per request of a hello-world express 5 application with three middlewares
 * (express-hello-app.js), without the agent and with it (middleware spans off — the default — and on), and
 * with the agent but express not instrumented, in alternating rounds.
 * The agent exports OTLP/HTTP protobuf to a sink in this process that reads and discards. The load comes from
 * this process: CONNECTIONS keep-alive connections with DEPTH pipelined requests in flight on each.
 *
 * Requests per second are measured at saturation; CPU per request is the application's CPU over the round and
 * until its exports are done, divided by the requests (read from /proc/<pid>/stat: Linux). Budget (the express brief): with the agent ≥ 0.85× the requests per second
 * without it, and ≤ 20 µs CPU added per request.
 *
 * Runs against the compiled output (`npm run build`). Env: ROUNDS (default 5), SECONDS per round (default 5),
 * CONNECTIONS (default 16), DEPTH (default 8). `--json` prints the result as JSON.
 */
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const APP = path.join(__dirname, 'express-hello-app.js');
const ROUNDS = Number(process.env.ROUNDS || 5);
const SECONDS = Number(process.env.SECONDS || 5);
const CONNECTIONS = Number(process.env.CONNECTIONS || 16);
const DEPTH = Number(process.env.DEPTH || 8);
const TICKS = 100; // USER_HZ on Linux

function startSink() {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/x-protobuf' });
      res.end();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function startApp(withAgent, env) {
  const args = withAgent ? ['--require', path.join(ROOT, 'register.js'), APP] : [APP];
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
      const m = /listening (\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.on('exit', (code) => reject(new Error(`app exited with ${code}`)));
  });
}

function cleanEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OTEL_') && k !== 'NODE_OPTIONS') env[k] = v;
  return env;
}

function cpuTicks(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

/**
 * CONNECTIONS keep-alive connections, each with up to DEPTH requests in flight (HTTP/1.1 pipelining), for
 * `seconds`: a client this light leaves the CPU to the application. Answers must carry Content-Length.
 */
function load(port, seconds) {
  const deadline = Date.now() + seconds * 1000;
  const request = 'GET /hello/world HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
  let count = 0;
  let errors = 0;
  const connection = () =>
    new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      let buffered = Buffer.alloc(0);
      let inflight = 0;
      const more = () => {
        if (Date.now() >= deadline) {
          if (inflight === 0) socket.end();
          return;
        }
        let out = '';
        while (inflight < DEPTH) {
          out += request;
          inflight++;
        }
        if (out !== '') socket.write(out);
      };
      socket.on('connect', more);
      socket.on('data', (chunk) => {
        buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
        for (;;) {
          const headEnd = buffered.indexOf('\r\n\r\n');
          if (headEnd === -1) break;
          const head = buffered.toString('latin1', 0, headEnd);
          const length = /\r\ncontent-length: *(\d+)/i.exec(head);
          const end = headEnd + 4 + (length === null ? 0 : Number(length[1]));
          if (buffered.length < end) break;
          if (head.startsWith('HTTP/1.1 200')) count++;
          else errors++;
          buffered = buffered.subarray(end);
          inflight--;
        }
        more();
      });
      socket.on('error', () => {
        errors++;
        resolve();
      });
      socket.on('close', resolve);
    });
  const connections = [];
  for (let i = 0; i < CONNECTIONS; i++) connections.push(connection());
  return Promise.all(connections).then(() => ({ count, errors }));
}

/** Waits until the process has used no CPU for a while (its exports are done), at most 15 s. */
async function quiescent(pid) {
  let last = cpuTicks(pid);
  for (let waited = 0, still = 0; waited < 15000 && still < 3; waited += 200) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    const now = cpuTicks(pid);
    still = now - last <= 1 ? still + 1 : 0;
    last = now;
  }
}

/**
 * Requests per second at saturation, and the CPU per request including the exports of those requests: after
 * the load stops, the application's CPU is read again once it has gone quiet, so spans still queued when the
 * load ended are paid for too. The batch queue is large enough that nothing is dropped (dropped spans would
 * make the variants with more spans look cheaper).
 */
async function measure(variant, sinkPort) {
  const env = {
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sinkPort}`,
    OTEL_SERVICE_NAME: 'bench',
    OTEL_BSP_MAX_QUEUE_SIZE: '1000000',
    ...variant.env,
  };
  const { child, port } = await startApp(variant.agent, env);
  await load(port, 1); // warm-up
  await quiescent(child.pid);
  const cpu0 = cpuTicks(child.pid);
  const t0 = process.hrtime.bigint();
  const { count, errors } = await load(port, SECONDS);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  await quiescent(child.pid);
  const cpu = (cpuTicks(child.pid) - cpu0) / TICKS;
  child.kill('SIGKILL');
  return { rps: count / seconds, cpuPerRequestUs: (cpu / count) * 1e6, errors };
}

const VARIANTS = [
  { name: 'no agent', agent: false, env: {} },
  { name: 'agent (middleware spans off)', agent: true, env: {} },
  { name: 'agent, middleware spans on', agent: true, env: { OTEL_INSTRUMENTATION_EXPRESS_MIDDLEWARE_SPANS: 'true' } },
  { name: 'agent, express not instrumented', agent: true, env: { OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'express' } },
];

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main() {
  const sink = await startSink();
  const results = Object.fromEntries(VARIANTS.map((v) => [v.name, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const v of VARIANTS) results[v.name].push(await measure(v, sink.address().port));
  }
  sink.close();
  const summary = {};
  for (const v of VARIANTS) {
    const runs = results[v.name];
    summary[v.name] = { rps: median(runs.map((x) => x.rps)), cpuPerRequestUs: median(runs.map((x) => x.cpuPerRequestUs)), errors: runs.reduce((a, x) => a + x.errors, 0) };
  }
  const base = summary['no agent'];
  for (const v of VARIANTS) {
    summary[v.name].ratio = summary[v.name].rps / base.rps;
    summary[v.name].cpuAddedUs = summary[v.name].cpuPerRequestUs - base.cpuPerRequestUs;
  }
  if (process.argv.includes('--json')) {
    process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
    return;
  }
  for (const v of VARIANTS) {
    const s = summary[v.name];
    console.log(
      `${v.name.padEnd(30)} ${s.rps.toFixed(0).padStart(7)} req/s  ×${s.ratio.toFixed(3)}  ` +
        `${s.cpuPerRequestUs.toFixed(1).padStart(6)} µs CPU/req (+${s.cpuAddedUs.toFixed(1)})  errors ${s.errors}`,
    );
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
