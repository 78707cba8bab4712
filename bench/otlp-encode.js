#!/usr/bin/env node
/**
 * OTLP/protobuf encoding speed and size: zerotel's encoder against @opentelemetry/otlp-transformer's
 * ProtobufTraceSerializer, on the same batch of 512 realistic spans (an HTTP server span with its stable-semconv
 * attributes, a pg child and a redis child, repeated), each built with its own SDK.
 *
 * Two rows for zerotel:
 * - "pooled writer": what the exporter does per batch — encode into a reused buffer, send it, give it back;
 * - "owned Buffer": encodeTraceRequest(), which returns a fresh Buffer the caller keeps. Allocating a few hundred
 *   KiB of new memory per batch (page faults) costs about as much as encoding it, so this row depends on the
 *   machine's allocator more than on the encoder. ProtobufTraceSerializer also returns fresh memory per batch.
 *
 * Runs against the compiled output: `npm run build` at the root, `npm install` in bench/, then
 * `node bench/otlp-encode.js` (optionally a duration per round in ms: `node bench/otlp-encode.js 2000`).
 *
 * LOAD_REDIS=1 loads node-redis first, as an application that uses it does: on Node 20 that leaves String.prototype
 * in dictionary mode, which slows every `s.charCodeAt(i)` (see charCodeAt in src/exporters/otlp/protobuf-writer.ts).
 */
'use strict';

const path = require('node:path');

if (process.env.LOAD_REDIS) require(require.resolve('redis', { paths: [__dirname] }));

const ROOT = path.join(__dirname, '..');
const BATCH = 512;
const ROUND_MS = Number(process.argv[2]) > 0 ? Number(process.argv[2]) : 1000;
const ROUNDS = 5;

function requireOrExit(request, hint) {
  try {
    return require(request);
  } catch (err) {
    console.error(`cannot load ${request}: ${err.message}\n${hint}`);
    process.exit(1);
  }
}

const dist = (p) => path.join(ROOT, 'dist', 'src', p);
const BUILD_HINT = 'run `npm run build` at the repository root first';
const DEPS_HINT = 'run `npm install` in bench/ first';

const { TracerProvider } = requireOrExit(dist('trace/tracer.js'), BUILD_HINT);
const { SimpleSpanProcessor } = requireOrExit(dist('processors/simple-span-processor.js'), BUILD_HINT);
const { InMemorySpanExporter } = requireOrExit(dist('exporters/in-memory-exporter.js'), BUILD_HINT);
const { Resource } = requireOrExit(dist('resource/resource.js'), BUILD_HINT);
const { setSpan, ROOT_CONTEXT } = requireOrExit(dist('context/context.js'), BUILD_HINT);
const { encodeTraceRequest, encodeTraceRequestPooled } = requireOrExit(dist('exporters/otlp/trace-protobuf-encoder.js'), BUILD_HINT);

const api = requireOrExit('@opentelemetry/api', DEPS_HINT);
const otelBase = requireOrExit('@opentelemetry/sdk-trace-base', DEPS_HINT);
const { resourceFromAttributes } = requireOrExit('@opentelemetry/resources', DEPS_HINT);
const { ProtobufTraceSerializer } = requireOrExit('@opentelemetry/otlp-transformer', DEPS_HINT);

const RESOURCE = {
  'service.name': 'checkout-api',
  'service.version': '2.14.0',
  'service.instance.id': '627cc493-f310-47de-96bd-71410b7dec09',
  'deployment.environment.name': 'production',
  'telemetry.sdk.name': 'opentelemetry',
  'telemetry.sdk.language': 'nodejs',
  'telemetry.sdk.version': '1.30.0',
  'host.name': 'ip-10-0-12-34.ec2.internal',
  'host.arch': 'amd64',
  'os.type': 'linux',
  'process.pid': 4242,
  'process.runtime.name': 'nodejs',
  'process.runtime.version': '20.20.2',
  'process.executable.name': 'node',
};

function serverAttributes(i) {
  return {
    'http.request.method': 'GET',
    'url.scheme': 'https',
    'url.path': `/api/users/${1000 + i}`,
    'url.query': 'include=orders&limit=20',
    'http.route': '/api/users/:id',
    'http.response.status_code': 200,
    'server.address': 'api.example.com',
    'server.port': 443,
    'network.protocol.version': '1.1',
    'network.peer.address': '10.0.3.17',
    'network.peer.port': 52344 + (i % 1000),
    'client.address': '203.0.113.42',
    'user_agent.original': 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
    'http.request.body.size': 0,
    'http.response.body.size': 1834,
  };
}

function pgAttributes(i) {
  return {
    'db.system.name': 'postgresql',
    'db.namespace': 'checkout',
    'db.operation.name': 'SELECT',
    'db.collection.name': 'users',
    'db.query.summary': 'SELECT users',
    'db.query.text': 'SELECT u.id, u.name, u.email, u.created_at FROM users u WHERE u.id = $1 AND u.deleted_at IS NULL',
    'server.address': 'db-primary.internal',
    'server.port': 5432,
    'network.peer.address': '10.0.8.21',
    'db.response.returned_rows': 1 + (i % 3),
  };
}

function redisAttributes(i) {
  return {
    'db.system.name': 'redis',
    'db.operation.name': 'GET',
    'db.namespace': '0',
    'db.query.text': `GET session:${i} `.trim(),
    'server.address': 'cache.internal',
    'server.port': 6379,
    'network.peer.address': '10.0.9.4',
  };
}

