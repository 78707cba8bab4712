/**
 * A small protobuf wire-format writer (https://protobuf.dev/programming-guides/encoding/), written for the one job
 * of encoding OTLP requests quickly:
 *
 * - one growable buffer per writer, reused from batch to batch (see the writer pool in trace-protobuf-encoder.ts);
 * - varints, fixed-width numbers and UTF-8 written straight into the buffer, with no intermediate objects;
 * - length-delimited fields are back-patched: the writer reserves as many length bytes as the caller expects,
 *   writes the content, then writes the real length, moving the content (one memmove) in the rare case the guess
 *   was wrong. Lengths are always minimal varints, so the output is canonical and no larger than a size-pass
 *   encoder's;
 * - 64-bit fixed values are taken as two 32-bit halves, so nanosecond timestamps beyond 2^53 are exact without
 *   BigInt.
 *
 * Tags are passed pre-computed (`(field_number << 3) | wire_type`); every OTLP field this writer is used for has a
 * tag below 128 except `Span.flags` (16), which has its own method.
 */

// Wire types (encoding.md, "Message Structure"), as they appear in the tags used here: 0 varint, 1 fixed64,
// 2 length-delimited, 5 fixed32.

const TWO_POW_32 = 4294967296;

/**
 * String.prototype.charCodeAt read once, for hot paths to call as `charCodeAt.call(s, i)`; every module that
 * reads characters in a hot path keeps a constant of its own like this one.
 *
 * Why not `s.charCodeAt(i)`: V8 optimises that call by finding `charCodeAt` through String.prototype's map, which
 * it can do only while String.prototype has fast properties. An application can leave it in dictionary mode for
 * the life of the process: on Node.js 20, defining `class X extends String` does it, and node-redis 5 has such a
 * class (`VerbatimString`, loaded with the client). From then on every `s.charCodeAt(i)` in optimised code is a
 * generic property lookup in a hash table, then a call. A function held in a module's constant and invoked through
 * `call` is inlined just the same, and is immune. Measured on Node 20 (bench/otlp-encode.js, LOAD_REDIS=1 loads
 * node-redis first): the 512-span batch encoded at 472 K spans/s with node-redis loaded, 1.04 M without; with the
 * constant, 1.08 M and 1.10 M. Why a constant per module rather than one imported: an imported binding is read
 * from the other module's exports object at each call, which V8 does not see through (0.73 M spans/s).
 */
const charCodeAt: (this: string, index: number) => number = String.prototype.charCodeAt;

/** Hex digit value by character code; 0 for anything that is not a hex digit. */
const HEX_VALUE = new Uint8Array(128);
for (let i = 0; i < 10; i++) HEX_VALUE[48 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX_VALUE[65 + i] = 10 + i;
  HEX_VALUE[97 + i] = 10 + i;
}

/**
 * Strings longer than this are encoded natively; shorter ones by a JS loop, cheaper than the call. (Measured on
 * Node 20: the loop costs ~2 ns a character, the native call ~50 ns whatever the length.)
 */
const NATIVE_UTF8_THRESHOLD = 20;

type Utf8Write = (this: Buffer, s: string, offset: number) => number;
/**
 * Buffer#utf8Write is Buffer#write without its argument parsing (an old, stable, if undocumented, method of every
 * Buffer); Buffer#write when a runtime lacks it.
 */
const utf8Write: Utf8Write =
  typeof (Buffer.prototype as unknown as { utf8Write?: unknown }).utf8Write === 'function'
    ? ((Buffer.prototype as unknown as { utf8Write: Utf8Write }).utf8Write)
    : function (this: Buffer, s: string, offset: number): number {
        return this.write(s, offset, 'utf8');
      };

/**
 * Encoded strings for cachedStringField, shared by all writers. Bounded: attribute keys are few in practice; if an
 * application makes them unbounded (ids in keys), the cache simply stops growing.
 */
const encodedStrings = new Map<string, Uint8Array>();
const MAX_CACHED_STRINGS = 2048;
const MAX_CACHED_STRING_LENGTH = 100;

export class ProtobufWriter {
  buf: Buffer;
  /**
   * A view of `buf` for multi-byte stores: one 32-bit store instead of four byte stores, which on the machines
   * measured cost 2–5 ns each in optimised code (the typed array's data pointer is reloaded for every store).
   */
  view: DataView;
  pos = 0;

