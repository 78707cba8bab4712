/**
 * The express patcher in this process, on express 4 and 5 loaded directly (no module hook): what it wraps,
 * what it leaves as it was, unpatching, and the layer lifecycle cases that are awkward to reach from a child
 * process. A real http server answers; a server span is made for each request the way the http
 * instrumentation makes it, and spans go to an in-memory exporter.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpanKind } from '../../src/api/types';
import { ROOT_CONTEXT, setSpan } from '../../src/context/context';
import { contextManager } from '../../src/context/global';
import { readConfig } from '../../src/config';
import { registerServerSpan } from '../../src/instrumentation/http-server-spans';
import { setRuntime } from '../../src/instrumentation/runtime';
import { isWrapped, ORIGINAL } from '../../src/instrumentation/wrap';
import { createPropagator } from '../../src/propagators';
import type { ReadableSpan } from '../../src/trace/span';
import { expressPatcher } from '../../instrumentations/express/patch';
import { memoryProvider } from '../helpers/sdk';

const MODULES = { 4: 'express4', 5: 'express' } as const;
const info = { name: 'express', version: '0', basedir: undefined, format: 'commonjs' as const };

describe.each([4, 5] as const)('express %i patched in process', (major) => {
  const express = require(MODULES[major]);
  const { provider, exporter } = memoryProvider();
  const routerProto = major === 4 ? express.Router : express.Router.prototype;
  const originalUse = routerProto.use;
  let server: http.Server;
  let base: string;

  beforeAll(async () => {
    setRuntime({ config: readConfig({ OTEL_INSTRUMENTATION_EXPRESS_MIDDLEWARE_SPANS: 'true' }).config, provider, propagator: createPropagator(['tracecontext']) });
    expressPatcher.patch(express, info);
    expressPatcher.patch(express, info);
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    expressPatcher.unpatch(express, info);
    setRuntime(undefined);
  });

  async function serve(app: any): Promise<void> {
    server = http.createServer((req, res) => {
      // What the http instrumentation does for each request.
      const span = provider.getTracer('server').start('GET', SpanKind.SERVER, ROOT_CONTEXT);
      const context = setSpan(ROOT_CONTEXT, span);
      registerServerSpan(req, res, {
        span,
        context,
        method: 'GET',
        route: undefined,
        ended: false,
        framework: undefined,
        nodeFinishListener: undefined,
        arrivalFrame: undefined,
        request: req,
        headWritten: false,
        statusCode: undefined,
        errorType: undefined,
        expectation: false,
      });
      res.on('finish', () => span.end());
      contextManager.run(context, app, undefined, [req, res]);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async function spansOf(path: string, count: number): Promise<ReadableSpan[]> {
    exporter.reset();
    const res = await fetch(base + path);
    await res.text();
    for (let i = 0; i < 100 && exporter.getFinishedSpans().length < count; i++) {
      await new Promise((r) => setTimeout(r, 10));
      await provider.forceFlush();
    }
    return exporter.getFinishedSpans();
  }

  it('wraps Router#use and #route once, keeping their name and length', () => {
    expect(isWrapped(routerProto.use)).toBe(true);
    expect(isWrapped(routerProto.route)).toBe(true);
    expect(routerProto.use.name).toBe(originalUse.name);
    expect(routerProto.use.length).toBe(originalUse.length);
    // Patched twice, wrapped once: the wrapper wraps express's own function.
    expect((routerProto.use as any)[ORIGINAL]).toBe(originalUse);
    expect(Object.keys(express.response)).not.toContain('end');
  });

  it('leaves layers, handlers and routers as express made them', async () => {
    const app = express();
    const handlers: Function[] = [];
    function mw(req: any, res: any, next: any) {
      next();
    }
    function errors(err: any, req: any, res: any, next: any) {
      next(err);
    }
    app.use(mw);
    app.get('/x', function handler(req: any, res: any) {
      res.send('x');
    });
    app.use(errors);
    handlers.push(mw, errors);
    await serve(app);
    const router = app._router ?? app.router;
    const before = router.stack.map((l: any) => [Object.keys(l), Object.getOwnPropertyNames(l), Object.getOwnPropertySymbols(l).length]);
    const spans = await spansOf('/x', 3);
    expect(spans.map((s) => s.name)).toContain('request handler - /x');
    const after = router.stack.map((l: any) => [Object.keys(l), Object.getOwnPropertyNames(l), Object.getOwnPropertySymbols(l).length]);
    expect(after).toEqual(before);
    const mwLayer = router.stack.find((l: any) => l.name === 'mw');
    expect(mwLayer.handle).toBe(mw);
    expect(router.stack.find((l: any) => l.name === 'errors').handle.length).toBe(4);
    await new Promise((resolve) => server.close(resolve));
  });

  it("ends a layer's span when the next layer starts, if it went on through req.next()", async () => {
    const app = express();
    app.use(function viaReqNext(req: any, res: any) {
      req.next();
    });
    app.get('/y', function answer(req: any, res: any) {
      res.send('y');
    });
    await serve(app);
    const spans = await spansOf('/y', 3);
    const first = spans.find((s) => s.name === 'middleware - viaReqNext')!;
    const second = spans.find((s) => s.name === 'request handler - /y')!;
    expect(first.ended).toBe(true);
    expect(first.endTime <= second.startTime).toBe(true);
    expect(spans.find((s) => s.kind === SpanKind.SERVER)!.name).toBe('GET /y');
    await new Promise((resolve) => server.close(resolve));
  });

  it('unpatches: the originals come back and express.response has no end of its own', () => {
    const probe = express();
    probe.use(function touch() {});
    expressPatcher.unpatch(express, info);
    try {
      expect(isWrapped(routerProto.use)).toBe(false);
      expect(routerProto.use).toBe(originalUse);
      expect(Object.prototype.hasOwnProperty.call(express.response, 'end')).toBe(false);
      const layerProto = Object.getPrototypeOf((probe._router ?? probe.router).stack.at(-1));
      expect(isWrapped(layerProto.handleRequest ?? layerProto.handle_request)).toBe(false);
    } finally {
      expressPatcher.patch(express, info);
    }
  });
});
