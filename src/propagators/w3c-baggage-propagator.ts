/**
 * W3C Baggage propagator (https://www.w3.org/TR/baggage/): the `baggage` header.
 *
 * Section references are to the header format (https://www.w3.org/TR/baggage/#header-content):
 * "Definition" (the ABNF), "value", "property", "Limits" and "Mutating baggage".
 *
 *   baggage-string = list-member 0*179( OWS "," OWS list-member )
 *   list-member    = key OWS "=" OWS value *( OWS ";" OWS property )
 *   property       = key OWS "=" OWS value / key OWS
 *   key            = token                        ; RFC 7230 §3.2.6
 *   value          = *baggage-octet               ; a URL-encoded UTF-8 string
 *   baggage-octet  = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E
 *
 * Parsing is one pass over the characters with indexOf for the member separators: no split, no regex, and no
 * array at all for the common header with one member.
 */
import type { BaggageEntry, BaggageEntryMetadata, Context, TextMapGetter, TextMapPropagator, TextMapSetter } from '../api/types';
import { getBaggage, isTracingSuppressed, setBaggage } from '../context/context';
import { ZerotelBaggage, baggageEntryMetadataFromString } from './baggage';
import { isOws } from './header-syntax';
const charCodeAt: (this: string, index: number) => number = String.prototype.charCodeAt; // called as charCodeAt.call(s, i): why, at charCodeAt in src/exporters/otlp/protobuf-writer.ts

export const BAGGAGE_HEADER = 'baggage';

/** "Limits": at most 180 list-members, 4096 bytes per list-member and 8192 bytes per baggage-string. */
export const MAX_BAGGAGE_MEMBERS = 180;
export const MAX_BAGGAGE_MEMBER_BYTES = 4096;
export const MAX_BAGGAGE_BYTES = 8192;

const EQUALS = 0x3d;
const SEMICOLON = 0x3b;
const PERCENT = 0x25;

/** 1 for RFC 7230 tchar: ALPHA / DIGIT / "!#$%&'*+-.^_`|~". */
const TOKEN = new Uint8Array(128);
/** 1 for baggage-octet: printable US-ASCII except DQUOTE, comma, semicolon and backslash. */
const OCTET = new Uint8Array(128);
for (let c = 0x30; c <= 0x39; c++) TOKEN[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TOKEN[c] = 1;
for (const ch of "!#$%&'*+-.^_`|~") TOKEN[charCodeAt.call(ch, 0)] = 1;
for (let c = 0x21; c <= 0x7e; c++) OCTET[c] = 1;
OCTET[0x22] = 0; // "
OCTET[0x2c] = 0; // ,
OCTET[0x3b] = 0; // ;
OCTET[0x5c] = 0; // \

function isTokenChar(code: number): boolean {
  return code < 128 && TOKEN[code] === 1;
}

function isBaggageOctet(code: number): boolean {
  return code < 128 && OCTET[code] === 1;
}

/** Whether `key` is a non-empty RFC 7230 token, the only keys the header can carry. */
export function isValidBaggageKey(key: string): boolean {
  if (typeof key !== 'string' || key.length === 0) return false;
  for (let i = 0; i < key.length; i++) if (!isTokenChar(charCodeAt.call(key, i))) return false;
  return true;
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x61 && code <= 0x66) return code - 0x57;
  if (code >= 0x41 && code <= 0x46) return code - 0x37;
  return -1;
}

/**
 * "value": percent-decodes `s[start, end)` (already checked to be baggage-octets) and reads the bytes as UTF-8.
 * This is the WHATWG URL "percent-decode" then "UTF-8 decode without BOM": a `%` not followed by two hex digits
 * stays a literal `%`, and a byte sequence that is not UTF-8 becomes U+FFFD. A sloppy producer's value is kept as
 * well as it can be rather than dropped, and decoding never throws.
 */
function percentDecode(s: string, start: number, end: number): string {
  const bytes = Buffer.allocUnsafe(end - start);
  let n = 0;
  for (let i = start; i < end; i++) {
    const code = charCodeAt.call(s, i);
    if (code === PERCENT && i + 2 < end) {
      const hi = hexValue(charCodeAt.call(s, i + 1));
      const lo = hexValue(charCodeAt.call(s, i + 2));
      if (hi >= 0 && lo >= 0) {
        bytes[n++] = hi * 16 + lo;
        i += 2;
        continue;
      }
    }
    bytes[n++] = code;
  }
  return bytes.toString('utf8', 0, n);
}

/** `%XX` with upper-case hex (RFC 3986 §2.1) for every byte value. */
const PERCENT_ENCODED: readonly string[] = (() => {
  const out: string[] = [];
  for (let i = 0; i < 256; i++) out.push('%' + (i < 16 ? '0' : '') + i.toString(16).toUpperCase());
  return out;
})();

