'use strict';
/**
 * A local OTLP/HTTP sink for the benchmarks: accepts ExportTraceServiceRequest (protobuf or JSON) on any path,
 * answers 200 at once, and counts the spans it received by walking the protobuf wire format (resource_spans = 1 →
 * scope_spans = 2 → spans = 2) without decoding them. GET /count returns the count; POST /reset zeroes it.
 * Prints `listening <port>`.
 */
const http = require('node:http');

let spans = 0;
let requests = 0;

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

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/count') return res.end(JSON.stringify({ spans, requests }));
  if (req.method === 'POST' && req.url === '/reset') {
    spans = 0;
    requests = 0;
    return res.end('{}');
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    requests++;
    const body = Buffer.concat(chunks);
    try {
      spans += (req.headers['content-type'] || '').includes('json') ? countJson(body.toString()) : countProtobuf(body);
    } catch {
      // a request we cannot read still counts as a request
    }
    res.writeHead(200, { 'content-type': req.headers['content-type'] || 'application/x-protobuf' });
    res.end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
