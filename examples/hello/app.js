'use strict';
// The demo: a tiny service that calls itself over HTTP. Run it under the agent with the console exporter:
//   npm run demo
// and the spans of each request print as a tree when the program ends.
const http = require('node:http');

const server = http.createServer((req, res) => {
  if (req.url === '/hello') {
    // An outgoing call made while handling a request: its span is a child of this request's span.
    http.get(`http://127.0.0.1:${server.address().port}/world?from=hello`, (inner) => {
      let body = '';
      inner.on('data', (chunk) => (body += chunk));
      inner.on('end', () => res.end(`hello ${body}\n`));
    });
    return;
  }
  if (req.url.startsWith('/world')) {
    res.end('world');
    return;
  }
  res.statusCode = 404;
  res.end('not found\n');
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  http.get(`http://127.0.0.1:${port}/hello`, (res) => {
    res.resume();
    res.on('end', () => {
      http.get(`http://127.0.0.1:${port}/missing`, (res2) => {
        res2.resume();
        res2.on('end', () => server.close());
      });
    });
  });
});
