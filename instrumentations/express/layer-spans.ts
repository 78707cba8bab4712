/**
 * The layer spans of one request, and where the request is in the application's routers.
 *
 * Express runs one layer of a request at a time: a layer runs until it calls `next()` (then express looks for
 * the next matching layer), sends the response, or throws (express turns that into `next(err)`). So a request
 * is always inside a chain of routers — the application's, then each mounted router it entered — and a new
 * layer starting means every layer started before it in the same router has finished. The state below follows
 * that chain (`frame`), which gives the route template without re-reading any path: a router's template is its
 * parent's plus its mount path, computed once per layer and cached (layer-info.ts). Entering a router saves
 * nothing that exiting must pop in step: each frame knows its parent, so a layer that calls `next` twice, or a
 * router left out of order, cannot shift the templates of the others (the fault behind
 * opentelemetry-js-contrib #2680).
 *
 * Spans end when the layer calls next, when the response is sent (res.end, see patch.ts), when a later layer
 * of the same router starts (a layer that went on through `req.next` instead of its own `next`), or, for a
 * layer that runs after the response was sent, when it returns.
 */
import type { Context, Span } from '../../src/api/types';
import { SpanKind, SpanStatusCode } from '../../src/api/types';
import { getSpan, isTracingSuppressed, setSpan } from '../../src/context/context';
import { contextManager } from '../../src/context/global';
import { serverSpanOf, setHttpRoute, type ServerSpanEntry } from '../../src/instrumentation/http-server-spans';
import { getConfig, reportInstrumentationError, tracerGetter } from '../../src/instrumentation/runtime';
import { exceptionType } from '../../src/trace/span';
import { isRoutingSignal, joinTemplate } from './attributes';
import { LayerKind, layerInfoOf, type LayerInfo } from './layer-info';
const charCodeAt: (this: string, index: number) => number = String.prototype.charCodeAt; // called as charCodeAt.call(s, i): why, at charCodeAt in src/exporters/otlp/protobuf-writer.ts

const getTracer = tracerGetter('express');

export class LayerSpan {
  /** Routers: the prefix of the layers inside, and `req.baseUrl` inside. */
  innerPrefix = '';
  baseUrl = '';
  ended = false;
  /** Routers: whether the request has left it. */
  exited = false;

  constructor(
    readonly state: RequestState,
    readonly span: Span,
    readonly context: Context,
    readonly isRouter: boolean,
    /** The router this layer sits in (undefined: the application's router). */
    readonly parentFrame: LayerSpan | undefined,
    /** Its place in `state.open`. */
    readonly index: number,
  ) {}
}

export class RequestState {
  /** The innermost router the request is in; undefined while it is in the application's own router. */
  frame: LayerSpan | undefined = undefined;
  /** This request's layer spans, outermost first. Ended ones stay until the next layer of their router starts. */
  readonly open: LayerSpan[] = [];
  /** The route being dispatched; its handlers' spans carry it. */
  route = '';
  /** The last error seen, so that one error passed along from layer to layer is recorded once. */
  lastError: unknown = undefined;
  /** The type of the last error seen; the server span takes it if the response is a server error. */
  errorType: string | undefined = undefined;

  constructor(
    /** The http instrumentation's record of the server span, when there is one. */
    readonly entry: ServerSpanEntry | undefined,
    /** The context the application's own layers start in (the server span's). */
    readonly rootContext: Context,
    /** False when the server span is sampled out: its layers would be too, so only routers are followed (for the route). */
    readonly recording: boolean,
  ) {}
}

/** States of requests without a server span (express driven by something other than node:http). */
const statesWithoutServerSpan = new WeakMap<object, RequestState>();

export function stateOf(req: unknown): RequestState | undefined {
  if (req === null || typeof req !== 'object') return undefined;
  return existingState(req, serverSpanOf(req));
}

function existingState(req: object, entry: ServerSpanEntry | undefined): RequestState | undefined {
  return entry !== undefined ? (entry.framework as RequestState | undefined) : statesWithoutServerSpan.get(req);
}

