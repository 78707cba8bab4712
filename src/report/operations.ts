/**
 * What a span counts as in the per-operation table, from its stable semantic-convention attributes:
 * - an HTTP server span is its route: `{http.request.method} {http.route}` (docs/http/http-spans.md, "Name"),
 *   else its name (a server span without a route is named after the method alone);
 * - a database span is `{db.operation.name} {db.collection.name}` (docs/database/database-spans.md), else its
 *   name, under its `db.system.name` (`postgresql`, `redis`);
 * - an HTTP client span is `{http.request.method} {server.address}:{server.port}`, or its `url.template`; a
 *   loopback server on a port the system chose (32768 and up: Linux's ephemeral range starts there, IANA's at
 *   49152) is `{host}:*`, since a test harness such as supertest's `request(app)` listens on a new one for every
 *   request, and one row per port would say nothing;
 * - any other span (middleware, internal work) is left out of the table; it still shows in the trace trees.
 */
import type { TraceFileSpan } from './otlp-json';

export const HTTP_SERVER = 'http server';
export const HTTP_CLIENT = 'http client';

export interface Operation {
  /** `http server`, `http client`, or the database system. */
  type: string;
  name: string;
}

const SERVER = 1;
const CLIENT = 2;

function text(v: unknown): string | undefined {
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

const EPHEMERAL_PORTS_FROM = 32768;

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export function classifySpan(span: TraceFileSpan): Operation | undefined {
  const a = span.attributes;
  // db.system is the name before the conventions went stable; older instrumentations still write it.
  const system = text(a['db.system.name']) ?? text(a['db.system']);
  if (system !== undefined) {
    const operation = text(a['db.operation.name']) ?? text(a['db.operation']);
    const collection = text(a['db.collection.name']) ?? text(a['db.sql.table']);
    const name = operation !== undefined ? (collection !== undefined ? `${operation} ${collection}` : operation) : span.name;
    return { type: system, name };
  }
  const method = text(a['http.request.method']) ?? text(a['http.method']);
  if (span.kind === SERVER) {
    if (method === undefined) return { type: 'server', name: span.name };
    const route = text(a['http.route']);
    return { type: HTTP_SERVER, name: route !== undefined ? `${method} ${route}` : span.name };
  }
  if (span.kind === CLIENT && method !== undefined) {
    const template = text(a['url.template']);
    if (template !== undefined) return { type: HTTP_CLIENT, name: `${method} ${template}` };
    const host = text(a['server.address']);
    let port = text(a['server.port']);
    if (host !== undefined && port !== undefined && isLoopback(host) && Number(port) >= EPHEMERAL_PORTS_FROM) port = '*';
    return { type: HTTP_CLIENT, name: host !== undefined ? `${method} ${host}${port !== undefined ? ':' + port : ''}` : span.name };
  }
  return undefined;
}

/**
 * Whether a span counts as an error in the report and for `error-spans`: status ERROR, except an HTTP client span
 * whose only fault is a 4xx answer. The conventions make those client spans errors (docs/http/http-spans.md,
 * "Status"), but in a test run they are mostly tests asking for a 404 on purpose; the server's own span of the
 * same request keeps the server's view (a 4xx is not a server error), and a 5xx stays an error on both sides.
 */
export function isReportedError(span: TraceFileSpan): boolean {
  return span.statusCode === 2 && !isClientErrorAnswer(span);
}

export function isClientErrorAnswer(span: TraceFileSpan): boolean {
  if (span.statusCode !== 2 || span.kind !== CLIENT) return false;
  const status = Number(span.attributes['http.response.status_code'] ?? span.attributes['http.status_code']);
  return status >= 400 && status < 500;
}

/** The message shown for an error span. */
export function errorMessage(span: TraceFileSpan): string {
  if (span.statusMessage !== undefined) return span.statusMessage;
  if (span.exceptionMessage !== undefined && span.exceptionMessage !== '') return span.exceptionMessage;
  const status = text(span.attributes['http.response.status_code']);
  if (status !== undefined) return `HTTP ${status}`;
  const type = text(span.attributes['error.type']);
  if (type !== undefined) return type;
  return 'error (no message)';
}
