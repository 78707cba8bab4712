'use strict';
/**
 * The load benchmark's application: express 5 with three middlewares.
 *   GET /hello  — hello world
 *   GET /work   — one outgoing HTTP call (DOWNSTREAM_URL), one PostgreSQL query, one Redis command
 * Prints `listening <port>` once it listens (and the time since the process started, for the startup figure).
 */
const express = require('express');
const http = require('node:http');
const { Pool } = require('pg');
const { createClient } = require('redis');

const app = express();
app.use(express.json());
app.use((req, res, next) => {
  res.setHeader('x-powered-by-bench', '1');
  next();
});
app.use(function requestId(req, res, next) {
  req.id = Math.random().toString(36).slice(2);
  next();
});

app.get('/hello', (req, res) => {
  res.send('hello world');
});

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const downstream = process.env.DOWNSTREAM_URL;
const pool = new Pool({ max: 10 });
const redis = createClient({ url: process.env.REDIS_URL || 'redis://127.0.0.1:6379' });

function getDownstream() {
  return new Promise((resolve, reject) => {
    http
      .get(`${downstream}/price`, { agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve(JSON.parse(body)));
      })
      .on('error', reject);
  });
}

app.get('/work', async (req, res, next) => {
  try {
    const [price, rows, hits] = await Promise.all([
      getDownstream(),
      pool.query('SELECT $1::int AS id, now() AS at', [7]),
      redis.incr('bench:hits'),
    ]);
    res.json({ price: price.price, id: rows.rows[0].id, hits });
  } catch (err) {
    next(err);
  }
});

redis.connect().then(() => {
  const server = app.listen(0, '127.0.0.1', () => {
    process.stdout.write(`listening ${server.address().port} ${performance.now().toFixed(1)}\n`);
  });
  server.keepAliveTimeout = 60_000;
});
