/**
 * The server span of each incoming request, found from the request object. The http instrumentation records
 * it; frameworks (express) use it to set `http.route` and rename the span `{method} {route}`, and to mark errors,
 * and keep their own per-request state in it.
 * A WeakMap, not a property: the application's objects get nothing new, and entries go with the request. One
 * entry per request, keyed by the request only (the response finds it through `res.req`): a WeakMap insertion
 * is among the dearer things a request's tracing does, in the CPU profile and in the garbage collector's
 * ephemeron work.
 */
import type { Context, Span } from '../api/types';

export interface ServerSpanEntry {
  span: Span;
  context: Context;
  /** Normalised method (`GET`, `_OTHER`). */
  method: string;
  route: string | undefined;
  ended: boolean;
  /** The framework's state for this request (express: its RequestState), undefined until it makes one. */
  framework: unknown;
}

const byRequest = new WeakMap<object, ServerSpanEntry>();

export function registerServerSpan(req: object, entry: ServerSpanEntry): void {
  byRequest.set(req, entry);
}

export function serverSpanOf(req: object): ServerSpanEntry | undefined {
  return byRequest.get(req);
}

/** Sets `http.route` and renames the server span (http-spans.md: `{method} {http.route}`). */
export function setHttpRoute(req: object, route: string): void {
  const entry = byRequest.get(req);
  if (entry === undefined || entry.ended || typeof route !== 'string' || route === '') return;
  entry.route = route;
  entry.span.setAttribute('http.route', route);
  entry.span.updateName((entry.method === '_OTHER' ? 'HTTP' : entry.method) + ' ' + route);
}
