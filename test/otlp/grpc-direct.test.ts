/**
 * The direct OTLP/gRPC call over node:http2 (src/exporters/otlp/grpc-direct.ts), against a real @grpc/grpc-js
 * server: what the exporter sends when the process's end cannot wait for its gRPC thread, and what the exit
 * hand-off's worker sends. It must be the same request, metadata and classification as the grpc-js path.
 */
import * as grpc from '@grpc/grpc-js';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createOtlpExporter } from '../../src/exporters/otlp';
import { callExportDirect, type DirectCallOptions } from '../../src/exporters/otlp/grpc-direct';
import { encodeTraceRequest } from '../../src/exporters/otlp/trace-protobuf-encoder';
import type { SendOutcome } from '../../src/exporters/otlp/transport';
import { ExportResultCode } from '../../src/exporters/types';
import { expectedRequest } from './expected';
import { otlpConfig } from './helpers/exporting';
import { decodeRequest, encodeResponse, encodeRpcStatus } from './helpers/otlp-proto';
import { closedPort, GrpcReceiver } from './helpers/receivers';
import { simpleBatch } from './helpers/spans';

let receiver: GrpcReceiver;

beforeEach(async () => {
  receiver = new GrpcReceiver();
  await receiver.start();
});

afterEach(async () => {
  await receiver.close();
});

function options(overrides: Partial<DirectCallOptions> = {}): DirectCallOptions {
  return { endpoint: receiver.endpoint, headers: {}, userAgent: 'zerotel/test', gzip: false, tls: {}, ...overrides };
}

function call(opts: DirectCallOptions, message: Uint8Array, timeoutMillis = 2000): Promise<{ outcome: SendOutcome; status: number | undefined }> {
  return new Promise((resolve) => callExportDirect(opts, message, timeoutMillis, true, (outcome, status) => resolve({ outcome, status })));
}

describe('callExportDirect', () => {
  for (const gzip of [false, true]) {
    it(`delivers the request (gzip ${gzip}) with the metadata gRPC can carry and our user agent`, async () => {
      const spans = await simpleBatch(3, { note: 'ünïcødé' });
      const r = await call(options({ gzip, headers: { 'X-Api-Key': 'secret', 'x#odd': 'skipped', 'x-latin': 'caf\u00e9' } }), encodeTraceRequest(spans));
      expect(r.status).toBe(0);
      expect(r.outcome).toEqual({ ok: true, partialSuccess: undefined });
      expect(receiver.calls).toHaveLength(1);
      expect(decodeRequest(receiver.calls[0].body)).toEqual(expectedRequest(spans));
      expect(receiver.calls[0].metadata.get('x-api-key')).toEqual(['secret']);
      expect(receiver.calls[0].metadata.get('x#odd')).toEqual([]);
      expect(receiver.calls[0].metadata.get('x-latin')).toEqual([]); // not printable ASCII: gRPC cannot carry it
      expect(String(receiver.calls[0].metadata.get('user-agent')[0])).toMatch(/^zerotel\/test/);
    });
  }

  it('reads a partial success from the response message', async () => {
    receiver.behaviour = () => ({ ok: encodeResponse(2, 'two too old') });
    const r = await call(options(), encodeTraceRequest(await simpleBatch(3)));
    expect(r.outcome).toEqual({ ok: true, partialSuccess: { rejectedSpans: 2, errorMessage: 'two too old' } });
  });

  it('classifies a failure as the grpc-js path does, RetryInfo included', async () => {
    receiver.behaviour = () => ({ code: grpc.status.INVALID_ARGUMENT, details: 'bad 100% request' });
    let r = await call(options(), encodeTraceRequest(await simpleBatch(1)));
    expect(r.status).toBe(grpc.status.INVALID_ARGUMENT);
    expect(r.outcome).toMatchObject({ ok: false, retryable: false, kind: 'grpc-INVALID_ARGUMENT', message: 'gRPC INVALID_ARGUMENT: bad 100% request' });
    receiver.behaviour = () => ({ code: grpc.status.RESOURCE_EXHAUSTED, details: 'slow down', statusDetails: encodeRpcStatus(8, 'slow down', 1500) });
    r = await call(options(), encodeTraceRequest(await simpleBatch(1)));
    expect(r.outcome).toMatchObject({ ok: false, retryable: true, retryAfterMillis: 1500, kind: 'grpc-RESOURCE_EXHAUSTED' });
  });

  it('a refused connection is a retryable transport failure', async () => {
    const port = await closedPort();
    const r = await call(options({ endpoint: `http://127.0.0.1:${port}` }), new Uint8Array(0));
    expect(r.status).toBeUndefined();
    expect(r.outcome).toMatchObject({ ok: false, retryable: true, kind: 'transport' });
    expect((r.outcome as { message: string }).message).toMatch(/ECONNREFUSED/);
  });

  it('a call never answered ends at its timeout', async () => {
    receiver.behaviour = () => 'hang';
    const t0 = Date.now();
    const r = await call(options(), encodeTraceRequest(await simpleBatch(1)), 300);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(r.outcome).toMatchObject({ ok: false, retryable: true, kind: 'timeout' });
  });

  it('a server that does not speak HTTP/2: a failure with no status', async () => {
    const server = http.createServer((req, res) => {
      req.resume();
      res.writeHead(503).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const r = await call(options({ endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }), new Uint8Array(0), 1000);
    server.close();
    expect(r.outcome.ok).toBe(false);
    expect(r.status).toBeUndefined();
  });
});

describe('the exporter at the end of a process', () => {
  it('exportForExit before the gRPC thread is ready goes directly, with the same request and metadata', async () => {
    const exporter = createOtlpExporter(otlpConfig({ protocol: 'grpc', endpoint: receiver.endpoint, headers: { 'x-api-key': 'k' } }));
    const spans = await simpleBatch(2);
    // No export yet, no warm-up: the thread is not even started.
    const result = await exporter.exportForExit(spans, 2000);
    expect(result.code).toBe(ExportResultCode.SUCCESS);
    expect(receiver.calls).toHaveLength(1);
    expect(decodeRequest(receiver.calls[0].body)).toEqual(expectedRequest(spans));
    expect(receiver.calls[0].metadata.get('x-api-key')).toEqual(['k']);
    expect(String(receiver.calls[0].metadata.get('user-agent')[0])).toMatch(/^zerotel\/0\.1\.0 \(Node\.js v/);
    // and no thread was started for it
    expect((exporter.transport as unknown as { _worker: unknown })._worker).toBeUndefined();
    await exporter.shutdown();
  });
});
