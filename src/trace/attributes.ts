/**
 * Attribute values (specification/common/README.md#attribute): strings, booleans, numbers, homogeneous arrays of
 * those (null entries allowed), and — as OTLP's AnyValue allows — byte arrays and maps of valid values. Anything
 * else is invalid and dropped. Arrays and maps are copied, so the application changing them later does not
 * change the span.
 */
import { types } from 'node:util';
import type { AttributeValue, Attributes } from '../api/types';

const MAX_DEPTH = 8;

/** An object literal (or Object.create(null)) of this realm or another: its prototype is a realm's Object.prototype. */
function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) return true;
  return Object.getPrototypeOf(proto) === null && typeof proto.constructor === 'function' && proto.constructor.name === 'Object';
}

const charCodeAt: (this: string, index: number) => number = String.prototype.charCodeAt; // called as charCodeAt.call(s, i): why, at charCodeAt in src/exporters/otlp/protobuf-writer.ts

/**
 * common/README.md, "Attribute Limits": a string longer than the limit is cut to `limit` characters, "counting
 * any character in it as 1" — a character outside the Basic Multilingual Plane (an emoji) is two UTF-16 units
 * in JavaScript, and is neither split in half (which would leave an unpaired surrogate, sent as U+FFFD) nor
 * counted twice.
 */
export function truncateString(s: string, limit: number): string {
  const length = s.length;
  if (length <= limit) return s; // never more characters than UTF-16 units
  let i = 0;
  for (let n = 0; n < limit && i < length; n++) {
    const c = charCodeAt.call(s, i);
    i += c >= 0xd800 && c <= 0xdbff && i + 1 < length && (charCodeAt.call(s, i + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
  }
  return i >= length ? s : s.slice(0, i);
}

const truncate = truncateString;

function sanitizeArray(value: unknown[], limit: number, depth: number): unknown[] | undefined {
  let kind: string | undefined;
  const out = new Array(value.length);
  for (let i = 0; i < value.length; i++) {
    const item = value[i];
    if (item === null || item === undefined) {
      out[i] = null;
      continue;
    }
    const t = typeof item;
    if (t === 'string' || t === 'number' || t === 'boolean') {
      if (kind === undefined) kind = t;
      else if (kind !== t) return undefined; // heterogeneous: invalid
      out[i] = t === 'string' ? truncate(item as string, limit) : item;
      continue;
    }
    // Arrays of maps or arrays are AnyValue arrays: each element must itself be valid.
    const nested = sanitizeValue(item, limit, depth + 1);
    if (nested === undefined) return undefined;
    if (kind === undefined) kind = 'complex';
    else if (kind !== 'complex') return undefined;
    out[i] = nested;
  }
  return out;
}

/** A valid copy of `value` with strings cut to `limit`, or undefined when the value is not valid. */
export function sanitizeValue(value: unknown, limit: number, depth = 0): AttributeValue | undefined {
  switch (typeof value) {
    case 'string':
      return truncate(value, limit);
    case 'number':
    case 'boolean':
      return value;
    case 'object': {
      if (value === null || depth > MAX_DEPTH) return undefined;
      if (Array.isArray(value)) return sanitizeArray(value, limit, depth) as AttributeValue | undefined;
      // Checked so that values made in another realm (a Jest test's vm context) pass too.
      // A byte array is cut to `limit` bytes (common/README.md, "Attribute Limits").
      if (types.isUint8Array(value)) {
        const bytes = value as Uint8Array;
        return Uint8Array.prototype.slice.call(bytes, 0, Math.min(bytes.length, limit)) as unknown as AttributeValue;
      }
      if (!isPlainObject(value)) return undefined;
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(value)) {
        const v = sanitizeValue((value as Record<string, unknown>)[key], limit, depth + 1);
        if (v !== undefined) out[key] = v;
      }
      return out as unknown as AttributeValue;
    }
    default:
      return undefined;
  }
}

export function isAttributeKey(key: unknown): key is string {
  return typeof key === 'string' && key.length > 0;
}

/**
 * Copies a set of attributes under a count limit (later keys beyond the limit are dropped and counted).
 * Returns the attributes and the dropped count.
 */
export function sanitizeAttributes(
  attributes: Attributes | undefined,
  countLimit: number,
  lengthLimit: number,
): { attributes: Attributes; dropped: number } {
  const out: Attributes = {};
  let dropped = 0;
  let count = 0;
  if (attributes !== undefined && attributes !== null && typeof attributes === 'object') {
    for (const key of Object.keys(attributes)) {
      const v = sanitizeValue(attributes[key], lengthLimit);
      if (v === undefined) continue;
      if (count >= countLimit) {
        dropped++;
        continue;
      }
      out[key] = v;
      count++;
    }
  }
  return { attributes: out, dropped };
}
