/**
 * The server span of each incoming request, found from the request object. The http instrumentation records
 * it; frameworks (express) use it to set `http.route` and rename the span `{method} {route}`, and to mark errors,
 * and keep their own per-request state in it.
 *
 * Not a property, so the application's objects get nothing new; InFlight maps (see there why not a WeakMap),
 * whose entries the http instrumentation removes when the response closes (Node emits `close` on every
 * ServerResponse, after `finish` or when the connection goes).
 *
 * Found from the response too, through a map of its own rather than `res.req`. In an express application every
 * property read on a request or response made after express took it costs a trip into V8's runtime: express
 * gives both objects its own prototype and then adds properties, and V8 keeps no transitions from a map made by
 * a prototype change, so every request's objects get maps never seen before and every inline cache that looks
 * at them misses (measured with --log-ic: ~185 misses per request in the benchmark's express app without an
 * agent). What the instrumentations need on the way (status code, whether headers went out) is recorded on the
 * entry where it passes through their wrappers instead of being read back from the objects.
 */
import type { Context, Span } from '../api/types';
import { InFlight } from './in-flight';
import type { CapturedFrame } from '../context/context-manager';

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
  /**
   * The async context the request arrived in, where a context manager on AsyncContextFrame can capture it
   * (contextManager.captureFrame): Node's own `finish` listener runs in it (see the http instrumentation's emit).
   */
  arrivalFrame: CapturedFrame | undefined;
  /** The request (the entry's first key). */
  request: object;
  /** Whether the response's head has been written (`res.headersSent`, seen as it happens). */
  headWritten: boolean;
  /**
   * The status code the head was written with, when it was given as a number; with `headWritten` false, the status
   * Node.js answered the request with itself, on the socket (the http instrumentation's noteNodeAnswer).
   */
  statusCode: number | undefined;
  /** A framework's handled error (its exception type), for `error.type` if the response turns out a 5xx. */
  errorType: string | undefined;
  /** Whether the request came through `checkContinue` / `checkExpectation` rather than `request`. */
  expectation: boolean;
}

const byRequest = new InFlight<ServerSpanEntry>();
const byResponse = new InFlight<ServerSpanEntry>();

export function registerServerSpan(req: object, res: object, entry: ServerSpanEntry): void {
  byRequest.set(req, entry);
  byResponse.set(res, entry);
}

/** The request's response has closed: nothing will ask for its entry any more. */
export function releaseServerSpan(req: object, res: object): void {
  byRequest.delete(req);
  byResponse.delete(res);
}

/** For tests: how many requests have an entry. */
export function serverSpanCount(): number {
  return byRequest.size;
}

export function serverSpanOf(req: object): ServerSpanEntry | undefined {
  return byRequest.get(req);
}

export function serverSpanOfResponse(res: object): ServerSpanEntry | undefined {
  return byResponse.get(res);
}

/**
 * Server span names by route, then by method: the same string for every request of a route, not one concatenated
 * per request. The encoder looks a span's name up twice (its bytes, its attributes' run: trace-protobuf-encoder.ts),
 * and a string made per request was hashed again each time (~230 instructions a lookup under callgrind, Node 20).
 * Routes are the application's templates, so few; past MAX_ROUTE_NAMES names are made per request again.
 */
const routeNames = new Map<string, Map<string, string>>();
const MAX_ROUTE_NAMES = 1024;

function serverSpanName(method: string, route: string): string {
  let byMethod = routeNames.get(route);
  if (byMethod === undefined && routeNames.size < MAX_ROUTE_NAMES) routeNames.set(route, (byMethod = new Map()));
  let name = byMethod?.get(method);
  if (name === undefined) {
    name = (method === '_OTHER' ? 'HTTP' : method) + ' ' + route;
    byMethod?.set(method, name);
  }
  return name;
}

/** Sets `http.route` and renames the server span (http-spans.md: `{method} {http.route}`). */
export function setHttpRoute(req: object, route: string): void {
  const entry = byRequest.get(req);
  if (entry === undefined || entry.ended || typeof route !== 'string' || route === '') return;
  entry.route = route;
  entry.span.setAttribute('http.route', route);
  entry.span.updateName(serverSpanName(entry.method, route));
}