/** The state of a request, made when its first layer runs; undefined when the request is not traced. */
function stateFor(req: any, active: Context): RequestState | undefined {
  const entry = serverSpanOf(req);
  let state = existingState(req, entry);
  if (state !== undefined) return state;
  let rootContext: Context;
  let recording: boolean;
  if (entry !== undefined && !entry.ended) {
    rootContext = entry.context;
    recording = entry.span.isRecording();
  } else {
    // No server span (express driven by something other than node:http): nest under whatever span is active.
    const span = getSpan(active);
    if (span === undefined) return undefined;
    rootContext = active;
    recording = span.isRecording();
  }
  state = new RequestState(entry, rootContext, recording);
  if (entry !== undefined) entry.framework = state;
  else statesWithoutServerSpan.set(req, state);
  return state;
}

function contextOf(state: RequestState): Context {
  const frame = state.frame;
  return frame === undefined ? state.rootContext : frame.context;
}

function prefixOf(state: RequestState): string {
  const frame = state.frame;
  return frame === undefined ? '' : frame.innerPrefix;
}

/**
 * The http instrumentation runs the listeners of the request and the response in `entry.context`. Pointing
 * it at the layer that is running makes `req.on('data')` in a body parser, or `res.on('finish')` added by the
 * handler that answers, run in that layer's span, as the code that added them did.
 */
function setListenerContext(state: RequestState, context: Context): void {
  const entry = state.entry;
  if (entry !== undefined) entry.context = context;
}

function endLayerSpan(ls: LayerSpan): void {
  ls.ended = true;
  ls.span.end();
}

/** Ends and drops the spans above the current router: a layer starting there means they are done. */
function settle(state: RequestState): void {
  const open = state.open;
  const frame = state.frame;
  const keep = frame === undefined ? 0 : frame.index + 1;
  while (open.length > keep) {
    const ls = open.pop()!;
    if (!ls.ended) endLayerSpan(ls);
  }
}

function startLayerSpan(state: RequestState, info: LayerInfo, isRouter: boolean): LayerSpan {
  settle(state);
  const parent = contextOf(state);
  // Shared: a layer's attributes are made once (layer-info.ts) and replaced, never changed.
  const span = getTracer().startShared(info.spanName, SpanKind.INTERNAL, parent, info.attributes);
  const ls = new LayerSpan(state, span, setSpan(parent, span), isRouter, state.frame, state.open.length);
  state.open.push(ls);
  setListenerContext(state, ls.context);
  return ls;
}

function errorMessage(err: unknown): string | undefined {
  if (typeof err === 'string') return err;
  if (err !== null && typeof err === 'object' && typeof (err as { message?: unknown }).message === 'string') {
    return (err as { message: string }).message;
  }
  return undefined;
}

/**
 * An error passed on by a layer. The layer's span gets the exception event the first time the error is seen
 * and ERROR status each time (it ended by passing an error on); the request remembers the error's type.
 */
export function noteError(state: RequestState, err: unknown, ls: LayerSpan | undefined): void {
  const isNew = err !== state.lastError;
  if (isNew) {
    state.lastError = err;
    state.errorType = exceptionType(err) ?? '_OTHER';
    // http-spans.md, error.type: the server span takes the exception type if the response turns out a 5xx
    // (a handled error answered with a 4xx is the client's); the http instrumentation decides at the end.
    if (state.entry !== undefined) state.entry.errorType = state.errorType;
  }
  if (ls !== undefined && !ls.ended) {
    if (isNew) ls.span.recordException(err);
    ls.span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(err) });
  }
}

/** A router's `next` was called: the request leaves it. Spans still open inside end with it. */
function exitRouter(ls: LayerSpan): void {
  const state = ls.state;
  if (!ls.exited) {
    ls.exited = true;
    const open = state.open;
    if (open[ls.index] === ls) {
      while (open.length > ls.index + 1) {
        const inner = open.pop()!;
        if (!inner.ended) endLayerSpan(inner);
      }
      open.pop();
    }
    if (state.frame === ls) state.frame = ls.parentFrame;
  }
  if (!ls.ended) endLayerSpan(ls);
}

