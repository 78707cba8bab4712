/**
 * Span names and attributes for PostgreSQL, from the stable database semantic conventions
 * (semantic-conventions: docs/database/database-spans.md and docs/database/postgresql.md). Pure functions of
 * the driver's objects and the query text; no I/O.
 */
import type { Attributes, SpanContext } from '../../src/api/types';
import { exceptionType } from '../../src/trace/span';
import { queryInfo, sanitizedText, type QueryInfo } from './query-info-cache';
import { sanitizeSql } from './sql-sanitizer';
const charCodeAt: (this: string, index: number) => number = String.prototype.charCodeAt; // called as charCodeAt.call(s, i): why, at charCodeAt in src/exporters/otlp/protobuf-writer.ts

export const DB_SYSTEM_NAME = 'postgresql';
export const CLIENT_CONNECT_SPAN_NAME = 'pg.connect';
export const POOL_CONNECT_SPAN_NAME = 'pg-pool.connect';

/** Where a client connects: `connectionParameters` of a pg Client (already resolved from config, URL and PG* env). */
export interface ConnectionInfo {
  address: string | undefined;
  port: number | undefined;
  /** The database given when the connection was made. */
  namespace: string | undefined;
}

export const UNKNOWN_CONNECTION: ConnectionInfo = Object.freeze({ address: undefined, port: undefined, namespace: undefined });

export function connectionInfo(client: { connectionParameters?: unknown } | null | undefined): ConnectionInfo {
  const params = client?.connectionParameters as { host?: unknown; port?: unknown; database?: unknown } | undefined;
  if (params === undefined || params === null) return UNKNOWN_CONNECTION;
  const host = params.host;
  const port = typeof params.port === 'number' ? params.port : typeof params.port === 'string' ? Number(params.port) : NaN;
  const database = params.database;
  return {
    address: typeof host === 'string' && host !== '' ? host : undefined,
    port: Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined,
    namespace: typeof database === 'string' && database !== '' ? database : undefined,
  };
}

/**
 * Connection-level attributes. `db.namespace` is the database only: postgresql.md asks for `{database}|{schema}`,
 * but the schema in use would take a query per connection to learn. `server.port` is set even for 5432 (the
 * conventions require it only for other ports; it costs nothing and keeps every span alike).
 */
export function setConnectionAttributes(attributes: Attributes, connection: ConnectionInfo): Attributes {
  if (connection.namespace !== undefined) attributes['db.namespace'] = connection.namespace;
  if (connection.address !== undefined) attributes['server.address'] = connection.address;
  if (connection.port !== undefined) attributes['server.port'] = connection.port;
  return attributes;
}

export function connectionAttributes(connection: ConnectionInfo): Attributes {
  return setConnectionAttributes({ 'db.system.name': DB_SYSTEM_NAME }, connection);
}

/** What a query call says about its statement, whatever form the call took. */
export interface QueryDescription {
  /** The statement text, when the call carries one (a named statement may be sent by name alone). */
  text: string | undefined;
  /** The name of a prepared statement. */
  name: string | undefined;
  /** Whether parameter values go with the text ($1, $2 … placeholders). */
  parameterized: boolean;
}

function describe(text: unknown, name: unknown, values: unknown): QueryDescription {
  return {
    text: typeof text === 'string' ? text : undefined,
    name: typeof name === 'string' && name !== '' ? name : undefined,
    parameterized: Array.isArray(values) && values.length > 0,
  };
}

/**
 * The statement of `client.query(config, values)` as pg reads it: a string, or a config object (`text`,
 * `values`, `name`); values given beside the config win over its own, as in pg's normalizeQueryConfig.
 */
export function describeQuery(config: unknown, values: unknown): QueryDescription {
  const positionalValues = values !== undefined && values !== null && typeof values !== 'function' ? values : undefined;
  if (typeof config === 'string') return describe(config, undefined, positionalValues);
  if (config === null || typeof config !== 'object') return describe(undefined, undefined, undefined);
  const c = config as { text?: unknown; name?: unknown; values?: unknown };
  return describe(c.text, c.name, positionalValues !== undefined ? positionalValues : c.values);
}

