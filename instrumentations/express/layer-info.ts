/**
 * What the instrumentation knows about each express layer: what it is (middleware, router, route, a route's
 * handler, or express's own plumbing), the path it was mounted at, and the template, span name and attributes
 * last computed for it. Kept in a WeakMap, so layers get no property of ours; computed when the layer is
 * created (Router#use / Router#route) or, for the layers inside a route, the first time one runs. The caches
 * hold one entry, keyed by the prefix of the router the layer sits in: an application mounts a router at one
 * place, so a request finds its strings ready and builds none.
 */
import type { Attributes } from '../../src/api/types';
import {
  innerPrefix,
  isRouterHandle,
  joinTemplate,
  layerAttributes,
  LayerType,
  middlewareSpanName,
  renderPath,
  renderPathElements,
  requestHandlerSpanName,
  routerSpanName,
} from './attributes';

export const LayerKind = {
  /** Express 4's own `query` and `expressInit`: no span. */
  INTERNAL: 0,
  MIDDLEWARE: 1,
  ROUTER: 2,
  /** The layer of `app.get(path, ...)` / `app.route(path)`: it matches the route and dispatches to its handlers. */
  ROUTE: 3,
  /** A handler inside a route. */
  ROUTE_HANDLER: 4,
} as const;
export type LayerKind = (typeof LayerKind)[keyof typeof LayerKind];

type ElementMatcher = (path: string) => boolean;

export class LayerInfo {
  kind: LayerKind;
  /** The path as rendered in templates ('/' for none; the elements joined for an array). */
  readonly segment: string;
  /** For a layer given several paths: the raw elements and their renderings. */
  readonly rawElements: unknown[] | undefined;
  readonly elements: string[] | undefined;
  /** Matching options the router gave the layer, for testing array elements one by one (express 4). */
  readonly sensitive: boolean;
  readonly strict: boolean;
  private _matchers: ElementMatcher[] | undefined = undefined;

  // One-entry cache, keyed by (prefix, segment) — or, for a route's handler, by the route.
  private _cachedPrefix: string | undefined = undefined;
  private _cachedSegment: string | undefined = undefined;
  /** The template this layer matched: a mount point, or for a route the full route. */
  template = '';
  /** Routers: the prefix of the layers inside. */
  inner = '';
  spanName = '';
  attributes: Attributes | undefined = undefined;
  /** Routes: the name the routers around the route take once it matched. */
  routerName = '';
  /**
   * The layer's handler as last seen, and its declared parameter count: a function's `length` is read through an
   * accessor, not a field, and every layer of every request asks for it.
   */
  handle: unknown = undefined;
  arity = 0;

  constructor(kind: LayerKind, path: unknown, sensitive = false, strict = false) {
    this.kind = kind;
    this.sensitive = sensitive;
    this.strict = strict;
    if (Array.isArray(path)) {
      const raw: unknown[] = [];
      flattenInto(path, raw);
      if (raw.length === 1) {
        this.segment = renderPath(raw[0]);
        this.rawElements = undefined;
        this.elements = undefined;
      } else {
        this.rawElements = raw;
        this.elements = renderPathElements(raw);
        this.segment = this.elements.join(',');
      }
    } else {
      this.segment = renderPath(path);
      this.rawElements = undefined;
      this.elements = undefined;
    }
  }

  /** For a middleware or router under `prefix`: template, span name and attributes. */
  mountedAt(prefix: string, segment: string, layerName: unknown): void {
    if (this._cachedPrefix === prefix && this._cachedSegment === segment) return;
    const template = joinTemplate(prefix, segment);
    const name = typeof layerName === 'string' ? layerName : '<anonymous>';
    if (this.kind === LayerKind.ROUTER) {
      this.inner = innerPrefix(template);
      this.spanName = routerSpanName(template);
      this.attributes = layerAttributes(template, LayerType.ROUTER, template);
    } else {
      this.spanName = middlewareSpanName(name);
      this.attributes = layerAttributes(name, LayerType.MIDDLEWARE, template);
    }
    this.template = template;
    this._cachedPrefix = prefix;
    this._cachedSegment = segment;
  }

