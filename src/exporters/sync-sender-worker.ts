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

/** gRPC unary call over HTTP/2: a 5-byte frame header (no compression, big-endian length), status in trailers. */
function sendGrpc(): void {
  const http2 = require('node:http2') as typeof import('node:http2');
  const url = new URL(request.url);
  const session = http2.connect(url.origin, {
    ca: request.ca ? Buffer.from(request.ca) : undefined,
    cert: request.cert ? Buffer.from(request.cert) : undefined,
    key: request.key ? Buffer.from(request.key) : undefined,
  });
  session.on('error', () => report(-1));
  const frame = Buffer.alloc(5 + request.body.byteLength);
  frame.writeUInt32BE(request.body.byteLength, 1);
  frame.set(request.body, 5);
  const stream = session.request({
    ':method': 'POST',
    ':path': '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
    'content-type': 'application/grpc',
    te: 'trailers',
    ...request.headers,
  });
  stream.setTimeout(timeoutMillis, () => stream.close());
  let status: number | undefined;
  const readStatus = (headers: Record<string, unknown>) => {
    const s = headers['grpc-status'];
    if (s !== undefined) status = Number(s);
  };
  stream.on('response', readStatus);
  stream.on('trailers', readStatus);
  stream.on('error', () => report(-1));
  stream.on('close', () => {
    report(status ?? -1);
    session.close();
  });
  stream.resume();
  stream.end(frame);
}

try {
  if (request.grpc === true) sendGrpc();
  else sendHttp();
} catch {
  report(-1);
}
