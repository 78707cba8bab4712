/**
 * The worker side of sync-sender.ts: sends one request and reports its status through the shared flag.
 */
import { workerData } from 'node:worker_threads';
import type { SyncRequest } from './sync-sender';

const { shared, request, timeoutMillis } = workerData as { shared: SharedArrayBuffer; request: SyncRequest; timeoutMillis: number };
const state = new Int32Array(shared);
let reported = false;

function report(status: number): void {
  if (reported) return;
  reported = true;
  Atomics.store(state, 1, status);
  Atomics.store(state, 0, 1);
  Atomics.notify(state, 0);
}

function sendHttp(): void {
  const url = new URL(request.url);
  const mod = url.protocol === 'https:' ? (require('node:https') as typeof import('node:https')) : (require('node:http') as typeof import('node:http'));
  const body = Buffer.from(request.body.buffer, request.body.byteOffset, request.body.byteLength);
  const req = mod.request(
    url,
    {
      method: 'POST',
      headers: { ...request.headers, 'content-length': String(body.length) },
      timeout: timeoutMillis,
      ca: request.ca ? Buffer.from(request.ca) : undefined,
      cert: request.cert ? Buffer.from(request.cert) : undefined,
      key: request.key ? Buffer.from(request.key) : undefined,
    },
    (res) => {
      res.resume();
      res.on('end', () => report(res.statusCode ?? -1));
      res.on('error', () => report(-1));
    },
  );
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', () => report(-1));
  req.end(body);
}

/** gRPC unary call over HTTP/2 (grpc-direct.ts): the gRPC status is reported, or -1 when none arrived. */
function sendGrpc(): void {
  const { callExportDirect } = require('./otlp/grpc-direct') as typeof import('./otlp/grpc-direct');
  callExportDirect(
    { endpoint: request.url, headers: request.headers, userAgent: request.headers['user-agent'] ?? '', gzip: false, tls: request },
    request.body,
    timeoutMillis,
    true,
    (_outcome, status) => report(status ?? -1),
  );
}

try {
  if (request.grpc === true) sendGrpc();
  else sendHttp();
} catch {
  report(-1);
}
