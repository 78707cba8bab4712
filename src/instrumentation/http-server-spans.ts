/**
 * The server span of each incoming request, found from the request object. The http instrumentation records
 * it; frameworks (express) use it to set `http.route` and rename the span `{method} {route}`, and to mark errors.
 * A WeakMap, not a property: the application's objects get nothing new, and entries go with the request.
 */
import type { Context, Span } from '../api/types';

export interface ServerSpanEntry {
  span: Span;
  context: Context;
  /** Normalised method (`GET`, `_OTHER`). */
  method: string;
  route: string | undefined;
  ended: boolean;
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
