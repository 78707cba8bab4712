/**
 * W3C Trace Context propagator (https://www.w3.org/TR/trace-context/): the `traceparent` and `tracestate` headers.
 *
 * Extract reads the caller's span context into a NonRecordingSpan marked remote; inject writes the active span's
 * context as a version-00 `traceparent` plus its `tracestate`. Both run on every request, so `traceparent` is
 * checked with one pass over its characters (no regex, no split) and nothing is allocated for an absent header.
 */
import type { Context, SpanContext, TextMapGetter, TextMapPropagator, TextMapSetter } from '../api/types';
import { getSpan, isTracingSuppressed, setSpan } from '../context/context';
import { isValidSpanId, isValidTraceId } from '../trace/ids';
import { NonRecordingSpan, RecordingSpan } from '../trace/span';
import { W3CTraceState } from '../trace/trace-state';
import { BYTE_HEX, isNonZeroLowerHex, isOws, lowerHexValue } from './header-syntax';
const charCodeAt: (this: string, index: number) => number = String.prototype.charCodeAt; // called as charCodeAt.call(s, i): why, at charCodeAt in src/exporters/otlp/protobuf-writer.ts

/** §3.2.1 and §3.3.1: header names; vendors send them lower-case. */
export const TRACE_PARENT_HEADER = 'traceparent';
export const TRACE_STATE_HEADER = 'tracestate';

/** `version "-" trace-id "-" parent-id "-" trace-flags`: 2 + 1 + 32 + 1 + 16 + 1 + 2 characters (§3.2.2). */
const TRACE_PARENT_LENGTH = 55;
const DASH = 0x2d;
/** §3.2.2.1: version `ff` is forbidden. */
const INVALID_VERSION = 0xff;

/**
 * Parses a `traceparent` value into a remote span context, or returns undefined when it is invalid and the
 * trace must restart. The rules:
 *
 * - Leading and trailing optional white space is ignored (HTTP field values, RFC 7230 §3.2.4; the W3C test suite
 *   sends ` 00-…-01\t` and expects it accepted).
 * - §3.2.2.1 version: two lower-case hex digits followed by `-`; `ff` is invalid.
 * - §3.2.2.2 version-format for `00`: exactly `trace-id "-" parent-id "-" trace-flags`; anything after the flags
 *   (`-what-the-future-will-be-like`, a trailing `.`) makes a version-00 header invalid.
 * - §3.2.4 "Versioning of traceparent": for a higher version the first four fields are parsed the same way and
 *   the flags must be followed by `-` or the end; what comes after is not interpreted.
 * - §3.2.2.3 / §3.2.2.4: trace-id is 32 and parent-id 16 lower-case hex characters (HEXDIGLC: upper case is
 *   invalid), and neither may be all zeros.
 * - §3.2.2.5 trace-flags: two lower-case hex digits. The whole byte is kept as traceFlags; only the sampled bit
 *   (0x01) has a meaning to the sampler.
 */
export function parseTraceParent(header: string): SpanContext | undefined {
  let start = 0;
  let end = header.length;
  while (start < end && isOws(charCodeAt.call(header, start))) start++;
  while (end > start && isOws(charCodeAt.call(header, end - 1))) end--;
  const length = end - start;
  if (length < TRACE_PARENT_LENGTH) return undefined;

  const v0 = lowerHexValue(charCodeAt.call(header, start));
  const v1 = lowerHexValue(charCodeAt.call(header, start + 1));
  if (v0 < 0 || v1 < 0 || charCodeAt.call(header, start + 2) !== DASH) return undefined;
  const version = v0 * 16 + v1;
  if (version === INVALID_VERSION) return undefined;
  if (version === 0) {
    if (length !== TRACE_PARENT_LENGTH) return undefined;
  } else if (length > TRACE_PARENT_LENGTH && charCodeAt.call(header, start + TRACE_PARENT_LENGTH) !== DASH) {
    return undefined;
  }

  if (charCodeAt.call(header, start + 35) !== DASH || charCodeAt.call(header, start + 52) !== DASH) return undefined;
  if (!isNonZeroLowerHex(header, start + 3, start + 35)) return undefined;
  if (!isNonZeroLowerHex(header, start + 36, start + 52)) return undefined;
  const f0 = lowerHexValue(charCodeAt.call(header, start + 53));
  const f1 = lowerHexValue(charCodeAt.call(header, start + 54));
  if (f0 < 0 || f1 < 0) return undefined;

  return {
    traceId: header.substring(start + 3, start + 35),
    spanId: header.substring(start + 36, start + 52),
    traceFlags: f0 * 16 + f1,
    isRemote: true,
    traceState: undefined,
  };
}

