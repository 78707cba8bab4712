#!/usr/bin/env node
/**
 * The cost of one span on the hot path: start + 5 attributes + end + hand-off to the batch processor, for zerotel
 * and for @opentelemetry/sdk-trace-base, in the same process, rounds interleaved so machine drift hits both.
 * The exporters do nothing (the export path is measured by otlp-encode.js); spans are ended in chunks of 512 with
 * a turn of the event loop between chunks, so the batch processors hand batches off instead of dropping.
 *
 * Runs against the compiled output (`npm run build`) and bench/'s own dependencies (`npm install` in bench/).
 * Prints ns per span and the ratio; `--json` prints the result as JSON.
 */
'use strict';

const path = require('node:path');
const ROOT = path.join(__dirname, '..');
const dist = (p) => require(path.join(ROOT, 'dist', 'src', p));

const { TracerProvider } = dist('trace/tracer.js');
const { BatchSpanProcessor } = dist('processors/batch-span-processor.js');
const otel = require('@opentelemetry/sdk-trace-base');

const CHUNK = 512;
const CHUNKS = 200; // 102,400 spans per round
const ROUNDS = Number(process.env.ROUNDS || 7);
const BATCH = { scheduleDelayMillis: 5000, maxQueueSize: 2048, maxExportBatchSize: 512, exportTimeoutMillis: 30000 };

function zerotelTracer() {
  const exporter = { export: (spans, cb) => cb({ code: 0 }), shutdown: () => Promise.resolve() };
  const provider = new TracerProvider({ processors: [new BatchSpanProcessor(exporter, BATCH)] });
  return provider.getTracer('bench', '1.0.0');
}

function otelTracer() {
  const exporter = { export: (spans, cb) => cb({ code: 0 }), shutdown: () => Promise.resolve(), forceFlush: () => Promise.resolve() };
  const processor = new otel.BatchSpanProcessor(exporter, {
    scheduledDelayMillis: BATCH.scheduleDelayMillis,
    maxQueueSize: BATCH.maxQueueSize,
    maxExportBatchSize: BATCH.maxExportBatchSize,
    exportTimeoutMillis: BATCH.exportTimeoutMillis,
  });
  const provider = new otel.BasicTracerProvider({ spanProcessors: [processor] });
  return provider.getTracer('bench', '1.0.0');
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

async function round(tracer) {
  let elapsed = 0n;
  for (let c = 0; c < CHUNKS; c++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < CHUNK; i++) {
      const span = tracer.startSpan('GET /users/:id', { kind: 1 });
      span.setAttribute('http.request.method', 'GET');
      span.setAttribute('url.path', '/users/42');
      span.setAttribute('http.route', '/users/:id');
      span.setAttribute('http.response.status_code', 200);
      span.setAttribute('server.port', 8080);
      span.end();
    }
    elapsed += process.hrtime.bigint() - t0;
    await tick();
  }
  return Number(elapsed) / (CHUNK * CHUNKS);
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main() {
  const subjects = { zerotel: zerotelTracer(), 'opentelemetry sdk-trace-base': otelTracer() };
  const results = Object.fromEntries(Object.keys(subjects).map((k) => [k, []]));
  for (const [name, tracer] of Object.entries(subjects)) await round(tracer); // warm-up
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? Object.keys(subjects) : Object.keys(subjects).reverse();
    for (const name of order) results[name].push(await round(subjects[name]));
  }
  const z = median(results.zerotel);
  const o = median(results['opentelemetry sdk-trace-base']);
  const out = {
    benchmark: 'span start + 5 attributes + end + batch hand-off',
    nsPerSpan: { zerotel: Math.round(z), opentelemetry: Math.round(o) },
    speedup: Number((o / z).toFixed(2)),
  };
  if (process.argv.includes('--json')) {
    process.stdout.write(JSON.stringify(out) + '\n');
    return;
  }
  console.log(out.benchmark + ` (median of ${ROUNDS} rounds of ${CHUNK * CHUNKS} spans)`);
  console.log(`  zerotel                      ${out.nsPerSpan.zerotel} ns/span`);
  console.log(`  opentelemetry sdk-trace-base ${out.nsPerSpan.opentelemetry} ns/span`);
  console.log(`  zerotel is ${out.speedup}x faster`);
}

main();
