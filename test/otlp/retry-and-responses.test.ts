import { describe, expect, it } from 'vitest';
import http2 from 'node:http2';
import zlib from 'node:zlib';
import {
  backoffMillis,
  DEFAULT_RETRY_POLICY,
  GrpcStatus,
  isRetryableGrpcStatus,
  isRetryableHttpStatus,
  isRetryableNetworkError,
  parseRetryAfter,
} from '../../src/exporters/otlp/retry';
import { decodeExportResponse, decodeExportResponseJson, decodeRpcStatus, describeErrorBody } from '../../src/exporters/otlp/response-decoder';
import { createOtlpExporter } from '../../src/exporters/otlp';
import { ExportResultCode } from '../../src/exporters/types';
import { encodeResponse, encodeRpcStatus, decodeRequest } from './helpers/otlp-proto';
import { FAST_RETRY, otlpConfig, runExport } from './helpers/exporting';
import { simpleBatch } from './helpers/spans';
import { expectedRequest } from './expected';

describe('backoff', () => {
  it('starts at 1 s, grows ×1.5, is capped at 5 s, with ±20 % jitter', () => {
    const p = DEFAULT_RETRY_POLICY;
    expect(p.maxRetries).toBe(5);
    const bases = [1000, 1500, 2250, 3375, 5000, 5000];
    bases.forEach((base, retry) => {
      expect(backoffMillis(p, retry, () => 0)).toBe(Math.round(base * 0.8));
      expect(backoffMillis(p, retry, () => 0.5)).toBe(base);
      expect(backoffMillis(p, retry, () => 0.999999)).toBeLessThanOrEqual(Math.round(base * 1.2));
    });
    for (let i = 0; i < 1000; i++) {
      const d = backoffMillis(p, 2);
      expect(d).toBeGreaterThanOrEqual(1800);
      expect(d).toBeLessThanOrEqual(2700);
    }
  });
});

describe('Retry-After', () => {
  const now = Date.UTC(2025, 0, 1, 12, 0, 0);
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter(' 7 ', now)).toBe(7000);
    expect(parseRetryAfter('Wed, 01 Jan 2025 12:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 01 Jan 2025 11:00:00 GMT', now)).toBe(0); // in the past: at once
    expect(parseRetryAfter(['3'], now)).toBe(3000);
  });
  it('ignores what it cannot read', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-5', now)).toBeUndefined();
    expect(parseRetryAfter('1.5', now)).toBeUndefined();
  });
});

describe('retryable answers (OTLP specification)', () => {
  it('HTTP: 429, 502, 503, 504 only', () => {
    const retryable = [];
    for (let s = 100; s < 600; s++) if (isRetryableHttpStatus(s)) retryable.push(s);
    expect(retryable).toEqual([429, 502, 503, 504]);
  });
  it('gRPC: the table of the specification; RESOURCE_EXHAUSTED only with RetryInfo', () => {
    const retryable = Object.entries(GrpcStatus)
      .filter(([, code]) => isRetryableGrpcStatus(code, false))
      .map(([name]) => name);
    expect(retryable).toEqual(['CANCELLED', 'DEADLINE_EXCEEDED', 'ABORTED', 'OUT_OF_RANGE', 'UNAVAILABLE', 'DATA_LOSS']);
    expect(isRetryableGrpcStatus(GrpcStatus.RESOURCE_EXHAUSTED, true)).toBe(true);
    expect(isRetryableGrpcStatus(GrpcStatus.INVALID_ARGUMENT, true)).toBe(false);
  });
  it('network errors', () => {
    for (const code of ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'ENETUNREACH', 'EHOSTUNREACH']) {
      expect(isRetryableNetworkError(Object.assign(new Error('x'), { code }))).toBe(true);
    }
    expect(isRetryableNetworkError(new Error('socket hang up'))).toBe(true);
    expect(isRetryableNetworkError(Object.assign(new Error('x'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }))).toBe(false);
    expect(isRetryableNetworkError(undefined)).toBe(false);
  });
});

