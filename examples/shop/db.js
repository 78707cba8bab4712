'use strict';
// The shop's tables, created on start. Several processes may start at once (parallel test runs share one
// database), and concurrent CREATE TABLE IF NOT EXISTS can still collide in PostgreSQL's catalog: a
// transaction-level advisory lock makes them take turns.
const SCHEMA_LOCK = 7_241_001;

async function ensureSchema(pool) {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS shop_products (
      id integer PRIMARY KEY,
      name text NOT NULL,
      price_cents integer NOT NULL
    )`);
    await client.query(`CREATE TABLE IF NOT EXISTS shop_orders (
      id serial PRIMARY KEY,
      product_id integer NOT NULL REFERENCES shop_products(id),
      quantity integer NOT NULL CHECK (quantity > 0),
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await client.query(`INSERT INTO shop_products (id, name, price_cents) VALUES
      (1, 'teapot', 2500), (2, 'kettle', 4000), (3, 'mug', 800)
      ON CONFLICT (id) DO NOTHING`);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

module.exports = { ensureSchema };
