/**
 * B3 propagator (https://github.com/openzipkin/b3-propagation), as the OpenTelemetry specification asks for it
 * (specification/context/api-propagators.md, "B3 Requirements").
 *
 * Two configurations, named as OTEL_PROPAGATORS names them:
 * - `b3`: inject the single header `b3: {TraceId}-{SpanId}-{SamplingState}`;
 * - `b3multi`: inject `X-B3-TraceId`, `X-B3-SpanId` and `X-B3-Sampled` (or `X-B3-Flags: 1` for debug).
 * Both extract either encoding, the single header first ("B3 Extract": "The single-header variant takes
 * precedence over the multi-header version"). `X-B3-ParentSpanId` is never injected ("B3 Inject": OpenTelemetry
 * does not share span ids between client and server).
 *
 * Header names are written lower-case (B3 README, "Multiple Headers": "prefer lowercase keys"; Node.js also
 * lower-cases incoming header names, which is how the getter finds them).
 */
import type { Context, SpanContext, TextMapGetter, TextMapPropagator, TextMapSetter } from '../api/types';
import { createContextKey, getSpanContext, isTracingSuppressed, setSpan } from '../context/context';
import { isValidSpanId, isValidTraceId } from '../trace/ids';
import { NonRecordingSpan } from '../trace/span';
import { firstHeaderValue, isNonZeroLowerHex, isOws, trimOws } from './header-syntax';
const charCodeAt: (this: string, index: number) => number = String.prototype.charCodeAt; // called as charCodeAt.call(s, i): why, at charCodeAt in src/exporters/otlp/protobuf-writer.ts

export const B3_HEADER = 'b3';
export const X_B3_TRACE_ID = 'x-b3-traceid';
export const X_B3_SPAN_ID = 'x-b3-spanid';
export const X_B3_SAMPLED = 'x-b3-sampled';
export const X_B3_FLAGS = 'x-b3-flags';
export const X_B3_PARENT_SPAN_ID = 'x-b3-parentspanid';

/**
 * "B3 Extract": a debug flag received MUST be kept and propagated with later requests. OpenTelemetry's span
 * context has no debug bit, so extract records the debug trace's id under this key, and inject sends the debug
 * state again for a span of that same trace. Keeping the trace id (rather than a bare flag) means a new root
 * trace started under the request's context is not sent downstream as debug by mistake.
 */
export const B3_DEBUG_TRACE_KEY: symbol = createContextKey('zerotel B3 debug trace id');

export type B3InjectEncoding = 'single' | 'multi';

/** 64-bit trace ids are left-padded with zeros to OpenTelemetry's 128 bits (B3 README, "TraceId"). */
const TRACE_ID_PAD = '0000000000000000';
const DASH = 0x2d;

/** What a B3 header carries: the span context, and whether the trace is a debug trace. */
export interface B3Extracted {
  spanContext: SpanContext;
  debug: boolean;
}

/** A trace id of 16 or 32 lower-hex characters at `s[start, end)`, padded to 32; undefined when invalid. */
function readTraceId(s: string, start: number, end: number): string | undefined {
  const length = end - start;
  if (length !== 32 && length !== 16) return undefined;
  // An all-zero 64-bit id is as invalid as an all-zero 128-bit one.
  if (!isNonZeroLowerHex(s, start, end)) return undefined;
  const id = s.substring(start, end);
  return length === 32 ? id : TRACE_ID_PAD + id;
}

function readSpanId(s: string, start: number, end: number): string | undefined {
  if (end - start !== 16 || !isNonZeroLowerHex(s, start, end)) return undefined;
  return s.substring(start, end);
}

function trimmed(value: string | undefined): string | undefined {
  return value === undefined ? undefined : trimOws(value);
}

/**
 * Parses a single `b3` header: `{TraceId}-{SpanId}[-{SamplingState}[-{ParentSpanId}]]` (B3 README, "Single
 * Header"). TraceId is 16 or 32 and SpanId and ParentSpanId 16 lower-hex characters; SamplingState is `1`
 * (accept), `0` (deny) or `d` (debug, which implies accept); absent means "defer". A header of the sampling state
 * alone (`b3: 0`, `1`, `d`) carries no ids and yields no span context (see extract). Anything else — upper-case
 * hex, other lengths, a fifth field, an unknown state, a malformed parent id — makes the header invalid.
 */
export function parseB3SingleHeader(header: string): B3Extracted | undefined {
  let start = 0;
  let end = header.length;
  while (start < end && isOws(charCodeAt.call(header, start))) start++;
  while (end > start && isOws(charCodeAt.call(header, end - 1))) end--;

  let dash = header.indexOf('-', start);
  if (dash === -1 || dash >= end) return undefined;
  const traceId = readTraceId(header, start, dash);
  if (traceId === undefined) return undefined;

  const spanStart = dash + 1;
  dash = header.indexOf('-', spanStart);
  const spanEnd = dash === -1 || dash >= end ? end : dash;
  const spanId = readSpanId(header, spanStart, spanEnd);
  if (spanId === undefined) return undefined;

  let traceFlags = 0;
  let debug = false;
  if (spanEnd < end) {
    // `-{SamplingState}`: exactly one character, then the end or `-{ParentSpanId}`.
    const stateAt = spanEnd + 1;
    if (stateAt >= end) return undefined;
    switch (charCodeAt.call(header, stateAt)) {
      case 0x30: // '0': deny
        break;
      case 0x31: // '1': accept
        traceFlags = 1;
        break;
      case 0x64: // 'd': debug, which implies accept
        traceFlags = 1;
        debug = true;
        break;
      default:
        return undefined;
    }
    if (stateAt + 1 < end) {
      if (charCodeAt.call(header, stateAt + 1) !== DASH) return undefined;
      // The parent id is not used (OpenTelemetry does not share span ids) but must be well formed.
      if (readSpanId(header, stateAt + 2, end) === undefined) return undefined;
    }
  }
  return { spanContext: { traceId, spanId, traceFlags, isRemote: true }, debug };
}

