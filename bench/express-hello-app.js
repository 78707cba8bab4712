'use strict';
// The application of express-throughput.js: express 5, three middlewares, one route. Prints `listening <port>`.
const express = require('express');

const app = express();
app.use(function first(req, res, next) {
  next();
});
app.use(function second(req, res, next) {
  res.setHeader('x-second', '1');
  next();
});
app.use(function third(req, res, next) {
  req.startedAt = 1;
  next();
});
app.get('/hello/:name', function hello(req, res) {
  res.send('hello ' + req.params.name);
});
const server = app.listen(0, '127.0.0.1', () => {
  // startup.js measures the time from process start to listening, then lets the program end.
  if (process.argv.includes('--exit-when-listening')) {
    process.stdout.write(String(performance.now()));
    server.close();
  } else process.stdout.write(`listening ${server.address().port}\n`);
});