  /** For a route under `prefix`: its full template and the name of the routers around it. */
  routeAt(prefix: string, segment: string): string {
    if (this._cachedPrefix !== prefix || this._cachedSegment !== segment) {
      this.template = joinTemplate(prefix, segment);
      this.routerName = routerSpanName(this.template);
      this._cachedPrefix = prefix;
      this._cachedSegment = segment;
    }
    return this.template;
  }

  /** For a handler inside the route `route`: span name and attributes. */
  handlerOf(route: string, layerName: unknown): void {
    if (this._cachedPrefix === route) return;
    const name = typeof layerName === 'string' ? layerName : '<anonymous>';
    this.spanName = requestHandlerSpanName(route);
    this.attributes = layerAttributes(name, LayerType.REQUEST_HANDLER, route);
    this.template = route;
    this._cachedPrefix = route;
  }

  /**
   * For a layer given several paths: the rendering of the element that matches `concrete` (the part of the
   * request path the layer matched), or all of them when none can be told. Runs only for such layers.
   */
  elementMatching(layer: any, concrete: string, end: boolean): string {
    const elements = this.elements!;
    let matchers = this._matchers;
    if (matchers === undefined) matchers = this._matchers = buildMatchers(this, layer, end);
    for (let i = 0; i < matchers.length; i++) {
      if (matchers[i](concrete)) return elements[i];
    }
    return this.segment;
  }
}

function flattenInto(list: readonly unknown[], out: unknown[]): void {
  for (let i = 0; i < list.length; i++) {
    const p = list[i];
    if (Array.isArray(p)) flattenInto(p, out);
    else out.push(p);
  }
}

function noop(): void {}

/**
 * One matcher per element. Express 5 (router 2) keeps them on the layer (`layer.matchers`, one per element);
 * express 4 compiles all elements into one regular expression, so each element gets a layer of its own,
 * made with the same constructor and options, whose match() answers for it alone.
 */
function buildMatchers(info: LayerInfo, layer: any, end: boolean): ElementMatcher[] {
  const raw = info.rawElements!;
  const own: unknown = layer.matchers;
  if (Array.isArray(own) && own.length === raw.length && own.every((m) => typeof m === 'function')) {
    return (own as Array<(p: string) => unknown>).map((m) => (p: string) => {
      try {
        return Boolean(m(p));
      } catch {
        // A malformed escape in the path (express answers 400): this element is not named.
        return false;
      }
    });
  }
  const LayerClass = Object.getPrototypeOf(layer)?.constructor;
  if (typeof LayerClass !== 'function') return [];
  return raw.map((element): ElementMatcher => {
    let single: any;
    try {
      single = new LayerClass(element, { sensitive: info.sensitive, strict: info.strict, end }, noop);
    } catch {
      return () => false;
    }
    return (p: string) => {
      try {
        return single.match(p) === true;
      } catch {
        return false;
      }
    };
  });
}

const infos = new WeakMap<object, LayerInfo>();

export function setLayerInfo(layer: object, info: LayerInfo): void {
  infos.set(layer, info);
}

/**
 * What we know about `layer`, working it out for layers we did not see created: the handlers inside a route
 * (express sets their `method`), and, should any exist, layers made before the agent patched express.
 */
export function layerInfoOf(layer: any): LayerInfo {
  let info = infos.get(layer);
  if (info === undefined) {
    if (layer.route != null) {
      info = new LayerInfo(LayerKind.ROUTE, layer.route.path);
    } else if (Object.prototype.hasOwnProperty.call(layer, 'method')) {
      info = new LayerInfo(LayerKind.ROUTE_HANDLER, '/');
    } else {
      const kind = isRouterHandle(layer.handle) ? LayerKind.ROUTER : LayerKind.MIDDLEWARE;
      info = new LayerInfo(kind, layer.rawPath !== undefined ? layer.rawPath : '/');
    }
    infos.set(layer, info);
  }
  return info;
}
