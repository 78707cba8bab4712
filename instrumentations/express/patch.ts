/**
 * Wrapping for express 4 and 5. Everything is reached from the exports of the `express` entry, never from
 * its internal files, so the same code serves express 4 (router in express/lib/router) and express 5 (the
 * `router` package):
 *
 * - `Router#use` and `Router#route` (express 4: `express.Router` is the router prototype; express 5: it is the
 *   `router` package's constructor): after express adds the layers, we note what each is and the path it was
 *   given, and patch the prototype of the layers (once per copy of express).
 * - `Layer#handle_request` / `#handle_error` (express 4), `#handleRequest` / `#handleError` (router 2): start the
 *   layer's span, run the layer in its context with a `next` that ends it. The layer's `handle`, `name`, the
 *   handler's arity and `this` are untouched: express calls the application's function itself, as always.
 * - `Router#param` (and so `app.param`): each callback registered is wrapped, so that a route whose parameter
 *   callback answers or fails (loading the entity, a 404 for an unknown id) still names the server span.
 * - `express.application.lazyrouter` (express 4): marks express's own `query` and `expressInit` layers.
 * - `express.response.end`: the response is sent; the layer spans still open end.
 */
import type { Context } from '../../src/api/types';
import { contextManager } from '../../src/context/global';
import * as runtime from '../../src/instrumentation/runtime';
import { getConfig, reportInstrumentationError } from '../../src/instrumentation/runtime';
import type { ModuleInfo, Patcher } from '../../src/instrumentation/types';
import { isWrapped, markWrapper, unwrapMethod, wrapMethod } from '../../src/instrumentation/wrap';
import { isRouterHandle, usePathArgument } from './attributes';
import { LayerInfo, LayerKind, layerInfoOf, setLayerInfo } from './layer-info';
import { serverSpanOfResponse } from '../../src/instrumentation/http-server-spans';
import {
  enterLayer,
  errorReached,
  layerReturnedAfterResponse,
  LayerSpan,
  nextAfterLayer,
  paramCallbackStarting,
  type RequestState,
  responseEnding,
  stateOf,
} from './layer-spans';

type AnyFunction = (...args: any[]) => any;

/** Layer prototypes we patched (one per copy of express), with the names of the two methods wrapped on each. */
const patchedLayerPrototypes = new WeakMap<object, [string, string]>();

/**
 * The layer prototypes patched through the routers of each router prototype, for unpatch (which has express's
 * router prototype in hand). Weak both ways: a copy of express that is gone, as every Jest test file's is when
 * the file ends (src/instrumentation/jest-runtime.ts), must not be kept alive here.
 */
const layerPrototypesByRouterPrototype = new WeakMap<object, object[]>();

/** Patches the prototype of `layer`, once: layers are made by a constructor express does not export. */
function patchLayerPrototype(layer: unknown, router: object): void {
  if (layer === null || typeof layer !== 'object') return;
  const proto = Object.getPrototypeOf(layer);
  if (proto === null || patchedLayerPrototypes.has(proto)) return;
  const names: [string, string] =
    typeof proto.handleRequest === 'function' ? ['handleRequest', 'handleError'] : ['handle_request', 'handle_error'];
  patchedLayerPrototypes.set(proto, names);
  // Under each prototype of the router's chain: express's own (a subclass's too), never the realm's Object or Function.
  for (let p = Object.getPrototypeOf(router); p !== null && p !== Object.prototype && p !== Function.prototype; p = Object.getPrototypeOf(p)) {
    let list = layerPrototypesByRouterPrototype.get(p);
    if (list === undefined) layerPrototypesByRouterPrototype.set(p, (list = []));
    list.push(proto);
  }
  wrapMethod(proto, names[0], makeHandleRequest);
  wrapMethod(proto, names[1], makeHandleError);
}

// ---------------------------------------------------------------------------------------------------------------
// Layers

function makeHandleRequest(original: AnyFunction) {
  return function handle_request(this: any, req: any, res: any, next: any): unknown {
    if (!runtime.tracingEnabled || typeof next !== 'function') return original.apply(this, arguments as any);
    let entered: LayerSpan | Context | undefined;
    let wrappedNext: Function | undefined;
    try {
      // A middleware without a span (the default) is left alone: it runs in the context express calls it in, which
      // is its router's (a layer with a span hands its `next` that context: nextAfterLayer). Most of an
      // application's layers are middleware; this step for each was ~10 % of the agent's L1 instruction and data
      // misses on the `hello` benchmark (callgrind's cache simulation), for nothing the trace shows.
      const info = layerInfoOf(this);
      const kind = info.kind;
      entered =
        kind === LayerKind.INTERNAL || (kind === LayerKind.MIDDLEWARE && !getConfig().expressMiddlewareSpans)
          ? undefined
          : enterLayer(this, info, req, res, false);
      if (entered instanceof LayerSpan) wrappedNext = nextAfterLayer(entered, next);
    } catch (err) {
      reportInstrumentationError('express', 'starting a layer span', err);
      entered = undefined;
    }
    if (entered === undefined) return original.apply(this, arguments as any);
    if (wrappedNext === undefined) return contextManager.run(entered as Context, original, this, arguments);
    const ls = entered as LayerSpan;
    const result = contextManager.run(ls.context, original, this, [req, res, wrappedNext]);
    if (!ls.ended && res != null && res.writableEnded === true) layerReturnedAfterResponse(ls);
    return result;
  };
}

