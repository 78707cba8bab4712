/**
 * Reads the few messages an OTLP exporter gets back, with a minimal protobuf reader of its own:
 * - `ExportTraceServiceResponse` (collector/trace/v1/trace_service.proto): `partial_success` (1) →
 *   `ExportTracePartialSuccess { int64 rejected_spans = 1; string error_message = 2; }`, in protobuf or JSON;
 * - `google.rpc.Status` (google/rpc/status.proto: `int32 code = 1; string message = 2; repeated Any details = 3`),
 *   the body of OTLP/HTTP failures and the content of gRPC's `grpc-status-details-bin` trailer;
 * - `google.rpc.RetryInfo` (google/rpc/error_details.proto: `Duration retry_delay = 1`, Duration being
 *   `int64 seconds = 1; int32 nanos = 2`) inside a Status detail (`Any { string type_url = 1; bytes value = 2 }`).
 *
 * Nothing here throws: malformed input reads as "nothing found".
 */

export interface PartialSuccess {
  rejectedSpans: number;
  errorMessage: string;
}

export interface RpcStatus {
  code: number;
  message: string;
  /** Milliseconds from RetryInfo.retry_delay, when the status carried a RetryInfo detail. */
  retryDelayMillis: number | undefined;
}

const RETRY_INFO_TYPE = 'google.rpc.RetryInfo';

/** A bounds-checked cursor over protobuf bytes. `ok` turns false on any malformed input and stays false. */
class Reader {
  pos: number;
  ok = true;
  constructor(
    readonly buf: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  get more(): boolean {
    return this.ok && this.pos < this.end;
  }

  /** A varint as a number (exact up to 2^53; beyond, approximate — enough for counts and durations). */
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) break;
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
    this.ok = false;
    return 0;
  }

  /** The [start, end) of a length-delimited field's content, advancing past it. */
  lengthDelimited(): [number, number] {
    const len = this.varint();
    const start = this.pos;
    if (!this.ok || len > this.end - start) {
      this.ok = false;
      return [start, start];
    }
    this.pos = start + len;
    return [start, this.pos];
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint();
        return;
      case 1:
        this.pos += 8;
        break;
      case 2:
        this.lengthDelimited();
        return;
      case 5:
        this.pos += 4;
        break;
      default:
        this.ok = false; // groups (3, 4) and unknown wire types are not used by these messages
        return;
    }
    if (this.pos > this.end) this.ok = false;
  }
}

function utf8(buf: Uint8Array, start: number, end: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('utf8');
}

/** `int64` read from a varint: values ≥ 2^63 are negative numbers in two's complement. */
function int64(value: number): number {
  return value >= 2 ** 63 ? value - 2 ** 64 : value;
}

/** The partial success of a protobuf `ExportTraceServiceResponse`, or undefined when absent or empty. */
export function decodeExportResponse(body: Uint8Array): PartialSuccess | undefined {
  const r = new Reader(body, 0, body.length);
  let found: PartialSuccess | undefined;
  while (r.more) {
    const key = r.varint();
    if (key === 0x0a) {
      const [start, end] = r.lengthDelimited();
      found = decodePartialSuccess(body, start, end);
    } else r.skip(key & 7);
  }
  if (!r.ok || found === undefined) return undefined;
  return found.rejectedSpans === 0 && found.errorMessage === '' ? undefined : found;
}

function decodePartialSuccess(buf: Uint8Array, start: number, end: number): PartialSuccess {
  const r = new Reader(buf, start, end);
  const out: PartialSuccess = { rejectedSpans: 0, errorMessage: '' };
  while (r.more) {
    const key = r.varint();
    if (key === 0x08) out.rejectedSpans = int64(r.varint());
    else if (key === 0x12) {
      const [s, e] = r.lengthDelimited();
      if (r.ok) out.errorMessage = utf8(buf, s, e);
    } else r.skip(key & 7);
  }
  return out;
}