describe('response decoding', () => {
  it('reads a protobuf partial success written by the official definitions', () => {
    expect(decodeExportResponse(encodeResponse(12, 'bad spans'))).toEqual({ rejectedSpans: 12, errorMessage: 'bad spans' });
    expect(decodeExportResponse(encodeResponse(0, 'a suggestion'))).toEqual({ rejectedSpans: 0, errorMessage: 'a suggestion' });
    expect(decodeExportResponse(encodeResponse(0, ''))).toBeUndefined();
    expect(decodeExportResponse(Buffer.alloc(0))).toBeUndefined();
  });
  it('reads a JSON partial success (64-bit as string or number)', () => {
    expect(decodeExportResponseJson('{"partialSuccess":{"rejectedSpans":"5","errorMessage":"m"}}')).toEqual({ rejectedSpans: 5, errorMessage: 'm' });
    expect(decodeExportResponseJson('{"partialSuccess":{"rejectedSpans":2}}')).toEqual({ rejectedSpans: 2, errorMessage: '' });
    expect(decodeExportResponseJson('{"partialSuccess":{}}')).toBeUndefined();
    expect(decodeExportResponseJson('{}')).toBeUndefined();
    expect(decodeExportResponseJson('not json')).toBeUndefined();
  });
  it('never throws on garbage', () => {
    for (let i = 0; i < 2000; i++) {
      const junk = Buffer.from(Array.from({ length: (i % 40) + 1 }, () => Math.floor(Math.random() * 256)));
      expect(() => decodeExportResponse(junk)).not.toThrow();
      expect(() => decodeRpcStatus(junk)).not.toThrow();
    }
  });
  it('reads google.rpc.Status with and without RetryInfo', () => {
    expect(decodeRpcStatus(encodeRpcStatus(8, 'quota'))).toEqual({ code: 8, message: 'quota', retryDelayMillis: undefined });
    expect(decodeRpcStatus(encodeRpcStatus(14, 'later', 2500))).toEqual({ code: 14, message: 'later', retryDelayMillis: 2500 });
    expect(decodeRpcStatus(encodeRpcStatus(14, 'now', 0))?.retryDelayMillis).toBe(0);
  });
  it('describes failure bodies', () => {
    expect(describeErrorBody(encodeRpcStatus(3, 'invalid span'), 'application/x-protobuf')).toBe('invalid span');
    expect(describeErrorBody(Buffer.from('{"code":3,"message":"bad json"}'), 'application/json')).toBe('bad json');
    expect(describeErrorBody(Buffer.from('plain   text\nbody'), 'text/plain')).toBe('plain text body');
    expect(describeErrorBody(Buffer.from([0xff, 0x00, 0x01]), undefined)).toBe('');
  });
});

describe('gRPC gzip on the wire', () => {
  it('sends grpc-encoding: gzip and a compressed message', async () => {
    const seen: { headers: http2.IncomingHttpHeaders; body: Buffer }[] = [];
    const server = http2.createServer();
    server.on('stream', (stream, headers) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        seen.push({ headers, body: Buffer.concat(chunks) });
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(Buffer.from([0, 0, 0, 0, 0]));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as any).port;
    const exporter = createOtlpExporter(otlpConfig({ protocol: 'grpc', endpoint: `http://127.0.0.1:${port}`, compression: 'gzip' }), FAST_RETRY);
    try {
      const spans = await simpleBatch(3);
      const run = await runExport(exporter, spans);
      expect(run.result.code).toBe(ExportResultCode.SUCCESS);
      const { headers, body } = seen[0];
      expect(headers[':path']).toBe('/opentelemetry.proto.collector.trace.v1.TraceService/Export');
      expect(headers['grpc-encoding']).toBe('gzip');
      expect(String(headers['user-agent'])).toMatch(/^zerotel\/0\.1\.0 /);
      expect(body[0]).toBe(1); // compressed flag
      expect(body.readUInt32BE(1)).toBe(body.length - 5);
      expect(decodeRequest(zlib.gunzipSync(body.subarray(5)))).toEqual(expectedRequest(spans));
    } finally {
      await exporter.shutdown();
      await new Promise((r) => server.close(r));
    }
  });
});
