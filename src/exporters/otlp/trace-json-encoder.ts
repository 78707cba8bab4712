/**
 * OTLP/JSON encoding of `ExportTraceServiceRequest` (opentelemetry-proto docs/specification.md, "JSON Protobuf
 * Encoding"): the proto3 JSON mapping with OTLP's deviations —
 * - keys are the lowerCamelCase field names (`startTimeUnixNano`, `droppedAttributesCount`), never the proto names;
 * - `traceId`, `spanId` and `parentSpanId` are hex strings, not base64 (other bytes, such as `bytesValue`, stay
 *   base64 as proto3 JSON says);
 * - enums (`kind`, `status.code`) are integers, never names;
 * - 64-bit integers (`*UnixNano`, `intValue`) are decimal strings, as proto3 JSON writes them; 32-bit ones
 *   (`flags`, dropped counts) are numbers;
 * - doubles that JSON numbers cannot hold are the strings "NaN", "Infinity", "-Infinity" (proto3 JSON mapping).
 * Fields holding their default value are omitted, as proto3 JSON allows, except inside a oneof (AnyValue), where the
 * member present is always written.
 */
import type { Attributes, HrTime, InstrumentationScope } from '../../api/types';
import type { Resource } from '../../resource/resource';
import type { ReadableSpan, SpanLink, TimedEvent } from '../../trace/span';
import { toEpochParts } from '../../trace/time';
import { groupSpans, spanFlags } from './span-groups';

const MAX_VALUE_DEPTH = 16;
const timeScratch: HrTime = [0, 0];
const quote = JSON.stringify as (s: string) => string;

/** Encodes a batch as the JSON text of one `ExportTraceServiceRequest`. */
export function encodeTraceRequestJson(spans: readonly ReadableSpan[]): string {
  const groups = groupSpans(spans);
  let out = '{"resourceSpans":[';
  for (let g = 0; g < groups.length; g++) {
    const group = groups[g];
    if (g > 0) out += ',';
    out += '{"resource":' + resourceJson(group.resource) + ',"scopeSpans":[';
    for (let s = 0; s < group.scopes.length; s++) {
      const scope = group.scopes[s].scope;
      if (s > 0) out += ',';
      out += '{"scope":' + scopeJson(scope) + ',"spans":[';
      const list = group.scopes[s].spans;
      for (let i = 0; i < list.length; i++) {
        if (i > 0) out += ',';
        out += spanJson(list[i]);
      }
      out += ']';
      if (scope.schemaUrl) out += ',"schemaUrl":' + quote(scope.schemaUrl);
      out += '}';
    }
    out += ']';
    if (group.resource.schemaUrl) out += ',"schemaUrl":' + quote(group.resource.schemaUrl);
    out += '}';
  }
  return out + ']}';
}

/** Encodes a batch as UTF-8 JSON bytes. */
export function encodeTraceRequestJsonBuffer(spans: readonly ReadableSpan[]): Buffer {
  return Buffer.from(encodeTraceRequestJson(spans), 'utf8');
}

function resourceJson(resource: Resource): string {
  return '{"attributes":' + attributesJson(resource.attributes) + '}';
}

function scopeJson(scope: InstrumentationScope): string {
  let out = '{';
  let sep = '';
  if (scope.name) {
    out += '"name":' + quote(scope.name);
    sep = ',';
  }
  if (scope.version) out += sep + '"version":' + quote(scope.version);
  return out + '}';
}

/** Exact epoch nanoseconds as a decimal string; times before 1970 are clamped to 0, as in the protobuf encoder. */
function nanosJson(relativeMillis: number): string {
  const parts = toEpochParts(relativeMillis, timeScratch);
  if (parts[0] < 0) return '"0"';
  if (parts[0] === 0) return '"' + parts[1] + '"';
  const ns = String(parts[1]);
  return '"' + parts[0] + '000000000'.slice(ns.length) + ns + '"';
}

