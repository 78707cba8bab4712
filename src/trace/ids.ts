/**
 * Trace and span ids: random bytes from the system's CSPRNG, drawn from a 64 KiB pool that one randomFillSync
 * call refills (every ~2,700 spans; a small pool made the refill the most expensive part of a span), rendered as
 * lower-case hex (the form the API, W3C headers and OTLP/JSON all use) by Buffer's own hex slicer, which skips
 * toString's argument handling. An all-zero id is invalid (W3C Trace Context §3.2.2.3/4) and is never returned.
 */
import type { SpanContext } from '../api/types';

export const INVALID_TRACE_ID = '00000000000000000000000000000000';
export const INVALID_SPAN_ID = '0000000000000000';

const POOL_SIZE = 65536;
let pool: Buffer | undefined;
let offset = POOL_SIZE;
let fill: ((buf: Buffer) => Buffer) | undefined;
type HexSlice = (this: Buffer, start: number, end: number) => string;
const hexSlice: HexSlice =
  typeof (Buffer.prototype as unknown as { hexSlice?: HexSlice }).hexSlice === 'function'
    ? (Buffer.prototype as unknown as { hexSlice: HexSlice }).hexSlice
    : function (this: Buffer, start: number, end: number) {
        return this.toString('hex', start, end);
      };

function refill(): Buffer {
  if (pool === undefined) {
    pool = Buffer.allocUnsafe(POOL_SIZE);
    // crypto is loaded on first use, not at startup.
    fill = (require('node:crypto') as typeof import('node:crypto')).randomFillSync;
  }
  fill!(pool);
  offset = 0;
  return pool;
}

function randomHex(bytes: number, invalid: string): string {
  for (;;) {
    const buf = offset + bytes > POOL_SIZE ? refill() : pool!;
    const id = hexSlice.call(buf, offset, offset + bytes);
    offset += bytes;
    if (id !== invalid) return id;
  }
}

export function generateTraceId(): string {
  return randomHex(16, INVALID_TRACE_ID);
}

export function generateSpanId(): string {
  return randomHex(8, INVALID_SPAN_ID);
}

const TRACE_ID_RE = /^[0-9a-f]{32}$/;
const SPAN_ID_RE = /^[0-9a-f]{16}$/;

export function isValidTraceId(id: unknown): id is string {
  return typeof id === 'string' && TRACE_ID_RE.test(id) && id !== INVALID_TRACE_ID;
}

export function isValidSpanId(id: unknown): id is string {
  return typeof id === 'string' && SPAN_ID_RE.test(id) && id !== INVALID_SPAN_ID;
}

export function isSpanContextValid(sc: SpanContext | undefined): sc is SpanContext {
  return sc !== undefined && sc !== null && isValidTraceId(sc.traceId) && isValidSpanId(sc.spanId);
}

export const INVALID_SPAN_CONTEXT: SpanContext = Object.freeze({
  traceId: INVALID_TRACE_ID,
  spanId: INVALID_SPAN_ID,
  traceFlags: 0,
});