/**
 * "value": percent-encodes a value for the header. Only what is not a baggage-octet needs encoding, plus `%`
 * itself: controls, space, DQUOTE, comma, semicolon, backslash, DEL, and every non-ASCII character as the
 * percent-encoded bytes of its UTF-8 form. A lone surrogate (not representable in UTF-8) is sent as U+FFFD,
 * as TextEncoder would. Returns `value` itself when nothing needs encoding.
 */
export function encodeBaggageValue(value: string): string {
  const n = value.length;
  let i = 0;
  while (i < n) {
    const code = charCodeAt.call(value, i);
    if (!isBaggageOctet(code) || code === PERCENT) break;
    i++;
  }
  if (i === n) return value;
  let out = value.substring(0, i);
  for (; i < n; i++) {
    const code = charCodeAt.call(value, i);
    if (code < 0x80) {
      out += isBaggageOctet(code) && code !== PERCENT ? value[i] : PERCENT_ENCODED[code];
      continue;
    }
    let cp = code;
    if (code >= 0xd800 && code <= 0xdfff) {
      const low = i + 1 < n ? charCodeAt.call(value, i + 1) : 0;
      if (code <= 0xdbff && low >= 0xdc00 && low <= 0xdfff) {
        cp = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
        i++;
      } else {
        cp = 0xfffd;
      }
    }
    if (cp < 0x800) {
      out += PERCENT_ENCODED[0xc0 | (cp >> 6)] + PERCENT_ENCODED[0x80 | (cp & 0x3f)];
    } else if (cp < 0x10000) {
      out +=
        PERCENT_ENCODED[0xe0 | (cp >> 12)] +
        PERCENT_ENCODED[0x80 | ((cp >> 6) & 0x3f)] +
        PERCENT_ENCODED[0x80 | (cp & 0x3f)];
    } else {
      out +=
        PERCENT_ENCODED[0xf0 | (cp >> 18)] +
        PERCENT_ENCODED[0x80 | ((cp >> 12) & 0x3f)] +
        PERCENT_ENCODED[0x80 | ((cp >> 6) & 0x3f)] +
        PERCENT_ENCODED[0x80 | (cp & 0x3f)];
    }
  }
  return out;
}

/**
 * "property": parses the property list `s[start, end)` (what follows a member's first `;`) and returns it
 * normalized — white space around keys, `=` and `;` removed, properties joined by `;` — or undefined when it is
 * not a valid list. Property values are not decoded: "Property keys and values are given no specific meaning by
 * this specification". Empty properties (`;;`, a trailing `;`) are tolerated and dropped.
 */
function parseProperties(s: string, start: number, end: number): string | undefined {
  let out = '';
  let i = start;
  for (;;) {
    while (i < end && isOws(charCodeAt.call(s, i))) i++;
    const keyStart = i;
    while (i < end && isTokenChar(charCodeAt.call(s, i))) i++;
    if (i > keyStart) {
      let property = s.substring(keyStart, i);
      while (i < end && isOws(charCodeAt.call(s, i))) i++;
      if (i < end && charCodeAt.call(s, i) === EQUALS) {
        i++;
        while (i < end && isOws(charCodeAt.call(s, i))) i++;
        const valueStart = i;
        while (i < end && isBaggageOctet(charCodeAt.call(s, i))) i++;
        property += '=' + s.substring(valueStart, i);
        while (i < end && isOws(charCodeAt.call(s, i))) i++;
      }
      out = out === '' ? property : out + ';' + property;
    }
    if (i >= end) return out;
    if (charCodeAt.call(s, i) !== SEMICOLON) return undefined;
    i++;
  }
}

/**
 * Parses one list-member `s[start, end)` (outer white space already trimmed) into `into`. Returns false, adding
 * nothing, when the member does not follow the grammar: a key that is not a token, no `=`, a value character
 * that is not a baggage-octet (a raw space, quote, backslash, control or non-ASCII character), or a bad
 * property. A later member with the same key replaces the earlier value ("Mutating baggage" lets receivers
 * deduplicate as they choose; the last value wins, as a Map and @opentelemetry/core do).
 */
function parseMember(s: string, start: number, end: number, into: Map<string, BaggageEntry>): boolean {
  let i = start;
  while (i < end && isTokenChar(charCodeAt.call(s, i))) i++;
  if (i === start) return false;
  const keyEnd = i;
  while (i < end && isOws(charCodeAt.call(s, i))) i++;
  if (i >= end || charCodeAt.call(s, i) !== EQUALS) return false;
  i++;
  while (i < end && isOws(charCodeAt.call(s, i))) i++;
  const valueStart = i;
  let encoded = false;
  for (; i < end; i++) {
    const code = charCodeAt.call(s, i);
    if (!isBaggageOctet(code)) break;
    if (code === PERCENT) encoded = true;
  }
  const valueEnd = i;
  while (i < end && isOws(charCodeAt.call(s, i))) i++;
  let metadata: BaggageEntryMetadata | undefined;
  if (i < end) {
    if (charCodeAt.call(s, i) !== SEMICOLON) return false;
    const properties = parseProperties(s, i + 1, end);
    if (properties === undefined) return false;
    if (properties !== '') metadata = baggageEntryMetadataFromString(properties);
  }
  const value = encoded ? percentDecode(s, valueStart, valueEnd) : s.substring(valueStart, valueEnd);
  into.set(s.substring(start, keyEnd), Object.freeze(metadata === undefined ? { value } : { value, metadata }));
  return true;
}

