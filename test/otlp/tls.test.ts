/** TLS: the CERTIFICATE / CLIENT_KEY / CLIENT_CERTIFICATE files, for OTLP/HTTP (https) and OTLP/gRPC. */
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { createOtlpExporter } from '../../src/exporters/otlp';
import { ExportResultCode } from '../../src/exporters/types';
import { captureDiag, FAST_RETRY, otlpConfig, runExport } from './helpers/exporting';
import { decodeRequest } from './helpers/otlp-proto';
import { EXPORT_PATH } from './helpers/receivers';
import { simpleBatch } from './helpers/spans';
import { expectedRequest } from './expected';

// Certificates generated once and committed (test/fixtures/tls/README.md): the tests need no openssl.
const dir = path.join(__dirname, '..', 'fixtures', 'tls');
const file = (name: string) => path.join(dir, name);

describe('OTLP over TLS', () => {
  it('HTTPS with a private CA and a client certificate (mutual TLS)', async () => {
    const bodies: Buffer[] = [];
    const clients: string[] = [];
    const server = https.createServer(
      { key: fs.readFileSync(file('server.key')), cert: fs.readFileSync(file('server.pem')), ca: fs.readFileSync(file('ca.pem')), requestCert: true, rejectUnauthorized: true },
      (req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
          bodies.push(Buffer.concat(chunks));
          clients.push(String((req.socket as TLSSocket).getPeerCertificate().subject?.CN));
          res.end();
        });
      },
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as any).port;
    const exporter = createOtlpExporter(
      otlpConfig({
        endpoint: `https://127.0.0.1:${port}/v1/traces`,
        certificateFile: file('ca.pem'),
        clientKeyFile: file('client.key'),
        clientCertificateFile: file('client.pem'),
      }),
      FAST_RETRY,
    );
    try {
      const spans = await simpleBatch(2);
      const run = await runExport(exporter, spans);
      expect(run.result.code).toBe(ExportResultCode.SUCCESS);
      expect(decodeRequest(bodies[0])).toEqual(expectedRequest(spans));
      expect(clients).toEqual(['zerotel test client']);
      // encodeRequest carries the same TLS material, for a sender on another thread.
      const encoded = exporter.encodeRequest(spans);
      expect(encoded.ca?.equals(fs.readFileSync(file('ca.pem')))).toBe(true);
      expect(encoded.cert?.equals(fs.readFileSync(file('client.pem')))).toBe(true);
      expect(encoded.key?.equals(fs.readFileSync(file('client.key')))).toBe(true);
    } finally {
      await exporter.shutdown();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('gRPC with TLS and a client certificate', async () => {
    const server = new grpc.Server();
    const received: Buffer[] = [];
    const identity = (b: Buffer) => b;
    server.addService(
      { Export: { path: EXPORT_PATH, requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity } } as grpc.ServiceDefinition,
      {
        Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
          received.push(call.request);
          cb(null, Buffer.alloc(0));
        },
      },
    );
    const creds = grpc.ServerCredentials.createSsl(
      fs.readFileSync(file('ca.pem')),
      [{ private_key: fs.readFileSync(file('server.key')), cert_chain: fs.readFileSync(file('server.pem')) }],
      true,
    );
    const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', creds, (e, p) => (e ? rej(e) : res(p))));
    const exporter = createOtlpExporter(
      otlpConfig({
        protocol: 'grpc',
        endpoint: `https://localhost:${port}`, // a host name: TLS has no server name for an IP
        certificateFile: file('ca.pem'),
        clientKeyFile: file('client.key'),
        clientCertificateFile: file('client.pem'),
      }),
      FAST_RETRY,
    );
    try {
      const spans = await simpleBatch(2);
      const run = await runExport(exporter, spans);
      expect(run.result.code).toBe(ExportResultCode.SUCCESS);
      expect(decodeRequest(received[0])).toEqual(expectedRequest(spans));
    } finally {
      await exporter.shutdown();
      server.forceShutdown();
    }
  });

  it('an unreadable certificate file: one warning when the exporter is built; the export then fails verification', async () => {
    const capture = captureDiag();
    const server = https.createServer({ key: fs.readFileSync(file('server.key')), cert: fs.readFileSync(file('server.pem')) }, (_req, res) => res.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as any).port;
    try {
      const config = otlpConfig({ endpoint: `https://127.0.0.1:${port}/v1/traces`, certificateFile: file('missing.pem') });
      const exporter = createOtlpExporter(config, FAST_RETRY);
      createOtlpExporter(config, FAST_RETRY);
      expect(capture.warnings()).toHaveLength(1);
      expect(capture.warnings()[0]).toMatch(/cannot read the OTLP certificate file .*missing\.pem/);
      const run = await runExport(exporter, await simpleBatch(1));
      expect(run.result.code).toBe(ExportResultCode.FAILED);
      expect(capture.warnings()[1]).toMatch(/certificate/i);
      await exporter.shutdown();
    } finally {
      capture.restore();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