function spanJson(span: ReadableSpan): string {
  const sc = span.spanContext();
  let out = '{"traceId":"' + sc.traceId + '","spanId":"' + sc.spanId + '"';
  if (sc.traceState !== undefined) {
    const ts = sc.traceState.serialize();
    if (ts !== '') out += ',"traceState":' + quote(ts);
  }
  if (span.parentSpanId) out += ',"parentSpanId":"' + span.parentSpanId + '"';
  const flags = spanFlags(sc.traceFlags, span.parentIsRemote);
  if (flags !== 0) out += ',"flags":' + flags;
  if (span.name !== '') out += ',"name":' + quote(span.name);
  // API kinds start at INTERNAL = 0, OTLP's at SPAN_KIND_UNSPECIFIED = 0.
  out += ',"kind":' + ((span.kind | 0) + 1);
  out += ',"startTimeUnixNano":' + nanosJson(span.startTime);
  out += ',"endTimeUnixNano":' + nanosJson(span.endTime);
  out += ',"attributes":' + attributesJson(span.attributes);
  if (span.droppedAttributesCount > 0) out += ',"droppedAttributesCount":' + span.droppedAttributesCount;
  const events = span.events;
  if (events.length > 0) {
    out += ',"events":[';
    for (let i = 0; i < events.length; i++) out += (i > 0 ? ',' : '') + eventJson(events[i]);
    out += ']';
  }
  if (span.droppedEventsCount > 0) out += ',"droppedEventsCount":' + span.droppedEventsCount;
  const links = span.links;
  if (links.length > 0) {
    out += ',"links":[';
    for (let i = 0; i < links.length; i++) out += (i > 0 ? ',' : '') + linkJson(links[i]);
    out += ']';
  }
  if (span.droppedLinksCount > 0) out += ',"droppedLinksCount":' + span.droppedLinksCount;
  const status = span.status;
  if (status.code !== 0 || status.message) {
    out += ',"status":{';
    let sep = '';
    if (status.message) {
      out += '"message":' + quote(status.message);
      sep = ',';
    }
    if (status.code !== 0) out += sep + '"code":' + status.code;
    out += '}';
  }
  return out + '}';
}

function eventJson(event: TimedEvent): string {
  let out = '{"timeUnixNano":' + nanosJson(event.time);
  if (event.name !== '') out += ',"name":' + quote(event.name);
  out += ',"attributes":' + attributesJson(event.attributes);
  if (event.droppedAttributesCount > 0) out += ',"droppedAttributesCount":' + event.droppedAttributesCount;
  return out + '}';
}

function linkJson(link: SpanLink): string {
  const sc = link.context;
  let out = '{"traceId":"' + sc.traceId + '","spanId":"' + sc.spanId + '"';
  if (sc.traceState !== undefined) {
    const ts = sc.traceState.serialize();
    if (ts !== '') out += ',"traceState":' + quote(ts);
  }
  out += ',"attributes":' + attributesJson(link.attributes);
  if (link.droppedAttributesCount > 0) out += ',"droppedAttributesCount":' + link.droppedAttributesCount;
  const flags = spanFlags(sc.traceFlags, sc.isRemote);
  if (flags !== 0) out += ',"flags":' + flags;
  return out + '}';
}

function attributesJson(attributes: Attributes): string {
  let out = '[';
  let sep = '';
  for (const key in attributes) {
    const value = attributes[key];
    if (value === undefined) continue;
    out += sep + '{"key":' + quote(key) + ',"value":' + anyValueJson(value, 0) + '}';
    sep = ',';
  }
  return out + ']';
}

/** An AnyValue object (common.proto); the same value mapping as the protobuf encoder. */
function anyValueJson(value: unknown, depth: number): string {
  switch (typeof value) {
    case 'string':
      return '{"stringValue":' + quote(value) + '}';
    case 'boolean':
      return value ? '{"boolValue":true}' : '{"boolValue":false}';
    case 'number':
      if (Number.isSafeInteger(value)) return '{"intValue":"' + (value === 0 ? 0 : value) + '"}';
      if (Number.isFinite(value)) return '{"doubleValue":' + value + '}';
      return '{"doubleValue":"' + (Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity') + '"}';
    case 'object': {
      if (value === null || depth >= MAX_VALUE_DEPTH) return '{}';
      if (Array.isArray(value)) {
        let out = '{"arrayValue":{"values":[';
        for (let i = 0; i < value.length; i++) out += (i > 0 ? ',' : '') + anyValueJson(value[i], depth + 1);
        return out + ']}}';
      }
      if (value instanceof Uint8Array) {
        return '{"bytesValue":"' + Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') + '"}';
      }
      const map = value as Record<string, unknown>;
      let out = '{"kvlistValue":{"values":[';
      let sep = '';
      for (const key in map) {
        if (!Object.prototype.hasOwnProperty.call(map, key)) continue;
        const v = map[key];
        if (v === undefined) continue;
        out += sep + '{"key":' + quote(key) + ',"value":' + anyValueJson(v, depth + 1) + '}';
        sep = ',';
      }
      return out + ']}}';
    }
    default:
      return '{}';
  }
}
