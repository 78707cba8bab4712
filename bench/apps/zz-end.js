const express = require('express');
const http = require('node:http');
const app = express();
app.use(express.json());
let ends = 0, closes = 0, dumps = 0, n = 0, consuming = 0, resumeScheduled = 0;
const origDump = http.IncomingMessage.prototype._dump;
http.IncomingMessage.prototype._dump = function () { dumps++; return origDump.apply(this, arguments); };
app.get('/hello', (req, res) => {
  req.on('end', () => ends++); req.on('close', () => closes++);
  res.on('finish', () => { if (req._consuming) consuming++; if (req._readableState.resumeScheduled) resumeScheduled++; });
  res.send('hello world');
});
const server = app.listen(0, '127.0.0.1', () => {
  const port = server.address().port;
  const ka = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const one = () => http.get({ port, host: '127.0.0.1', path: '/hello', agent: ka }, (r) => { r.resume(); r.on('end', () => { if (++n < 2000) one(); else if (n === 2000) setTimeout(() => { console.log({ ends, closes, dumps, consuming, resumeScheduled }); process.exit(0); }, 100); }); });
  for (let i = 0; i < 4; i++) one();
});
