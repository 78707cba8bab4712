/**
 * Spans encoded ahead of their export (EncodedSpanBatch, trace-protobuf-encoder.ts), and the batch processor's
 * use of them with the OTLP exporter: the request they make is the one encodeTraceRequest makes from the span
 * objects (checked by decoding both with the official proto definitions), batches keep within their byte
 * budget, and the processor sends what it encoded to a real receiver, with no span object kept.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  AddResult,
  encodeEncodedBatches,
  encodeTraceRequest,
  newEncodedSpanBatch,
  EncodedSpanBatch,
} from '../../src/exporters/otlp/trace-protobuf-encoder';
import { OtlpTraceExporter } from '../../src/exporters/otlp';
import { BatchSpanProcessor, SERVER_END_ENCODE_SPANS } from '../../src/processors/batch-span-processor';
import { Resource } from '../../src/resource/resource';
import { TracerProvider } from '../../src/trace/tracer';
import type { ReadableSpan } from '../../src/trace/span';
import { SpanKind } from '../../src/api/types';
import { decodeRequest } from './helpers/otlp-proto';
import { HttpReceiver } from './helpers/receivers';
import { makeProvider } from './helpers/spans';
import { otlpConfig } from './helpers/exporting';
import { expectedRequest } from './expected';

/** Spans of two resources and three scopes, interleaved as an application's would be. */
async function mixedSpans(n: number): Promise<ReadableSpan[]> {
  const a = makeProvider({ resource: new Resource({ 'service.name': 'a' }, 'https://example.com/schema-a') });
  const b = makeProvider({ resource: new Resource({ 'service.name': 'b' }) });
  const tracers = [a.provider.getTracer('http', '1.0'), a.provider.getTracer('pg'), b.provider.getTracer('http', '1.0')];
  for (let i = 0; i < n; i++) {
    const s = tracers[i % 3].startSpan(`span-${i}`, { attributes: { 'url.path': `/items/${i}`, 'http.request.method': 'GET', n: i } });
    s.end();
  }
  const spans = [...(await a.finished()), ...(await b.finished())];
  // Back in the order they ended.
  return spans.sort((x, y) => Number(x.name.slice(5)) - Number(y.name.slice(5)));
}

describe('EncodedSpanBatch', () => {
  it('makes the same request as encodeTraceRequest, from one batch or several', async () => {
    const spans = await mixedSpans(30);
    // encodeTraceRequest's grouping is checked against the definitions in protobuf-encoder.test.ts.
    const expected = decodeRequest(encodeTraceRequest(spans));
    expect(expected.resourceSpans).toHaveLength(2);

    const one = newEncodedSpanBatch(20 * 1024 * 1024);
    for (const s of spans) expect(one.add(s)).toBe(AddResult.Added);
    expect(one.count).toBe(30);
    expect(decodeRequest(encodeEncodedBatches([one]))).toEqual(expected);

    // Split over three batches: groups of the same resource and scope are merged, in first-seen order.
    const parts = [newEncodedSpanBatch(1 << 20), newEncodedSpanBatch(1 << 20), newEncodedSpanBatch(1 << 20)];
    spans.forEach((s, i) => parts[Math.floor(i / 10)].add(s));
    expect(decodeRequest(encodeEncodedBatches(parts))).toEqual(expected);
  });

  it('is empty again after release, and its buffers serve the next batch', async () => {
    const spans = await mixedSpans(6);
    const first = newEncodedSpanBatch(1 << 20);
    for (const s of spans) first.add(s);
    first.release();
    expect(first.count).toBe(0);
    expect(first.byteLength).toBe(0);
    expect(decodeRequest(encodeEncodedBatches([first]))).toEqual({ resourceSpans: [] });
    const second = newEncodedSpanBatch(1 << 20);
    for (const s of spans.slice(0, 2)) second.add(s);
    expect(decodeRequest(encodeEncodedBatches([second]))).toEqual(decodeRequest(encodeTraceRequest(spans.slice(0, 2))));
  });

  it('keeps within its byte budget: a span that would overflow it is refused (Full), one alone over it fails', async () => {
    const { provider, finished } = makeProvider();
    const tracer = provider.getTracer('big');
    for (let i = 0; i < 3; i++) tracer.startSpan(`s${i}`, { attributes: { payload: 'x'.repeat(600) } }).end();
    tracer.startSpan('huge', { attributes: { payload: 'y'.repeat(5000) } }).end();
    const [s0, s1, s2, huge] = await finished();
    const batch = new EncodedSpanBatch(1500);
    expect(batch.add(s0)).toBe(AddResult.Added);
    expect(batch.add(s1)).toBe(AddResult.Added);
    const before = batch.byteLength;
    expect(batch.add(s2)).toBe(AddResult.Full);
    expect(batch.count).toBe(2);
    expect(batch.byteLength).toBe(before);
    expect(batch.add(huge)).toBe(AddResult.Failed);
    // Nothing of the refused spans was left in the batch.
    expect(decodeRequest(encodeEncodedBatches([batch]))).toEqual(expectedRequest([s0, s1]));
    const fresh = new EncodedSpanBatch(1500);
    expect(fresh.add(huge)).toBe(AddResult.Failed);
    expect(fresh.count).toBe(0);
  });

  it('refuses a span that cannot be encoded and stays usable', async () => {
    const spans = await mixedSpans(2);
    const broken = Object.create(spans[0], { attributes: { get: () => { throw new Error('bad span'); } } });
    const batch = newEncodedSpanBatch(1 << 20);
    expect(batch.add(spans[0])).toBe(AddResult.Added);
    expect(batch.add(broken)).toBe(AddResult.Failed);
    expect(batch.add(spans[1])).toBe(AddResult.Added);
    expect(decodeRequest(encodeEncodedBatches([batch]))).toEqual(decodeRequest(encodeTraceRequest(spans)));
  });
});

