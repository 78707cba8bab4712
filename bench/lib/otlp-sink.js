'use strict';
/**
 * A local OTLP/HTTP sink for the benchmarks: accepts ExportTraceServiceRequest (protobuf or JSON) on any path,
 * answers 200 at once, and counts the spans it received by walking the protobuf wire format (resource_spans = 1 →
 * scope_spans = 2 → spans = 2) without decoding them. GET /count returns the count; POST /reset zeroes it.
 * Prints `listening <port>`.
 */
const http = require('node:http');

const { countJson, countProtobuf } = require('./otlp-count');

let spans = 0;
let requests = 0;

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
