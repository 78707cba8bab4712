/**
 * A decoder built from the official OTLP .proto definitions (vendored in ../proto), with protobufjs: what the tests
 * use to read what zerotel's encoders wrote.
 */
import path from 'node:path';
import protobuf from 'protobufjs';

const PROTO_DIR = path.join(__dirname, '..', 'proto');

const root = new protobuf.Root();
root.resolvePath = (_origin: string, target: string) => (path.isAbsolute(target) ? target : path.join(PROTO_DIR, target));
root.loadSync('opentelemetry/proto/collector/trace/v1/trace_service.proto');
root.resolveAll();

export const ExportTraceServiceRequest = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
export const AnyValue = root.lookupType('opentelemetry.proto.common.v1.AnyValue');
export const ExportTraceServiceResponse = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse');

/** google.rpc.Status and RetryInfo, for the gRPC fault tests (their field numbers, from googleapis). */
const rpc = protobuf.parse(`
syntax = "proto3";
package google.rpc;
message Any { string type_url = 1; bytes value = 2; }
message Status { int32 code = 1; string message = 2; repeated Any details = 3; }
message Duration { int64 seconds = 1; int32 nanos = 2; }
message RetryInfo { Duration retry_delay = 1; }
`).root;
export const RpcStatus = rpc.lookupType('google.rpc.Status');
export const RetryInfo = rpc.lookupType('google.rpc.RetryInfo');

export const CONVERSION: protobuf.IConversionOptions = { longs: String, enums: Number, bytes: String, defaults: false, arrays: true };

/** The decoded request as a plain object: 64-bit integers as decimal strings, bytes as base64. */
export function decodeRequest(body: Uint8Array): any {
  const message = ExportTraceServiceRequest.decode(body);
  return ExportTraceServiceRequest.toObject(message, CONVERSION);
}

export function encodeResponse(rejectedSpans: number, errorMessage: string): Buffer {
  const msg = ExportTraceServiceResponse.fromObject({ partialSuccess: { rejectedSpans, errorMessage } });
  return Buffer.from(ExportTraceServiceResponse.encode(msg).finish());
}

/** A google.rpc.Status with an optional RetryInfo detail, as `grpc-status-details-bin` carries it. */
export function encodeRpcStatus(code: number, message: string, retryDelayMillis?: number): Buffer {
  // protobufjs names fields in lowerCamelCase (typeUrl, retryDelay).
  const details: Array<{ typeUrl: string; value: Uint8Array }> = [];
  if (retryDelayMillis !== undefined) {
    const info = RetryInfo.encode(
      RetryInfo.fromObject({
        retryDelay: { seconds: Math.floor(retryDelayMillis / 1000), nanos: (retryDelayMillis % 1000) * 1e6 },
      }),
    ).finish();
    details.push({ typeUrl: 'type.googleapis.com/google.rpc.RetryInfo', value: info });
  }
  return Buffer.from(RpcStatus.encode(RpcStatus.fromObject({ code, message, details })).finish());
}

export function hexToBase64(hex: string): string {
  return Buffer.from(hex, 'hex').toString('base64');
}

/** All spans of a decoded request, in order, with their resource and scope. */
export function flattenSpans(decoded: any): Array<{ resource: any; scope: any; span: any; resourceSchemaUrl?: string; scopeSchemaUrl?: string }> {
  const out: any[] = [];
  for (const rs of decoded.resourceSpans ?? []) {
    for (const ss of rs.scopeSpans ?? []) {
      for (const span of ss.spans ?? []) {
        out.push({ resource: rs.resource, scope: ss.scope, span, resourceSchemaUrl: rs.schemaUrl, scopeSchemaUrl: ss.schemaUrl });
      }
    }
  }
  return out;
}
