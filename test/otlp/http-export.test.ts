import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import type * as httpTypes from 'node:http';
import { createOtlpExporter, type OtlpTraceExporter } from '../../src/exporters/otlp';
import { ExportResultCode } from '../../src/exporters/types';
import { contextManager } from '../../src/context/global';
import { isTracingSuppressed, ROOT_CONTEXT, setSpan } from '../../src/context/context';
import { NonRecordingSpan } from '../../src/trace/span';
import type { ReadableSpan } from '../../src/trace/span';
import { BatchSpanProcessor } from '../../src/processors/batch-span-processor';
import { TracerProvider } from '../../src/trace/tracer';
import { Resource } from '../../src/resource/resource';
import { HttpReceiver, closedPort } from './helpers/receivers';
import { FAST_RETRY, PROMPT_MS, captureDiag, otlpConfig, runExport } from './helpers/exporting';
import { decodeRequest, encodeResponse, encodeRpcStatus } from './helpers/otlp-proto';
import { simpleBatch } from './helpers/spans';
import { expectedRequest } from './expected';

const nodeRequire = createRequire(__filename);
const UA = /^zerotel\/0\.1\.0 \(Node\.js v\d+\.\d+\.\d+\)$/;

let receiver: HttpReceiver;
let diagCapture: ReturnType<typeof captureDiag>;
const exporters: OtlpTraceExporter[] = [];

function exporterFor(overrides: Parameters<typeof otlpConfig>[0] = {}, options: Parameters<typeof createOtlpExporter>[1] = FAST_RETRY) {
  const exporter = createOtlpExporter(otlpConfig({ endpoint: receiver.url, ...overrides }), options);
  exporters.push(exporter);
  return exporter;
}

beforeEach(async () => {
  diagCapture = captureDiag();
  receiver = new HttpReceiver();
  await receiver.start();
});

afterEach(async () => {
  for (const e of exporters.splice(0)) await Promise.race([e.shutdown(), new Promise((r) => setTimeout(r, 3000))]);
  await receiver.close();
  diagCapture.restore();
});

