#!/usr/bin/env node
'use strict';
/**
 * How long a program takes to end once its work is over, with no agent, with zerotel and with the OpenTelemetry
 * auto-instrumentations, against a collector that is healthy, refuses connections, or accepts and never answers
 * (issue 11). The programs are test/fixtures/lifecycle/exit-program.js (test/safety/exit.test.ts asserts the same
 * behaviour with generous bounds; the figures are here):
 *
 *   ends                  one HTTP request through a local server, which is then closed; the script ends
 *   exit-call             the same, then process.exit(3)
 *   pg-idle               one query through a pg Pool with allowExitOnIdle (the real PostgreSQL)
 *   ends-while-exporting  the batch is on its way to the collector (OTEL_BSP_SCHEDULE_DELAY=50) when it ends
 *
 * The figure is the time from the program's "work over" mark (written by the program itself) to the process's
 * end as seen here, median over interleaved runs; "added" is that minus the same program without an agent. The
 * modes also compare zerotel's two end-of-process paths (src/agent/process-lifecycle.ts): `ends` and `pg-idle`
 * deliver their spans through the `beforeExit` flush on the exporter's kept-alive connection, `exit-call`
 * through the synchronous hand-off to a worker thread at `exit`. Each row also says whether the application's
 * `beforeExit`/`exit` listeners ran as without the agent (same output, same exit code) and how many spans the
 * collector received.
 *
 * Usage: node bench/exit.js [--runs 5] [--peer-runs 3] [--protocols http/protobuf,grpc] [--json]
 */
const { spawn } = require('node:child_process');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');
const { parseArgs } = require('node:util');
const { countProtobuf } = require('./lib/otlp-count');
const { startListening } = require('./lib/start-listening');

const ROOT = path.join(__dirname, '..');
const PROGRAM = path.join(ROOT, 'test', 'fixtures', 'lifecycle', 'exit-program.js');
// Parsed only when run: bench/run.js requires this file for its table with its own arguments (--quick).
const { values: opts } = parseArgs({
  args: require.main === module ? process.argv.slice(2) : [],
  options: {
    runs: { type: 'string', default: '5' },
    'peer-runs': { type: 'string', default: '3' },
    protocols: { type: 'string', default: 'http/protobuf,grpc' },
    json: { type: 'boolean', default: false },
  },
});
const RUNS = Number(opts.runs);
const PEER_RUNS = Number(opts['peer-runs']);

const AGENTS = {
  none: [],
  zerotel: ['--require', path.join(ROOT, 'register.js')],
  opentelemetry: ['--require', require.resolve('@opentelemetry/auto-instrumentations-node/register')],
};

/** [protocol, mode]; every one against each collector. */
const CASES = [
  ['http/protobuf', 'ends'],
  ['http/protobuf', 'exit-call'],
  ['http/protobuf', 'pg-idle'],
  ['http/protobuf', 'ends-while-exporting'],
  ['grpc', 'ends'],
  ['grpc', 'exit-call'],
  ['grpc', 'ends-while-exporting'],
].filter(([protocol]) => opts.protocols.split(',').includes(protocol));
const COLLECTORS = ['healthy', 'refused', 'hanging'];

// ---- collectors ----

/** The benchmarks' OTLP/HTTP sink (bench/lib/otlp-sink.js), one process for the whole run. */
let httpSink;

/** An added time with its sign: +8.6 ms, -0.1 ms (a median below the no-agent one is noise, shown as it is). */
function signedMs(ms) {
  const text = ms.toFixed(1);
  return (text.startsWith('-') ? text : '+' + text) + ' ms';
}

function ask(method, path) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: httpSink.port, method, path }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(JSON.parse(body)));
    });
    req.on('error', reject);
    req.end();
  });
}

async function startHttpSink() {
  await ask('POST', '/reset');
  return { url: `http://127.0.0.1:${httpSink.port}/v1/traces`, close: async () => undefined, count: async () => (await ask('GET', '/count')).spans };
}

function startGrpcSink(hang) {
  const grpc = require(require.resolve('@grpc/grpc-js', { paths: [ROOT] }));
  const server = new grpc.Server();
  const identity = (b) => b;
  const hanging = [];
  let received = 0;
  server.addService(
    {
      Export: {
        path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
        requestStream: false,
        responseStream: false,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
    },
    {
      Export: (call, callback) => {
        received += countProtobuf(call.request);
        if (hang) hanging.push(callback);
        else callback(null, Buffer.alloc(0));
      },
    },
  );
  return new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
      if (err) return reject(err);
      resolve({
        url: `http://127.0.0.1:${port}`,
        close: () => new Promise((r) => server.tryShutdown(() => r())).then(() => server.forceShutdown()),
        count: async () => received,
      });
    }),
  );
}

/** Accepts TCP connections and never answers (for HTTP: no response; for gRPC, see startGrpcSink(true)). */
function startHangingTcp() {
  const sockets = new Set();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  return listen(server).then((port) => ({
    url: `http://127.0.0.1:${port}/v1/traces`,
    count: async () => 0, // it never reads a request
    close: () => {
      for (const s of sockets) s.destroy();
      return close(server);
    },
  }));
}

async function refusedUrl(protocol) {
  const probe = net.createServer();
  const port = await listen(probe);
  await close(probe);
  return protocol === 'grpc' ? `http://127.0.0.1:${port}` : `http://127.0.0.1:${port}/v1/traces`;
}

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