/** The partial success of a JSON `ExportTraceServiceResponse` (lowerCamelCase keys; the proto names accepted too). */
export function decodeExportResponseJson(text: string): PartialSuccess | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object') return undefined;
  const obj = parsed as Record<string, unknown>;
  const ps = (obj.partialSuccess ?? obj.partial_success) as Record<string, unknown> | undefined;
  if (ps === null || typeof ps !== 'object') return undefined;
  const rejectedRaw = ps.rejectedSpans ?? ps.rejected_spans;
  const rejected = typeof rejectedRaw === 'string' || typeof rejectedRaw === 'number' ? Number(rejectedRaw) : 0;
  const messageRaw = ps.errorMessage ?? ps.error_message;
  const errorMessage = typeof messageRaw === 'string' ? messageRaw : '';
  const rejectedSpans = Number.isFinite(rejected) ? rejected : 0;
  return rejectedSpans === 0 && errorMessage === '' ? undefined : { rejectedSpans, errorMessage };
}

/** A protobuf `google.rpc.Status`, or undefined when the bytes are not one. */
export function decodeRpcStatus(body: Uint8Array): RpcStatus | undefined {
  const r = new Reader(body, 0, body.length);
  const out: RpcStatus = { code: 0, message: '', retryDelayMillis: undefined };
  while (r.more) {
    const key = r.varint();
    if (key === 0x08) out.code = int64(r.varint());
    else if (key === 0x12) {
      const [s, e] = r.lengthDelimited();
      if (r.ok) out.message = utf8(body, s, e);
    } else if (key === 0x1a) {
      const [s, e] = r.lengthDelimited();
      if (r.ok) {
        const delay = retryDelayOfAny(body, s, e);
        if (delay !== undefined) out.retryDelayMillis = delay;
      }
    } else r.skip(key & 7);
  }
  return r.ok ? out : undefined;
}

/** The retry delay of a `google.protobuf.Any` holding a RetryInfo; undefined for any other detail. */
function retryDelayOfAny(buf: Uint8Array, start: number, end: number): number | undefined {
  const r = new Reader(buf, start, end);
  let typeUrl = '';
  let valueStart = -1;
  let valueEnd = -1;
  while (r.more) {
    const key = r.varint();
    if (key === 0x0a) {
      const [s, e] = r.lengthDelimited();
      if (r.ok) typeUrl = utf8(buf, s, e);
    } else if (key === 0x12) {
      [valueStart, valueEnd] = r.lengthDelimited();
    } else r.skip(key & 7);
  }
  // type_url is "type.googleapis.com/google.rpc.RetryInfo": the part after the last '/' names the type.
  if (!r.ok || typeUrl.slice(typeUrl.lastIndexOf('/') + 1) !== RETRY_INFO_TYPE) return undefined;
  if (valueStart < 0) return 0; // a RetryInfo with no delay: retry, with the usual backoff
  // RetryInfo { Duration retry_delay = 1 }
  const info = new Reader(buf, valueStart, valueEnd);
  let millis = 0;
  while (info.more) {
    const key = info.varint();
    if (key === 0x0a) {
      const [s, e] = info.lengthDelimited();
      millis = durationMillis(buf, s, e);
    } else info.skip(key & 7);
  }
  return info.ok ? millis : undefined;
}

function durationMillis(buf: Uint8Array, start: number, end: number): number {
  const r = new Reader(buf, start, end);
  let seconds = 0;
  let nanos = 0;
  while (r.more) {
    const key = r.varint();
    if (key === 0x08) seconds = int64(r.varint());
    else if (key === 0x10) nanos = int64(r.varint());
    else r.skip(key & 7);
  }
  const millis = seconds * 1000 + Math.round(nanos / 1e6);
  return millis > 0 ? millis : 0;
}

/** The message of a failure body: a `google.rpc.Status` in protobuf or JSON, else the text itself (shortened). */
export function describeErrorBody(body: Buffer, contentType: string | undefined): string {
  if (body.length === 0) return '';
  if (contentType !== undefined && contentType.includes('json')) {
    try {
      const parsed = JSON.parse(body.toString('utf8')) as { message?: unknown };
      if (parsed !== null && typeof parsed === 'object' && typeof parsed.message === 'string') return parsed.message;
    } catch {
      // not JSON after all: fall through to the text
    }
  } else if (contentType !== undefined && contentType.includes('protobuf')) {
    const status = decodeRpcStatus(body);
    if (status !== undefined && status.message !== '') return status.message;
  }
  const text = body.toString('utf8', 0, Math.min(body.length, 300)).replace(/\s+/g, ' ').trim();
  return /^[\x20-\x7e]*$/.test(text) ? text : '';
}
