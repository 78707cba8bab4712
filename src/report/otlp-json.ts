/**
 * Reads spans out of one parsed line of a trace file: an OTLP/JSON `ExportTraceServiceRequest` (the same object
 * as `TracesData`), as the file exporter and the OpenTelemetry Collector's file exporter write it
 * (opentelemetry-proto docs/specification.md, "JSON Protobuf Encoding").
 *
 * Lenient where writers differ and the meaning is still clear: the proto field names (`resource_spans`) besides
 * the lowerCamelCase ones (the specification asks receivers to accept both), enum names besides numbers, ids in
 * base64 (plain proto3 JSON) besides hex, 64-bit numbers as numbers besides strings.
 */
import type { RenderSpan } from '../render/trace-tree';

export interface TraceFileSpan extends RenderSpan {
  service: string;
  attributes: Record<string, unknown>;
  /** From the span's first `exception` event (semantic conventions, exceptions/exceptions-spans.md). */
  exceptionType?: string;
  exceptionMessage?: string;
}

/** A span as it appears in the JSON, before any decoding. */
type RawSpan = Record<string, any>;

const OTLP_KIND_NAMES: Record<string, number> = {
  SPAN_KIND_UNSPECIFIED: 0,
  SPAN_KIND_INTERNAL: 1,
  SPAN_KIND_SERVER: 2,
  SPAN_KIND_CLIENT: 3,
  SPAN_KIND_PRODUCER: 4,
  SPAN_KIND_CONSUMER: 5,
};
const STATUS_NAMES: Record<string, number> = { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 };

function field(obj: any, camel: string, snake: string): any {
  const v = obj[camel];
  return v !== undefined ? v : obj[snake];
}

function array(v: unknown): any[] {
  return Array.isArray(v) ? v : [];
}

/** Hex as OTLP/JSON writes ids; base64 as plain proto3 JSON does. */
export function normaliseId(v: unknown, hexLength: number): string {
  if (typeof v !== 'string' || v === '') return '';
  if (v.length === hexLength && /^[0-9a-fA-F]+$/.test(v)) return v.toLowerCase();
  const bytes = Buffer.from(v, 'base64');
  return bytes.length * 2 === hexLength ? bytes.toString('hex') : v;
}

/** Epoch milliseconds from a decimal string of nanoseconds, without going through a number beyond 2^53. */
export function nanosToMillis(v: unknown): number {
  if (typeof v === 'number') return v / 1e6;
  if (typeof v !== 'string' || v === '') return NaN;
  if (v.length <= 6) return Number(v) / 1e6;
  return Number(v.slice(0, -6)) + Number(v.slice(-6)) / 1e6;
}

export function decodeAnyValue(v: any): unknown {
  if (v === null || typeof v !== 'object') return undefined;
  if (v.stringValue !== undefined) return String(v.stringValue);
  if (v.boolValue !== undefined) return v.boolValue === true || v.boolValue === 'true';
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return Number(v.doubleValue);
  const arrayValue = field(v, 'arrayValue', 'array_value');
  if (arrayValue !== undefined) return array(arrayValue?.values).map(decodeAnyValue);
  const kvlist = field(v, 'kvlistValue', 'kvlist_value');
  if (kvlist !== undefined) return decodeAttributes(kvlist?.values);
  const bytes = field(v, 'bytesValue', 'bytes_value');
  if (bytes !== undefined) return String(bytes);
  return undefined;
}

export function decodeAttributes(list: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of array(list)) {
    if (kv !== null && typeof kv === 'object' && typeof kv.key === 'string') out[kv.key] = decodeAnyValue(kv.value);
  }
  return out;
}

function kindOf(v: unknown): number {
  const otlp = typeof v === 'number' ? v : typeof v === 'string' ? (OTLP_KIND_NAMES[v] ?? Number(v)) : 0;
  // OTLP counts from SPAN_KIND_UNSPECIFIED = 0; the API (and RenderSpan) from INTERNAL = 0.
  return otlp >= 1 && otlp <= 5 ? otlp - 1 : 0;
}

function statusCodeOf(v: unknown): number {
  const code = typeof v === 'number' ? v : typeof v === 'string' ? (STATUS_NAMES[v] ?? Number(v)) : 0;
  return code === 1 || code === 2 ? code : 0;
}

/** The service of each resource; spans read it from here. */
function serviceOf(resourceSpans: any): string {
  for (const kv of array(resourceSpans?.resource?.attributes)) {
    if (kv?.key === 'service.name') {
      const v = decodeAnyValue(kv.value);
      if (typeof v === 'string' && v !== '') return v;
    }
  }
  return 'unknown_service';
}

/**
 * Calls `visit` for every span of a request, with the raw JSON and the service of its resource. Anything that is
 * not shaped like a request visits nothing.
 */
export function forEachRawSpan(request: unknown, visit: (raw: RawSpan, service: string) => void): void {
  if (request === null || typeof request !== 'object') return;
  for (const rs of array(field(request, 'resourceSpans', 'resource_spans'))) {
    if (rs === null || typeof rs !== 'object') continue;
    const service = serviceOf(rs);
    const scopes = field(rs, 'scopeSpans', 'scope_spans') ?? field(rs, 'instrumentationLibrarySpans', 'instrumentation_library_spans');
    for (const ss of array(scopes)) {
      if (ss === null || typeof ss !== 'object') continue;
      for (const raw of array(ss.spans)) if (raw !== null && typeof raw === 'object') visit(raw, service);
    }
  }
}

/** The trace id of a raw span, as a lowercase hex string. */
export function rawTraceId(raw: RawSpan): string {
  return normaliseId(field(raw, 'traceId', 'trace_id'), 32);
}

export function toTraceFileSpan(raw: RawSpan, service: string): TraceFileSpan {
  const start = nanosToMillis(field(raw, 'startTimeUnixNano', 'start_time_unix_nano'));
  const end = nanosToMillis(field(raw, 'endTimeUnixNano', 'end_time_unix_nano'));
  const status = raw.status ?? {};
  const parent = normaliseId(field(raw, 'parentSpanId', 'parent_span_id'), 16);
  const span: TraceFileSpan = {
    traceId: rawTraceId(raw),
    spanId: normaliseId(field(raw, 'spanId', 'span_id'), 16),
    parentSpanId: parent === '' ? undefined : parent,
    name: typeof raw.name === 'string' ? raw.name : '',
    kind: kindOf(raw.kind),
    start,
    duration: Number.isFinite(end - start) && end >= start ? end - start : 0,
    statusCode: statusCodeOf(status.code),
    statusMessage: typeof status.message === 'string' && status.message !== '' ? status.message : undefined,
    attributes: decodeAttributes(raw.attributes),
    service,
  };
  for (const event of array(raw.events)) {
    if (event?.name !== 'exception') continue;
    const attrs = decodeAttributes(event.attributes);
    if (typeof attrs['exception.type'] === 'string') span.exceptionType = attrs['exception.type'];
    if (typeof attrs['exception.message'] === 'string') span.exceptionMessage = attrs['exception.message'];
    break;
  }
  return span;
}
