#!/usr/bin/env node
'use strict';
/**
 * Micro-benchmarks of the hot paths, each beside the OpenTelemetry SDK's or instrumentation's equivalent, in the
 * same process with rounds interleaved:
 *   - context: entering a context with a span for a call (`with`), as every wrapper does;
 *   - propagation: extract then inject of traceparent + tracestate + baggage (tracecontext,baggage);
 *   - http server attributes: the attributes of an incoming request;
 *   - http client attributes: the attributes of an outgoing http.request (zerotel reads the ClientRequest Node
 *     built; OpenTelemetry's instrumentation first normalises the call's options, then builds them from those);
 *   - pg: span name and attributes of a query;
 *   - redis: db.query.text of a command;
 *   - express: span name and attributes of a route's request handler layer, from the route's pieces (zerotel
 *     computes these once per layer and keeps them, so a request does less than this measures).
 * Not here: fetch (undici) client attributes. @opentelemetry/instrumentation-undici builds them inline in
 * UndiciInstrumentation#onRequestCreated, with the span start and the propagation, in no function of their own.
 * Span start/end is span-cost.js, OTLP encoding otlp-encode.js.
 *
 * Runs against the compiled output (`npm run build`) and bench/'s dependencies. `--json` prints JSON.
 */
const path = require('node:path');
const ROOT = path.join(__dirname, '..');
const dist = (p) => require(path.join(ROOT, 'dist', p));

const ROUNDS = Number(process.env.ROUNDS || 7);
const OPS = 200_000;

// ---- zerotel
const { contextManager } = dist('src/context/global.js');
const { ROOT_CONTEXT, setSpan } = dist('src/context/context.js');
const { NonRecordingSpan } = dist('src/trace/span.js');
const { createPropagator } = dist('src/propagators/index.js');
const { serverRequestAttributes, clientRequestAttributes } = dist('instrumentations/http/attributes.js');
const pgAttributes = dist('instrumentations/pg/attributes.js');
const { commandQueryText } = dist('instrumentations/redis/command-text.js');
const expressAttributes = dist('instrumentations/express/attributes.js');

// ---- OpenTelemetry
const api = require('@opentelemetry/api');
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
const core = require('@opentelemetry/core');
const httpUtils = require('@opentelemetry/instrumentation-http/build/src/utils.js');
const pgUtils = require('@opentelemetry/instrumentation-pg/build/src/utils.js');
const { defaultDbStatementSerializer } = require('@opentelemetry/redis-common');
const expressUtils = require('@opentelemetry/instrumentation-express/build/src/utils.js');
const { _LAYERS_STORE_PROPERTY } = require('@opentelemetry/instrumentation-express/build/src/internal-types.js');

const SPAN_CONTEXT = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1, isRemote: true };
const HEADERS = {
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  tracestate: 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE',
  baggage: 'userId=alice,serverNode=DF%2028,isProduction=false',
};
const getter = {
  keys: (c) => Object.keys(c),
  get: (c, k) => c[k],
};
const setter = { set: (c, k, v) => (c[k] = v) };
const REQUEST = {
  method: 'GET',
  url: '/api/users/42?expand=orders&page=2',
  httpVersion: '1.1',
  headers: { host: 'api.example.com:8080', 'user-agent': 'Mozilla/5.0 (bench)', accept: '*/*', 'x-forwarded-for': '203.0.113.9' },
  // As Node's IncomingMessage has them, beside the headers it builds from them on first read (zerotel reads these).
  rawHeaders: ['Host', 'api.example.com:8080', 'User-Agent', 'Mozilla/5.0 (bench)', 'Accept', '*/*', 'X-Forwarded-For', '203.0.113.9'],
  socket: { remoteAddress: '10.0.0.7', remotePort: 51234, localPort: 8080, encrypted: false },
};
// http.request(CLIENT_OPTIONS): what OpenTelemetry reads, and the ClientRequest Node builds from it, which zerotel reads
// (method, protocol, host and path as Node sets them; Node adds the Host header, host:port).
const CLIENT_OPTIONS = {
  hostname: 'api.example.com',
  port: 8080,
  path: '/api/users/42?expand=orders&page=2',
  method: 'GET',
  headers: { 'user-agent': 'bench-client/1.0', accept: 'application/json' },
};
const CLIENT_OUT_HEADERS = { host: 'api.example.com:8080', 'user-agent': 'bench-client/1.0', accept: 'application/json' };
const CLIENT_REQUEST = {
  method: 'GET',
  protocol: 'http:',
  host: 'api.example.com',
  path: '/api/users/42?expand=orders&page=2',
  getHeader: (name) => CLIENT_OUT_HEADERS[name.toLowerCase()],
};
const CLIENT_CALL = { scheme: 'http', input: CLIENT_OPTIONS, options: undefined };
// app.use('/api', router); router.get('/users/:id', function getUser(req, res) {}); GET /api/users/42. zerotel has
// the router's prefix and the route's path; OpenTelemetry the paths its layers stored on the request so far and the
// route's layer (express 4 names it 'bound dispatch').
const EXPRESS_REQUEST = { originalUrl: '/api/users/42', [_LAYERS_STORE_PROPERTY]: ['/api', '/users/:id'] };
const EXPRESS_LAYER = { name: 'bound dispatch', path: '/api/users/42', handle() {} };
const SQL = 'SELECT id, name, email FROM users WHERE id = $1 AND deleted_at IS NULL';

