/**
 * Character-level helpers shared by the header parsers: lower-case hex fields (W3C Trace Context `HEXDIGLC`,
 * https://www.w3.org/TR/trace-context/#traceparent-header-field-values; B3 "lower-hex" ids,
 * https://github.com/openzipkin/b3-propagation#traceid), optional white space (RFC 7230 §3.2.3) and header values
 * that a getter may return as several lines. Plain loops over char codes: these run on every request.
 */
const charCodeAt: (this: string, index: number) => number = String.prototype.charCodeAt; // called as charCodeAt.call(s, i): why, at charCodeAt in src/exporters/otlp/protobuf-writer.ts

/** The value of a lower-case hex digit (`0-9a-f`), or -1 for any other character (upper case included). */
export function lowerHexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30; // 0-9
  if (code >= 0x61 && code <= 0x66) return code - 0x57; // a-f
  return -1;
}

/**
 * Whether `s[start, end)` is lower-case hex, and not all zeros (an all-zero trace or span id is invalid in
 * both W3C Trace Context and OpenTelemetry). The caller makes sure the range lies inside the string.
 */
export function isNonZeroLowerHex(s: string, start: number, end: number): boolean {
  let nonZero = false;
  for (let i = start; i < end; i++) {
    const c = charCodeAt.call(s, i);
    if (c === 0x30) continue;
    if (lowerHexValue(c) < 0) return false;
    nonZero = true;
  }
  return nonZero;
}

/** Two-digit lower-case hex for every byte value, for writing trace flags without number formatting. */
export const BYTE_HEX: readonly string[] = (() => {
  const out: string[] = [];
  for (let i = 0; i < 256; i++) out.push((i < 16 ? '0' : '') + i.toString(16));
  return Object.freeze(out);
})();

/** The first value of a header as a getter returns it: a string, or the first of several (string[]). */
export function firstHeaderValue(value: string | string[] | undefined): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.length > 0 && typeof value[0] === 'string') return value[0];
  return undefined;
}

/** Whether a char code is optional white space (RFC 7230 §3.2.3 OWS: space or horizontal tab). */
export function isOws(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/** `value` without leading and trailing OWS; the same string when there is none (the usual case). */
export function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && isOws(charCodeAt.call(value, start))) start++;
  while (end > start && isOws(charCodeAt.call(value, end - 1))) end--;
  return start === 0 && end === value.length ? value : value.substring(start, end);
}