/**
 * Reads the multi-header encoding (B3 README, "Multiple Headers"; "When extracting state headers, the first
 * value wins"). `X-B3-TraceId` (16 or 32 lower-hex) and `X-B3-SpanId` (16 lower-hex) are required.
 * `X-B3-Sampled` is `1`/`0`, or the legacy `true`/`false` the README lets lenient readers accept; `X-B3-Flags: 1`
 * is debug, which implies accept even next to `X-B3-Sampled: 0`. `X-B3-ParentSpanId` is not read.
 */
export function parseB3MultiHeaders(
  traceIdValue: string | undefined,
  spanIdValue: string | undefined,
  sampledValue: string | undefined,
  flagsValue: string | undefined,
): B3Extracted | undefined {
  const traceIdRaw = trimmed(traceIdValue);
  const spanIdRaw = trimmed(spanIdValue);
  if (traceIdRaw === undefined || spanIdRaw === undefined) return undefined;
  const traceId = readTraceId(traceIdRaw, 0, traceIdRaw.length);
  if (traceId === undefined) return undefined;
  const spanId = readSpanId(spanIdRaw, 0, spanIdRaw.length);
  if (spanId === undefined) return undefined;
  const debug = trimmed(flagsValue) === '1';
  let traceFlags = 0;
  if (debug) {
    traceFlags = 1;
  } else {
    const sampled = trimmed(sampledValue);
    if (sampled === '1' || sampled === 'true') traceFlags = 1;
  }
  return { spanContext: { traceId, spanId, traceFlags, isRemote: true }, debug };
}

export class B3Propagator implements TextMapPropagator {
  private readonly _encoding: B3InjectEncoding;

  /** `single` (the `b3` propagator, the default per "B3 Inject") or `multi` (`b3multi`). */
  constructor(options: { injectEncoding?: B3InjectEncoding } = {}) {
    this._encoding = options.injectEncoding === 'multi' ? 'multi' : 'single';
  }

  /**
   * Sets the caller's span context (a NonRecordingSpan with `isRemote: true`) when either encoding carries
   * valid ids, the single header first; otherwise returns `context` unchanged.
   *
   * Sampling: accept and debug give the sampled flag ("B3 Extract": debug MUST set it); deny gives 0. A deferred
   * decision (no sampling state) cannot be expressed in a span context and also gives 0, as in OpenTelemetry JS.
   * A sampling state sent without ids (`b3: 0`, `X-B3-Sampled: 0` alone) is accepted as well formed but yields
   * no span context: there is no trace to continue, and OpenTelemetry has no place for a bare decision, so the
   * local sampler decides for the new trace.
   */
  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    let extracted: B3Extracted | undefined;
    const single = firstHeaderValue(getter.get(carrier, B3_HEADER));
    if (single !== undefined) extracted = parseB3SingleHeader(single);
    if (extracted === undefined) {
      const traceId = firstHeaderValue(getter.get(carrier, X_B3_TRACE_ID));
      if (traceId === undefined) return context;
      extracted = parseB3MultiHeaders(
        traceId,
        firstHeaderValue(getter.get(carrier, X_B3_SPAN_ID)),
        firstHeaderValue(getter.get(carrier, X_B3_SAMPLED)),
        firstHeaderValue(getter.get(carrier, X_B3_FLAGS)),
      );
      if (extracted === undefined) return context;
    }
    const out = setSpan(context, new NonRecordingSpan(extracted.spanContext));
    return extracted.debug ? out.setValue(B3_DEBUG_TRACE_KEY, extracted.spanContext.traceId) : out;
  }

  /**
   * Writes the span context in the configured encoding: sampling state `1` or `0` from the sampled flag, or
   * debug (`d` / `X-B3-Flags: 1` without `X-B3-Sampled`, as the README says) when the trace arrived as debug.
   * Trace ids are always written with 32 characters. Nothing is written for an invalid span context, nor when
   * tracing is suppressed (as OpenTelemetry JS's B3 propagators; see W3CTraceContextPropagator.inject).
   */
  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    if (isTracingSuppressed(context)) return;
    const spanContext = getSpanContext(context);
    if (spanContext === undefined || !isValidTraceId(spanContext.traceId) || !isValidSpanId(spanContext.spanId)) {
      return;
    }
    const debug = context.getValue(B3_DEBUG_TRACE_KEY) === spanContext.traceId;
    const sampled = ((spanContext.traceFlags as number) & 1) === 1;
    if (this._encoding === 'single') {
      const state = debug ? 'd' : sampled ? '1' : '0';
      setter.set(carrier, B3_HEADER, spanContext.traceId + '-' + spanContext.spanId + '-' + state);
      return;
    }
    setter.set(carrier, X_B3_TRACE_ID, spanContext.traceId);
    setter.set(carrier, X_B3_SPAN_ID, spanContext.spanId);
    if (debug) setter.set(carrier, X_B3_FLAGS, '1');
    else setter.set(carrier, X_B3_SAMPLED, sampled ? '1' : '0');
  }

  /** "Fields": the headers the configured encoding injects. */
  fields(): string[] {
    return this._encoding === 'single' ? [B3_HEADER] : [X_B3_TRACE_ID, X_B3_SPAN_ID, X_B3_SAMPLED, X_B3_FLAGS];
  }
}
