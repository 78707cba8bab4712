/**
 * The server span of each incoming request, found from the request object. The http instrumentation records
 * it; frameworks (express) use it to set `http.route` and rename the span `{method} {route}`, and to mark errors,
 * and keep their own per-request state in it.
 *
 * A Map from the request, whose entry the http instrumentation removes when the response closes (Node emits
 * `close` on every ServerResponse, after `finish` or when the connection goes) — not a property, so the
 * application's objects get nothing new, and not a WeakMap: V8's young-generation collector keeps what a WeakMap
 * holds alive until the next full collection, so under load every span, context and attribute object of
 * requests long finished survived into the old generation. Measured on the plain node:http benchmark: young
 * space grew to its maximum, each scavenge took 5–8 ms instead of 0.4, and peak RSS rose by 40 MB; with the Map,
 * as without the agent. The size is capped, so a response that never closes cannot make it grow without bound.
 * One entry per request: the response finds it through `res.req`.
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

const byRequest = new Map<object, ServerSpanEntry>();
/** Far more requests than a process has in flight at once; past it the oldest entries go first. */
const MAX_ENTRIES = 65536;

export function registerServerSpan(req: object, entry: ServerSpanEntry): void {
  if (byRequest.size >= MAX_ENTRIES) {
    const oldest = byRequest.keys().next();
    if (oldest.done !== true) byRequest.delete(oldest.value);
  }
  byRequest.set(req, entry);
}

/** The request's response has closed: nothing will ask for its entry any more. */
export function releaseServerSpan(req: object): void {
  byRequest.delete(req);
}

/** For tests: how many requests have an entry. */
export function serverSpanCount(): number {
  return byRequest.size;
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
