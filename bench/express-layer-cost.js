#!/usr/bin/env node
/**
 * The CPU the express instrumentation adds per request, without sockets or export: an express 5 application
 * with three middlewares and one route runs in this process, driven through app.handle() with minimal req/res
 * objects, with the instrumentation (and a server span made the way the http instrumentation makes it) and
 * without it, in interleaved rounds. Spans go to a batch processor whose exporter does nothing, so this is the
 * instrumentation plus span creation, not export (see otlp-encode.js for that).
 *
 * Four variants in interleaved rounds: no spans at all; the server span only; the express instrumentation with
 * middleware spans off (the default); and on.
 * Runs against the compiled output (`npm run build`). Env: ROUNDS (default 7), REQUESTS per round (default
 * 50000).
 */
'use strict';

const path = require('node:path');
const ROOT = path.join(__dirname, '..');
const dist = (p) => require(path.join(ROOT, 'dist', p));

const { TracerProvider } = dist('src/trace/tracer.js');
const { BatchSpanProcessor } = dist('src/processors/batch-span-processor.js');
const runtime = dist('src/instrumentation/runtime.js');
const { readConfig } = dist('src/config/index.js');
const { createPropagator } = dist('src/propagators/index.js');
const { registerServerSpan } = dist('src/instrumentation/http-server-spans.js');
const { setSpan, ROOT_CONTEXT } = dist('src/context/context.js');
const { contextManager } = dist('src/context/global.js');
const { expressPatcher } = dist('instrumentations/express/patch.js');

const ROUNDS = Number(process.env.ROUNDS || 7);
const REQUESTS = Number(process.env.REQUESTS || 50000);

const express = require(path.join(ROOT, 'node_modules', 'express'));
expressPatcher.patch(express, { name: 'express', version: '5', basedir: undefined, format: 'commonjs' });

const exporter = { export: (spans, cb) => cb({ code: 0 }), shutdown: () => Promise.resolve(), forceFlush: () => Promise.resolve() };
const provider = new TracerProvider({
  processors: [new BatchSpanProcessor(exporter, { scheduleDelayMillis: 5000, maxQueueSize: 2048, maxExportBatchSize: 512, exportTimeoutMillis: 30000 })],
});
const propagator = createPropagator(['tracecontext', 'baggage']);
const runtimes = {
  off: { config: readConfig({}).config, provider, propagator },
  on: { config: readConfig({ OTEL_INSTRUMENTATION_EXPRESS_MIDDLEWARE_SPANS: 'true' }).config, provider, propagator },
};
const serverTracer = provider.getTracer('bench-server');

const app = express();
app.use(function first(req, res, next) {
  next();
});
app.use(function second(req, res, next) {
  res.locals.second = 1;
  next();
});
app.use(function third(req, res, next) {
  req.startedAt = 1;
  next();
});
app.get('/hello/:name', function hello(req, res, next) {
  res.answered = req.params.name;
  next();
});

// Minimal request/response objects: own end/setHeader so nothing reaches a socket.
function request() {
  return { method: 'GET', url: '/hello/world', headers: {}, socket: {} };
}
function response() {
  return { setHeader() {}, getHeader() {}, end() {}, statusCode: 200, headersSent: false };
}

function oneRequest(traced) {
  return new Promise((resolve) => {
    const req = request();
    const res = response();
    if (!traced) return app.handle(req, res, resolve);
    const span = serverTracer.start('GET', 1, ROOT_CONTEXT, { 'http.request.method': 'GET' });
    const context = setSpan(ROOT_CONTEXT, span);
    registerServerSpan(req, { span, context, method: 'GET', route: undefined, ended: false });
    contextManager.run(context, app.handle, app, [
      req,
      res,
      () => {
        span.end();
        resolve();
      },
    ]);
  });
}

async function round(variant) {
  const traced = variant !== undefined;
  // 'server': the server span alone (as the http instrumentation makes it), express not traced.
  runtime.setRuntime(traced && variant !== 'server' ? runtimes[variant] : undefined);
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < REQUESTS; i++) {
    // Express's last `next` goes through setImmediate; keep a few in flight.
    await Promise.all([oneRequest(traced), oneRequest(traced), oneRequest(traced), oneRequest(traced)]);
    i += 3;
  }
  const cpu = process.cpuUsage(cpu0);
  return ((cpu.user + cpu.system) * 1000) / REQUESTS; // ns per request
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

(async () => {
  const variants = [undefined, 'server', 'off', 'on'];
  const results = new Map(variants.map((v) => [v, []]));
  for (const v of variants) await round(v);
  for (let r = 0; r < ROUNDS; r++) for (const v of variants) results.get(v).push(await round(v));
  const plain = median(results.get(undefined));
  const show = (label, ns) => console.log(`${label.padEnd(44)} ${(ns / 1000).toFixed(2).padStart(6)} µs CPU per request` + (ns === plain ? '' : ` (+${((ns - plain) / 1000).toFixed(2)})`));
  show('express alone', plain);
  show('a server span, express not instrumented', median(results.get('server')));
  show('instrumented, middleware spans off (1 span)', median(results.get('off')));
  show('instrumented, middleware spans on (4 spans)', median(results.get('on')));
  await provider.shutdown();
})();
