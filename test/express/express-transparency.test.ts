/**
 * The instrumentation changes nothing an application or its clients can see: the same express application
 * (test/fixtures/express/transparent-app.cjs) runs without the agent and under the preload, gets the same
 * requests, and must give the same status codes, headers (in order, all but Date) and body bytes — and the
 * same answer from its /introspect route, which reports the router's shape, layer names, properties and
 * arity, handler identity, `this` in handlers, what next() returns, and the own properties of req and res.
 *
 * This app exercises every part of express the instrumentation touches; express-generator-app.test.ts does the
 * same for an application we did not write.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../helpers/child';
import { ask, type Answer, type Ask as BaseAsk } from '../helpers/http-answer';
import { Receiver } from '../helpers/receiver';
import { entry, EXPRESS_MAJORS, layerSpans, traceFor } from './express-fixtures';

interface Ask extends BaseAsk {
  /** Builds headers from the answer to the request before (conditional GETs). */
  after?: (previous: Answer) => Record<string, string>;
}

const REQUESTS: Ask[] = [
  { path: '/static/hello.txt' },
  { path: '/static/hello.txt', after: (prev) => ({ 'if-none-match': headerOf(prev, 'etag') }) },
  { path: '/static/hello.txt', headers: { range: 'bytes=0-4' } },
  { path: '/static/docs' },
  { path: '/static/docs/' },
  { path: '/static/nothing-here.txt' },
  { path: '/json?x=1&y[z]=2' },
  { method: 'HEAD', path: '/json' },
  { method: 'OPTIONS', path: '/json' },
  { path: '/redirect' },
  { path: '/cookie', headers: { cookie: 'a=1; b=two' } },
  { path: '/stream' },
  { path: '/format', headers: { accept: 'application/json' } },
  { path: '/format', headers: { accept: 'text/plain' } },
  { path: '/format', headers: { accept: 'image/png' } },
  { path: '/status' },
  { path: '/download' },
  { method: 'POST', path: '/echo', headers: { 'content-type': 'application/json' }, body: '{"hello":["world",1]}' },
  { method: 'POST', path: '/echo', headers: { 'content-type': 'application/json' }, body: '{"broken":' },
  { path: '/params/1/two?q=3' },
  { path: '/tree/oak/leaf1' },
  { path: '/throw' },
  { path: '/teapot' },
  { path: '/rejects' },
  { path: '/missing' },
  { path: '/introspect' },
];

function headerOf(answer: Answer, name: string): string {
  const line = answer.headers.find((h) => h.toLowerCase().startsWith(name + ': '));
  return line === undefined ? '' : line.slice(name.length + 2);
}

describe.each(EXPRESS_MAJORS)('express %i answers the same with and without the agent', (major) => {
  let receiver: Receiver;
  let plain: RunningApp;
  let traced: RunningApp;

  beforeAll(async () => {
    receiver = await Receiver.start();
    // Production mode in both: express's error pages would otherwise print stack traces, whose frames differ.
    const file = entry(major, 'transparent.cjs');
    [plain, traced] = await Promise.all([
      startApp(file, { nodeArgs: [], env: { NODE_ENV: 'production' } }),
      startApp(file, { env: receiver.env({ NODE_ENV: 'production', OTEL_INSTRUMENTATION_EXPRESS_MIDDLEWARE_SPANS: 'true' }) }),
    ]);
  });

  afterAll(async () => {
    await plain?.stop();
    await traced?.stop();
    await receiver?.close();
  });

  it('gives the same status, headers and bytes for every request, and the same introspection', async () => {
    let previousPlain: Answer | undefined;
    let previousTraced: Answer | undefined;
    for (const req of REQUESTS) {
      const a = await ask(plain.port, req, req.after && previousPlain ? req.after(previousPlain) : {});
      const b = await ask(traced.port, req, req.after && previousTraced ? req.after(previousTraced) : {});
      expect(b, `${req.method ?? 'GET'} ${req.path}`).toEqual(a);
      previousPlain = a;
      previousTraced = b;
    }
    const introspection = JSON.parse(Buffer.from(previousPlain!.body, 'base64').toString('utf8'));
    // The introspection says something: the middleware ran with `this` undefined and next() returned undefined.
    expect(introspection.seen).toEqual({ thisInMiddleware: 'undefined', nextReturned: 'undefined', thisInHandler: 'undefined' });
    expect(introspection.handlesKept).toBe(true);
    expect(introspection.stack.find((l: any) => l.name === 'finalErrorHandler').handleLength).toBe(4);
  });

  it('was traced while doing so', async () => {
    const { server, trace } = await traceFor(receiver, '/introspect');
    expect(server.name).toBe('GET /introspect');
    expect(layerSpans(trace).map((s) => s.name)).toContain('middleware - stampMiddleware');
    const throwTrace = await traceFor(receiver, '/throw');
    expect(throwTrace.server.attributes['error.type']).toBe('Error');
    expect(traced.stderr()).not.toContain('instrumentation failed');
  });
});
