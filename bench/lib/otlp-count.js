'use strict';
/**
 * Counts the spans in an ExportTraceServiceRequest without decoding it: protobuf by walking the wire format
 * (resource_spans = 1 → scope_spans = 2 → spans = 2), OTLP/JSON by parsing.
 */

function varint(buf, pos) {
  let value = 0;
  let shift = 0;
  for (;;) {
    const b = buf[pos++];
    value += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return [value, pos];
    shift += 7;
  }
}

/** Calls `onField(fieldNumber, start, end)` for each length-delimited field of the message in buf[start, end). */
function eachLengthDelimited(buf, start, end, onField) {
  let pos = start;
  while (pos < end) {
    let key;
    [key, pos] = varint(buf, pos);
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 2) {
      let len;
      [len, pos] = varint(buf, pos);
      onField(field, pos, pos + len);
      pos += len;
    } else if (wire === 0) [, pos] = varint(buf, pos);
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else return;
  }
}

function countProtobuf(buf) {
  let n = 0;
  eachLengthDelimited(buf, 0, buf.length, (f, s, e) => {
    if (f !== 1) return;
    eachLengthDelimited(buf, s, e, (f2, s2, e2) => {
      if (f2 !== 2) return;
      eachLengthDelimited(buf, s2, e2, (f3) => {
        if (f3 === 2) n++;
      });
    });
  });
  return n;
}

function countJson(text) {
  let n = 0;
  for (const rs of JSON.parse(text).resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) n += (ss.spans ?? []).length;
  return n;
}

module.exports = { countJson, countProtobuf };