/** The statement of a Submittable: pg.Query and pg-cursor carry it themselves, pg-query-stream on its cursor. */
export function describeSubmittable(query: unknown): QueryDescription {
  const q = query as { text?: unknown; name?: unknown; values?: unknown; cursor?: { text?: unknown; values?: unknown } };
  if (typeof q.text !== 'string' && q.cursor !== undefined && q.cursor !== null && typeof q.cursor === 'object') {
    return describe(q.cursor.text, q.name, q.cursor.values);
  }
  return describe(q.text, q.name, q.values);
}

export interface QuerySpanStart {
  name: string;
  attributes: Attributes;
  /** The parse of the text (undefined when there is none), for sqlcommenter's comment check. */
  info: QueryInfo | undefined;
}

/**
 * The name and the attributes known when a query starts (all of them: database-spans.md wants them at span
 * creation time for sampling).
 *
 * - `db.query.text`: a parameterized text as written (the conventions say not to sanitize it; the values are
 *   never recorded); any other text with its literals replaced by `?`, unless sanitizing is switched off
 *   (OTEL_INSTRUMENTATION_COMMON_DB_STATEMENT_SANITIZER_ENABLED=false); at most `maxTextLength` characters.
 * - `db.query.summary`: for a named prepared statement, its name — the application's own low-cardinality label
 *   for the statement ("a summary readily available from other sources", database-spans.md); otherwise parsed
 *   from the text.
 * - `db.operation.name` / `db.collection.name` / `db.stored_procedure.name`: only when the text holds exactly one
 *   operation (and one table, or one procedure for CALL). postgresql.md says not to read them from the text
 *   because a text may hold several statements; when it holds one, nothing is ambiguous.
 */
export function querySpanStart(
  connection: ConnectionInfo,
  query: QueryDescription,
  sanitize: boolean,
  maxTextLength: number,
): QuerySpanStart {
  const attributes = connectionAttributes(connection);
  const text = query.text;
  let info: QueryInfo | undefined;
  if (text !== undefined) {
    info = queryInfo(text);
    if (query.parameterized || !sanitize) {
      attributes['db.query.text'] = text.length > maxTextLength ? text.slice(0, maxTextLength) : text;
    } else {
      attributes['db.query.text'] = sanitizedText(info, text, maxTextLength);
    }
    if (info.operationName !== undefined) attributes['db.operation.name'] = info.operationName;
    if (info.collectionName !== undefined) attributes['db.collection.name'] = info.collectionName;
    if (info.storedProcedureName !== undefined) attributes['db.stored_procedure.name'] = info.storedProcedureName;
  }
  const summary = query.name !== undefined ? query.name : info?.summary;
  if (summary !== undefined) attributes['db.query.summary'] = summary;
  return {
    name: spanName(summary, info?.operationName, info?.collectionName ?? info?.storedProcedureName),
    attributes,
    info,
  };
}

/**
 * database-spans.md, "Name": `{db.query.summary}`; else `{db.operation.name} {target}`; else `{target}`; else
 * `{db.system.name}`. A query without a recognisable operation has no target we could name, so it is `postgresql`.
 */
export function spanName(summary: string | undefined, operation: string | undefined, target: string | undefined): string {
  if (summary !== undefined) return summary;
  if (operation !== undefined) return target === undefined ? operation : operation + ' ' + target;
  return DB_SYSTEM_NAME;
}

// ---------------------------------------------------------------------------------------------------------------
// Errors

/** SQLSTATE: five digits or upper-case letters (PostgreSQL documentation, Appendix A). */
function isSqlState(code: unknown): code is string {
  if (typeof code !== 'string' || code.length !== 5) return false;
  for (let i = 0; i < 5; i++) {
    const c = charCodeAt.call(code, i);
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 90))) return false;
  }
  return true;
}

/**
 * The SQLSTATE of an error the server sent: pg's DatabaseError (and pg-native's errors) carry it as `code`
 * beside a `severity`. Node's own errors have codes too (EPIPE is five letters), but no severity.
 */
