/**
 * Route templates, span names and attributes for express layers. Pure functions of what express was given
 * (paths, handler names); the wrapping in patch.ts computes them once per layer and caches them.
 *
 * `http.route` is "the matched route, that is, the path template in the format used by the respective server
 * framework" (semantic-conventions docs/http/http-spans.md, HTTP server span attributes): paths are kept as
 * the application wrote them (`/users/:id`, `/files/*splat`, `/users{/:id}`), regular expressions as their
 * literal (`/^\/v\d+$/i`), and the templates of the routers a request passed through are joined in front.
 */
import type { Attributes } from '../../src/api/types';
const charCodeAt: (this: string, index: number) => number = String.prototype.charCodeAt; // called as charCodeAt.call(s, i): why, at charCodeAt in src/exporters/otlp/protobuf-writer.ts

/** Values of `express.type`. */
export const LayerType = {
  MIDDLEWARE: 'middleware',
  ROUTER: 'router',
  REQUEST_HANDLER: 'request_handler',
} as const;
export type LayerType = (typeof LayerType)[keyof typeof LayerType];

function isRegExp(value: unknown): value is RegExp {
  // instanceof fails for a RegExp made in another realm (vm contexts); the tag does not.
  return value instanceof RegExp || Object.prototype.toString.call(value) === '[object RegExp]';
}

/** One path as it appears in a template: a string as written, a RegExp as its literal. */
export function renderPath(path: unknown): string {
  if (typeof path === 'string') return path === '' ? '/' : path;
  if (isRegExp(path)) return String(path);
  if (Array.isArray(path)) return renderPathList(path);
  return '/';
}

/**
 * The elements of a path array, flattened as express flattens them, each rendered. (Which element matched a
 * request is found at request time; this is the fallback when it cannot be.)
 */
export function renderPathElements(paths: readonly unknown[], out: string[] = []): string[] {
  // Express flattens nested arrays to any depth.
  for (let i = 0; i < paths.length; i++) {
    const p = paths[i];
    if (Array.isArray(p)) renderPathElements(p, out);
    else out.push(renderPath(p));
  }
  return out;
}

/** A path array whose matching element is not known: its elements, comma-separated, as String(array) shows it. */
export function renderPathList(paths: readonly unknown[]): string {
  return renderPathElements(paths).join(',');
}

/**
 * The path argument of `Router#use(...)`, found as express finds it: the first argument is a path unless it
 * is a function or an array whose first leaf is a function (`use(fn)`, `use([fn1, fn2])`); no path means '/'.
 */
export function usePathArgument(first: unknown): unknown {
  if (typeof first === 'function') return '/';
  let arg = first;
  while (Array.isArray(arg) && arg.length !== 0) arg = arg[0];
  return typeof arg === 'function' ? '/' : first;
}

/**
 * The template of a route or mount point `segment` inside a router whose own prefix is `prefix` ('' for the
 * application, never ending in '/'). A router's root ('/') adds nothing: a route '/' in a router mounted at
 * '/api' is '/api', and the application's root route is '/'.
 */
export function joinTemplate(prefix: string, segment: string): string {
  if (segment === '/' || segment === '') return prefix === '' ? '/' : prefix;
  if (prefix === '') return charCodeAt.call(segment, 0) === 47 /* / */ ? segment : '/' + segment;
  return charCodeAt.call(segment, 0) === 47 ? prefix + segment : prefix + '/' + segment;
}

/** The prefix for the layers inside a router mounted at `template`: without its trailing '/', '' at the root. */
export function innerPrefix(template: string): string {
  let end = template.length;
  while (end > 0 && charCodeAt.call(template, end - 1) === 47) end--;
  return end === template.length ? template : template.slice(0, end);
}

/** `middleware - {function name}` (the name express gives the layer: the function's, or `<anonymous>`). */
export function middlewareSpanName(layerName: string): string {
  return 'middleware - ' + layerName;
}

/** `request handler - {route}`. */
export function requestHandlerSpanName(route: string): string {
  return 'request handler - ' + route;
}

/**
 * `router - {template}`: the route matched inside the router once one is, before that the template the router
 * is mounted at. A router mounted at the application's root that has matched nothing is just `router`: the
 * name `router - /` reads as if the route `/` had matched (the complaint of opentelemetry-js-contrib #1993).
 */
export function routerSpanName(template: string): string {
  return template === '/' || template === '' ? 'router' : 'router - ' + template;
}

/** The attributes of a layer span; frozen, since the spans of a layer share the object (Tracer#startShared). */
export function layerAttributes(name: string, type: LayerType, route: string): Attributes {
  return Object.freeze({ 'express.name': name, 'express.type': type, 'http.route': route });
}

/** Whether a layer's handle is a router (express.Router(), or the `mounted_app` express puts before a sub-app). */
export function isRouterHandle(handle: unknown): boolean {
  if (typeof handle !== 'function') return false;
  const h = handle as { handle?: unknown; stack?: unknown; name?: string };
  if (typeof h.handle === 'function' && Array.isArray(h.stack)) return true;
  return h.name === 'mounted_app';
}

/** `next(err)` arguments that are routing signals, not errors (express: 'route' skips the route, 'router' the router). */
export function isRoutingSignal(err: unknown): boolean {
  return err === 'route' || err === 'router';
}
