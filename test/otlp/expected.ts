/**
 * What the official OTLP definitions should decode from our encoding of a ReadableSpan, built independently of
 * the encoders: protobufjs `toObject` form (64-bit integers as decimal strings, bytes as base64, repeated fields as
 * arrays, zero-valued scalars absent).
 */
import type { ReadableSpan } from '../../src/trace/span';
import type { InstrumentationScope } from '../../src/api/types';
import type { Resource } from '../../src/resource/resource';
import { toEpochNanosBigInt } from '../../src/trace/time';
import { hexToBase64 } from './helpers/otlp-proto';

/** The string a receiver reads back: UTF-8 round trip (lone surrogates become U+FFFD). */
export function utf8RoundTrip(s: string): string {
  return Buffer.from(s, 'utf8').toString('utf8');
}

export function expectedAnyValue(v: unknown): any {
  if (v === null || v === undefined) return {};
  if (typeof v === 'string') return { stringValue: utf8RoundTrip(v) };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v)) return { intValue: String(v === 0 ? 0 : v) };
    return { doubleValue: v };
  }
  if (Array.isArray(v)) return { arrayValue: { values: v.map(expectedAnyValue) } };
  if (v instanceof Uint8Array) return { bytesValue: Buffer.from(v).toString('base64') };
  if (typeof v === 'object') {
    return {
      kvlistValue: {
        values: Object.keys(v as object)
          .filter((k) => (v as any)[k] !== undefined)
          .map((k) => ({ key: utf8RoundTrip(k), value: expectedAnyValue((v as any)[k]) })),
      },
    };
  }
  return {};
}

export function expectedAttributes(attrs: Record<string, unknown>): any[] {
  return Object.keys(attrs)
    .filter((k) => attrs[k] !== undefined)
    .map((k) => ({ key: utf8RoundTrip(k), value: expectedAnyValue(attrs[k]) }));
}

function nanos(ms: number): string {
  return toEpochNanosBigInt(ms).toString();
}

function flags(traceFlags: number, isRemote: boolean | undefined): number {
  let f = traceFlags & 0xff;
  if (isRemote !== undefined) f |= 0x100 | (isRemote ? 0x200 : 0);
  return f;
}

export function expectedSpan(span: ReadableSpan): any {
  const sc = span.spanContext();
  const out: any = { traceId: hexToBase64(sc.traceId), spanId: hexToBase64(sc.spanId) };
  const ts = sc.traceState?.serialize();
  if (ts) out.traceState = ts;
  if (span.parentSpanId) out.parentSpanId = hexToBase64(span.parentSpanId);
  const f = flags(sc.traceFlags, span.parentIsRemote);
  if (f !== 0) out.flags = f;
  if (span.name !== '') out.name = utf8RoundTrip(span.name);
  out.kind = span.kind + 1;
  out.startTimeUnixNano = nanos(span.startTime);
  out.endTimeUnixNano = nanos(span.endTime);
  out.attributes = expectedAttributes(span.attributes);
  if (span.droppedAttributesCount) out.droppedAttributesCount = span.droppedAttributesCount;
  out.events = span.events.map((e) => {
    const ev: any = { timeUnixNano: nanos(e.time) };
    if (e.name !== '') ev.name = utf8RoundTrip(e.name);
    ev.attributes = expectedAttributes(e.attributes);
    if (e.droppedAttributesCount) ev.droppedAttributesCount = e.droppedAttributesCount;
    return ev;
  });
  if (span.droppedEventsCount) out.droppedEventsCount = span.droppedEventsCount;
  out.links = span.links.map((l) => {
    const link: any = { traceId: hexToBase64(l.context.traceId), spanId: hexToBase64(l.context.spanId) };
    const lts = l.context.traceState?.serialize();
    if (lts) link.traceState = lts;
    link.attributes = expectedAttributes(l.attributes);
    if (l.droppedAttributesCount) link.droppedAttributesCount = l.droppedAttributesCount;
    const lf = flags(l.context.traceFlags, l.context.isRemote);
    if (lf !== 0) link.flags = lf;
    return link;
  });
  if (span.droppedLinksCount) out.droppedLinksCount = span.droppedLinksCount;
  if (span.status.code !== 0) {
    out.status = { code: span.status.code };
    if (span.status.message) out.status.message = utf8RoundTrip(span.status.message);
  }
  return out;
}

export function expectedScope(scope: InstrumentationScope): any {
  const out: any = {};
  if (scope.name) out.name = scope.name;
  if (scope.version) out.version = scope.version;
  out.attributes = [];
  return out;
}

export function expectedResource(resource: Resource): any {
  return { attributes: expectedAttributes(resource.attributes) };
}

/** The whole request for spans that share one resource and one scope. */
export function expectedRequest(spans: ReadableSpan[]): any {
  const resource = spans[0].resource;
  const scope = spans[0].instrumentationScope;
  const scopeSpans: any = { scope: expectedScope(scope), spans: spans.map(expectedSpan) };
  if (scope.schemaUrl) scopeSpans.schemaUrl = scope.schemaUrl;
  const rs: any = { resource: expectedResource(resource), scopeSpans: [scopeSpans] };
  if (resource.schemaUrl) rs.schemaUrl = resource.schemaUrl;
  return { resourceSpans: [rs] };
}