  constructor(initialSize = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initialSize);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
  }

  reset(): void {
    this.pos = 0;
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    if (this.pos + n > this.buf.length) this._grow(n);
  }

  private _grow(n: number): void {
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    // TypedArray#set is a plain memcpy; Buffer#copy is several times slower on large ranges in Node 20.
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.length);
  }

  /** A copy of what was written (the writer's buffer is reused by the next encode). */
  finish(): Buffer {
    const out = Buffer.allocUnsafe(this.pos);
    out.set(this.buf.subarray(0, this.pos));
    return out;
  }

  /** A varint of a non-negative integer up to 2^53 (callers ensure room: at most 8 bytes for that range). */
  private _varint(value: number): void {
    const buf = this.buf;
    let pos = this.pos;
    if (value < TWO_POW_32) {
      let v = value >>> 0;
      while (v > 0x7f) {
        buf[pos++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      buf[pos++] = v;
    } else {
      let v = value;
      while (v > 0x7f) {
        buf[pos++] = (v % 0x80) | 0x80;
        v = Math.floor(v / 0x80);
      }
      buf[pos++] = v;
    }
    this.pos = pos;
  }

  /** Field `tag` (varint wire type) with a non-negative integer value. */
  uint32Field(tag: number, value: number): void {
    this.ensure(11);
    this.buf[this.pos++] = tag;
    this._varint(value);
  }

  /** Field `tag` (varint wire type) with a boolean. */
  boolField(tag: number, value: boolean): void {
    this.ensure(2);
    const buf = this.buf;
    buf[this.pos++] = tag;
    buf[this.pos++] = value ? 1 : 0;
  }

  /**
   * Field `tag` with an int64 (varint wire type). `value` must be an integer within ±2^53; negative numbers take the
   * ten-byte two's complement form protobuf prescribes for int64.
   */
  int64Field(tag: number, value: number): void {
    this.ensure(11);
    this.buf[this.pos++] = tag;
    if (value >= 0) {
      this._varint(value);
      return;
    }
    // Two's complement over 64 bits, as two unsigned 32-bit halves.
    const hiSigned = Math.floor(value / TWO_POW_32);
    let lo = value - hiSigned * TWO_POW_32;
    let hi = hiSigned >>> 0;
    const buf = this.buf;
    let pos = this.pos;
    // Ten bytes: 9 × 7 bits, then the last bit.
    for (let i = 0; i < 9; i++) {
      buf[pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    buf[pos++] = lo & 0x01;
    this.pos = pos;
  }

  /** Field `tag` (fixed32 wire type). */
  fixed32Field(tag: number, value: number): void {
    this.ensure(5);
    const pos = this.pos;
    this.buf[pos] = tag;
    this.view.setUint32(pos + 1, value >>> 0, true);
    this.pos = pos + 5;
  }

  /** `Span.flags`, field 16, fixed32: its tag (133) takes two varint bytes. */
  fixed32Field16(value: number): void {
    this.ensure(6);
    const buf = this.buf;
    const pos = this.pos;
    buf[pos] = 0x85;
    buf[pos + 1] = 0x01;
    this.view.setUint32(pos + 2, value >>> 0, true);
    this.pos = pos + 6;
  }

  /** Field `tag` (fixed64 wire type) from two unsigned 32-bit halves. */
  fixed64Field(tag: number, lo: number, hi: number): void {
    this.ensure(9);
    const pos = this.pos;
    const view = this.view;
    this.buf[pos] = tag;
    view.setUint32(pos + 1, lo >>> 0, true);
    view.setUint32(pos + 5, hi >>> 0, true);
    this.pos = pos + 9;
  }

  /**
   * Field `tag` (fixed64) holding `seconds * 1e9 + nanos` exactly, for nanos in [0, 1e9) and any seconds whose
   * total stays below 2^64 (until the year 2554). The product needs up to 64 bits, more than a double holds, so it
   * is built from 16-bit pieces whose partial products all stay below 2^53.
   */
  epochNanosField(tag: number, seconds: number, nanos: number): void {
    // Math.floor of a quotient by a power of two is exact and compiles to one instruction; `%` on doubles is a
    // call into C (fmod), and this runs twice per span.
    const sHi = Math.floor(seconds / 0x10000); // < 2^19 below 2^64 ns
    const sLo = seconds - sHi * 0x10000;
    const high = sHi * 1e9; // < 2^49: contributes high * 2^16
    const low = sLo * 1e9 + nanos; // < 2^47
    const highUpper = Math.floor(high / 0x10000); // < 2^33: contributes highUpper * 2^32
    const sum = (high - highUpper * 0x10000) * 0x10000 + low; // < 2^48
    const carry = Math.floor(sum / TWO_POW_32);
    this.fixed64Field(tag, sum - carry * TWO_POW_32, highUpper + carry);
  }

  /** Field `tag` (fixed64 wire type) with a double. */
  doubleField(tag: number, value: number): void {
    this.ensure(9);
    this.buf[this.pos++] = tag;
    this.buf.writeDoubleLE(value, this.pos);
    this.pos += 8;
  }

  /** Field `tag` (length-delimited) with the UTF-8 bytes of `s`. Lone surrogates become U+FFFD, as Buffer does. */
  stringField(tag: number, s: string): void {
    const len = s.length;
    // At most 3 bytes per UTF-16 unit; tag + up to 5 length bytes.
    this.ensure(len * 3 + 6);
    const buf = this.buf;
    buf[this.pos++] = tag;
    // Reserve the length bytes for the all-ASCII case, which is the usual one; fix up if the text was longer.
    const reserve = len < 0x80 ? 1 : len < 0x4000 ? 2 : len < 0x200000 ? 3 : len < 0x10000000 ? 4 : 5;
    const start = this.pos + reserve;
    let end: number;
    if (len > NATIVE_UTF8_THRESHOLD) {
      end = start + utf8Write.call(buf, s, start);
    } else {
      end = start;
      for (let i = 0; i < len; i++) {
        const c = charCodeAt.call(s, i);
        if (c < 0x80) buf[end++] = c;
        else {
          end = writeUtf8Tail(buf, s, i, end);
          break;
        }
      }
      // Short ASCII, the usual case: the one reserved length byte was right.
      if (end - start < 0x80) {
        buf[start - 1] = end - start;
        this.pos = end;
        return;
      }
    }
    this._patchLength(start, end, reserve);
  }

  /**
   * A string field whose text repeats from span to span (attribute keys): its encoded bytes, tag included, are
   * kept and copied next time, which is cheaper than encoding the text again.
   */
  cachedStringField(tag: number, s: string): void {
    const cached = encodedStrings.get(s);
    if (cached !== undefined && cached[0] === tag) {
      this.rawBytes(cached);
      return;
    }
    const start = this.pos;
    this.stringField(tag, s);
    if (encodedStrings.size < MAX_CACHED_STRINGS && s.length <= MAX_CACHED_STRING_LENGTH) {
      encodedStrings.set(s, this.copyOut(start));
    }
  }

  /** Bytes already encoded (a whole field), copied as they are. */
  rawBytes(bytes: Uint8Array): void {
    const n = bytes.length;
    this.ensure(n);
    const buf = this.buf;
    let pos = this.pos;
    // TypedArray#set costs about 40 ns whatever the length; a byte loop 2–5 ns a byte (measured, Node 20): the
    // loop only wins for the shortest copies. Cached attributes are mostly 20–60 bytes.
    if (n > 12) {
      buf.set(bytes, pos);
      this.pos = pos + n;
      return;
    }
    for (let i = 0; i < n; i++) buf[pos++] = bytes[i];
    this.pos = pos;
  }

  /** A copy of what was written from `start` on. */
  copyOut(start: number): Uint8Array {
    return Uint8Array.prototype.slice.call(this.buf, start, this.pos);
  }

  /** Field `tag` (length-delimited) with raw bytes. */
  bytesField(tag: number, bytes: Uint8Array): void {
    const n = bytes.length;
    this.ensure(n + 6);
    this.buf[this.pos++] = tag;
    this._varint(n);
    this.buf.set(bytes, this.pos);
    this.pos += n;
  }

  /**
   * Field `tag` (length-delimited) with `byteLength` bytes decoded from the hex string `hex` (trace and span ids),
   * without allocating. A string of the wrong length gives an all-zero id, which receivers treat as invalid.
   * `byteLength` is a multiple of 4 (ids are 8 and 16 bytes).
   */
  hexField(tag: number, hex: string, byteLength: number): void {
    this.ensure(byteLength + 2);
    const buf = this.buf;
    let pos = this.pos;
    buf[pos++] = tag;
    buf[pos++] = byteLength;
    if (hex.length === byteLength * 2) {
      // Eight hex digits to one big-endian 32-bit store: a third faster than a store per byte.
      const view = this.view;
      for (let i = 0; i < hex.length; i += 8, pos += 4) {
        view.setInt32(
          pos,
          (HEX_VALUE[charCodeAt.call(hex, i) & 0x7f] << 28) |
            (HEX_VALUE[charCodeAt.call(hex, i + 1) & 0x7f] << 24) |
            (HEX_VALUE[charCodeAt.call(hex, i + 2) & 0x7f] << 20) |
            (HEX_VALUE[charCodeAt.call(hex, i + 3) & 0x7f] << 16) |
            (HEX_VALUE[charCodeAt.call(hex, i + 4) & 0x7f] << 12) |
            (HEX_VALUE[charCodeAt.call(hex, i + 5) & 0x7f] << 8) |
            (HEX_VALUE[charCodeAt.call(hex, i + 6) & 0x7f] << 4) |
            HEX_VALUE[charCodeAt.call(hex, i + 7) & 0x7f],
        );
      }
    } else {
      buf.fill(0, pos, pos + byteLength);
      pos += byteLength;
    }
    this.pos = pos;
  }

  /**
   * A 16-byte id field (one-byte tag) from a trace id kept as chunks of three bytes (src/trace/ids.ts): five
   * chunks and a last byte, regrouped into four big-endian 32-bit stores, written as signed (the same bits, no
   * conversion to a uint32). Under callgrind (Node 20) a store per byte was ~250 instructions an id, these ~185.
   */
  traceIdField(tag: number, t0: number, t1: number, t2: number, t3: number, t4: number, t5: number): void {
    this.ensure(18);
    const buf = this.buf;
    const view = this.view;
    const pos = this.pos;
    buf[pos] = tag;
    buf[pos + 1] = 16;
    view.setInt32(pos + 2, (t0 << 8) | (t1 >>> 16));
    view.setInt32(pos + 6, ((t1 & 0xffff) << 16) | (t2 >>> 8));
    view.setInt32(pos + 10, ((t2 & 0xff) << 24) | t3);
    view.setInt32(pos + 14, (t4 << 8) | (t5 & 0xff));
    this.pos = pos + 18;
  }

  /** An 8-byte id field (one-byte tag) from a span id kept as chunks of three, three and two bytes. */
  spanIdField(tag: number, s0: number, s1: number, s2: number): void {
    this.ensure(10);
    const buf = this.buf;
    const view = this.view;
    const pos = this.pos;
    buf[pos] = tag;
    buf[pos + 1] = 8;
    view.setInt32(pos + 2, (s0 << 8) | (s1 >>> 16));
    view.setInt32(pos + 6, ((s1 & 0xffff) << 16) | (s2 & 0xffff));
    this.pos = pos + 10;
  }

  /**
   * Starts an embedded message (length-delimited field `tag`), reserving `reserve` length bytes: choose the number
   * a typical content length needs. Returns the content's start, to hand to `endMessage` with the same `reserve`.
   */
  beginMessage(tag: number, reserve: number): number {
    this.ensure(reserve + 1);
    this.buf[this.pos++] = tag;
    this.pos += reserve;
    return this.pos;
  }

  /** Ends the message begun at `start`: writes its length, moving the content if `reserve` was not the right size. */
  endMessage(start: number, reserve: number): void {
    const len = this.pos - start;
    // The common cases, without a call: the guess was right.
    if (reserve === 1) {
      if (len < 0x80) {
        this.buf[start - 1] = len;
        return;
      }
    } else if (reserve === 2 && len >= 0x80 && len < 0x4000) {
      this.buf[start - 2] = (len & 0x7f) | 0x80;
      this.buf[start - 1] = len >>> 7;
      return;
    }
    this._patchLength(start, this.pos, reserve);
  }

  /** Writes the length of [start, end) into the `reserve` bytes before `start`, and sets pos to the content's end. */
  private _patchLength(start: number, end: number, reserve: number): void {
    const len = end - start;
    const need = len < 0x80 ? 1 : len < 0x4000 ? 2 : len < 0x200000 ? 3 : len < 0x10000000 ? 4 : 5;
    if (need !== reserve) {
      const shift = need - reserve;
      if (shift > 0) {
        this.pos = end;
        this.ensure(shift);
      }
      this.buf.copyWithin(start + shift, start, end);
      start += shift;
      end += shift;
    }
    const buf = this.buf;
    let p = start - need;
    let v = len;
    while (v > 0x7f) {
      buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[p] = v;
    this.pos = end;
  }
}

/**
 * UTF-8 of s[i..] written at `pos` (room already ensured); returns the end. Pairs of surrogates become one 4-byte
 * sequence; a lone surrogate becomes U+FFFD (EF BF BD), the same bytes Buffer#write and Buffer.byteLength use.
 */
function writeUtf8Tail(buf: Buffer, s: string, i: number, pos: number): number {
  const len = s.length;
  for (; i < len; i++) {
    let c = charCodeAt.call(s, i);
    if (c < 0x80) {
      buf[pos++] = c;
    } else if (c < 0x800) {
      buf[pos++] = 0xc0 | (c >> 6);
      buf[pos++] = 0x80 | (c & 0x3f);
    } else if (c < 0xd800 || c > 0xdfff) {
      buf[pos++] = 0xe0 | (c >> 12);
      buf[pos++] = 0x80 | ((c >> 6) & 0x3f);
      buf[pos++] = 0x80 | (c & 0x3f);
    } else {
      const next = i + 1 < len ? charCodeAt.call(s, i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
        buf[pos++] = 0xf0 | (c >> 18);
        buf[pos++] = 0x80 | ((c >> 12) & 0x3f);
        buf[pos++] = 0x80 | ((c >> 6) & 0x3f);
        buf[pos++] = 0x80 | (c & 0x3f);
      } else {
        buf[pos++] = 0xef;
        buf[pos++] = 0xbf;
        buf[pos++] = 0xbd;
      }
    }
  }
  return pos;
}
