'use strict';
// A small shop: express routes over PostgreSQL (products, orders) and Redis (a product cache, counters).
// Nothing in it knows about tracing: run it, or its tests, under `zerotel run` and every request, query and
// Redis command becomes a span.
//
//   node app.js                  listens on PORT (default: any free port) and prints `listening <port>`
//   GET  /health                 no database
//   GET  /products               all products (PostgreSQL), counts views (Redis INCR)
//   GET  /products/:id           one product, cached in Redis for a minute; 404 when unknown
//   POST /orders                 {"productId": 1, "quantity": 2} → 201 {"id": …}
//   GET  /orders/:id             one order with its product
//   GET  /stats                  order count (PostgreSQL) and views (Redis)
//   GET  /stats?fail=1           fails on purpose (a query on a table that does not exist) → 500
const express = require('express');
const { Pool } = require('pg');
const { createClient } = require('redis');
const { ensureSchema } = require('./db');

function createApp({ pool, redis }) {
  const app = express();
  app.use(express.json());

  app.get('/health', (req, res) => {
    res.json({ ok: true });
  });

  app.get('/products', async (req, res) => {
    const { rows } = await pool.query('SELECT id, name, price_cents FROM shop_products ORDER BY id');
    await redis.incr('shop:views:products');
    res.json(rows);
  });

  app.get('/products/:id', async (req, res) => {
    const id = Number(req.params.id);
    if (!Number.isInteger(id)) return res.status(400).json({ error: 'id must be an integer' });
    const key = `shop:product:${id}`;
    const cached = await redis.get(key);
    if (cached !== null) return res.json({ ...JSON.parse(cached), cached: true });
    const { rows } = await pool.query('SELECT id, name, price_cents FROM shop_products WHERE id = $1', [id]);
    if (rows.length === 0) return res.status(404).json({ error: 'no such product' });
    await redis.set(key, JSON.stringify(rows[0]), { EX: 60 });
    res.json({ ...rows[0], cached: false });
  });

  app.post('/orders', async (req, res) => {
    const { productId, quantity } = req.body ?? {};
    if (!Number.isInteger(productId) || !Number.isInteger(quantity) || quantity <= 0) {
      return res.status(400).json({ error: 'productId and a positive quantity are required' });
    }
    const { rows } = await pool.query('INSERT INTO shop_orders (product_id, quantity) VALUES ($1, $2) RETURNING id', [productId, quantity]);
    await redis.incr('shop:orders:count');
    res.status(201).json({ id: rows[0].id });
  });

  app.get('/orders/:id', async (req, res) => {
    const { rows } = await pool.query(
      'SELECT o.id, o.quantity, p.name AS product FROM shop_orders o JOIN shop_products p ON p.id = o.product_id WHERE o.id = $1',
      [Number(req.params.id)],
    );
    if (rows.length === 0) return res.status(404).json({ error: 'no such order' });
    res.json(rows[0]);
  });

  app.get('/stats', async (req, res) => {
    // The on-purpose failure, only when asked: a query PostgreSQL rejects, so the request ends in a 500.
    const table = req.query.fail === '1' ? 'shop_missing_table' : 'shop_orders';
    const { rows } = await pool.query(`SELECT count(*)::int AS orders FROM ${table}`);
    const views = await redis.get('shop:views:products');
    res.json({ orders: rows[0].orders, productViews: Number(views ?? 0) });
  });

  // Express 5 sends a rejected async handler here.
  app.use((err, req, res, next) => {
    res.status(500).json({ error: err.message });
  });
  return app;
}

async function main() {
  const pool = new Pool({
    host: process.env.PGHOST || '127.0.0.1',
    port: Number(process.env.PGPORT || 5432),
    user: process.env.PGUSER || 'postgres',
    password: process.env.PGPASSWORD,
    database: process.env.PGDATABASE || 'test',
    max: 4,
  });
  const redis = createClient({ url: process.env.REDIS_URL || 'redis://127.0.0.1:6379' });
  redis.on('error', (err) => console.error('redis:', err.message));
  await redis.connect();
  await ensureSchema(pool);

  const server = createApp({ pool, redis }).listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
    console.log(`listening ${server.address().port}`);
  });
  const stop = () => {
    server.close(async () => {
      await Promise.allSettled([pool.end(), redis.quit()]);
    });
    server.closeAllConnections();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}

module.exports = { createApp };
