/**
 * Real express 4 and express 5 applications (CommonJS) under the preload, in child processes on loopback; the
 * assertions are on the spans they export. The application is test/fixtures/express/build-app.cjs. Middleware
 * spans are turned on here (OTEL_INSTRUMENTATION_EXPRESS_MIDDLEWARE_SPANS=true); the default, off, is
 * express-middleware-spans-off.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpRequest, startApp, type RunningApp } from '../helpers/child';
import { Receiver, type ReceivedSpan } from '../helpers/receiver';
import { entry, EXPRESS_MAJORS, EXPRESS_SCOPE, layerSpans, spanNamed, traceFor } from './express-fixtures';

/** Milliseconds, from a difference of two span times (nanoseconds). */
function ms(nanos: bigint): number {
  return Number(nanos) / 1e6;
}

function childOf(child: ReceivedSpan, parent: ReceivedSpan): void {
  expect(child.traceId).toBe(parent.traceId);
  expect(child.parentSpanId, `${child.name} should be a child of ${parent.name}`).toBe(parent.spanId);
}

describe.each(EXPRESS_MAJORS)('express %i (CommonJS)', (major) => {
  let receiver: Receiver;
  let app: RunningApp;
  let base: string;

  beforeAll(async () => {
    receiver = await Receiver.start();
    app = await startApp(entry(major, 'app.cjs'), { env: receiver.env({ OTEL_INSTRUMENTATION_EXPRESS_MIDDLEWARE_SPANS: 'true' }) });
    base = `http://127.0.0.1:${app.port}`;
  });

  afterAll(async () => {
    await app?.stop();
    await receiver?.close();
  });

  it('names the server span after the route and gives each layer a span in the server span', async () => {
    expect((await httpRequest(`${base}/hello`)).body).toBe('hello');
    const { server, trace } = await traceFor(receiver, '/hello');
    expect(server.name).toBe('GET /hello');
    expect(server.attributes['http.route']).toBe('/hello');

    const handler = spanNamed(trace, 'request handler - /hello');
    expect(handler.kind).toBe(0);
    expect(handler.scope.name).toBe(EXPRESS_SCOPE);
    expect(handler.attributes).toEqual({ 'express.name': 'hello', 'express.type': 'request_handler', 'http.route': '/hello' });
    childOf(handler, server);

    const logger = spanNamed(trace, 'middleware - logger');
    expect(logger.attributes).toEqual({ 'express.name': 'logger', 'express.type': 'middleware', 'http.route': '/' });
    childOf(logger, server);
    childOf(spanNamed(trace, 'middleware - jsonParser'), server);
    // A middleware's span ends when it calls next(), before the layers after it start.
    expect(logger.end <= handler.start).toBe(true);
    // express 4's own query and expressInit layers are plumbing, not the application's middleware.
    expect(trace.some((s) => s.name.includes('query') || s.name.includes('expressInit'))).toBe(false);
    // The middleware mounted at /api did not run.
    expect(trace.some((s) => s.name === 'middleware - apiTimer')).toBe(false);
  });

  it('gives parameterised routes their template', async () => {
    await httpRequest(`${base}/users/42`);
    const { server, trace } = await traceFor(receiver, '/users/42');
    expect(server.name).toBe('GET /users/:id');
    expect(server.attributes['http.route']).toBe('/users/:id');
    expect(spanNamed(trace, 'request handler - /users/:id').attributes['express.name']).toBe('getUser');
  });

  it('joins the templates of nested routers, with middleware at every level (contrib #2680)', async () => {
    const res = await httpRequest(`${base}/api/users/7/posts/3`);
    expect(JSON.parse(res.body)).toEqual({ user: '7', post: '3' });
    const route = '/api/users/:userId/posts/:postId';
    const { server, trace } = await traceFor(receiver, '/api/users/7/posts/3');
    expect(server.name).toBe(`GET ${route}`);
    expect(server.attributes['http.route']).toBe(route);

    const apiTimer = spanNamed(trace, 'middleware - apiTimer');
    expect(apiTimer.attributes['http.route']).toBe('/api');
    childOf(apiTimer, server);

    // The routers are named after the route they dispatched to; express.name keeps where they are mounted.
    const apiRouter = spanNamed(trace, `router - ${route}`, '/api');
    const usersRouter = spanNamed(trace, `router - ${route}`, '/api/users');
    expect(apiRouter.attributes).toEqual({ 'express.name': '/api', 'express.type': 'router', 'http.route': route });
    childOf(apiRouter, server);
    childOf(usersRouter, apiRouter);

    const apiAuth = spanNamed(trace, 'middleware - apiAuth');
    expect(apiAuth.attributes['http.route']).toBe('/api');
    childOf(apiAuth, apiRouter);
    const loader = spanNamed(trace, 'middleware - usersLoader');
    expect(loader.attributes['http.route']).toBe('/api/users');
    childOf(loader, usersRouter);

    const handler = spanNamed(trace, `request handler - ${route}`);
    expect(handler.attributes).toEqual({ 'express.name': 'showPost', 'express.type': 'request_handler', 'http.route': route });
    childOf(handler, usersRouter);

    // The same routers, another route: nothing left over from the request before.
    await httpRequest(`${base}/api/users/8`);
    const second = await traceFor(receiver, '/api/users/8');
    expect(second.server.name).toBe('GET /api/users/:userId');
    expect(spanNamed(second.trace, 'request handler - /api/users/:userId').attributes['http.route']).toBe('/api/users/:userId');
  });

  it('names a router mounted at / after its route, never "router - /" or "GET /" (contrib #1993)', async () => {
    expect((await httpRequest(`${base}/post/5`)).body).toBe('post 5');
    const { server, trace } = await traceFor(receiver, '/post/5');
    expect(server.name).toBe('GET /post/:id');
    const router = spanNamed(trace, 'router - /post/:id');
    expect(router.attributes).toEqual({ 'express.name': '/', 'express.type': 'router', 'http.route': '/post/:id' });
    childOf(spanNamed(trace, 'request handler - /post/:id'), router);
    expect(trace.some((s) => s.name === 'router - /')).toBe(false);
  });

  it('keeps the route when a handler answers, calls next() and a middleware runs after it (contrib #2102)', async () => {
    const res = await httpRequest(`${base}/foo`, { method: 'POST' });
    expect(JSON.parse(res.body)).toEqual({ hello: 'yes' });
    const { server, trace } = await traceFor(receiver, '/foo', 'POST', (t) => t.some((s) => s.name === 'middleware - afterResponse'));
    expect(server.name).toBe('POST /foo');
    expect(server.attributes['http.route']).toBe('/foo');
    // The middleware that runs after the response neither answers nor calls next: its span still ends.
    expect(spanNamed(trace, 'middleware - afterResponse').attributes['http.route']).toBe('/');

    // A route matching after the response does not rename the request either.
    await httpRequest(`${base}/foo-and-on`, { method: 'POST' });
    const on = await traceFor(receiver, '/foo-and-on', 'POST', (t) => t.some((s) => s.attributes['express.name'] === 'lateRoute'));
    expect(on.server.name).toBe('POST /foo-and-on');
    expect(spanNamed(on.trace, 'request handler - /:page-and-on').attributes['express.name']).toBe('lateRoute');
  });

  it('handles app.route() and several handlers on one route', async () => {
    expect((await httpRequest(`${base}/book`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"t":1}' })).status).toBe(201);
    const book = await traceFor(receiver, '/book', 'POST');
    expect(book.server.name).toBe('POST /book');
    expect(spanNamed(book.trace, 'request handler - /book').attributes['express.name']).toBe('addBook');

    expect((await httpRequest(`${base}/chain`)).body).toBe('chained');
    const { server, trace } = await traceFor(receiver, '/chain');
    expect(server.name).toBe('GET /chain');
    const first = spanNamed(trace, 'request handler - /chain', 'checkFirst');
    const second = spanNamed(trace, 'request handler - /chain', 'answerSecond');
    childOf(first, server);
    childOf(second, server);
    expect(first.end <= second.start).toBe(true);
  });

  it('renders regular-expression paths as their literal and names the element of a path array that matched', async () => {
    expect((await httpRequest(`${base}/files/a/b.txt`)).body).toBe('file a/b.txt');
    const regex = await traceFor(receiver, '/files/a/b.txt');
    expect(regex.server.name).toBe('GET /^\\/files\\/(.+)$/');
    expect(regex.server.attributes['http.route']).toBe('/^\\/files\\/(.+)$/');

    await httpRequest(`${base}/beta/3`);
    expect((await traceFor(receiver, '/beta/3')).server.name).toBe('GET /beta/:x');
    await httpRequest(`${base}/alpha`);
    expect((await traceFor(receiver, '/alpha')).server.name).toBe('GET /alpha');
  });

  it('names the mount path that matched when a router is mounted at several', async () => {
    expect((await httpRequest(`${base}/m2/x/4`)).body).toBe('x 4');
    const { server, trace } = await traceFor(receiver, '/m2/x/4');
    expect(server.name).toBe('GET /m2/x/:n');
    expect(spanNamed(trace, 'router - /m2/x/:n').attributes['express.name']).toBe('/m2');
    await httpRequest(`${base}/m1/x/5`);
    expect((await traceFor(receiver, '/m1/x/5')).server.name).toBe('GET /m1/x/:n');
  });

  it("moves on with next('route') without an error", async () => {
    expect((await httpRequest(`${base}/skip/3`)).body).toBe('skipped to 3');
    const { server, trace } = await traceFor(receiver, '/skip/3');
    expect(server.name).toBe('GET /skip/:id');
    const skipper = spanNamed(trace, 'request handler - /skip/:id', 'skipper');
    const second = spanNamed(trace, 'request handler - /skip/:id', 'skippedTo');
    expect(skipper.status.code).toBe(0);
    expect(skipper.events).toEqual([]);
    expect(skipper.end <= second.start).toBe(true);
  });

  it('follows a sub-application mounted at a path', async () => {
    expect((await httpRequest(`${base}/admin/stats`)).body).toBe('stats');
    const { server, trace } = await traceFor(receiver, '/admin/stats');
    expect(server.name).toBe('GET /admin/stats');
    const mount = spanNamed(trace, 'router - /admin/stats', '/admin');
    childOf(mount, server);
    childOf(spanNamed(trace, 'request handler - /admin/stats'), mount);
  });

  it('leaves a request that matched no route with its method-only name', async () => {
    expect((await httpRequest(`${base}/nope`)).status).toBe(404);
    const { server, trace } = await traceFor(receiver, '/nope');
    expect(server.name).toBe('GET');
    expect(server.attributes['http.route']).toBeUndefined();
    expect(server.status.code).toBe(0);
    expect(layerSpans(trace).some((s) => s.attributes['express.type'] === 'request_handler')).toBe(false);
    // The two routers mounted at / ran and matched nothing: plain `router`, not `router - /`.
    const routers = layerSpans(trace).filter((s) => s.attributes['express.type'] === 'router');
    expect(routers.map((s) => [s.name, s.attributes['express.name'], s.attributes['http.route']])).toEqual([
      ['router', '/', '/'],
      ['router', '/', '/'],
    ]);
    for (const r of routers) expect(r.parentSpanId).toBe(server.spanId);
    expect(spanNamed(trace, 'middleware - afterResponse').parentSpanId).toBe(server.spanId);
  });

  it('records a thrown error on the handler span and gives the server span error.type', async () => {
    expect((await httpRequest(`${base}/throw`)).status).toBe(500);
    const { server, trace } = await traceFor(receiver, '/throw');
    expect(server.name).toBe('GET /throw');
    expect(server.status.code).toBe(2);
    expect(server.attributes['error.type']).toBe('TypeError');
    const handler = spanNamed(trace, 'request handler - /throw');
    expect(handler.status).toEqual({ code: 2, message: 'thrown in a handler' });
    const exceptions = handler.events.filter((e) => e.name === 'exception');
    expect(exceptions).toHaveLength(1);
    expect(exceptions[0].attributes['exception.type']).toBe('TypeError');
    expect(exceptions[0].attributes['exception.message']).toBe('thrown in a handler');
    expect(String(exceptions[0].attributes['exception.stacktrace'])).toContain('thrower');
  });

  it('records an error passed to next(err)', async () => {
    expect((await httpRequest(`${base}/next-error`)).status).toBe(500);
    const { server, trace } = await traceFor(receiver, '/next-error');
    expect(server.attributes['error.type']).toBe('RangeError');
    const handler = spanNamed(trace, 'request handler - /next-error');
    expect(handler.status.code).toBe(2);
    expect(handler.events.map((e) => [e.name, e.attributes['exception.type']])).toEqual([['exception', 'RangeError']]);
    // The routers the error passed through afterwards are not blamed for it.
    for (const s of layerSpans(trace)) if (s !== handler) expect(s.events).toEqual([]);
  });

  it('instruments error-handling middleware, runs it in its span, and keeps the server status on the response code', async () => {
    const res = await httpRequest(`${base}/errors/handled`);
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body)).toEqual({ error: 'handled by an error handler' });
    const { server, trace } = await traceFor(receiver, '/errors/handled', 'GET', (t) =>
      t.some((s) => s.kind === 1 && s.attributes['url.path'] === '/from-error-handler'),
    );
    expect(server.name).toBe('GET /errors/handled');
    expect(server.status.code).toBe(2);
    expect(server.attributes['error.type']).toBe('URIError');

    const router = spanNamed(trace, 'router - /errors/handled', '/errors');
    const failing = spanNamed(trace, 'request handler - /errors/handled');
    expect(failing.events.map((e) => e.attributes['exception.type'])).toEqual(['URIError']);
    childOf(failing, router);
    const errorHandler = spanNamed(trace, 'middleware - errorHandler');
    expect(errorHandler.attributes).toEqual({ 'express.name': 'errorHandler', 'express.type': 'middleware', 'http.route': '/errors' });
    expect(errorHandler.status.code).toBe(0);
    childOf(errorHandler, router);
    // The error handler's downstream call is its child, and the downstream server's span the call's child.
    const client = trace.find((s) => s.kind === 2 && String(s.attributes['url.full']).endsWith('/from-error-handler'))!;
    childOf(client, errorHandler);
    childOf(trace.find((s) => s.kind === 1 && s.attributes['url.path'] === '/from-error-handler')!, client);
  });

  it('keeps the route when a parameter callback answers or fails before the route handler runs', async () => {
    const route = '/orgs/:org/members/:memberId';
    const cases: Array<[string, number, string | undefined]> = [
      ['/orgs/acme/members/7', 200, undefined],
      ['/orgs/acme/members/0', 404, undefined],
      ['/orgs/acme/members/x', 500, 'Error'],
    ];
    for (const [path, status, errorType] of cases) {
      expect((await httpRequest(`${base}${path}`)).status, path).toBe(status);
      const { server, trace } = await traceFor(receiver, path);
      expect(server.name, path).toBe(`GET ${route}`);
      expect(server.attributes['http.route'], path).toBe(route);
      expect(server.attributes['error.type'], path).toBe(errorType);
      expect(spanNamed(trace, `router - ${route}`).attributes['http.route'], path).toBe(route);
    }
    expect(JSON.parse((await httpRequest(`${base}/orgs/acme/members/7`)).body)).toEqual({ org: 'acme', member: '7' });
    // app.param, on the application's own router
    expect((await httpRequest(`${base}/shelf/0`)).status).toBe(404);
    const shelf = await traceFor(receiver, '/shelf/0');
    expect(shelf.server.name).toBe('GET /shelf/:bookId');
    expect((await httpRequest(`${base}/shelf/9`)).body).toBe('book 9');
    expect((await traceFor(receiver, '/shelf/9')).server.name).toBe('GET /shelf/:bookId');
  });

  it('leaves error.type off the server span when the error is answered with a 4xx', async () => {
    expect((await httpRequest(`${base}/client-error`)).status).toBe(404);
    const { server, trace } = await traceFor(receiver, '/client-error');
    expect(server.name).toBe('GET /client-error');
    expect(server.status.code).toBe(0);
    expect(server.attributes['error.type']).toBeUndefined();
    const handler = spanNamed(trace, 'request handler - /client-error');
    expect(handler.status.code).toBe(2);
    expect(handler.events[0].attributes['exception.type']).toBe('NotFoundError');
  });

  it('makes a downstream call a child of the handler that made it', async () => {
    expect((await httpRequest(`${base}/downstream`)).body).toBe('got downstream:/data');
    const { trace } = await traceFor(receiver, '/downstream', 'GET', (t) => t.some((s) => s.kind === 1 && s.attributes['url.path'] === '/data'));
    const handler = spanNamed(trace, 'request handler - /downstream');
    const client = trace.find((s) => s.kind === 2)!;
    expect(client.attributes['url.full']).toMatch(/\/data$/);
    childOf(client, handler);
    childOf(trace.find((s) => s.kind === 1 && s.attributes['url.path'] === '/data')!, client);
  });

  it('keeps the handler span active after await', async () => {
    expect((await httpRequest(`${base}/async`)).body).toBe('async downstream:/after-await');
    const { trace } = await traceFor(receiver, '/async', 'GET', (t) => t.some((s) => s.kind === 2));
    const handler = spanNamed(trace, 'request handler - /async');
    expect(handler.attributes['express.name']).toBe('asyncHandler');
    childOf(trace.find((s) => s.kind === 2)!, handler);
  });

  it("runs the handler's res.on('finish') callbacks in the handler's span", async () => {
    expect((await httpRequest(`${base}/finish`)).body).toBe('finishing');
    const { trace } = await traceFor(receiver, '/finish', 'GET', (t) => t.some((s) => s.kind === 2));
    const client = trace.find((s) => s.kind === 2)!;
    expect(client.attributes['url.full']).toMatch(/\/from-finish$/);
    childOf(client, spanNamed(trace, 'request handler - /finish'));
  });

  it('ends a handler span when the handler sends the response, not when the work it goes on with finishes', async () => {
    // The handler sends, then calls downstream 300 ms later: at once (it returns after sending), or from a timer
    // (it returned before sending, so only the response can end its span).
    for (const [path, body, later] of [
      ['/end/sent-then-works', 'sent', '/after-sent'],
      ['/end/sent-later-then-works', 'sent later', '/after-sent-later'],
    ]) {
      expect((await httpRequest(`${base}${path}`)).body, path).toBe(body);
      const { server, trace } = await traceFor(
        receiver,
        path,
        'GET',
        (t) => t.some((s) => s.kind === 1 && s.attributes['url.path'] === later) && t.some((s) => s.name === `request handler - ${path}`),
      );
      const handler = spanNamed(trace, `request handler - ${path}`);
      expect(handler.status.code, path).toBe(0);
      expect(handler.duration, path).toBeLessThan(150);
      expect(handler.end <= server.end, `${path}: the handler span ends by the server span's end`).toBe(true);
      // The work after the response is still the handler's, and starts well after its span ended.
      const client = trace.find((s) => s.kind === 2 && String(s.attributes['url.full']).endsWith(later))!;
      childOf(client, handler);
      expect(ms(client.start - handler.end), path).toBeGreaterThanOrEqual(250);
    }
  });

  it('ends a handler span when the handler throws, before the error handler after it runs', async () => {
    const res = await httpRequest(`${base}/end/throws-then-handled`);
    expect(res.status).toBe(500);
    expect(res.body).toBe('handled: thrown before a slow error handler');
    const { server, trace } = await traceFor(receiver, '/end/throws-then-handled', 'GET', (t) =>
      ['request handler - /end/throws-then-handled', 'middleware - slowErrorHandler'].every((name) => t.some((s) => s.name === name)),
    );
    expect(server.name).toBe('GET /end/throws-then-handled');
    expect(server.attributes['error.type']).toBe('EvalError');
    const thrower = spanNamed(trace, 'request handler - /end/throws-then-handled');
    expect(thrower.status).toEqual({ code: 2, message: 'thrown before a slow error handler' });
    expect(thrower.events.map((e) => [e.name, e.attributes['exception.type']])).toEqual([['exception', 'EvalError']]);
    // The error handler answers 200 ms after it starts; the thrower's span ended before it started.
    const errorHandler = spanNamed(trace, 'middleware - slowErrorHandler');
    childOf(errorHandler, server);
    expect(errorHandler.duration).toBeGreaterThanOrEqual(190);
    expect(thrower.duration).toBeLessThan(100);
    expect(thrower.end <= errorHandler.start, 'the thrower span ends before the error handler starts').toBe(true);
  });

  if (major >= 5) {
    it('records a rejected promise of an async handler (express 5)', async () => {
      expect((await httpRequest(`${base}/async-error`)).status).toBe(500);
      const { server, trace } = await traceFor(receiver, '/async-error');
      expect(server.name).toBe('GET /async-error');
      expect(server.attributes['error.type']).toBe('SyntaxError');
      const handler = spanNamed(trace, 'request handler - /async-error');
      expect(handler.status).toEqual({ code: 2, message: 'rejected promise' });
      expect(handler.events.map((e) => e.attributes['exception.type'])).toEqual(['SyntaxError']);
    });
  }

  it('reports no instrumentation failure', () => {
    expect(app.stderr()).not.toContain('instrumentation failed');
    expect(app.stderr()).not.toContain('zerotel error');
  });
});
