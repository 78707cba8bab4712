import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { createOtlpExporter, type OtlpTraceExporter } from '../../src/exporters/otlp';
import { ExportResultCode } from '../../src/exporters/types';
import { GrpcReceiver, closedPort, EXPORT_PATH } from './helpers/receivers';
import { FAST_RETRY, PROMPT_MS, captureDiag, otlpConfig, runExport } from './helpers/exporting';
import { decodeRequest, encodeResponse, encodeRpcStatus } from './helpers/otlp-proto';
import { simpleBatch } from './helpers/spans';
import { expectedRequest } from './expected';

let receiver: GrpcReceiver;
let diagCapture: ReturnType<typeof captureDiag>;
const exporters: OtlpTraceExporter[] = [];

function exporterFor(overrides: Parameters<typeof otlpConfig>[0] = {}, options: Parameters<typeof createOtlpExporter>[1] = FAST_RETRY) {
  const exporter = createOtlpExporter(otlpConfig({ protocol: 'grpc', endpoint: receiver.endpoint, ...overrides }), options);
  exporters.push(exporter);
  return exporter;
}

beforeEach(async () => {
  diagCapture = captureDiag();
  receiver = new GrpcReceiver();
  await receiver.start();
});

afterEach(async () => {
  for (const e of exporters.splice(0)) await Promise.race([e.shutdown(), new Promise((r) => setTimeout(r, 3000))]);
  await receiver.close();
  diagCapture.restore();
});

