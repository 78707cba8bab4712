/**
 * One OTLP/gRPC Export call made directly over node:http2, without @grpc/grpc-js, for the two places where the
 * export thread cannot serve:
 * - the end-of-process flush of a program that ends before the thread is ready (starting a thread and loading
 *   grpc-js take ~100 ms here, while a program must end within 100 ms of its time without the agent when the
 *   collector answers or refuses: bench/exit.js), see grpc-transport.ts;
 * - the synchronous hand-off at `exit`, whose short-lived worker has no time to load grpc-js either
 *   (src/exporters/sync-sender-worker.ts).
 *
 * The wire format is gRPC over HTTP/2 (grpc/grpc doc/PROTOCOL-HTTP2.md): a POST to the method's path with
 * `content-type: application/grpc` and `te: trailers`, the message as one Length-Prefixed-Message (a compressed
 * flag byte, a big-endian uint32 length, the bytes), the outcome in the `grpc-status` / `grpc-message` trailers
 * (or in the headers of a Trailers-Only response). One connection per call: these are one-off calls.
 */
import { decodeExportResponse } from './response-decoder';
import { grpcFailure, RESERVED_METADATA, TRACE_EXPORT_METHOD } from './grpc-protocol';
import { failure, type SendOutcome } from './transport';

export interface DirectCallOptions {
  /** The endpoint; only its origin is used (gRPC ignores any path). `https:` means TLS. */
  endpoint: string;
  /** The user's headers, sent as metadata where gRPC allows them. */
  headers: Record<string, string>;
  userAgent: string;
  gzip: boolean;
  tls: { ca?: Uint8Array; cert?: Uint8Array; key?: Uint8Array };
}

/** gRPC metadata keys: lower-case letters, digits, `-`, `_`, `.`; values of text keys: printable ASCII. */
const METADATA_KEY = /^[0-9a-z_.-]+$/;
const METADATA_TEXT = /^[\x20-\x7e]*$/;

/** The user's headers that gRPC can carry (grpc-worker.ts warns about the others, through grpc-js's own rules). */
function metadataHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key in headers) {
    const name = key.toLowerCase();
    const value = headers[key];
    if (RESERVED_METADATA.has(name) || !METADATA_KEY.test(name) || name.startsWith('grpc-')) continue;
    if (!name.endsWith('-bin') && !METADATA_TEXT.test(value)) continue;
    out[name] = value;
  }
  return out;
}

/**
 * A connection or stream that failed before a status arrived: grpc-js reports these as UNAVAILABLE, which the
 * specification retries. A cancelled stream carries the socket's error as its `cause`.
 */
function connectionFailure(err: Error): SendOutcome {
  const cause = (err as { cause?: unknown }).cause;
  const reason = cause instanceof Error ? cause : err;
  return failure('transport', `gRPC: ${reason.message}`, true);
}

/**
 * Makes the call; `done` gets the outcome once (and the gRPC status, undefined when none arrived), unless the
 * returned function abandons the call first. `hold`: whether the connection and the timeout keep the process alive.
 * Never throws.
 */
export function callExportDirect(
  options: DirectCallOptions,
  message: Uint8Array,
  timeoutMillis: number,
  hold: boolean,
  done: (outcome: SendOutcome, grpcStatus: number | undefined) => void,
): () => void {
  let settled = false;
  let session: import('node:http2').ClientHttp2Session | undefined;
  const finish = (outcome: SendOutcome, status: number | undefined): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    session?.close();
    done(outcome, status);
  };
  const timer = setTimeout(() => {
    finish(failure('timeout', `gRPC export timed out after ${timeoutMillis} ms`, true), undefined);
    session?.destroy();
  }, Math.max(1, timeoutMillis));
  if (!hold) timer.unref();
  try {
    const http2 = require('node:http2') as typeof import('node:http2');
    const url = new URL(options.endpoint);
    const tls = options.tls;
    session = http2.connect(url.origin, {
      ca: tls.ca !== undefined ? Buffer.from(tls.ca) : undefined,
      cert: tls.cert !== undefined ? Buffer.from(tls.cert) : undefined,
      key: tls.key !== undefined ? Buffer.from(tls.key) : undefined,
    });
    if (!hold) session.unref();
    session.on('error', (err) => finish(connectionFailure(err), undefined));
    let payload = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
    const headers: Record<string, string> = {
      ...metadataHeaders(options.headers),
      ':method': 'POST',
      ':path': TRACE_EXPORT_METHOD,
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': options.userAgent,
      'grpc-timeout': `${Math.max(1, Math.ceil(timeoutMillis))}m`,
    };
    if (options.gzip) {
      headers['grpc-encoding'] = 'gzip';
      payload = (require('node:zlib') as typeof import('node:zlib')).gzipSync(payload);
    }
    const frame = Buffer.allocUnsafe(5 + payload.length);
    frame[0] = options.gzip ? 1 : 0;
    frame.writeUInt32BE(payload.length, 1);
    payload.copy(frame, 5);
    const stream = session.request(headers);
    const chunks: Buffer[] = [];
    let status: number | undefined;
    let statusMessage: string | undefined;
    const statusDetails: Uint8Array[] = [];
    let httpStatus = 0;
    const readStatus = (h: import('node:http2').IncomingHttpHeaders): void => {
      const s = h['grpc-status'];
      if (s === undefined) return;
      status = Number(s);
      const m = h['grpc-message'];
      if (typeof m === 'string') {
        try {
          statusMessage = decodeURIComponent(m); // percent-encoded (PROTOCOL-HTTP2.md, "Status-Message")
        } catch {
          statusMessage = m;
        }
      }
      const bin = h['grpc-status-details-bin'];
      if (typeof bin === 'string') statusDetails.push(Buffer.from(bin, 'base64'));
    };
    stream.on('response', (h) => {
      httpStatus = Number(h[':status']);
      readStatus(h);
    });
    stream.on('trailers', readStatus);
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('error', (err) => finish(connectionFailure(err), undefined));
    stream.on('close', () => {
      if (status === undefined) {
        // No gRPC status: not a gRPC server, or the stream was reset (PROTOCOL-HTTP2.md maps HTTP statuses).
        const retryable = httpStatus === 0 || httpStatus === 429 || httpStatus === 502 || httpStatus === 503 || httpStatus === 504;
        finish(failure('transport', `gRPC: the call ended without a status${httpStatus ? ` (HTTP ${httpStatus})` : ''}`, retryable), undefined);
      } else if (status === 0) {
        const body = Buffer.concat(chunks);
        // An uncompressed Length-Prefixed-Message (we sent no grpc-accept-encoding, so the server does not compress).
        const response = body.length >= 5 && body[0] === 0 ? body.subarray(5, 5 + body.readUInt32BE(1)) : undefined;
        finish({ ok: true, partialSuccess: response !== undefined ? decodeExportResponse(response) : undefined }, 0);
      } else finish(grpcFailure(status, statusMessage, statusDetails), status);
    });
    stream.end(frame);
  } catch (err) {
    finish(failure('transport', `cannot make the gRPC call: ${(err as Error).message}`, false), undefined);
  }
  return () => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    session?.destroy();
  };
}