/**
 * The layer returned, the response is sent, and it has not called `next`: it has nothing more to do for the
 * request (a layer that runs after the response and neither answers nor goes on would otherwise never end).
 */
export function layerReturnedAfterResponse(ls: LayerSpan): void {
  if (!ls.ended) endLayerSpan(ls);
}

/** The layer of `ls` called its `next`. */
export function layerCalledNext(ls: LayerSpan, err: unknown): void {
  const state = ls.state;
  if (err && !isRoutingSignal(err)) noteError(state, err, ls);
  if (ls.isRouter) exitRouter(ls);
  else if (!ls.ended) endLayerSpan(ls);
  setListenerContext(state, contextOf(state));
}

/**
 * The `next` a layer with a span is given: ends the span, then calls express's `next` with the same `this`
 * and arguments and returns what it returns, in the context of the router the request is now in — the layers express
 * runs from there, middleware among them, run in it, not in the span just ended. (A closure per span: the span is
 * what it must find.)
 */
export function nextAfterLayer(ls: LayerSpan, original: Function): Function {
  return function next(this: unknown, err?: unknown) {
    let context: Context | undefined;
    try {
      layerCalledNext(ls, err);
      context = contextOf(ls.state);
      if (context === contextManager.active()) context = undefined;
    } catch (e) {
      reportInstrumentationError('express', 'ending a layer span', e);
      context = undefined;
    }
    if (context === undefined) return original.apply(this, arguments);
    return contextManager.run(context, original as (...args: unknown[]) => unknown, this, arguments);
  };
}

/** An error is being offered to the layers after the one that raised it. */
export function errorReached(req: unknown, err: unknown): void {
  // Made here if need be: the middleware before may have run without one (see enterLayer).
  const state = req !== null && typeof req === 'object' ? stateFor(req, contextManager.active()) : undefined;
  if (state !== undefined && !isRoutingSignal(err)) noteError(state, err, undefined);
}

/** The path of the request inside the current router, for telling which of a route's several paths matched. */
function routePathOf(req: any): string {
  const url = typeof req.url === 'string' ? req.url : '/';
  let start = 0;
  if (charCodeAt.call(url, 0) !== 47 /* / */) {
    // An absolute-form target (`GET http://host/path`): express matches its path.
    const scheme = url.indexOf('://');
    const slash = scheme === -1 ? -1 : url.indexOf('/', scheme + 3);
    start = slash === -1 ? url.length : slash;
  }
  const q = url.indexOf('?', start);
  return q === -1 ? url.slice(start) : url.slice(start, q);
}

/**
 * A route matched (express checked the path and the method): the server span and the routers get its template
 * — unless an earlier route already answered (`res.send(); next()` reaching a later route), whose route stays.
 */
function dispatchRoute(state: RequestState, layer: any, info: LayerInfo, req: any, res: any): void {
  const segment = info.elements === undefined ? info.segment : info.elementMatching(layer, routePathOf(req), true);
  const route = info.routeAt(prefixOf(state), segment);
  state.route = route;
  if (headersSent(state, res)) return;
  setHttpRoute(req, route);
  for (let f = state.frame; f !== undefined; f = f.parentFrame) {
    if (f.ended) continue;
    f.span.updateName(info.routerName);
    f.span.setAttribute('http.route', route);
  }
}

/**
 * A parameter callback (`router.param`, `app.param`) is about to run. For a route's parameters express has matched
 * the route (path and method) and set `req.route` (whose layer is `routeLayer`), but runs its layer only after
 * the callbacks: a callback that answers (a 404 for an unknown id) or fails would leave the server span without
 * its route. So the route is dispatched here, as its layer will do again if the callbacks go on. Only while no
 * route has matched yet: after one, `req.route` may be that earlier route's, for a router mount's parameters.
 */
