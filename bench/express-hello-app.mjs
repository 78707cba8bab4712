// express-hello-app.js as an ES module application (`import express from 'express'`), for the startup of an ES
// module application. With --exit-when-listening it prints the time from process start to listening and ends.
import express from 'express';

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
  if (process.argv.includes('--exit-when-listening')) {
    process.stdout.write(String(performance.now()));
    server.close();
  } else process.stdout.write(`listening ${server.address().port}\n`);
});
