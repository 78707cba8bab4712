/**
 * What the exporter's two gRPC clients share — grpc-js in the export thread (grpc-worker.ts) and the direct
 * HTTP/2 call (grpc-direct.ts): the method, which metadata may be sent, and what a failed call means
 * (opentelemetry-proto docs/specification.md, "OTLP/gRPC Response" and "OTLP/gRPC Throttling").
 */
import { decodeRpcStatus } from './response-decoder';
import { grpcStatusName, isRetryableGrpcStatus } from './retry';
import { failure, type SendOutcome } from './transport';

/** collector/trace/v1/trace_service.proto: package opentelemetry.proto.collector.trace.v1, TraceService.Export. */
export const TRACE_EXPORT_METHOD = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

/** Headers gRPC manages itself: user headers of these names would break the call. */
export const RESERVED_METADATA = new Set(['content-type', 'content-length', 'te', 'user-agent', 'grpc-encoding', 'grpc-timeout']);

/**
 * `statusDetails`: the `grpc-status-details-bin` values (a google.rpc.Status), which may carry RetryInfo. RetryInfo
 * makes RESOURCE_EXHAUSTED retryable; a zero delay means "retry, with your own backoff".
 */
export function grpcFailure(code: number, details: string | undefined, statusDetails: readonly Uint8Array[]): SendOutcome {
  let retryDelayMillis: number | undefined;
  for (const value of statusDetails) {
    const status = decodeRpcStatus(value);
    if (status?.retryDelayMillis !== undefined) retryDelayMillis = status.retryDelayMillis;
  }
  const name = grpcStatusName(code);
  const message = `gRPC ${name}${details ? `: ${details}` : ''}`;
  const retryable = isRetryableGrpcStatus(code, retryDelayMillis !== undefined);
  return failure(`grpc-${name}`, message, retryable, retryDelayMillis !== undefined && retryDelayMillis > 0 ? retryDelayMillis : undefined);
}