describe('the batch processor with an exporter that takes encoded spans', () => {
  let receiver: HttpReceiver | undefined;
  afterEach(async () => {
    await receiver?.close();
    receiver = undefined;
  });

  /**
   * A processor with a batch a minute away (exports only when full or flushed), exporting over OTLP/HTTP to a
   * real receiver started for the test (returned, and kept for afterEach to close).
   */
  async function toReceiver(service: string, maxExportBatchSize: number, protocol?: 'http/json') {
    const started = new HttpReceiver();
    receiver = started;
    await started.start();
    const exporter = new OtlpTraceExporter(otlpConfig({ endpoint: started.url, ...(protocol ? { protocol } : {}) }));
    const bsp = new BatchSpanProcessor(exporter, { maxQueueSize: 2048, maxExportBatchSize, scheduleDelayMillis: 60_000, exportTimeoutMillis: 5000 });
    const provider = new TracerProvider({ resource: new Resource({ 'service.name': service }), processors: [bsp] });
    return { bsp, provider, receiver: started };
  }

  it('encodes the first spans at the end of their turn, then those waiting at the end of the turn in which 32 of them wait, and no sooner', async () => {
    const { bsp, provider, receiver } = await toReceiver('threshold', 512);
    const tracer = provider.getTracer('t');
    tracer.startSpan('first').end();
    expect((bsp as any)._mode).toBe(0); // undecided: deciding builds the exporter, not inside end()
    await new Promise((r) => setImmediate(r));
    expect((bsp as any)._mode).toBe(2);
    expect((bsp as any)._queue).toHaveLength(0);
    for (let i = 0; i < 31; i++) tracer.startSpan(`span-${i}`).end();
    await new Promise((r) => setImmediate(r));
    expect((bsp as any)._queue).toHaveLength(31);
    for (let i = 31; i < 40; i++) tracer.startSpan(`span-${i}`).end();
    expect((bsp as any)._queue).toHaveLength(40); // not inside end()
    await new Promise((r) => setImmediate(r));
    expect((bsp as any)._queue).toHaveLength(0);
    expect(bsp.queueLength).toBe(41);
    await provider.forceFlush();
    expect(receiver.requests).toHaveLength(1);
    expect(flattenNames(decodeRequest(receiver.requests[0].body))).toHaveLength(41);
    await provider.shutdown();
  });

  it(`encodes the spans waiting when a server span ends (its response is out) with ${SERVER_END_ENCODE_SPANS} or more waiting, inside that span's end()`, async () => {
    const { bsp, provider, receiver } = await toReceiver('server-end', 512);
    const tracer = provider.getTracer('t');
    // Before the exporter is known, a server span's end encodes nothing: the first turn's immediate decides.
    tracer.startSpan('GET early', { kind: SpanKind.SERVER }).end();
    expect((bsp as any)._queue).toHaveLength(1);
    await new Promise((r) => setImmediate(r));
    expect((bsp as any)._queue).toHaveLength(0);
    // Requests of two spans each: a client call, then the server span. Fewer than the threshold wait as spans.
    const expected: [string, number][] = [['GET early', 2]];
    const request = (i: number) => {
      const server = tracer.startSpan(`GET /users/${i}`, { kind: SpanKind.SERVER });
      tracer.startSpan(`SELECT users ${i}`, { kind: SpanKind.CLIENT }).end();
      server.end();
      expected.push([`SELECT users ${i}`, 3], [`GET /users/${i}`, 2]);
    };
    const below = Math.ceil(SERVER_END_ENCODE_SPANS / 2) - 1;
    for (let i = 0; i < below; i++) request(i);
    expect((bsp as any)._queue).toHaveLength(2 * below);
    // Other kinds never encode, however many wait.
    const internal = SERVER_END_ENCODE_SPANS;
    for (let i = 0; i < internal; i++) tracer.startSpan(`middleware ${i}`, { kind: SpanKind.INTERNAL }).end();
    expect((bsp as any)._queue).toHaveLength(2 * below + internal);
    for (let i = 0; i < internal; i++) expected.splice(1 + 2 * below + i, 0, [`middleware ${i}`, 1]);
    // The next server span's end finds enough waiting: everything, its own span included, is encoded at once.
    request(below);
    expect((bsp as any)._queue).toHaveLength(0);
    expect(bsp.queueLength).toBe(expected.length);
    tracer.startSpan('GET', { kind: SpanKind.CLIENT }).end();
    expected.push(['GET', 3]);
    expect((bsp as any)._queue).toHaveLength(1);
    await provider.forceFlush();
    expect(receiver.requests).toHaveLength(1);
    const spans = decodeRequest(receiver.requests[0].body).resourceSpans[0].scopeSpans[0].spans;
    expect(spans.map((s: any) => [s.name, s.kind])).toEqual(expected);
    await provider.shutdown();
  });

  it('encodes what an export takes, keeps no span object once encoded, and exports full batches', async () => {
    const { bsp, provider, receiver } = await toReceiver('ahead', 8);
    const tracers = [provider.getTracer('one'), provider.getTracer('two', '2.0')];
    const ended: ReadableSpan[] = [];
    for (let i = 0; i < 20; i++) {
      const s = tracers[i % 2].startSpan(`span-${i}`, { attributes: { i } });
      s.end();
      ended.push(s as unknown as ReadableSpan);
    }
    expect(bsp.queueLength).toBe(20);
    await new Promise((r) => setImmediate(r));
    // A full batch was due: its export encoded what was queued; the processor holds no span object.
    expect((bsp as any)._queue).toHaveLength(0);
    expect((bsp as any)._mode).toBe(2);
    await provider.forceFlush();
    expect(bsp.queueLength).toBe(0);
    expect(bsp.exportedSpans).toBe(20);
    // Two full batches of 8 went on their own, the last 4 with the flush: three requests, every span once.
    expect(receiver.requests).toHaveLength(3);
    const received = receiver.requests.flatMap((r) => decodeRequest(r.body).resourceSpans);
    const names = received.flatMap((rs: any) => rs.scopeSpans.flatMap((ss: any) => ss.spans.map((s: any) => s.name)));
    expect(names.sort()).toEqual(ended.map((s) => s.name).sort());
    expect(decodeRequest(receiver.requests[0].body)).toEqual(decodeRequest(encodeTraceRequest(ended.slice(0, 8))));
    await provider.shutdown();
  });

  it('gives http/json exporters the spans themselves', async () => {
    const { bsp, provider, receiver } = await toReceiver('json', 512, 'http/json');
    for (let i = 0; i < 40; i++) provider.getTracer('t').startSpan(`json-${i}`).end();
    await new Promise((r) => setImmediate(r));
    expect((bsp as any)._mode).toBe(1);
    expect((bsp as any)._queue).toHaveLength(40);
    await provider.forceFlush();
    expect(receiver.requests).toHaveLength(1);
    expect(JSON.parse(receiver.requests[0].body.toString('utf8')).resourceSpans[0].scopeSpans[0].spans[0].name).toBe('json-0');
    await provider.shutdown();
  });

  it('hands what is queued to the exit hand-off as encoded batches, the spans still waiting as objects encoded', async () => {
    const exporter = new OtlpTraceExporter(otlpConfig({ endpoint: 'http://127.0.0.1:1/v1/traces' }));
    const bsp = new BatchSpanProcessor(exporter, { maxQueueSize: 2048, maxExportBatchSize: 4, scheduleDelayMillis: 60_000, exportTimeoutMillis: 5000 });
    const provider = new TracerProvider({ resource: new Resource({ 'service.name': 'exit' }), processors: [bsp] });
    const tracer = provider.getTracer('t');
    for (let i = 0; i < 3; i++) tracer.startSpan(`early-${i}`).end();
    await new Promise((r) => setImmediate(r));
    for (let i = 0; i < 3; i++) tracer.startSpan(`late-${i}`).end();
    const { spans, batches } = bsp.drainQueue();
    expect(spans).toHaveLength(0);
    expect(batches.map((b) => b.count)).toEqual([4, 2]);
    expect(bsp.queueLength).toBe(0);
    const names = flattenNames(decodeRequest(encodeEncodedBatches(batches)));
    expect(names).toEqual(['early-0', 'early-1', 'early-2', 'late-0', 'late-1', 'late-2']);
  });
});

function flattenNames(decoded: any): string[] {
  return decoded.resourceSpans.flatMap((rs: any) => rs.scopeSpans.flatMap((ss: any) => ss.spans.map((s: any) => s.name)));
}