describe('OTLP/HTTP export to a real receiver', () => {
  for (const protocol of ['http/protobuf', 'http/json'] as const) {
    for (const compression of ['none', 'gzip'] as const) {
      it(`${protocol}, compression ${compression}: body, headers and User-Agent arrive`, async () => {
        const spans = await simpleBatch(3, { 'http.request.method': 'GET', 'http.response.status_code': 200, 'note': 'ünïcødé' });
        const exporter = exporterFor({ protocol, compression, headers: { 'x-api-key': 'secret', 'x-tenant': 'team a' } });
        const run = await runExport(exporter, spans);
        expect(run.result.code).toBe(ExportResultCode.SUCCESS);
        expect(run.callbacks).toBe(1);
        expect(receiver.requests).toHaveLength(1);
        const req = receiver.requests[0];
        expect(req.method).toBe('POST');
        expect(req.path).toBe('/v1/traces');
        expect(req.headers['content-type']).toBe(protocol === 'http/json' ? 'application/json' : 'application/x-protobuf');
        expect(req.headers['content-encoding']).toBe(compression === 'gzip' ? 'gzip' : undefined);
        expect(req.headers['user-agent']).toMatch(UA);
        expect(req.headers['x-api-key']).toBe('secret');
        expect(req.headers['x-tenant']).toBe('team a');
        expect(Number(req.headers['content-length'])).toBe(req.raw.length);
        if (compression === 'gzip') expect(req.raw.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
        if (protocol === 'http/json') {
          const json = JSON.parse(req.body.toString('utf8'));
          expect(json.resourceSpans[0].scopeSpans[0].spans).toHaveLength(3);
          expect(json.resourceSpans[0].scopeSpans[0].spans[0].traceId).toBe(spans[0].spanContext().traceId);
        } else {
          expect(decodeRequest(req.body)).toEqual(expectedRequest(spans));
        }
        expect(exporter.exportedSpans).toBe(3);
      });
    }
  }

  it('reuses one kept-alive connection for successive batches', async () => {
    const exporter = exporterFor();
    for (let i = 0; i < 4; i++) expect((await runExport(exporter, await simpleBatch(2))).result.code).toBe(ExportResultCode.SUCCESS);
    expect(receiver.requests).toHaveLength(4);
    expect(new Set(receiver.requests.map((r) => r.connection)).size).toBe(1);
  });

  it('works under the batch span processor, end to end', async () => {
    const exporter = exporterFor();
    const bsp = new BatchSpanProcessor(exporter, { scheduleDelayMillis: 20, maxQueueSize: 2048, maxExportBatchSize: 512, exportTimeoutMillis: 5000 });
    const provider = new TracerProvider({ resource: new Resource({ 'service.name': 'bsp' }), processors: [bsp] });
    const tracer = provider.getTracer('bsp-test');
    for (let i = 0; i < 600; i++) tracer.startSpan(`s${i}`).end();
    await provider.forceFlush();
    expect(bsp.exportedSpans).toBe(600);
    const total = receiver.requests.reduce((n, r) => n + decodeRequest(r.body).resourceSpans[0].scopeSpans[0].spans.length, 0);
    expect(total).toBe(600);
    await provider.shutdown();
  });

  it('does not reuse the writer buffer of a request before it is sent (pooled bodies)', async () => {
    receiver.behaviour = () => ({ status: 200, delay: 50 });
    const exporter = exporterFor();
    const batches = await Promise.all([simpleBatch(5, { a: 'first' }), simpleBatch(5, { a: 'second' }), simpleBatch(5, { a: 'third' })]);
    const runs = await Promise.all(batches.map((b) => runExport(exporter, b)));
    for (const run of runs) expect(run.result.code).toBe(ExportResultCode.SUCCESS);
    const received = receiver.requests.map((r) => decodeRequest(r.body));
    const sent = batches.map((b) => expectedRequest(b));
    for (const r of received) expect(sent).toContainEqual(r);
  });
});

describe('OTLP/HTTP failures', () => {
  it('receiver down (connection refused): retried, then dropped within the timeout; export() returns at once', async () => {
    const port = await closedPort();
    const exporter = exporterFor({ endpoint: `http://127.0.0.1:${port}/v1/traces`, timeoutMillis: 3000 });
    const spans = await simpleBatch(4);
    const run = await runExport(exporter, spans);
    expect(run.returnMs).toBeLessThan(PROMPT_MS);
    expect(run.result.code).toBe(ExportResultCode.FAILED);
    expect(run.callbacks).toBe(1);
    expect(run.totalMs).toBeLessThan(3000);
    expect(exporter.droppedSpans).toBe(4);
    const warnings = diagCapture.warnings();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/ECONNREFUSED/);
    expect(warnings[0]).toMatch(/gave up after 5 retries/);
    expect(warnings[0]).toMatch(/4 span\(s\) dropped/);
  });

  it('receiver that never answers: the export fails at its timeout, without retrying past it', async () => {
    receiver.behaviour = () => 'hang';
    const exporter = exporterFor({ timeoutMillis: 400 });
    const run = await runExport(exporter, await simpleBatch(2));
    expect(run.returnMs).toBeLessThan(PROMPT_MS);
    expect(run.result.code).toBe(ExportResultCode.FAILED);
    expect(run.totalMs).toBeGreaterThanOrEqual(380);
    expect(run.totalMs).toBeLessThan(1500);
    expect(receiver.requests).toHaveLength(1);
    expect(diagCapture.warnings().join('\n')).toMatch(/no answer within/);
  });

  it('503 then 200: retried once, delivered', async () => {
    receiver.behaviour = (n) => (n === 0 ? { status: 503, body: 'overloaded' } : { status: 200 });
    const exporter = exporterFor();
    const spans = await simpleBatch(3);
    const run = await runExport(exporter, spans);
    expect(run.returnMs).toBeLessThan(PROMPT_MS);
    expect(run.result.code).toBe(ExportResultCode.SUCCESS);
    expect(run.totalMs).toBeLessThan(2000);
    expect(receiver.requests).toHaveLength(2);
    expect(receiver.requests[1].body.equals(receiver.requests[0].body)).toBe(true);
    expect(decodeRequest(receiver.requests[1].body)).toEqual(expectedRequest(spans));
    expect(diagCapture.warnings()).toEqual([]);
    expect(exporter.droppedSpans).toBe(0);
  });

  it('502, 504 and 429 are retried too; the retries stop after five', async () => {
    receiver.behaviour = (n) => ({ status: [502, 504, 429][n % 3] });
    const exporter = exporterFor({ timeoutMillis: 5000 });
    const run = await runExport(exporter, await simpleBatch(1));
    expect(run.result.code).toBe(ExportResultCode.FAILED);
    expect(receiver.requests).toHaveLength(6);
  });

  it('429 with Retry-After in seconds: waits as asked, then delivers', async () => {
    receiver.behaviour = (n) => (n === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 });
    const exporter = exporterFor({ timeoutMillis: 4000 });
    const run = await runExport(exporter, await simpleBatch(1));
    expect(run.returnMs).toBeLessThan(PROMPT_MS);
    expect(run.result.code).toBe(ExportResultCode.SUCCESS);
    expect(run.totalMs).toBeLessThan(4000);
    expect(receiver.requests).toHaveLength(2);
    const gap = receiver.requests[1].at - receiver.requests[0].at;
    expect(gap).toBeGreaterThanOrEqual(950);
    expect(gap).toBeLessThan(3000);
  });

  it('503 with Retry-After as an HTTP date is honoured', async () => {
    receiver.behaviour = (n) => (n === 0 ? { status: 503, headers: { 'retry-after': new Date(Date.now() + 2000).toUTCString() } } : { status: 200 });
    const exporter = exporterFor({ timeoutMillis: 5000 });
    const run = await runExport(exporter, await simpleBatch(1));
    expect(run.result.code).toBe(ExportResultCode.SUCCESS);
    const gap = receiver.requests[1].at - receiver.requests[0].at;
    expect(gap).toBeGreaterThanOrEqual(900); // date resolution is one second
  });

  it('a Retry-After beyond the deadline is not waited for: dropped at once', async () => {
    receiver.behaviour = () => ({ status: 429, headers: { 'retry-after': '30' } });
    const exporter = exporterFor({ timeoutMillis: 2000 });
    const run = await runExport(exporter, await simpleBatch(2));
    expect(run.result.code).toBe(ExportResultCode.FAILED);
    expect(run.totalMs).toBeLessThan(1000);
    expect(receiver.requests).toHaveLength(1);
    expect(diagCapture.warnings()[0]).toMatch(/the server asked to wait 30000 ms, past the export timeout/);
  });

  for (const status of [400, 413, 401, 500]) {
    it(`${status}: not retried; dropped with the server's message`, async () => {
      receiver.behaviour = () => ({
        status,
        headers: { 'content-type': 'application/x-protobuf' },
        body: encodeRpcStatus(3, `server says ${status}`),
      });
      const exporter = exporterFor();
      const run = await runExport(exporter, await simpleBatch(2));
      expect(run.returnMs).toBeLessThan(PROMPT_MS);
      expect(run.result.code).toBe(ExportResultCode.FAILED);
      expect(run.totalMs).toBeLessThan(1000);
      expect(receiver.requests).toHaveLength(1);
      const warnings = diagCapture.warnings();
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(new RegExp(`HTTP ${status}.*server says ${status}.*not retryable`));
      expect(exporter.droppedSpans).toBe(2);
    });
  }

  it('partial success (protobuf): logged with the count, not retried, the export succeeds', async () => {
    receiver.behaviour = () => ({ status: 200, headers: { 'content-type': 'application/x-protobuf' }, body: encodeResponse(2, 'spans too old') });
    const exporter = exporterFor();
    const run = await runExport(exporter, await simpleBatch(5));
    expect(run.returnMs).toBeLessThan(PROMPT_MS);
    expect(run.result.code).toBe(ExportResultCode.SUCCESS);
    expect(receiver.requests).toHaveLength(1);
    const warnings = diagCapture.warnings();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/rejected 2 of 5 span\(s\): spans too old/);
    expect(exporter.droppedSpans).toBe(2);
    expect(exporter.exportedSpans).toBe(3);
  });

  it('partial success (JSON): logged with the count, not retried', async () => {
    receiver.behaviour = () => ({
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ partialSuccess: { rejectedSpans: '3', errorMessage: 'quota' } }),
    });
    const exporter = exporterFor({ protocol: 'http/json' });
    const run = await runExport(exporter, await simpleBatch(4));
    expect(run.result.code).toBe(ExportResultCode.SUCCESS);
    expect(receiver.requests).toHaveLength(1);
    expect(diagCapture.warnings()[0]).toMatch(/rejected 3 of 4 span\(s\): quota/);
  });

  it('warns at most once a minute per kind of failure, then gives the count', async () => {
    receiver.behaviour = () => ({ status: 400 });
    const exporter = exporterFor();
    for (let i = 0; i < 5; i++) await runExport(exporter, await simpleBatch(1));
    expect(diagCapture.warnings()).toHaveLength(1);
    const { diag } = await import('../../src/diag/logger');
    const realNow = diag.now;
    diag.now = () => realNow() + 61_000;
    try {
      await runExport(exporter, await simpleBatch(1));
    } finally {
      diag.now = realNow;
    }
    const warnings = diagCapture.warnings();
    expect(warnings).toHaveLength(2);
    expect(warnings[1]).toMatch(/4 more like this in the last minute/);
    expect(warnings[1]).toMatch(/6 in all/);
  });

  it('bounds the exports in flight: beyond the limit a batch is dropped at once', async () => {
    receiver.behaviour = () => 'hang';
    const exporter = exporterFor({ timeoutMillis: 1000 }, { ...FAST_RETRY, maxConcurrentExports: 2 });
    const first = runExport(exporter, await simpleBatch(1));
    const second = runExport(exporter, await simpleBatch(1));
    const third = await runExport(exporter, await simpleBatch(7));
    expect(third.result.code).toBe(ExportResultCode.FAILED);
    expect(third.totalMs).toBeLessThan(100);
    expect(exporter.inFlight).toBe(2);
    expect(diagCapture.warnings()[0]).toMatch(/2 OTLP exports already in flight: dropping a batch of 7 span/);
    await Promise.all([first, second]);
    expect(exporter.inFlight).toBe(0);
  });

  it('splits a request over the size limit, and drops a single span that is over it alone', async () => {
    const exporter = exporterFor({}, { ...FAST_RETRY, maxRequestBytes: 64 * 1024 });
    const spans = await simpleBatch(40, { blob: 'y'.repeat(6000) });
    const run = await runExport(exporter, spans);
    expect(run.result.code).toBe(ExportResultCode.SUCCESS);
    expect(receiver.requests.length).toBeGreaterThan(1);
    let total = 0;
    for (const r of receiver.requests) {
      expect(r.body.length).toBeLessThanOrEqual(64 * 1024);
      total += decodeRequest(r.body).resourceSpans[0].scopeSpans[0].spans.length;
    }
    expect(total).toBe(40);

    const huge = await simpleBatch(1, { blob: 'z'.repeat(100 * 1024) });
    const before = receiver.requests.length;
    const dropped = await runExport(exporter, huge);
    expect(dropped.result.code).toBe(ExportResultCode.FAILED);
    expect(receiver.requests.length).toBe(before);
    expect(diagCapture.warnings().join('\n')).toMatch(/over the 65536-byte OTLP request limit/);
  });

  it('a bad endpoint fails every export with one warning, never throwing', async () => {
    const exporter = exporterFor({ endpoint: 'not a url' });
    const runs = [await runExport(exporter, await simpleBatch(1)), await runExport(exporter, await simpleBatch(1))];
    for (const run of runs) {
      expect(run.result.code).toBe(ExportResultCode.FAILED);
      expect(run.callbacks).toBe(1);
    }
    expect(diagCapture.warnings()).toHaveLength(1);
  });

  it('abortRetries: an export waiting out a backoff ends now, one in flight makes no further retry', async () => {
    receiver.behaviour = (n) => (n === 0 ? { status: 503, headers: { 'retry-after': '1' } } : { status: 503, delay: 100 });
    const exporter = exporterFor({ timeoutMillis: 5000 });
    const waiting = runExport(exporter, await simpleBatch(1));
    while (receiver.requests.length < 1) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 30)); // the 503 is back; the retry waits its second
    const start = Date.now();
    exporter.abortRetries();
    const run = await waiting;
    expect(run.result.code).toBe(ExportResultCode.FAILED);
    expect(Date.now() - start).toBeLessThan(500);
    expect(receiver.requests).toHaveLength(1);
    expect(diagCapture.warnings()[0]).toMatch(/retry abandoned: the process is exiting/);

    const inFlight = runExport(exporter, await simpleBatch(1));
    while (receiver.requests.length < 2) await new Promise((r) => setTimeout(r, 5));
    exporter.abortRetries();
    expect((await inFlight).result.code).toBe(ExportResultCode.FAILED);
    expect(receiver.requests).toHaveLength(2);
  });

  it('after shutdown, export fails at once', async () => {
    const exporter = exporterFor();
    await exporter.shutdown();
    const run = await runExport(exporter, await simpleBatch(1));
    expect(run.result.code).toBe(ExportResultCode.FAILED);
    expect(receiver.requests).toHaveLength(0);
  });

  it('shutdown waits for the exports in flight', async () => {
    receiver.behaviour = () => ({ status: 200, delay: 150 });
    const exporter = exporterFor();
    const run = runExport(exporter, await simpleBatch(1));
    const start = Date.now();
    await exporter.shutdown();
    expect(Date.now() - start).toBeGreaterThanOrEqual(100);
    expect((await run).result.code).toBe(ExportResultCode.SUCCESS);
  });
});

