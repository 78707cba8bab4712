/**
 * OTLP/gRPC (opentelemetry-proto docs/specification.md, "OTLP/gRPC"): the unary call
 * `/opentelemetry.proto.collector.trace.v1.TraceService/Export` through @grpc/grpc-js, with our own encoder's bytes
 * as the request message (an identity serializer) — no proto-loader, no generated code.
 *
 * - @grpc/grpc-js is heavy: it is required at the first export, never at startup.
 * - One client (one channel, one HTTP/2 connection) per exporter, reused by every batch. grpc-js unrefs the
 *   connection whenever no call is active, so an idle exporter never keeps the process alive; a call in flight
 *   does, until its deadline at most.
 * - `http://` endpoints are plain text, `https://` ones TLS (the configuration has already applied
 *   OTEL_EXPORTER_OTLP_INSECURE to scheme-less endpoints).
 * - grpc-js's own retries are turned off: the exporter's retry policy is the one that applies.
 */
import type * as grpcTypes from '@grpc/grpc-js';
import { diag } from '../../diag/logger';
import { decodeExportResponse, decodeRpcStatus } from './response-decoder';
import { grpcStatusName, isRetryableGrpcStatus, isRetryableNetworkError } from './retry';
import { failure, SETTLED_ATTEMPT, type Attempt, type SendOptions, type SendOutcome, type Transport } from './transport';
import type { TlsMaterial } from './http-transport';

/** collector/trace/v1/trace_service.proto: package opentelemetry.proto.collector.trace.v1, TraceService.Export. */
export const TRACE_EXPORT_METHOD = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

export interface GrpcTransportOptions {
  endpoint: string;
  headers: Record<string, string>;
  gzip: boolean;
  userAgent: string;
  tls: TlsMaterial;
}

function identity(buffer: Buffer): Buffer {
  return buffer;
}

/** Headers gRPC manages itself: user headers of these names would break the call. */
const RESERVED_METADATA = new Set(['content-type', 'content-length', 'te', 'user-agent', 'grpc-encoding', 'grpc-timeout']);

export class GrpcTransport implements Transport {
  private readonly _options: GrpcTransportOptions;
  private _grpc: typeof grpcTypes | undefined;
  private _client: grpcTypes.Client | undefined;
  private _metadata: grpcTypes.Metadata | undefined;
  private _closed = false;

  constructor(options: GrpcTransportOptions) {
    this._options = options;
  }

  prepare(body: Buffer, done: (prepared: Buffer | Error) => void): void {
    // Compression is grpc-js's (per message, `grpc-encoding: gzip`).
    done(body);
  }

  private _load(): { grpc: typeof grpcTypes; client: grpcTypes.Client } {
    if (this._grpc === undefined || this._client === undefined) {
      const grpc = require('@grpc/grpc-js') as typeof grpcTypes;
      const url = new URL(this._options.endpoint);
      const tls = this._options.tls;
      const credentials =
        url.protocol === 'https:'
          ? grpc.credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null)
          : grpc.credentials.createInsecure();
      const channelOptions: grpcTypes.ChannelOptions = {
        'grpc.primary_user_agent': this._options.userAgent,
        'grpc.enable_retries': 0,
        // After a failed connection grpc-js fails calls at once until its reconnect backoff ends: keep that backoff
        // close to the exporter's own, so a retry finds the collector when it is back.
        'grpc.initial_reconnect_backoff_ms': 500,
        'grpc.max_reconnect_backoff_ms': 5000,
      };
      if (this._options.gzip) channelOptions['grpc.default_compression_algorithm'] = grpc.compressionAlgorithms.gzip;
      // The target is host:port; gRPC ignores any path in the endpoint.
      this._client = new grpc.Client(url.host, credentials, channelOptions);
      this._metadata = buildMetadata(grpc, this._options.headers);
      this._grpc = grpc;
    }
    return { grpc: this._grpc, client: this._client };
  }

  send(body: Buffer, options: SendOptions, done: (outcome: SendOutcome) => void): Attempt {
    // The exporter gives gRPC a body it owns (grpc-js may read it after this call returns): nothing to hand back.
    options.onBodyReleased?.();
    if (this._closed) {
      done(failure('shutdown', 'the exporter is shut down', false));
      return SETTLED_ATTEMPT;
    }
    let client: grpcTypes.Client;
    try {
      ({ client } = this._load());
    } catch (err) {
      done(failure('transport', `cannot set up the gRPC client: ${(err as Error).message}`, false));
      return SETTLED_ATTEMPT;
    }
    let settled = false;
    const settle = (outcome: SendOutcome): void => {
      if (settled) return;
      settled = true;
      done(outcome);
    };
    let call: grpcTypes.ClientUnaryCall;
    try {
      // grpc-js may add to the metadata it is given: each call gets its own copy.
      const metadata = this._metadata!.clone();
      call = client.makeUnaryRequest<Buffer, Buffer>(
        TRACE_EXPORT_METHOD,
        identity,
        identity,
        body,
        metadata,
        { deadline: Date.now() + Math.max(1, options.timeoutMillis) },
        (err, response) => {
          if (err === null || err === undefined) {
            settle({ ok: true, partialSuccess: response !== undefined ? decodeExportResponse(response) : undefined });
          } else settle(classifyGrpcError(err));
        },
      );
    } catch (err) {
      settle(failure('transport', `cannot start the gRPC call: ${(err as Error).message}`, isRetryableNetworkError(err)));
      return SETTLED_ATTEMPT;
    }
    return {
      abort: () => {
        settled = true;
        call.cancel();
      },
      // grpc-js refs its connection while a call is active: a call in flight already holds the process.
      hold: () => {},
    };
  }

  shutdown(): void {
    this._closed = true;
    this._client?.close();
  }
}

/**
 * The user's headers as gRPC metadata, checked once: gRPC allows fewer header names than HTTP (lower-case letters,
 * digits, `-`, `_`, `.`) and only printable ASCII in values; a header it refuses is skipped with a warning, so one
 * bad header does not stop every export.
 */
function buildMetadata(grpc: typeof grpcTypes, headers: Record<string, string>): grpcTypes.Metadata {
  const metadata = new grpc.Metadata();
  for (const key in headers) {
    const name = key.toLowerCase();
    if (RESERVED_METADATA.has(name)) continue;
    try {
      metadata.set(name, headers[key]);
    } catch (err) {
      diag.warnOnce(`otlp-grpc-header:${name}`, `OTLP/gRPC: skipping header ${JSON.stringify(name)}: ${(err as Error).message}`);
    }
  }
  return metadata;
}

function classifyGrpcError(err: grpcTypes.ServiceError): SendOutcome {
  const code = typeof err.code === 'number' ? err.code : 2;
  // google.rpc.Status in the `grpc-status-details-bin` trailer may carry RetryInfo (OTLP/gRPC Throttling).
  let retryDelayMillis: number | undefined;
  const details = err.metadata?.get('grpc-status-details-bin');
  if (details !== undefined) {
    for (const value of details) {
      if (typeof value === 'string') continue;
      const status = decodeRpcStatus(value);
      if (status?.retryDelayMillis !== undefined) retryDelayMillis = status.retryDelayMillis;
    }
  }
  const name = grpcStatusName(code);
  const message = `gRPC ${name}${err.details ? `: ${err.details}` : ''}`;
  const retryable = isRetryableGrpcStatus(code, retryDelayMillis !== undefined);
  // RetryInfo with a zero delay means "retry, with your own backoff".
  return failure(`grpc-${name}`, message, retryable, retryDelayMillis !== undefined && retryDelayMillis > 0 ? retryDelayMillis : undefined);
}