/** Yields the 512 (name, kind, attributes, parentIndex) shapes of the batch: server, pg child, redis child, … */
function shapes() {
  const out = [];
  for (let i = 0; out.length < BATCH; i++) {
    const server = out.length;
    out.push({ name: 'GET /api/users/:id', kind: 1, attributes: serverAttributes(i), parent: -1 });
    if (out.length < BATCH) out.push({ name: 'SELECT users', kind: 2, attributes: pgAttributes(i), parent: server });
    if (out.length < BATCH) out.push({ name: 'GET', kind: 2, attributes: redisAttributes(i), parent: server });
  }
  return out;
}

async function zerotelSpans() {
  const memory = new InMemorySpanExporter();
  const provider = new TracerProvider({ resource: new Resource(RESOURCE), processors: [new SimpleSpanProcessor(memory)] });
  const tracer = provider.getTracer('@zerotel/instrumentation-http', '0.1.0');
  const made = [];
  for (const s of shapes()) {
    const ctx = s.parent < 0 ? ROOT_CONTEXT : setSpan(ROOT_CONTEXT, made[s.parent]);
    made.push(tracer.startSpan(s.name, { kind: s.kind, attributes: s.attributes }, ctx));
  }
  // Children end before their parent, as they would.
  for (let i = made.length - 1; i >= 0; i--) made[i].end();
  await provider.forceFlush();
  return memory.getFinishedSpans();
}

async function otelSpans() {
  const memory = new otelBase.InMemorySpanExporter();
  const provider = new otelBase.BasicTracerProvider({
    resource: resourceFromAttributes(RESOURCE),
    spanProcessors: [new otelBase.SimpleSpanProcessor(memory)],
  });
  const tracer = provider.getTracer('@opentelemetry/instrumentation-http', '0.1.0');
  const made = [];
  for (const s of shapes()) {
    const ctx = s.parent < 0 ? api.ROOT_CONTEXT : api.trace.setSpan(api.ROOT_CONTEXT, made[s.parent]);
    made.push(tracer.startSpan(s.name, { kind: s.kind, attributes: s.attributes }, ctx));
  }
  for (let i = made.length - 1; i >= 0; i--) made[i].end();
  await provider.forceFlush();
  return memory.getFinishedSpans();
}

/** Batches encoded per second over one round of about ROUND_MS. */
function round(encode, spans) {
  let batches = 0;
  let sink = 0;
  const start = process.hrtime.bigint();
  const limit = BigInt(ROUND_MS) * 1_000_000n;
  let elapsed = 0n;
  while (elapsed < limit) {
    for (let i = 0; i < 20; i++) sink += encode(spans).length;
    batches += 20;
    elapsed = process.hrtime.bigint() - start;
  }
  if (sink === 0) throw new Error('nothing encoded');
  return batches / (Number(elapsed) / 1e9);
}

function fmt(n) {
  return Math.round(n).toLocaleString('en-US');
}

async function main() {
  const ours = await zerotelSpans();
  const theirs = await otelSpans();
  if (ours.length !== BATCH || theirs.length !== BATCH) throw new Error(`expected ${BATCH} spans, got ${ours.length} / ${theirs.length}`);

  // The exporter's own path: encode into a pooled writer, send its bytes, give the writer back.
  const encodePooled = (spans) => {
    const body = encodeTraceRequestPooled(spans);
    const n = body.bytes.length;
    body.release();
    return { length: n };
  };
  // The public function: a Buffer the caller owns (one fresh allocation of the request's size per batch).
  const encodeOwned = (spans) => encodeTraceRequest(spans);
  const encodeTheirs = (spans) => ProtobufTraceSerializer.serializeRequest(spans);

  const oursBytes = encodeOwned(ours).length;
  const theirsBytes = encodeTheirs(theirs).length;
  if (encodePooled(ours).length !== oursBytes) throw new Error('pooled and owned encodings differ in size');

  // Warm up all three, then alternate rounds so that none gets a quieter machine.
  const candidates = [
    { name: 'zerotel, pooled writer (as exported)', encode: encodePooled, spans: ours, bytes: oursBytes, rates: [] },
    { name: 'zerotel, owned Buffer', encode: encodeOwned, spans: ours, bytes: oursBytes, rates: [] },
    { name: 'otlp-transformer ProtobufTraceSerializer', encode: encodeTheirs, spans: theirs, bytes: theirsBytes, rates: [] },
  ];
  for (const c of candidates) round(c.encode, c.spans);
  for (let r = 0; r < ROUNDS; r++) for (const c of candidates) c.rates.push(round(c.encode, c.spans));
  const median = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
  for (const c of candidates) c.spansPerSec = median(c.rates) * BATCH;
  const theirsC = candidates[2];

  console.log(`OTLP/protobuf encoding, batch of ${BATCH} spans (HTTP server + pg + redis), Node.js ${process.version}`);
  console.log(`median of ${ROUNDS} rounds of ${ROUND_MS} ms\n`);
  console.log(`${'encoder'.padEnd(42)}${'spans/s'.padStart(12)}${'bytes/batch'.padStart(14)}${'speed ×'.padStart(10)}${'size ×'.padStart(9)}`);
  for (const c of candidates) {
    console.log(
      `${c.name.padEnd(42)}${fmt(c.spansPerSec).padStart(12)}${fmt(c.bytes).padStart(14)}` +
        `${(c.spansPerSec / theirsC.spansPerSec).toFixed(2).padStart(10)}${(c.bytes / theirsC.bytes).toFixed(3).padStart(9)}`,
    );
  }
  console.log('\n(× columns: relative to otlp-transformer)');
  const json = process.env.BENCH_JSON;
  if (json) {
    const out = { batch: BATCH, node: process.version };
    for (const c of candidates) out[c.name] = { spansPerSec: c.spansPerSec, bytes: c.bytes };
    require('node:fs').writeFileSync(json, JSON.stringify(out, null, 2));
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