describe('tracing suppression', () => {
  it("the exporter's requests, retries included, run with tracing suppressed", async () => {
    const http = nodeRequire('node:http') as typeof httpTypes;
    const original = http.request;
    const seen: boolean[] = [];
    (http as any).request = function (this: unknown, ...args: unknown[]) {
      seen.push(isTracingSuppressed(contextManager.active()));
      return (original as any).apply(this, args);
    };
    try {
      receiver.behaviour = (n) => (n < 2 ? { status: 503 } : { status: 200 });
      const exporter = exporterFor();
      const spans = await simpleBatch(1);
      // An application span is active, tracing is not suppressed where export() is called.
      const appSpan = new NonRecordingSpan({ traceId: '1'.repeat(32), spanId: '2'.repeat(16), traceFlags: 1 });
      const run = await contextManager.with(setSpan(ROOT_CONTEXT, appSpan), () => {
        expect(isTracingSuppressed(contextManager.active())).toBe(false);
        return runExport(exporter, spans);
      });
      expect(run.result.code).toBe(ExportResultCode.SUCCESS);
    } finally {
      (http as any).request = original;
    }
    expect(seen).toEqual([true, true, true]);
  });
});

describe('encodeRequest', () => {
  for (const [protocol, compression] of [
    ['http/protobuf', 'none'],
    ['http/protobuf', 'gzip'],
    ['http/json', 'gzip'],
  ] as const) {
    it(`${protocol}/${compression}: gives a body, headers and URL that another sender can POST as they are`, async () => {
      const exporter = exporterFor({ protocol, compression, headers: { authorization: 'Bearer t' } });
      const spans = await simpleBatch(3);
      const encoded = exporter.encodeRequest(spans);
      expect(encoded.url).toBe(receiver.url);
      expect(encoded.grpc).toBeUndefined();
      expect(encoded.headers['authorization']).toBe('Bearer t');
      expect(encoded.headers['user-agent']).toMatch(UA);
      const http = nodeRequire('node:http') as typeof httpTypes;
      await new Promise<void>((resolve, reject) => {
        const req = http.request(encoded.url, { method: 'POST', headers: encoded.headers }, (res) => {
          res.resume();
          res.on('end', resolve);
        });
        req.on('error', reject);
        req.end(encoded.body);
      });
      const got = receiver.requests[0];
      expect(got.headers['content-type']).toBe(protocol === 'http/json' ? 'application/json' : 'application/x-protobuf');
      if (protocol === 'http/protobuf') expect(decodeRequest(got.body)).toEqual(expectedRequest(spans));
      else expect(JSON.parse(got.body.toString()).resourceSpans[0].scopeSpans[0].spans).toHaveLength(3);
    });
  }
});

export type { ReadableSpan };
