/**
 * Middleware spans off — the default (OTEL_INSTRUMENTATION_EXPRESS_MIDDLEWARE_SPANS unset), and when set to
 * false: no middleware spans; routers and request handlers keep theirs, the route is unchanged, code in a
 * middleware runs in its router's span, and errors are still counted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpRequest, startApp, type RunningApp } from '../helpers/child';
import { Receiver } from '../helpers/receiver';
import { entry, EXPRESS_MAJORS, layerSpans, spanNamed, traceFor } from './express-fixtures';

describe.each(EXPRESS_MAJORS.flatMap((major) => [[major, undefined], [major, 'false']] as const))('express %i with middleware spans off (OTEL_INSTRUMENTATION_EXPRESS_MIDDLEWARE_SPANS=%s)', (major, setting) => {
  let receiver: Receiver;
  let app: RunningApp;
  let base: string;

  beforeAll(async () => {
    receiver = await Receiver.start();
    app = await startApp(entry(major, 'app.cjs'), { env: receiver.env(setting === undefined ? {} : { OTEL_INSTRUMENTATION_EXPRESS_MIDDLEWARE_SPANS: setting }) });
    base = `http://127.0.0.1:${app.port}`;
  });

  afterAll(async () => {
    await app?.stop();
    await receiver?.close();
  });

  it('makes router and request handler spans only, with the same route', async () => {
    await httpRequest(`${base}/api/users/7/posts/3`);
    const route = '/api/users/:userId/posts/:postId';
    const { server, trace } = await traceFor(receiver, '/api/users/7/posts/3');
    expect(server.name).toBe(`GET ${route}`);
    const layers = layerSpans(trace);
    expect(layers.map((s) => s.attributes['express.type']).sort()).toEqual(['request_handler', 'router', 'router']);
    const api = spanNamed(trace, `router - ${route}`, '/api');
    const users = spanNamed(trace, `router - ${route}`, '/api/users');
    expect(api.parentSpanId).toBe(server.spanId);
    expect(users.parentSpanId).toBe(api.spanId);
    expect(spanNamed(trace, `request handler - ${route}`).parentSpanId).toBe(users.spanId);
  });

  it("runs an error handler's downstream call in its router's span and still sets error.type", async () => {
    expect((await httpRequest(`${base}/errors/handled`)).status).toBe(503);
    const { server, trace } = await traceFor(receiver, '/errors/handled', 'GET', (t) => t.some((s) => s.kind === 2));
    expect(server.attributes['error.type']).toBe('URIError');
    expect(trace.some((s) => s.attributes['express.type'] === 'middleware')).toBe(false);
    const router = spanNamed(trace, 'router - /errors/handled');
    expect(trace.find((s) => s.kind === 2)!.parentSpanId).toBe(router.spanId);
    expect(spanNamed(trace, 'request handler - /errors/handled').events[0].attributes['exception.type']).toBe('URIError');
  });

  it("runs a middleware reached through a handler's next() in its router's span, not in the handler's", async () => {
    expect((await httpRequest(`${base}/chain/pass`)).status).toBe(200);
    const { trace } = await traceFor(receiver, '/chain/pass', 'GET', (t) => t.some((s) => s.kind === 2));
    const router = spanNamed(trace, 'router - /chain/pass');
    expect(spanNamed(trace, 'request handler - /chain/pass').parentSpanId).toBe(router.spanId);
    expect(trace.some((s) => s.attributes['express.type'] === 'middleware')).toBe(false);
    expect(trace.find((s) => s.kind === 2)!.parentSpanId).toBe(router.spanId);
  });

  it('leaves a request without a route with no layer span but its routers', async () => {
    expect((await httpRequest(`${base}/nope`)).status).toBe(404);
    const { server, trace } = await traceFor(receiver, '/nope');
    expect(server.name).toBe('GET');
    expect(layerSpans(trace).map((s) => s.name)).toEqual(['router', 'router']);
  });
});