function close(server) {
  return new Promise((resolve) => server.close(() => resolve()));
}

// ---- runs ----

function cleanEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OTEL_') && k !== 'NODE_OPTIONS') env[k] = v;
  return env;
}

/** One run; resolves to { exitMs, code, stdout }. */
function runOnce(agent, mode, protocol, endpoint) {
  const env = {
    ...cleanEnv(),
    MODE: mode,
    EXIT_MARK: '1',
    PGHOST: process.env.PGHOST || '127.0.0.1',
    PGPORT: process.env.PGPORT || '5432',
    PGUSER: process.env.PGUSER || 'postgres',
    PGDATABASE: process.env.PGDATABASE || 'test',
    OTEL_SERVICE_NAME: 'bench-exit',
    OTEL_METRICS_EXPORTER: 'none',
    OTEL_LOGS_EXPORTER: 'none',
    OTEL_NODE_RESOURCE_DETECTORS: 'env,host,os,process',
    OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: endpoint,
  };
  if (mode === 'ends-while-exporting') env.OTEL_BSP_SCHEDULE_DELAY = '50';
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...AGENTS[agent], PROGRAM], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const ended = performance.timeOrigin + performance.now();
      const mark = /work-over ([\d.]+)/.exec(stderr);
      if (mark === null) return reject(new Error(`${agent} ${mode}: no work-over mark (code ${code} ${signal})\n${stderr}`));
      resolve({ exitMs: ended - Number(mark[1]), code, stdout });
    });
  });
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function collectorFor(collector, protocol) {
  if (collector === 'refused') return { url: await refusedUrl(protocol), close: async () => undefined, count: async () => 0 };
  if (protocol === 'grpc') return startGrpcSink(collector === 'hanging');
  return collector === 'hanging' ? startHangingTcp() : startHttpSink();
}

async function main() {
  httpSink = await startListening(process.execPath, [path.join(__dirname, 'lib', 'otlp-sink.js')], { PATH: process.env.PATH });
  try {
    await measure();
  } finally {
    httpSink.child.kill();
  }
}

async function measure() {
  // Baselines: the program without an agent (the collector plays no part).
  const baseline = {};
  for (const mode of new Set(CASES.map(([, m]) => m))) {
    const runs = [];
    for (let i = 0; i < RUNS; i++) runs.push(await runOnce('none', mode, 'http/protobuf', 'http://127.0.0.1:9/v1/traces'));
    baseline[mode] = { exitMs: median(runs.map((r) => r.exitMs)), code: runs[0].code, stdout: runs[0].stdout };
    process.stderr.write(`none ${mode}: ${baseline[mode].exitMs.toFixed(1)} ms\n`);
  }
  const rows = [];
  for (const [protocol, mode] of CASES) {
    for (const collector of COLLECTORS) {
      const row = { protocol, mode, collector, noneMs: baseline[mode].exitMs };
      for (const agent of ['zerotel', 'opentelemetry']) {
        const n = agent === 'zerotel' ? RUNS : PEER_RUNS;
        const exits = [];
        const spans = [];
        let same = true;
        for (let i = 0; i < n; i++) {
          const sink = await collectorFor(collector, protocol);
          const r = await runOnce(agent, mode, protocol, sink.url);
          // a span that arrives a moment after the process ended (an answer in flight) still counts
          await new Promise((resolve) => setTimeout(resolve, 50));
          spans.push(await sink.count());
          await sink.close();
          exits.push(r.exitMs);
          if (r.code !== baseline[mode].code || r.stdout !== baseline[mode].stdout) same = false;
        }
        row[agent] = { exitMs: median(exits), addedMs: median(exits) - baseline[mode].exitMs, spans: median(spans), sameEnd: same };
      }
      rows.push(row);
      process.stderr.write(
        `${protocol} ${mode} ${collector}: zerotel ${signedMs(row.zerotel.addedMs)}, OpenTelemetry ${signedMs(row.opentelemetry.addedMs)}\n`,
      );
    }
  }
  const result = { runs: RUNS, peerRuns: PEER_RUNS, rows };
  if (opts.json) {
    process.stdout.write(JSON.stringify(result) + '\n');
    return;
  }
  process.stdout.write(table(result) + '\n');
}

function table(result) {
  const lines = [
    `Time to end after the work is over (medians; zerotel ${result.runs} runs, OpenTelemetry ${result.peerRuns}); "same" = same exit code and listener calls as without an agent.`,
    '',
    '| protocol | program | collector | none | zerotel added | spans | same | OpenTelemetry added | spans | same |',
    '|---|---|---|---:|---:|---:|:-:|---:|---:|:-:|',
  ];
  for (const r of result.rows) {
    const z = r.zerotel;
    const o = r.opentelemetry;
    lines.push(
      `| ${r.protocol} | ${r.mode} | ${r.collector} | ${r.noneMs.toFixed(1)} ms | ${signedMs(z.addedMs)} | ${z.spans} | ${z.sameEnd ? 'yes' : 'no'} | ${signedMs(o.addedMs)} | ${o.spans} | ${o.sameEnd ? 'yes' : 'no'} |`,
    );
  }
  return lines.join('\n');
}

module.exports = { table };

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`${err.stack}\n`);
    process.exit(1);
  });
}