/**
 * Parses a `baggage` header value into entries, in order; undefined when no member is usable. Never throws.
 *
 * "Limits" applied on receipt, where the specification lets a receiver drop entries ("Mutating baggage": a
 * system that finds more entries than the limits allow "MAY drop or truncate certain baggage entries"):
 * - a member longer than 4096 bytes is ignored and the ones after it are still read;
 * - once 180 members are kept, or the next member would take the kept members past 8192 bytes (commas
 *   included), the rest of the header is ignored.
 * Malformed members (see parseMember) and empty ones are skipped; the others are kept.
 * A valid member is pure ASCII, so its length in characters is its length in bytes.
 */
export function parseBaggageHeader(header: string): Map<string, BaggageEntry> | undefined {
  let entries: Map<string, BaggageEntry> | undefined;
  let members = 0;
  let bytes = 0;
  const length = header.length;
  let pos = 0;
  while (pos <= length) {
    let comma = header.indexOf(',', pos);
    if (comma === -1) comma = length;
    let start = pos;
    let end = comma;
    pos = comma + 1;
    while (start < end && isOws(charCodeAt.call(header, start))) start++;
    while (end > start && isOws(charCodeAt.call(header, end - 1))) end--;
    const size = end - start;
    if (size === 0 || size > MAX_BAGGAGE_MEMBER_BYTES) continue;
    const added = members === 0 ? size : size + 1;
    if (bytes + added > MAX_BAGGAGE_BYTES) break;
    if (entries === undefined) entries = new Map();
    if (!parseMember(header, start, end, entries)) continue;
    members++;
    bytes += added;
    if (members === MAX_BAGGAGE_MEMBERS) break;
  }
  return entries === undefined || entries.size === 0 ? undefined : entries;
}

/**
 * Serializes entries into a `baggage` header value, or '' when none can be sent. Entries whose key is not a
 * token cannot be represented and are skipped; metadata that is not a valid property list is left out (the
 * entry itself is still sent). "Limits": whole members are dropped, never cut — a member over 4096 bytes, a
 * member that would take the header past 8192 bytes, and every member after the 180th.
 */
export function serializeBaggage(entries: ReadonlyArray<readonly [string, BaggageEntry]>): string {
  let header = '';
  let members = 0;
  for (let i = 0; i < entries.length; i++) {
    const key = entries[i][0];
    const entry = entries[i][1];
    if (!isValidBaggageKey(key) || entry === null || typeof entry !== 'object' || entry.value === undefined) continue;
    let member = key + '=' + encodeBaggageValue(typeof entry.value === 'string' ? entry.value : String(entry.value));
    const metadata = entry.metadata;
    if (metadata !== undefined && metadata !== null) {
      const text = String(metadata);
      const properties = parseProperties(text, 0, text.length);
      if (properties !== undefined && properties !== '') member += ';' + properties;
    }
    if (member.length > MAX_BAGGAGE_MEMBER_BYTES) continue;
    const added = members === 0 ? member.length : member.length + 1;
    if (header.length + added > MAX_BAGGAGE_BYTES) continue;
    header = members === 0 ? member : header + ',' + member;
    members++;
    if (members === MAX_BAGGAGE_MEMBERS) break;
  }
  return header;
}

export class W3CBaggagePropagator implements TextMapPropagator {
  /**
   * Sets the header's entries as the context's baggage (replacing any there), or returns `context` unchanged
   * when there is no header or no usable member. Several `baggage` header lines are combined in order, as
   * RFC 7230 §3.2.2 combines repeated fields ("Multiple baggage headers are allowed").
   */
  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    const raw = getter.get(carrier, BAGGAGE_HEADER);
    let header: string;
    if (typeof raw === 'string') header = raw;
    else if (Array.isArray(raw)) header = raw.join(',');
    else return context;
    if (header.length === 0) return context;
    const entries = parseBaggageHeader(header);
    return entries === undefined ? context : setBaggage(context, new ZerotelBaggage(entries));
  }

  /**
   * Writes the context's baggage (see serializeBaggage); nothing when there is none, when no entry can be sent,
   * or when tracing is suppressed — as OpenTelemetry JS's W3CBaggagePropagator, for the reason given on
   * W3CTraceContextPropagator.inject.
   */
  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    if (isTracingSuppressed(context)) return;
    const baggage = getBaggage(context);
    if (baggage === undefined) return;
    const header = serializeBaggage(baggage.getAllEntries());
    if (header !== '') setter.set(carrier, BAGGAGE_HEADER, header);
  }

  fields(): string[] {
    return [BAGGAGE_HEADER];
  }
}
