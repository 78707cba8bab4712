'use strict';
/**
 * The load benchmark's plain node:http application (the `http` scenario): hello world, no framework.
 * Prints `listening <port>` once it listens.
 */
const http = require('node:http');

const server = http.createServer((req, res) => {
  res.setHeader('content-type', 'text/plain');
  res.end('hello world');
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port} ${performance.now().toFixed(1)}\n`);
});
