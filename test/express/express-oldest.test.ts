/**
 * The lower bound of the express range the instrumentation declares (instrumentations/express/index.ts,
 * `>=4.6.0 <6`): express 4.6.0 itself, installed as the alias `express4-oldest` and seen by the app as `express`
 * (express-fixtures.ts), under the preload. The full suite runs on the newest express 4 and 5
 * (express-apps.test.ts); this proves the oldest version the README's table promises is traced the same way.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpRequest, ROOT, startApp, type RunningApp } from '../helpers/child';
import { Receiver } from '../helpers/receiver';
import { ensureAliasedExpressPackage, FIXTURES, spanNamed, traceFor } from './express-fixtures';
import { expressInstrumentation } from '../../instrumentations/express';

const ALIAS = 'express4-oldest';
const version = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', ALIAS, 'package.json'), 'utf8')).version;

describe(`express ${version}, the oldest the declared range admits`, () => {
  let receiver: Receiver;
  let app: RunningApp;
  let base: string;

  beforeAll(async () => {
    ensureAliasedExpressPackage('oldest', ALIAS);
    receiver = await Receiver.start();
    app = await startApp(path.join(FIXTURES, 'oldest', 'app.cjs'), { env: receiver.env({ OTEL_INSTRUMENTATION_EXPRESS_MIDDLEWARE_SPANS: 'true' }) });
    base = `http://127.0.0.1:${app.port}`;
  });

  afterAll(async () => {
    await app?.stop();
    await receiver?.close();
  });

  it('is the lower bound of the declared range', () => {
    const range = expressInstrumentation.modules.find((m) => m.name === 'express')!.versions;
    expect(range).toBe(`>=${version} <6`);
  });

  it('names the server span after a parameter route of a router mounted at a path, with the layers as spans', async () => {
    const res = await httpRequest(`${base}/api/users/7`);
    expect(res.body).toBe('user 7');
    const { server, trace } = await traceFor(receiver, '/api/users/7', 'GET', (t) => t.some((s) => s.name === 'request handler - /api/users/:id'));
    expect(server.name).toBe('GET /api/users/:id');
    expect(server.attributes['http.route']).toBe('/api/users/:id');
    const handler = spanNamed(trace, 'request handler - /api/users/:id');
    expect(handler.attributes).toEqual({ 'express.name': 'getUser', 'express.type': 'request_handler', 'http.route': '/api/users/:id' });
    // The router mounted at /api has its span, named by the full route as on the newest express 4 and 5.
    const router = spanNamed(trace, 'router - /api/users/:id', '/api');
    expect(router.attributes).toEqual({ 'express.name': '/api', 'express.type': 'router', 'http.route': '/api/users/:id' });
    expect(router.parentSpanId).toBe(server.spanId);
    expect(handler.parentSpanId).toBe(router.spanId);
    const stamp = spanNamed(trace, 'middleware - stamp');
    expect(stamp.parentSpanId).toBe(server.spanId);
    expect(stamp.end <= handler.start).toBe(true);
  });

  it('names app.route() routes', async () => {
    expect((await httpRequest(`${base}/items`)).body).toBe('items');
    const { server } = await traceFor(receiver, '/items');
    expect(server.name).toBe('GET /items');
  });

  it('records a thrown error on its handler span and runs the error handler as a layer', async () => {
    const res = await httpRequest(`${base}/boom`);
    expect(res.status).toBe(500);
    expect(res.body).toBe('handled boom');
    const { server, trace } = await traceFor(receiver, '/boom', 'GET', (t) => t.some((s) => s.name === 'middleware - onError'));
    expect(server.name).toBe('GET /boom');
    expect(server.attributes['error.type']).toBe('TypeError');
    const thrower = spanNamed(trace, 'request handler - /boom');
    expect(thrower.status.code).toBe(2);
    expect(thrower.events.map((e) => e.attributes['exception.type'])).toEqual(['TypeError']);
    expect(spanNamed(trace, 'middleware - onError').parentSpanId).toBe(server.spanId);
  });
});
