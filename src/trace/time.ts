/**
 * Span times are held as milliseconds since `performance.timeOrigin` (a `performance.now()` reading): one
 * number, sub-microsecond precision, no allocation. They become epoch nanoseconds only when exported, split into
 * whole seconds and nanoseconds so that the 64-bit value (beyond 2^53) is written exactly.
 */
import type { HrTime, TimeInput } from '../api/types';

const perf = globalThis.performance;
const TIME_ORIGIN_MS = perf.timeOrigin;
const ORIGIN_SECONDS = Math.floor(TIME_ORIGIN_MS / 1000);
const ORIGIN_NANOS = Math.round((TIME_ORIGIN_MS - ORIGIN_SECONDS * 1000) * 1e6);

export function now(): number {
  return perf.now();
}

export function isTimeInput(value: unknown): value is TimeInput {
  return (
    typeof value === 'number' ||
    value instanceof Date ||
    (Array.isArray(value) && value.length === 2 && typeof value[0] === 'number' && typeof value[1] === 'number')
  );
}

/**
 * Converts any accepted time to milliseconds since the time origin. As in the OpenTelemetry JS API, a number
 * smaller than the time origin is read as a `performance.now()` value, a larger one as epoch milliseconds.
 * Anything unusable gives the current time.
 */
export function toRelativeMillis(input: TimeInput | undefined): number {
  if (input === undefined) return perf.now();
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) return perf.now();
    return input < TIME_ORIGIN_MS ? input : input - TIME_ORIGIN_MS;
  }
  if (input instanceof Date) {
    const t = input.getTime();
    return Number.isFinite(t) ? t - TIME_ORIGIN_MS : perf.now();
  }
  if (Array.isArray(input) && Number.isFinite(input[0]) && Number.isFinite(input[1])) {
    return (input[0] - ORIGIN_SECONDS) * 1000 + (input[1] - ORIGIN_NANOS) / 1e6;
  }
  return perf.now();
}

/** Epoch time of a relative time as [seconds, nanoseconds], nanoseconds in [0, 1e9). */
export function toEpochParts(relativeMillis: number, out: HrTime): HrTime {
  let nanos = ORIGIN_NANOS + Math.round(relativeMillis * 1e6);
  let seconds = ORIGIN_SECONDS;
  if (nanos >= 1e9 || nanos < 0) {
    const carry = Math.floor(nanos / 1e9);
    seconds += carry;
    nanos -= carry * 1e9;
  }
  out[0] = seconds;
  out[1] = nanos;
  return out;
}

export function toHrTime(relativeMillis: number): HrTime {
  return toEpochParts(relativeMillis, [0, 0]);
}

/** Exact epoch nanoseconds as a decimal string (OTLP/JSON writes 64-bit integers as strings). */
export function toEpochNanosString(relativeMillis: number): string {
  const parts = toEpochParts(relativeMillis, scratch);
  if (parts[0] <= 0) return String(parts[0] * 1e9 + parts[1]);
  const ns = String(parts[1]);
  return String(parts[0]) + '000000000'.slice(ns.length) + ns;
}
const scratch: HrTime = [0, 0];

/** Exact epoch nanoseconds as a bigint (tests and tools; the encoders avoid bigint). */
export function toEpochNanosBigInt(relativeMillis: number): bigint {
  const parts = toEpochParts(relativeMillis, [0, 0]);
  return BigInt(parts[0]) * 1_000_000_000n + BigInt(parts[1]);
}

/** Epoch milliseconds, for people (console output, reports). */
export function toEpochMillis(relativeMillis: number): number {
  return TIME_ORIGIN_MS + relativeMillis;
}