const zCtx = setSpan(ROOT_CONTEXT, new NonRecordingSpan(SPAN_CONTEXT));
const oManager = new AsyncLocalStorageContextManager().enable();
const oCtx = api.trace.setSpan(api.ROOT_CONTEXT, api.trace.wrapSpanContext(SPAN_CONTEXT));
const zPropagator = createPropagator(['tracecontext', 'baggage']);
const oPropagator = new core.CompositePropagator({ propagators: [new core.W3CTraceContextPropagator(), new core.W3CBaggagePropagator()] });
const zConnection = { address: 'db.internal', port: 5432, namespace: 'shop' };
const noop = () => 1;

const CASES = {
  'context: with(span context, fn)': {
    zerotel: () => contextManager.with(zCtx, noop),
    opentelemetry: () => oManager.with(oCtx, noop),
  },
  'propagation: extract + inject (tracecontext,baggage)': {
    zerotel: () => {
      const ctx = zPropagator.extract(ROOT_CONTEXT, HEADERS, getter);
      const out = {};
      zPropagator.inject(ctx, out, setter);
      return out;
    },
    opentelemetry: () => {
      const ctx = oPropagator.extract(api.ROOT_CONTEXT, HEADERS, getter);
      const out = {};
      oPropagator.inject(ctx, out, setter);
      return out;
    },
  },
  'http: server request attributes': {
    zerotel: () => serverRequestAttributes(REQUEST, 'http'),
    opentelemetry: () => httpUtils.getIncomingRequestAttributes(REQUEST, { component: 'http' }, api.diag),
  },
  'http: client request attributes': {
    zerotel: () => clientRequestAttributes(CLIENT_REQUEST, CLIENT_CALL),
    opentelemetry: () => {
      // As its outgoingRequest wrapper does before starting the span (less the hooks and config reads).
      const { optionsParsed } = httpUtils.getRequestInfo(api.diag, CLIENT_OPTIONS, undefined);
      const { hostname, port } = httpUtils.extractHostnameAndPort(optionsParsed);
      return httpUtils.getOutgoingRequestAttributes(optionsParsed, { component: 'http', hostname, port }, false);
    },
  },
  'pg: query span name and attributes': {
    zerotel: () => pgAttributes.querySpanStart(zConnection, pgAttributes.describeQuery(SQL, [42]), true, Infinity),
    opentelemetry: () => {
      const attributes = pgUtils.getSemanticAttributesFromConnection({ host: 'db.internal', port: 5432, database: 'shop', user: 'app' });
      attributes['db.query.text'] = SQL;
      return [pgUtils.getQuerySpanName('shop', { text: SQL, values: [42] }), attributes];
    },
  },
  'redis: db.query.text of SET key value': {
    zerotel: () => commandQueryText('sanitized', 'SET', ['user:1', 'some value', 'EX', 60], 0),
    opentelemetry: () => defaultDbStatementSerializer('SET', ['user:1', 'some value', 'EX', 60]),
  },
  'express: request handler span name and attributes': {
    zerotel: () => {
      const route = expressAttributes.joinTemplate('/api', '/users/:id');
      return [
        expressAttributes.requestHandlerSpanName(route),
        expressAttributes.layerAttributes('getUser', expressAttributes.LayerType.REQUEST_HANDLER, route),
      ];
    },
    opentelemetry: () => {
      // As its patched layer handle does before starting the span (less the hooks and config reads).
      const attributes = { 'http.route': expressUtils.getActualMatchedRoute(EXPRESS_REQUEST) };
      const metadata = expressUtils.getLayerMetadata(expressUtils.getConstructedRoute(EXPRESS_REQUEST), EXPRESS_LAYER, '/users/:id');
      return [metadata.name, Object.assign(attributes, metadata.attributes)];
    },
  },
};

function time(fn) {
  let sink = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < OPS; i++) if (fn() !== undefined) sink++;
  const ns = Number(process.hrtime.bigint() - t0) / OPS;
  if (sink < 0) throw new Error('unreachable');
  return ns;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const results = [];
for (const [name, subjects] of Object.entries(CASES)) {
  const t = { zerotel: [], opentelemetry: [] };
  time(subjects.zerotel);
  time(subjects.opentelemetry);
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? ['zerotel', 'opentelemetry'] : ['opentelemetry', 'zerotel'];
    for (const who of order) t[who].push(time(subjects[who]));
  }
  const z = median(t.zerotel);
  const o = median(t.opentelemetry);
  results.push({ case: name, zerotelNs: Number(z.toFixed(1)), opentelemetryNs: Number(o.toFixed(1)), speedup: Number((o / z).toFixed(2)) });
}

if (process.argv.includes('--json')) process.stdout.write(JSON.stringify({ benchmark: 'micro', results }) + '\n');
else {
  console.log(`micro-benchmarks (median of ${ROUNDS} rounds of ${OPS} operations), ns per operation`);
  for (const r of results) {
    console.log(`  ${r.case.padEnd(54)} zerotel ${String(r.zerotelNs).padStart(7)}   opentelemetry ${String(r.opentelemetryNs).padStart(7)}   ${r.speedup}x`);
  }
}
