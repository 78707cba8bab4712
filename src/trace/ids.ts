/**
 * Trace and span ids: random bytes from the system's CSPRNG, drawn from a 64 KiB pool that one randomFillSync
 * call refills (every ~2,700 spans; a small pool made the refill the most expensive part of a span), rendered as
 * lower-case hex (the form the API, W3C headers and OTLP/JSON all use) when asked for. The hex is built in
 * JavaScript by one String.fromCharCode call: 27 ns for a span id where Buffer's native hex slicer took 62
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

/**
 * Ids as a recording span keeps them until something asks for their hex: big-endian integers of three bytes
 * each — small integers to V8, so a span holds them in its own fields without a heap number apiece — six for a
 * trace id (the last holds one byte) and three for a span id (the last holds two). On most spans only the OTLP
 * encoder reads the ids, and it wants bytes: rendering hex when the span starts and parsing it back when it is
 * encoded were ~3.2K of the ~40K instructions the agent added to a node:http request (callgrind, Node 20).
 *
 * drawTraceId and drawSpanId leave the chunks in DRAWN (trace id at 0–5, span id at 6–8), for the caller to
 * copy out before anything else draws.
 */
export const DRAWN = new Int32Array(9);

/** Draws a random trace id into DRAWN[0..5]; never all zero. */
export function drawTraceId(): void {
  for (;;) {
    const p = offset + 16 > POOL_SIZE ? refill() : pool!;
    const o = offset;
    offset += 16;
    const t0 = (p[o] << 16) | (p[o + 1] << 8) | p[o + 2];
    const t1 = (p[o + 3] << 16) | (p[o + 4] << 8) | p[o + 5];
    const t2 = (p[o + 6] << 16) | (p[o + 7] << 8) | p[o + 8];
    const t3 = (p[o + 9] << 16) | (p[o + 10] << 8) | p[o + 11];
    const t4 = (p[o + 12] << 16) | (p[o + 13] << 8) | p[o + 14];
    const t5 = p[o + 15];
    if ((t0 | t1 | t2 | t3 | t4 | t5) === 0) continue;
    DRAWN[0] = t0;
    DRAWN[1] = t1;
    DRAWN[2] = t2;
    DRAWN[3] = t3;
    DRAWN[4] = t4;
    DRAWN[5] = t5;
    return;
  }
}

/** Draws a random span id into DRAWN[6..8]; never all zero. */
export function drawSpanId(): void {
  for (;;) {
    const p = offset + 8 > POOL_SIZE ? refill() : pool!;
    const o = offset;
    offset += 8;
    const s0 = (p[o] << 16) | (p[o + 1] << 8) | p[o + 2];
    const s1 = (p[o + 3] << 16) | (p[o + 4] << 8) | p[o + 5];
    const s2 = (p[o + 6] << 8) | p[o + 7];
    if ((s0 | s1 | s2) === 0) continue;
    DRAWN[6] = s0;
    DRAWN[7] = s1;
    DRAWN[8] = s2;
    return;
  }
}

/** A new random trace id, as hex (never all zero). */
export function generateTraceId(): string {
  drawTraceId();
  return traceIdHex(DRAWN[0], DRAWN[1], DRAWN[2], DRAWN[3], DRAWN[4], DRAWN[5]);
}

/** A new random span id, as hex (never all zero). */
export function generateSpanId(): string {
  drawSpanId();
  return spanIdHex(DRAWN[6], DRAWN[7], DRAWN[8]);
}

/** The hex of a trace id kept as chunks (see DRAWN), as one flat string (pieces joined by `+` would make a cons string that every later read flattens). */
export function traceIdHex(t0: number, t1: number, t2: number, t3: number, t4: number, t5: number): string {
  return fromCharCode(
    HEX_DIGIT[t0 >> 20], HEX_DIGIT[(t0 >> 16) & 15], HEX_DIGIT[(t0 >> 12) & 15], HEX_DIGIT[(t0 >> 8) & 15],
    HEX_DIGIT[(t0 >> 4) & 15], HEX_DIGIT[t0 & 15],
    HEX_DIGIT[t1 >> 20], HEX_DIGIT[(t1 >> 16) & 15], HEX_DIGIT[(t1 >> 12) & 15], HEX_DIGIT[(t1 >> 8) & 15],
    HEX_DIGIT[(t1 >> 4) & 15], HEX_DIGIT[t1 & 15],
    HEX_DIGIT[t2 >> 20], HEX_DIGIT[(t2 >> 16) & 15], HEX_DIGIT[(t2 >> 12) & 15], HEX_DIGIT[(t2 >> 8) & 15],
    HEX_DIGIT[(t2 >> 4) & 15], HEX_DIGIT[t2 & 15],
    HEX_DIGIT[t3 >> 20], HEX_DIGIT[(t3 >> 16) & 15], HEX_DIGIT[(t3 >> 12) & 15], HEX_DIGIT[(t3 >> 8) & 15],
    HEX_DIGIT[(t3 >> 4) & 15], HEX_DIGIT[t3 & 15],
    HEX_DIGIT[t4 >> 20], HEX_DIGIT[(t4 >> 16) & 15], HEX_DIGIT[(t4 >> 12) & 15], HEX_DIGIT[(t4 >> 8) & 15],
    HEX_DIGIT[(t4 >> 4) & 15], HEX_DIGIT[t4 & 15],
    HEX_DIGIT[t5 >> 4], HEX_DIGIT[t5 & 15],
  );
}

/** The hex of a span id kept as chunks (see DRAWN). */
export function spanIdHex(s0: number, s1: number, s2: number): string {
  return fromCharCode(
    HEX_DIGIT[s0 >> 20], HEX_DIGIT[(s0 >> 16) & 15], HEX_DIGIT[(s0 >> 12) & 15], HEX_DIGIT[(s0 >> 8) & 15],
    HEX_DIGIT[(s0 >> 4) & 15], HEX_DIGIT[s0 & 15],
    HEX_DIGIT[s1 >> 20], HEX_DIGIT[(s1 >> 16) & 15], HEX_DIGIT[(s1 >> 12) & 15], HEX_DIGIT[(s1 >> 8) & 15],
    HEX_DIGIT[(s1 >> 4) & 15], HEX_DIGIT[s1 & 15],
    HEX_DIGIT[s2 >> 12], HEX_DIGIT[(s2 >> 8) & 15], HEX_DIGIT[(s2 >> 4) & 15], HEX_DIGIT[s2 & 15],
  );
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