export function paramCallbackStarting(req: unknown, res: unknown, routeLayer: object | undefined): void {
  if (routeLayer === undefined || req === null || typeof req !== 'object') return;
  const state = stateFor(req, contextManager.active());
  if (state === undefined || state.route !== '') return;
  const info = layerInfoOf(routeLayer);
  if (info.kind !== LayerKind.ROUTE) return;
  dispatchRoute(state, routeLayer, info, req, res);
}

/** res.headersSent, from the http instrumentation's record when there is one (reading it costs; see there). */
function headersSent(state: RequestState, res: any): boolean {
  const entry = state.entry;
  return entry !== undefined ? entry.headWritten : res != null && res.headersSent === true;
}

function mountSegment(state: RequestState, layer: any, info: LayerInfo, req: any): string {
  if (info.elements === undefined) return info.segment;
  // The part of the path this layer matched: express has already moved it from req.url to req.baseUrl.
  const baseUrl = typeof req.baseUrl === 'string' ? req.baseUrl : '';
  const frame = state.frame;
  const outer = frame === undefined ? '' : frame.baseUrl;
  return info.elementMatching(layer, baseUrl.startsWith(outer) ? baseUrl.slice(outer.length) : baseUrl, false);
}

/**
 * A layer is about to run (`info`: layerInfoOf(layer)). Returns its span (the wrapper runs the layer in the span's
 * context with a `next` that ends it), a context (no span: the wrapper runs the layer in its router's context), or
 * undefined (the wrapper calls straight through). The request wrapper does not come here for a middleware without a
 * span (see patch.ts); the error wrapper does, for error handlers.
 */
export function enterLayer(layer: any, info: LayerInfo, req: any, res: any, errorHandling: boolean): LayerSpan | Context | undefined {
  if (req === null || typeof req !== 'object') return undefined;
  const handle = layer.handle;
  if (typeof handle !== 'function') return undefined;
  if (info.handle !== handle) {
    info.handle = handle;
    info.arity = handle.length;
  }
  // Express skips (calls next at once) an error handler on the normal path and a normal handler on the error path.
  if (errorHandling ? info.arity !== 4 : info.arity > 3) return undefined;
  const active = contextManager.active();
  if (isTracingSuppressed(active)) return undefined;
  const state = stateFor(req, active);
  if (state === undefined) return undefined;
  switch (info.kind) {
    case LayerKind.ROUTE:
      dispatchRoute(state, layer, info, req, res);
      return undefined;
    case LayerKind.ROUTE_HANDLER: {
      if (!state.recording) return undefined;
      const route = state.route !== '' ? state.route : joinTemplate(prefixOf(state), '/');
      info.handlerOf(route, layer.name);
      return startLayerSpan(state, info, false);
    }
    case LayerKind.ROUTER: {
      // Routers are followed even when the request is sampled out: the route's template depends on them.
      info.mountedAt(prefixOf(state), mountSegment(state, layer, info, req), layer.name);
      const ls = startLayerSpan(state, info, true);
      ls.innerPrefix = info.inner;
      ls.baseUrl = typeof req.baseUrl === 'string' ? req.baseUrl : '';
      state.frame = ls;
      return ls;
    }
    case LayerKind.MIDDLEWARE: {
      if (!state.recording) return undefined;
      if (!getConfig().expressMiddlewareSpans) {
        // No span (an error handler: the request wrapper leaves other middleware alone): it runs in its router's
        // span, as what it calls should.
        settle(state);
        const context = contextOf(state);
        setListenerContext(state, context);
        return context === active ? undefined : context;
      }
      info.mountedAt(prefixOf(state), mountSegment(state, layer, info, req), layer.name);
      return startLayerSpan(state, info, false);
    }
    default:
      return undefined;
  }
}

/** The response is being sent: every open layer span of the request ends. */
export function responseEnding(state: RequestState): void {
  const open = state.open;
  for (let i = open.length - 1; i >= 0; i--) {
    const ls = open[i];
    if (!ls.ended) endLayerSpan(ls);
  }
}
