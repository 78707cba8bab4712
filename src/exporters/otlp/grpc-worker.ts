/**
 * The thread side of grpc-transport.ts: owns the @grpc/grpc-js client and makes the unary Export calls the
 * application's thread asks for. Runs with no agent (started with no execArgv, and the preload does not start in
 * worker threads), so its own traffic is never traced.
 *
 * Messages in: `{ op: 'send', id, body, deadline }`, `{ op: 'cancel', id }`, `{ op: 'close' }`.
 * Messages out: `{ op: 'ready' }` once grpc-js is loaded, `{ op: 'done', id, outcome }` once per call that was
 * not cancelled, and `{ op: 'warn', key, message }` for the application thread's diagnostic logger.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type * as grpcTypes from '@grpc/grpc-js';
import { grpcFailure, RESERVED_METADATA, TRACE_EXPORT_METHOD } from './grpc-protocol';
import { decodeExportResponse } from './response-decoder';
import { isRetryableNetworkError } from './retry';
import { failure, type SendOutcome } from './transport';
import type { GrpcTransportOptions } from './grpc-transport';

type Request = { op: 'send'; id: number; body: Uint8Array; deadline: number } | { op: 'cancel'; id: number } | { op: 'close' };

const port = parentPort!;
const options = workerData as GrpcTransportOptions;
/** Calls in flight; an id is here from before its call starts (so even an answer given at once finds it). */
const calls = new Map<number, grpcTypes.ClientUnaryCall | undefined>();
let client: grpcTypes.Client | undefined;
let metadata: grpcTypes.Metadata | undefined;
let closing = false;

function identity(buffer: Buffer): Buffer {
  return buffer;
}

function setUp(): grpcTypes.Client {
  if (client !== undefined) return client;
  const grpc = require('@grpc/grpc-js') as typeof grpcTypes;
  const url = new URL(options.endpoint);
  const tls = options.tls;
  const credentials =
    url.protocol === 'https:'
      ? grpc.credentials.createSsl(toBuffer(tls.ca), toBuffer(tls.key), toBuffer(tls.cert))
      : grpc.credentials.createInsecure();
  const channelOptions: grpcTypes.ChannelOptions = {
    'grpc.primary_user_agent': options.userAgent,
    'grpc.enable_retries': 0,
    // After a failed connection grpc-js fails calls at once until its reconnect backoff ends: keep that backoff
    // close to the exporter's own, so a retry finds the collector when it is back.
    'grpc.initial_reconnect_backoff_ms': 500,
    'grpc.max_reconnect_backoff_ms': 5000,
  };
  if (options.gzip) channelOptions['grpc.default_compression_algorithm'] = grpc.compressionAlgorithms.gzip;
  metadata = buildMetadata(grpc, options.headers);
  // The target is host:port; gRPC ignores any path in the endpoint.
  client = new grpc.Client(url.host, credentials, channelOptions);
  return client;
}

/** Structured cloning turns Buffers into plain Uint8Arrays; grpc-js wants Buffers. */
function toBuffer(bytes: Uint8Array | undefined): Buffer | null {
  return bytes === undefined ? null : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function finish(id: number, outcome: SendOutcome): void {
  if (!calls.delete(id)) return; // cancelled: the application thread no longer waits for it
  port.postMessage({ op: 'done', id, outcome });
  if (closing && calls.size === 0) port.close();
}

function send(id: number, body: Uint8Array, deadline: number): void {
  calls.set(id, undefined);
  let grpcClient: grpcTypes.Client;
  try {
    grpcClient = setUp();
  } catch (err) {
    finish(id, failure('transport', `cannot set up the gRPC client: ${(err as Error).message}`, false));
    return;
  }
  try {
    // grpc-js may add to the metadata it is given: each call gets its own copy.
    const call = grpcClient.makeUnaryRequest<Buffer, Buffer>(
      TRACE_EXPORT_METHOD,
      identity,
      identity,
      toBuffer(body)!,
      metadata!.clone(),
      { deadline: Math.max(deadline, Date.now() + 1) },
      (err, response) => {
        if (err === null || err === undefined) {
          finish(id, { ok: true, partialSuccess: response !== undefined ? decodeExportResponse(response) : undefined });
        } else finish(id, classifyGrpcError(err));
      },
    );
    if (calls.has(id)) calls.set(id, call);
  } catch (err) {
    finish(id, failure('transport', `cannot start the gRPC call: ${(err as Error).message}`, isRetryableNetworkError(err)));
  }
}

// Ready before the first call: loading grpc-js is most of the first export's time (src/exporters/otlp/grpc-transport.ts
// starts this thread when the first span is queued). A failure here is reported by that call.
try {
  setUp();
  port.postMessage({ op: 'ready' });
} catch {
  // reported by send()
}

port.on('message', (request: Request) => {
  switch (request.op) {
    case 'send':
      send(request.id, request.body, request.deadline);
      break;
    case 'cancel': {
      const call = calls.get(request.id);
      calls.delete(request.id);
      call?.cancel();
      break;
    }
    case 'close':
      closing = true;
      client?.close();
      if (calls.size === 0) port.close();
      break;
  }
});

/**
 * The user's headers as gRPC metadata, checked once: gRPC allows fewer header names than HTTP (lower-case letters,
 * digits, `-`, `_`, `.`) and only printable ASCII in values; a header it refuses is skipped with a warning, so one
 * bad header does not stop every export.
 */
function buildMetadata(grpc: typeof grpcTypes, headers: Record<string, string>): grpcTypes.Metadata {
  const result = new grpc.Metadata();
  for (const key in headers) {
    const name = key.toLowerCase();
    if (RESERVED_METADATA.has(name)) continue;
    try {
      result.set(name, headers[key]);
    } catch (err) {
      port.postMessage({
        op: 'warn',
        key: `otlp-grpc-header:${name}`,
        message: `OTLP/gRPC: skipping header ${JSON.stringify(name)}: ${(err as Error).message}`,
      });
    }
  }
  return result;
}

function classifyGrpcError(err: grpcTypes.ServiceError): SendOutcome {
  const code = typeof err.code === 'number' ? err.code : 2;
  const details = (err.metadata?.get('grpc-status-details-bin') ?? []).filter((v): v is Buffer => typeof v !== 'string');
  return grpcFailure(code, err.details, details);
}
