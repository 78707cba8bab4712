/**
 * The server span of each incoming request, found from the request object. The http instrumentation records
 * it; frameworks (express) use it to set `http.route` and rename the span `{method} {route}`, and to mark errors,
 * and keep their own per-request state in it.
 *
 * Not a property, so the application's objects get nothing new; an InFlight map (see there why not a WeakMap),
 * whose entry the http instrumentation removes when the response closes (Node emits `close` on every
 * ServerResponse, after `finish` or when the connection goes). One entry per request: the response finds it
 * through `res.req`.
 */
import type { Context, Span } from '../api/types';
import { InFlight } from './in-flight';

export interface ServerSpanEntry {
  span: Span;
  context: Context;
  /** Normalised method (`GET`, `_OTHER`). */
  method: string;
  route: string | undefined;
  ended: boolean;
  /** The framework's state for this request (express: its RequestState), undefined until it makes one. */
  framework: unknown;
  /** The listener Node.js itself put on the response's `finish` (see the http instrumentation's emit). */
  nodeFinishListener: unknown;
}

const byRequest = new InFlight<ServerSpanEntry>();

export function registerServerSpan(req: object, entry: ServerSpanEntry): void {
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