function makeHandleError(original: AnyFunction) {
  return function handle_error(this: any, error: any, req: any, res: any, next: any): unknown {
    if (!runtime.tracingEnabled || typeof next !== 'function') return original.apply(this, arguments as any);
    let entered: LayerSpan | Context | undefined;
    let wrappedNext: Function | undefined;
    try {
      // Express offers a pending error to every matching layer: this is where an error raised by a layer
      // without a span is seen.
      if (error) errorReached(req, error);
      entered = enterLayer(this, layerInfoOf(this), req, res, true);
      if (entered instanceof LayerSpan) wrappedNext = nextAfterLayer(entered, next);
    } catch (err) {
      reportInstrumentationError('express', 'starting an error handler span', err);
      entered = undefined;
    }
    if (entered === undefined) return original.apply(this, arguments as any);
    if (wrappedNext === undefined) return contextManager.run(entered as Context, original, this, arguments);
    const ls = entered as LayerSpan;
    const result = contextManager.run(ls.context, original, this, [error, req, res, wrappedNext]);
    if (!ls.ended && res != null && res.writableEnded === true) layerReturnedAfterResponse(ls);
    return result;
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Routers

/** Notes the layers `use` added: middleware or router, and the path they were mounted at. */
function noteUsedLayers(router: any, from: number, pathArgument: unknown): void {
  const stack = router.stack;
  const sensitive = router.caseSensitive === true;
  for (let i = from; i < stack.length; i++) {
    const layer = stack[i];
    if (layer === null || typeof layer !== 'object') continue;
    const kind = isRouterHandle(layer.handle) ? LayerKind.ROUTER : LayerKind.MIDDLEWARE;
    // Router#use always matches loosely (strict: false).
    setLayerInfo(layer, new LayerInfo(kind, pathArgument, sensitive, false));
    patchLayerPrototype(layer, router);
  }
}

function makeUse(original: AnyFunction) {
  return function use(this: any, first: unknown): unknown {
    const stack = this != null ? this.stack : undefined;
    const before = Array.isArray(stack) ? stack.length : -1;
    const result = original.apply(this, arguments as any);
    if (before !== -1) {
      try {
        noteUsedLayers(this, before, usePathArgument(first));
      } catch (err) {
        reportInstrumentationError('express', 'Router#use', err);
      }
    }
    return result;
  };
}

/**
 * The layer of each route, from the route: express sets `req.route` when a route matches, before it runs the
 * route's parameter callbacks, and those need the layer's template. Weak: routes go with their application.
 */
const routeLayers = new WeakMap<object, object>();

export function layerOfRoute(route: unknown): object | undefined {
  return route !== null && typeof route === 'object' ? routeLayers.get(route) : undefined;
}

function makeRoute(original: AnyFunction) {
  return function route(this: any, path: unknown): unknown {
    const result = original.apply(this, arguments as any);
    try {
      const stack = this != null ? this.stack : undefined;
      const layer = Array.isArray(stack) ? stack[stack.length - 1] : undefined;
      if (layer != null && layer.route === result) {
        setLayerInfo(layer, new LayerInfo(LayerKind.ROUTE, path, this.caseSensitive === true, this.strict === true));
        patchLayerPrototype(layer, this);
        if (result !== null && typeof result === 'object') routeLayers.set(result, layer);
      }
    } catch (err) {
      reportInstrumentationError('express', 'Router#route', err);
    }
    return result;
  };
}

/**
 * Router#param: the callback just registered (the last of `this.params[name]`, where both express 4 and router 2
 * keep them, after any custom param processors of express 4 have made it what it is) is replaced by a wrapper
 * that tells the request's state a route's parameters are being processed, then calls it as express would.
 */
function makeParam(original: AnyFunction) {
  return function param(this: any, name: unknown): unknown {
    const result = original.apply(this, arguments as any);
    try {
      const list = this != null && this.params != null && typeof name === 'string' ? this.params[name] : undefined;
      const last = Array.isArray(list) ? list.length - 1 : -1;
      if (last >= 0 && typeof list[last] === 'function' && !isWrapped(list[last])) list[last] = wrapParamCallback(list[last]);
    } catch (err) {
      reportInstrumentationError('express', 'Router#param', err);
    }
    return result;
  };
}

function wrapParamCallback(callback: AnyFunction): AnyFunction {
  return markWrapper(function paramCallback(this: unknown, req: unknown, res: unknown): unknown {
    if (runtime.tracingEnabled) {
      try {
        paramCallbackStarting(req, res, layerOfRoute((req as { route?: unknown } | null)?.route));
      } catch (err) {
        reportInstrumentationError('express', 'a param callback', err);
      }
    }
    return callback.apply(this, arguments as any);
  }, callback);
}

/** Express 4 starts each application's router with its own `query` and `expressInit` layers: no spans for those. */
function makeLazyrouter(original: AnyFunction) {
  return function lazyrouter(this: any): unknown {
    const before = this != null ? this._router : undefined;
    const result = original.apply(this, arguments as any);
    if (before === undefined) {
      try {
        const stack = this._router?.stack;
        if (Array.isArray(stack)) for (const layer of stack) setLayerInfo(layer, new LayerInfo(LayerKind.INTERNAL, '/'));
      } catch (err) {
        reportInstrumentationError('express', 'application.lazyrouter', err);
      }
    }
    return result;
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Response

/**
 * `holder` is express's response object when it had no `end` of its own (no express version has one): ours then
 * stands in for the one it inherits, which is looked up at each call, so that a later patch of
 * `ServerResponse.prototype.end` (a response-timing shim, another agent) still runs for express's responses, as
 * it does without us. Without a holder, the `end` express defined is the one called.
 */
function makeEnd(original: AnyFunction, holder: object | undefined) {
  return function end(this: any): unknown {
    if (runtime.tracingEnabled) {
      // From the response itself when the http instrumentation has it: `this.req` is a runtime lookup here.
      const entry = serverSpanOfResponse(this);
      const state = entry !== undefined ? (entry.framework as RequestState | undefined) : stateOf(this.req);
      if (state !== undefined) {
        try {
          responseEnding(state);
        } catch (err) {
          reportInstrumentationError('express', 'ending layer spans with the response', err);
        }
      }
    }
    return (holder === undefined ? original : inheritedEnd(holder, original)).apply(this, arguments as any);
  };
}

function inheritedEnd(holder: object, original: AnyFunction): AnyFunction {
  const proto = Object.getPrototypeOf(holder);
  const inherited = proto == null ? undefined : proto.end;
  return typeof inherited === 'function' ? inherited : original;
}

// ---------------------------------------------------------------------------------------------------------------
// Patcher

/** express 4: `express.Router` is the prototype of routers; express 5: it is a constructor. */
function routerPrototypeOf(express: any): any {
  const Router = express.Router;
  if (Router == null) return undefined;
  if (typeof Router.use === 'function') return Router;
  return Router.prototype;
}

/** Whether `express.response` had an `end` of its own before we put ours there (it inherits http's). */
const responseHadOwnEnd = new WeakMap<object, boolean>();

export const expressPatcher: Patcher = {
  patch(express: any, _info: ModuleInfo) {
    const routerProto = routerPrototypeOf(express);
    wrapMethod(routerProto, 'use', makeUse);
    wrapMethod(routerProto, 'route', makeRoute);
    wrapMethod(routerProto, 'param', makeParam);
    if (typeof express.application?.lazyrouter === 'function') wrapMethod(express.application, 'lazyrouter', makeLazyrouter);
    const response = express.response;
    if (response != null && typeof response === 'object' && !responseHadOwnEnd.has(response)) {
      const hadOwnEnd = Object.prototype.hasOwnProperty.call(response, 'end');
      responseHadOwnEnd.set(response, hadOwnEnd);
      wrapMethod(response, 'end', (original) => makeEnd(original, hadOwnEnd ? undefined : response));
    }
  },
  unpatch(express: any) {
    const routerProto = routerPrototypeOf(express);
    unwrapMethod(routerProto, 'use');
    unwrapMethod(routerProto, 'route');
    unwrapMethod(routerProto, 'param');
    unwrapMethod(express.application, 'lazyrouter');
    const response = express.response;
    if (response != null && typeof response === 'object') {
      unwrapMethod(response, 'end');
      // Unwrapping leaves the inherited end as an own property: take it away again.
      if (responseHadOwnEnd.get(response) === false) delete response.end;
      responseHadOwnEnd.delete(response);
    }
    const layerPrototypes = routerProto != null ? layerPrototypesByRouterPrototype.get(routerProto) : undefined;
    if (layerPrototypes !== undefined) {
      for (const proto of layerPrototypes) {
        const names = patchedLayerPrototypes.get(proto);
        if (names === undefined) continue;
        unwrapMethod(proto, names[0]);
        unwrapMethod(proto, names[1]);
        patchedLayerPrototypes.delete(proto);
      }
      layerPrototypesByRouterPrototype.delete(routerProto);
    }
  },
};