/**
 * §3.3.1 "tracestate Header Field Values": several `tracestate` fields are combined into one list as RFC 7230
 * §3.2.2 says, i.e. joined with commas in order.
 */
function readTraceState(value: string | string[] | undefined): W3CTraceState | undefined {
  let header: string | undefined;
  if (typeof value === 'string') header = value;
  else if (Array.isArray(value)) header = value.join(',');
  else return undefined;
  const state = W3CTraceState.parse(header);
  return state !== undefined && state.size > 0 ? state : undefined;
}

export class W3CTraceContextPropagator implements TextMapPropagator {
  /**
   * Sets the caller's span context (a NonRecordingSpan with `isRemote: true`) in the returned context when the
   * carrier holds a valid `traceparent`; otherwise returns `context` unchanged. `tracestate` is read only after a
   * valid `traceparent` (§3.3: "If the vendor failed to parse traceparent, it MUST NOT attempt to parse
   * tracestate"), and a bad `tracestate` never invalidates the `traceparent`.
   */
  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    const raw = getter.get(carrier, TRACE_PARENT_HEADER);
    let header: string;
    if (typeof raw === 'string') {
      header = raw;
    } else if (Array.isArray(raw) && raw.length === 1 && typeof raw[0] === 'string') {
      header = raw[0];
    } else {
      // Absent, or sent more than once: the W3C test suite (test_traceparent_duplicated) expects a repeated
      // traceparent to restart the trace, since nothing says which copy is the caller's.
      return context;
    }
    const spanContext = parseTraceParent(header);
    if (spanContext === undefined) return context;
    spanContext.traceState = readTraceState(getter.get(carrier, TRACE_STATE_HEADER));
    return setSpan(context, new NonRecordingSpan(spanContext));
  }

  /**
   * Writes `traceparent` (always version 00, §3.2.4: "construct the new traceparent field according to the
   * highest version of the specification known") and `tracestate` (omitted when empty: §3.3.1 "vendors SHOULD
   * avoid sending" empty tracestate headers) for a valid span context.
   *
   * Nothing is written when tracing is suppressed in `context`. OpenTelemetry JS's W3CTraceContextPropagator does
   * the same (`isTracingSuppressed`), and so do its baggage and B3 propagators: suppression marks work that must
   * not take part in tracing — the SDK's own exports, or whatever an application chose to hide — and sending a
   * `traceparent` from it would make the receiver parent its spans to a span that is never recorded. Following
   * OTel JS also keeps behaviour identical for applications that suppress through @opentelemetry/core, whose key
   * we share.
   */
  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    if (isTracingSuppressed(context)) return;
    const span = getSpan(context);
    if (span === undefined) return;
    let spanContext: SpanContext | RecordingSpan;
    if (span instanceof RecordingSpan) {
      // Our own span, the usual case: its ids are valid by construction (drawn here, or a remote parent's that
      // passed the same checks), so they are read off it without a spanContext() object or two regex tests.
      spanContext = span;
    } else {
      spanContext = span.spanContext();
      if (spanContext === undefined || spanContext === null || !isValidTraceId(spanContext.traceId) || !isValidSpanId(spanContext.spanId)) return;
    }
    // §3.2.2.5: one byte; a foreign span context could carry anything, so mask to the low 8 bits.
    const flags = BYTE_HEX[(spanContext.traceFlags as number) & 0xff];
    setter.set(carrier, TRACE_PARENT_HEADER, '00-' + spanContext.traceId + '-' + spanContext.spanId + '-' + flags);
    const traceState = spanContext.traceState;
    if (traceState !== undefined && traceState !== null) {
      const serialized = traceState.serialize();
      if (typeof serialized === 'string' && serialized !== '') setter.set(carrier, TRACE_STATE_HEADER, serialized);
    }
  }

  fields(): string[] {
    return [TRACE_PARENT_HEADER, TRACE_STATE_HEADER];
  }
}
