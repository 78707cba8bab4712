/**
 * OTLP trace export over HTTP/protobuf (the default), HTTP/JSON or gRPC, as chosen by
 * `OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL` (specification/protocol/exporter.md). The configuration arrives parsed
 * (src/config); nothing here reads the environment.
 *
 * The agent requires this module when it first exports (src/exporters/lazy-exporter.ts). Even then no transport
 * is loaded until a request is sent: node:http(s) / node:zlib for the HTTP protocols, @grpc/grpc-js for grpc.
 */
import type { OtlpConfig } from '../../config';
import { OtlpTraceExporter, type OtlpExporterOptions } from './otlp-exporter';

export { OtlpTraceExporter, USER_AGENT } from './otlp-exporter';
export type { EncodedRequest, OtlpExporterOptions } from './otlp-exporter';
export type { RetryPolicy } from './retry';
export { encodeTraceRequest } from './trace-protobuf-encoder';
export { encodeTraceRequestJson, encodeTraceRequestJsonBuffer } from './trace-json-encoder';

export function createOtlpExporter(config: OtlpConfig, options?: OtlpExporterOptions): OtlpTraceExporter {
  return new OtlpTraceExporter(config, options);
}
