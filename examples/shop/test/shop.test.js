'use strict';
// The shop's own tests: start the app as a separate process and talk to it over HTTP, as a CI job would.
// Under `zerotel run` both processes — this test file and the app — are traced.
//
// SHOP_FAIL_ON_PURPOSE=1 adds a test of the on-purpose failure (GET /stats?fail=1 → 500): the tests still pass,
// but the app records an error, which is what `zerotel run --fail-on error-spans` is there to catch.
const { after, before, test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const path = require('node:path');

let app;
let base;

function startApp() {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, '..', 'app.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = /listening (\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.on('exit', (code) => reject(new Error(`the app exited (code ${code}) before listening: ${out}`)));
  });
}

before(async () => {
  const started = await startApp();
  app = started.child;
  base = `http://127.0.0.1:${started.port}`;
});

after(async () => {
  // Wait for the app to end: its last spans are written on the way out.
  const exited = new Promise((resolve) => app.once('exit', resolve));
  app.kill('SIGTERM');
  await exited;
});

async function get(pathname) {
  const res = await fetch(base + pathname);
  return { status: res.status, body: await res.json() };
}

test('GET /health answers without touching a database', async () => {
  assert.deepEqual(await get('/health'), { status: 200, body: { ok: true } });
});

test('GET /products lists the products', async () => {
  const { status, body } = await get('/products');
  assert.equal(status, 200);
  assert.deepEqual(body.map((p) => p.name).slice(0, 3), ['teapot', 'kettle', 'mug']);
});

test('GET /products/:id reads one product, then serves it from the cache', async () => {
  const first = await get('/products/2');
  assert.equal(first.status, 200);
  assert.equal(first.body.name, 'kettle');
  const second = await get('/products/2');
  assert.equal(second.body.cached, true);
});

test('GET /products/:id answers 404 for an unknown product', async () => {
  const { status } = await get('/products/999');
  assert.equal(status, 404);
});

test('POST /orders creates an order that GET /orders/:id reads back', async () => {
  const res = await fetch(base + '/orders', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ productId: 3, quantity: 2 }),
  });
  assert.equal(res.status, 201);
  const { id } = await res.json();
  const order = await get(`/orders/${id}`);
  assert.deepEqual(order.body, { id, quantity: 2, product: 'mug' });
});

test('GET /stats counts orders', async () => {
  const { status, body } = await get('/stats');
  assert.equal(status, 200);
  assert.ok(body.orders >= 1);
});

if (process.env.SHOP_FAIL_ON_PURPOSE === '1') {
  test('GET /stats?fail=1 fails on purpose with a 500', async () => {
    const { status, body } = await get('/stats?fail=1');
    assert.equal(status, 500);
    assert.match(body.error, /shop_missing_table/);
  });
}
