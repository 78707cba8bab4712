/**
 * ES module applications: `import express from 'express'` (express 4 and 5) under the preload, which
 * registers the import hook because the entry is an .mjs file. The application is
 * test/fixtures/express/esm-app.mjs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpRequest, startApp, type RunningApp } from '../helpers/child';
import { Receiver } from '../helpers/receiver';
import { entry, EXPRESS_MAJORS, spanNamed, traceFor } from './express-fixtures';

describe.each(EXPRESS_MAJORS)('express %i (ES modules)', (major) => {
  let receiver: Receiver;
  let app: RunningApp;
  let base: string;

  beforeAll(async () => {
    receiver = await Receiver.start();
    app = await startApp(entry(major, 'app.mjs'), { env: receiver.env({ OTEL_INSTRUMENTATION_EXPRESS_MIDDLEWARE_SPANS: 'true' }) });
    base = `http://127.0.0.1:${app.port}`;
  });

  afterAll(async () => {
    await app?.stop();
    await receiver?.close();
  });

  it('names the route through nested routers and parents the downstream call on the async handler', async () => {
    const res = await httpRequest(`${base}/shop/items/9`);
    expect(JSON.parse(res.body)).toEqual({ item: '9', stock: 'downstream:/stock/9' });
    const { server, trace } = await traceFor(receiver, '/shop/items/9', 'GET', (t) => t.some((s) => s.kind === 2));
    expect(server.name).toBe('GET /shop/items/:itemId');
    expect(server.attributes['http.route']).toBe('/shop/items/:itemId');
    const shop = spanNamed(trace, 'router - /shop/items/:itemId', '/shop');
    const items = spanNamed(trace, 'router - /shop/items/:itemId', '/shop/items');
    expect(shop.parentSpanId).toBe(server.spanId);
    expect(items.parentSpanId).toBe(shop.spanId);
    expect(spanNamed(trace, 'middleware - itemsGuard').parentSpanId).toBe(items.spanId);
    expect(spanNamed(trace, 'middleware - esmLogger').parentSpanId).toBe(server.spanId);
    const handler = spanNamed(trace, 'request handler - /shop/items/:itemId');
    expect(handler.parentSpanId).toBe(items.spanId);
    expect(trace.find((s) => s.kind === 2)!.parentSpanId).toBe(handler.spanId);
  });

  it('records an error passed to next(err)', async () => {
    expect((await httpRequest(`${base}/esm-error`)).status).toBe(500);
    const { server, trace } = await traceFor(receiver, '/esm-error');
    expect(server.name).toBe('GET /esm-error');
    expect(server.attributes['error.type']).toBe('EvalError');
    expect(spanNamed(trace, 'request handler - /esm-error').events[0].attributes['exception.type']).toBe('EvalError');
  });

  it('patched express once although it is reached through the import hook', async () => {
    await httpRequest(`${base}/shop/items/1`);
    const { trace } = await traceFor(receiver, '/shop/items/1', 'GET', (t) => t.some((s) => s.kind === 2));
    expect(trace.filter((s) => s.name === 'request handler - /shop/items/:itemId')).toHaveLength(1);
    expect(trace.filter((s) => s.name === 'middleware - esmLogger')).toHaveLength(1);
  });
});