describe('OTLP/gRPC export to a real @grpc/grpc-js server', () => {
  for (const compression of ['none', 'gzip'] as const) {
    it(`compression ${compression}: the request, metadata and User-Agent arrive`, async () => {
      const spans = await simpleBatch(4, { 'rpc.system': 'grpc', 'note': 'ünïcødé' });
      const exporter = exporterFor({ compression, headers: { 'x-api-key': 'secret', 'x-tenant': 'team a' } });
      const run = await runExport(exporter, spans);
      expect(run.result.code).toBe(ExportResultCode.SUCCESS);
      expect(run.callbacks).toBe(1);
      expect(receiver.calls).toHaveLength(1);
      const call = receiver.calls[0];
      expect(decodeRequest(call.body)).toEqual(expectedRequest(spans));
      expect(call.metadata.get('x-api-key')).toEqual(['secret']);
      expect(call.metadata.get('x-tenant')).toEqual(['team a']);
      // grpc-js puts its own product token after the primary user agent.
      expect(String(call.metadata.get('user-agent')[0])).toMatch(/^zerotel\/0\.1\.0 \(Node\.js v\d+\.\d+\.\d+\) grpc-node-js\//);
    });
  }

  it('a header gRPC cannot carry is skipped with one warning; the others still arrive', async () => {
    const exporter = exporterFor({ headers: { 'x#odd': 'v', 'x-good': 'yes' } });
    const run = await runExport(exporter, await simpleBatch(1));
    expect(run.result.code).toBe(ExportResultCode.SUCCESS);
    expect(receiver.calls[0].metadata.get('x-good')).toEqual(['yes']);
    expect(receiver.calls[0].metadata.get('x#odd')).toEqual([]);
    expect(diagCapture.warnings()).toHaveLength(1);
    expect(diagCapture.warnings()[0]).toMatch(/skipping header "x#odd"/);
  });

  it('reuses one channel for successive batches', async () => {
    const exporter = exporterFor();
    for (let i = 0; i < 3; i++) expect((await runExport(exporter, await simpleBatch(2))).result.code).toBe(ExportResultCode.SUCCESS);
    expect(receiver.calls).toHaveLength(3);
  });

  it('partial success in the response: logged with the count, not retried', async () => {
    receiver.behaviour = () => ({ ok: encodeResponse(1, 'one span too large') });
    const exporter = exporterFor();
    const run = await runExport(exporter, await simpleBatch(3));
    expect(run.result.code).toBe(ExportResultCode.SUCCESS);
    expect(receiver.calls).toHaveLength(1);
    expect(diagCapture.warnings()[0]).toMatch(/rejected 1 of 3 span\(s\): one span too large/);
  });
});

describe('OTLP/gRPC failures', () => {
  it('UNAVAILABLE then OK: retried once, delivered', async () => {
    receiver.behaviour = (n) => (n === 0 ? { code: grpc.status.UNAVAILABLE, details: 'restarting' } : { ok: Buffer.alloc(0) });
    const exporter = exporterFor();
    const spans = await simpleBatch(2);
    const run = await runExport(exporter, spans);
    expect(run.returnMs).toBeLessThan(PROMPT_MS);
    expect(run.result.code).toBe(ExportResultCode.SUCCESS);
    expect(run.totalMs).toBeLessThan(2000);
    expect(receiver.calls).toHaveLength(2);
    expect(decodeRequest(receiver.calls[1].body)).toEqual(expectedRequest(spans));
    expect(diagCapture.warnings()).toEqual([]);
    expect(exporter.droppedSpans).toBe(0);
    expect(exporter.exportedSpans).toBe(2);
  });

  for (const [name, code] of [
    ['CANCELLED', grpc.status.CANCELLED],
    ['ABORTED', grpc.status.ABORTED],
    ['OUT_OF_RANGE', grpc.status.OUT_OF_RANGE],
    ['DATA_LOSS', grpc.status.DATA_LOSS],
    ['DEADLINE_EXCEEDED', grpc.status.DEADLINE_EXCEEDED],
  ] as const) {
    it(`${name} is retryable`, async () => {
      receiver.behaviour = (n) => (n === 0 ? { code, details: name } : { ok: Buffer.alloc(0) });
      const run = await runExport(exporterFor(), await simpleBatch(1));
      expect(run.result.code).toBe(ExportResultCode.SUCCESS);
      expect(receiver.calls).toHaveLength(2);
    });
  }

  for (const [name, code] of [
    ['INVALID_ARGUMENT', grpc.status.INVALID_ARGUMENT],
    ['UNAUTHENTICATED', grpc.status.UNAUTHENTICATED],
    ['INTERNAL', grpc.status.INTERNAL],
  ] as const) {
    it(`${name} is not retried`, async () => {
      receiver.behaviour = () => ({ code, details: `no: ${name}` });
      const run = await runExport(exporterFor(), await simpleBatch(1));
      expect(run.result.code).toBe(ExportResultCode.FAILED);
      expect(receiver.calls).toHaveLength(1);
      expect(diagCapture.warnings()[0]).toMatch(new RegExp(`gRPC ${name}: no: ${name} \\(not retryable\\)`));
    });
  }

  it('RESOURCE_EXHAUSTED without RetryInfo: not retried', async () => {
    receiver.behaviour = () => ({ code: grpc.status.RESOURCE_EXHAUSTED, details: 'quota exceeded' });
    const exporter = exporterFor();
    const run = await runExport(exporter, await simpleBatch(2));
    expect(run.returnMs).toBeLessThan(PROMPT_MS);
    expect(run.result.code).toBe(ExportResultCode.FAILED);
    expect(run.totalMs).toBeLessThan(1000);
    expect(receiver.calls).toHaveLength(1);
    expect(exporter.droppedSpans).toBe(2);
    expect(diagCapture.warnings()[0]).toMatch(/RESOURCE_EXHAUSTED: quota exceeded \(not retryable\)/);
  });

  it('RESOURCE_EXHAUSTED with RetryInfo: retried after the delay the server gave', async () => {
    receiver.behaviour = (n) =>
      n === 0
        ? { code: grpc.status.RESOURCE_EXHAUSTED, details: 'slow down', statusDetails: encodeRpcStatus(grpc.status.RESOURCE_EXHAUSTED, 'slow down', 300) }
        : { ok: Buffer.alloc(0) };
    const exporter = exporterFor({ timeoutMillis: 3000 });
    const run = await runExport(exporter, await simpleBatch(2));
    expect(run.returnMs).toBeLessThan(PROMPT_MS);
    expect(run.result.code).toBe(ExportResultCode.SUCCESS);
    expect(receiver.calls).toHaveLength(2);
    expect(exporter.droppedSpans).toBe(0);
    const gap = receiver.calls[1].at - receiver.calls[0].at;
    expect(gap).toBeGreaterThanOrEqual(290);
    expect(gap).toBeLessThan(2000);
  });

  it('UNAVAILABLE with a RetryInfo delay past the deadline: dropped at once', async () => {
    receiver.behaviour = () => ({ code: grpc.status.UNAVAILABLE, details: 'later', statusDetails: encodeRpcStatus(14, 'later', 60_000) });
    const run = await runExport(exporterFor({ timeoutMillis: 2000 }), await simpleBatch(1));
    expect(run.result.code).toBe(ExportResultCode.FAILED);
    expect(run.totalMs).toBeLessThan(1500);
    expect(receiver.calls).toHaveLength(1);
  });

  it('receiver down: retried, dropped within the timeout; export() returns at once', async () => {
    const port = await closedPort();
    const exporter = exporterFor({ endpoint: `http://127.0.0.1:${port}`, timeoutMillis: 3000 });
    const run = await runExport(exporter, await simpleBatch(3));
    expect(run.returnMs).toBeLessThan(PROMPT_MS);
    expect(run.result.code).toBe(ExportResultCode.FAILED);
    expect(run.totalMs).toBeLessThan(3100);
    expect(exporter.droppedSpans).toBe(3);
    expect(diagCapture.warnings()[0]).toMatch(/UNAVAILABLE/);
  });

  it('receiver that never answers: fails at the deadline', async () => {
    receiver.behaviour = () => 'hang';
    const run = await runExport(exporterFor({ timeoutMillis: 400 }), await simpleBatch(1));
    expect(run.result.code).toBe(ExportResultCode.FAILED);
    expect(run.totalMs).toBeGreaterThanOrEqual(380);
    expect(run.totalMs).toBeLessThan(1500);
    expect(receiver.calls).toHaveLength(1);
  });
});

describe('encodeRequest with the grpc protocol', () => {
  it('gives the bare message and gRPC headers, which a plain HTTP/2 client frames and sends', async () => {
    const exporter = exporterFor({ compression: 'gzip', headers: { 'x-api-key': 'k' } });
    const spans = await simpleBatch(2);
    const encoded = exporter.encodeRequest(spans);
    expect(encoded.grpc).toBe(true);
    expect(encoded.url).toBe(receiver.endpoint + EXPORT_PATH);
    expect(encoded.headers['content-type']).toBe('application/grpc');
    expect(encoded.headers['user-agent']).toMatch(/^zerotel\/0\.1\.0 /);
    // Uncompressed whatever the configuration: the sender frames it with the compressed flag off.
    expect(decodeRequest(encoded.body)).toEqual(expectedRequest(spans));
    const frame = Buffer.alloc(5 + encoded.body.length);
    frame.writeUInt32BE(encoded.body.length, 1);
    encoded.body.copy(frame, 5);
    const url = new URL(encoded.url);
    const session = http2.connect(url.origin);
    const status = await new Promise<string | undefined>((resolve, reject) => {
      const stream = session.request({ ':method': 'POST', ':path': url.pathname, ...encoded.headers });
      let grpcStatus: string | undefined;
      stream.on('trailers', (trailers) => {
        grpcStatus = String(trailers['grpc-status']);
      });
      stream.on('response', (headers) => {
        if (headers['grpc-status'] !== undefined) grpcStatus = String(headers['grpc-status']);
      });
      stream.on('error', reject);
      stream.on('close', () => resolve(grpcStatus));
      stream.resume();
      stream.end(frame);
    });
    session.close();
    expect(status).toBe('0');
    expect(receiver.calls).toHaveLength(1);
    expect(decodeRequest(receiver.calls[0].body)).toEqual(expectedRequest(spans));
    expect(receiver.calls[0].metadata.get('x-api-key')).toEqual(['k']);
  });
});