export function sqlState(error: unknown): string | undefined {
  if (error === null || typeof error !== 'object') return undefined;
  const e = error as { code?: unknown; severity?: unknown };
  return typeof e.severity === 'string' && isSqlState(e.code) ? e.code : undefined;
}

/**
 * `error.type` (postgresql.md: it SHOULD match `db.response.status_code`): the SQLSTATE for a server error;
 * otherwise the error's own type (ECONNREFUSED for a refused connection, see exceptionType), else `_OTHER`.
 */
export function errorType(error: unknown): string {
  return sqlState(error) ?? exceptionType(error) ?? '_OTHER';
}

const QUOTED = /"[^"]*"/g;
const NEAR = /( at or near ")([^"]*)(")/;

/**
 * The error message, made safe to record. Data exceptions (SQLSTATE class 22) quote the offending value —
 * `invalid input syntax for type integer: "alice@example.com"` — which is often a parameter value: quoted parts
 * become `"?"`. Syntax errors quote the SQL near the error, which may be a literal: that fragment is sanitized
 * like the query text. Other server messages name objects (constraints, relations), not data, and are kept.
 */
export function safeErrorMessage(error: unknown): string {
  if (error === null || error === undefined) return String(error);
  const message = typeof (error as { message?: unknown }).message === 'string' ? (error as { message: string }).message : String(error);
  const state = sqlState(error);
  if (state === undefined) return message;
  if (state.startsWith('22')) return message.replace(QUOTED, '"?"');
  const near = NEAR.exec(message);
  if (near !== null) return message.replace(NEAR, (_all, before: string, fragment: string, after: string) => before + sanitizeSql(fragment) + after);
  return message;
}

/**
 * The attributes of the `exception` event (semantic conventions, exceptions on spans), with the message made
 * safe. pg's DatabaseError is named `error` (lower case, the protocol message name); its class name says more.
 */
export function exceptionEventAttributes(error: unknown, message: string): Attributes {
  const attributes: Attributes = {};
  const e = (error !== null && typeof error === 'object' ? error : {}) as { stack?: unknown; message?: unknown; constructor?: { name?: unknown } };
  const type =
    sqlState(error) !== undefined && typeof e.constructor?.name === 'string' && e.constructor.name !== 'Object'
      ? e.constructor.name
      : exceptionType(error);
  if (type !== undefined) attributes['exception.type'] = type;
  attributes['exception.message'] = message;
  if (typeof e.stack === 'string') {
    // The stack's first line repeats the message: it must not carry what the message no longer does.
    const original = typeof e.message === 'string' ? e.message : undefined;
    attributes['exception.stacktrace'] = original !== undefined && original !== message ? e.stack.split(original).join(message) : e.stack;
  }
  return attributes;
}

// ---------------------------------------------------------------------------------------------------------------
// sqlcommenter (https://google.github.io/sqlcommenter/spec/)

function serializeCommentValue(value: string): string {
  // URL-encode, then escape the quote (encodeURIComponent leaves ' alone). '/' is encoded, so no "*/" can appear.
  return "'" + encodeURIComponent(value).replace(/'/g, "\\'") + "'";
}

function hex2(n: number): string {
  return (n < 16 ? '0' : '') + n.toString(16);
}

/**
 * The sqlcommenter comment carrying the span's W3C context: ` /*traceparent='00-…-…-01'*\/`, with `tracestate`
 * when there is one; keys sorted, values URL-encoded and quoted, per the specification.
 */
export function sqlCommenterComment(spanContext: SpanContext): string {
  const traceparent = `00-${spanContext.traceId}-${spanContext.spanId}-${hex2(spanContext.traceFlags & 0xff)}`;
  let pairs = 'traceparent=' + serializeCommentValue(traceparent);
  const tracestate = spanContext.traceState?.serialize();
  if (tracestate !== undefined && tracestate !== '') pairs += ',tracestate=' + serializeCommentValue(tracestate);
  return ' /*' + pairs + '*/';
}
