/**
 * Wrapping for pg 8 (Client, and the native Client when pg-native is installed) and pg-pool 3.
 *
 * Client#query: a CLIENT span per call, whatever the form — text, text + values, config object, Submittable
 * (pg.Query, pg-cursor, pg-query-stream) — with a callback or a promise. The span ends when pg hands back the
 * result or the error; the application's callback, promise continuation and the Submittable's events run in
 * the caller's context, not in the context of whoever opened the pooled connection (its socket's context).
 *  - callback: replaced by one that ends the span, then calls the application's in the caller's context;
 *  - promise: what is returned is pg's own promise, settled when it would be without the agent; the span ends as
 *    pg settles it (see callObserved);
 *  - Submittable: its handle* methods, which pg calls as the server answers, get own-property wrappers that end
 *    the span (handleReadyForQuery / handleError) and run the original in the caller's context — so its 'row',
 *    'end', 'error' and stream events, and pg-cursor's read callbacks, see the caller's context.
 *
 * Client#connect: a CLIENT span `pg.connect` for the connection's set-up (TCP, TLS, authentication).
 * Pool#connect: an INTERNAL span `pg-pool.connect` for the wait for a pooled connection (its child `pg.connect`
 * appears when a new connection is opened).
 * Pool#query: one CLIENT span for the query as the caller sees it, wait included (database-spans.md, "span
 * duration … as observed by the caller"); its children are the pool wait and any new connection. The query pg-pool
 * then sends on the client it got is that same operation and gets no second span: the pool span is handed to it
 * through the context (POOL_QUERY_KEY) and claimed by the one call with the same query argument.
 *
 * Connections are set up in the `pg.connect` span's context, so what the driver does there (DNS, an async
 * password function's HTTP call) is its child.
 */
import type { Attributes, Context, Span } from '../../src/api/types';
import { SpanKind, SpanStatusCode } from '../../src/api/types';
import { getSpan, isTracingSuppressed, ROOT_CONTEXT, setSpan } from '../../src/context/context';
import { contextManager } from '../../src/context/global';
import * as runtime from '../../src/instrumentation/runtime';
import { getConfig, reportInstrumentationError, tracerGetter } from '../../src/instrumentation/runtime';
import type { ModuleInfo, Patcher } from '../../src/instrumentation/types';
import { unwrapMethod, wrapMethod } from '../../src/instrumentation/wrap';
import {
  CLIENT_CONNECT_SPAN_NAME,
  connectionAttributes,
  connectionInfo,
  describeQuery,
  describeSubmittable,
  errorType,
  exceptionEventAttributes,
  POOL_CONNECT_SPAN_NAME,
  querySpanStart,
  safeErrorMessage,
  setConnectionAttributes,
  sqlCommenterComment,
  sqlState,
  UNKNOWN_CONNECTION,
  type ConnectionInfo,
  type QueryDescription,
} from './attributes';

type AnyFunction = (...args: any[]) => any;

const getTracer = tracerGetter('pg');

/** One traced call: its span, and the context the caller was in. */
interface Operation {
  span: Span;
  callerContext: Context;
  ended: boolean;
}

/** A Pool#query in flight, visible to the Client#query pg-pool makes for it. */
interface PoolQuery {
  operation: Operation;
  /** The first argument pg-pool will pass to client.query (identity, not equality, is compared). */
  queryArgument: unknown;
  pool: object;
  claimed: boolean;
}

const POOL_QUERY_KEY = Symbol('zerotel.pg.poolQuery');

/** The context of the Pool#connect whose original is running (synchronously) now, for the clients it opens. */
let poolConnectContext: Context | undefined;

/** What each pool's clients connect to, learned from the first client it hands out. */
const poolConnections = new WeakMap<object, ConnectionInfo>();

function startOperation(name: string, kind: SpanKind, parent: Context, attributes: Attributes): Operation {
  // Every caller passes attributes built for this span alone.
  return { span: getTracer().startOwned(name, kind, parent, attributes), callerContext: parent, ended: false };
}

/** Whether this call should be traced at all (the wrappers' common first checks). */
function shouldTrace(parent: Context): boolean {
  if (isTracingSuppressed(parent)) return false;
  // OTEL_INSTRUMENTATION_PG_REQUIRE_PARENT_SPAN: no root spans from pg.
  return !getConfig().pgRequireParentSpan || getSpan(parent) !== undefined;
}

function finish(operation: Operation, failed: boolean, error: unknown): void {
  if (operation.ended) return;
  operation.ended = true;
  try {
    const span = operation.span;
    if (failed) {
      const message = safeErrorMessage(error);
      span.addEvent('exception', exceptionEventAttributes(error, message));
      const state = sqlState(error);
      if (state !== undefined) span.setAttribute('db.response.status_code', state);
      span.setAttribute('error.type', errorType(error));
      span.setStatus({ code: SpanStatusCode.ERROR, message });
    }
    span.end();
  } catch (err) {
    reportInstrumentationError('pg', 'ending a span', err);
  }
}

/**
 * A node-style callback that ends the span, then calls `callback` in the caller's context with the same `this` and
 * arguments. (When that context is already the active one, AsyncLocalStorage#run enters nothing.)
 */
function wrapCallback(operation: Operation, callback: AnyFunction): AnyFunction {
  return function (this: unknown, error: unknown) {
    finish(operation, Boolean(error), error);
    return contextManager.run(operation.callerContext, callback, this, arguments);
  };
}

/**
 * The library's promise, followed by the span's end: a promise that settles as the library's does (same value,
 * same error), made by the library's own `then` (so a custom Promise class stays that class). It is returned in
 * place of the library's because observing a rejection marks it handled: an application that never handles a
 * failed query must still get its unhandled rejection, and it does, from this promise.
 */
/**
 * pg and pg-pool make the promise of a call without a callback with a Promise class they keep: a Client's
 * `_Promise`, a Pool's `Promise` (the application may give its own, bluebird say). For the length of the call that
 * class is one whose first promise hands the library resolve and reject functions that end the span first, so the
 * application gets the library's own promise: settled in the same microtask as without the agent, and still an
 * unhandled rejection when nobody handles it. (Following it with `then` and returning that settled it one
 * microtask later, which reordered the application's callbacks around the library's events; found running
 * pg's and pg-pool's own tests side by side.) A rejection ends the span a microtask after the library rejects,
 * once pg's own `.catch` has given the error the application's stack. Where the class cannot be swapped (a
 * frozen object, an accessor), the promise is followed with traceThenable as before.
 */
function callObserved(
  holder: any,
  key: '_Promise' | 'Promise',
  operation: Operation,
  onValue: ((value: unknown) => void) | undefined,
  original: AnyFunction,
  thisArg: unknown,
  args: ArrayLike<unknown>,
): unknown {
  const Original = holder !== null && typeof holder === 'object' ? holder[key] : undefined;
  let swapped = false;
  const outer = observation;
  if (typeof Original === 'function' && Object.prototype.hasOwnProperty.call(holder, key)) {
    try {
      holder[key] = ObservingPromise;
      swapped = holder[key] === ObservingPromise;
    } catch {
      swapped = false;
    }
  }
  const mine: Observation | undefined = swapped ? { operation, onValue, Original, taken: false } : undefined;
  if (mine !== undefined) {
    observation = mine;
    lastOriginal = Original;
  }
  let result: unknown;
  try {
    result = original.apply(thisArg, args as any);
  } catch (err) {
    finish(operation, true, err);
    throw err;
  } finally {
    if (mine !== undefined) {
      observation = outer;
      holder[key] = Original;
    }
  }
  if (mine === undefined) return traceThenable(operation, result, onValue);
  // No promise was made (a library version that makes none): follow whatever came back.
  if (!mine.taken) return traceThenable(operation, result, onValue);
  return result;
}

interface Observation {
  operation: Operation;
  onValue: ((value: unknown) => void) | undefined;
  Original: new (executor: (resolve: (v: unknown) => void, reject: (e: unknown) => void) => void) => unknown;
  /** Whether the call's promise was made (only the first promise made during the call is the call's). */
  taken: boolean;
}

let observation: Observation | undefined;
let lastOriginal: Observation['Original'] | undefined;

/** Stands in for the library's Promise class during a call: see callObserved. */
function ObservingPromise(executor: (resolve: (v: unknown) => void, reject: (e: unknown) => void) => void): unknown {
  const current = observation;
  // Outside a call (a reference to the class kept past it): the class it stood in for.
  if (current === undefined) return new (lastOriginal ?? Promise)(executor as any);
  if (current.taken) return new current.Original(executor);
  current.taken = true;
  const { operation, onValue } = current;
  return new current.Original((resolve, reject) =>
    executor(
      (value) => {
        if (onValue !== undefined) onValue(value);
        finish(operation, false, undefined);
        resolve(value);
      },
      (error) => {
        reject(error);
        queueMicrotask(() => finish(operation, true, error));
      },
    ),
  );
}

function traceThenable(operation: Operation, result: unknown, onValue?: (value: unknown) => void): unknown {
  if (result === null || typeof result !== 'object' || typeof (result as PromiseLike<unknown>).then !== 'function') {
    finish(operation, false, undefined);
    return result;
  }
  return (result as PromiseLike<unknown>).then(
    (value) => {
      if (onValue !== undefined) onValue(value);
      finish(operation, false, undefined);
      return value;
    },
    (error) => {
      finish(operation, true, error);
      throw error;
    },
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Query text changes: sqlcommenter

/** A copy of a query config object, as pg's normalizeQueryConfig makes one (same prototype, same properties). */
function cloneConfig(config: object): any {
  return Object.defineProperties(Object.create(Object.getPrototypeOf(config)), Object.getOwnPropertyDescriptors(config));
}

function setOwn(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

/**
 * The statement to send: with a sqlcommenter comment (OTEL_INSTRUMENTATION_PG_SQLCOMMENTER_ENABLED) when the span
 * is sampled, the statement is unnamed and has no comment of its own — the sqlcommenter specification forbids
 * touching a statement that already has one. A named prepared statement is never changed: pg refuses a name
 * reused with a different text ("Prepared statements must be unique"), and the server parses it once per
 * connection, so a comment would carry only the first caller's trace anyway. `db.query.text` never includes the
 * comment (it would make every text unique).
 */
function commentedText(operation: Operation, query: QueryDescription, hasComment: boolean): string | undefined {
  if (query.text === undefined || query.name !== undefined || hasComment || !getConfig().pgSqlcommenter) return undefined;
  const spanContext = operation.span.spanContext();
  if ((spanContext.traceFlags & 1) === 0) return undefined;
  return query.text + sqlCommenterComment(spanContext);
}

// ---------------------------------------------------------------------------------------------------------------
// Client#query

/** Starts the span of a query on `client`. */
function startQuery(client: unknown, parent: Context, query: QueryDescription, connection?: ConnectionInfo): { operation: Operation; newText: string | undefined } {
  const config = getConfig();
  const start = querySpanStart(
    connection ?? connectionInfo(client as { connectionParameters?: unknown }),
    query,
    config.dbStatementSanitizer,
    runtime.getRuntime()?.provider.limits.attributeValueLengthLimit ?? Infinity,
  );
  const operation = startOperation(start.name, SpanKind.CLIENT, parent, start.attributes);
  return { operation, newText: commentedText(operation, query, start.info?.hasComment === true) };
}

/** Where the application's callback is in a client.query call. */
const enum CallbackAt {
  None,
  Values,
  Callback,
  Config,
}

function makeClientQuery(original: AnyFunction): AnyFunction {
  return function query(this: any, config: any, values: any, callback: any): any {
    if (!runtime.tracingEnabled || config === null || config === undefined) return original.apply(this, arguments as any);
    const parent = contextManager.active();
    const pooled = parent.getValue(POOL_QUERY_KEY) as PoolQuery | undefined;
    if (pooled !== undefined && !pooled.claimed && pooled.queryArgument === config) {
      // pg-pool sending the query of a traced Pool#query: that span already stands for it.
      pooled.claimed = true;
      try {
        learnPoolConnection(pooled.pool, pooled.operation, this);
      } catch (err) {
        reportInstrumentationError('pg', 'the pool query span', err);
      }
      return original.apply(this, arguments as any);
    }
    if (!shouldTrace(parent)) return original.apply(this, arguments as any);

    if (typeof config.submit === 'function') return querySubmittable(this, original, arguments, parent, config);

    let at: CallbackAt;
    if (typeof callback === 'function') at = CallbackAt.Callback;
    else if (callback) return original.apply(this, arguments as any); // pg rejects it; not ours to judge
    else if (typeof values === 'function') at = CallbackAt.Values;
    else if (typeof config === 'object' && typeof config.callback === 'function') at = CallbackAt.Config;
    else at = CallbackAt.None;

    let operation: Operation | undefined;
    let statement: any = config;
    let wrapped: AnyFunction | undefined;
    try {
      const started = startQuery(this, parent, describeQuery(config, values));
      operation = started.operation;
      if (started.newText !== undefined) {
        if (typeof config === 'string') statement = started.newText;
        else {
          statement = cloneConfig(config);
          setOwn(statement, 'text', started.newText);
        }
      }
      if (at === CallbackAt.Callback) wrapped = wrapCallback(operation, callback);
      else if (at === CallbackAt.Values) wrapped = wrapCallback(operation, values);
      else if (at === CallbackAt.Config) {
        // pg reads the callback off the config; the application's object is left as it was.
        if (statement === config) statement = cloneConfig(config);
        setOwn(statement, 'callback', wrapCallback(operation, config.callback));
      }
    } catch (err) {
      reportInstrumentationError('pg', 'the query span', err);
      if (operation !== undefined) finish(operation, false, undefined);
      return original.apply(this, arguments as any);
    }

    if (at === CallbackAt.None) {
      return callObserved(this, '_Promise', operation, undefined, original, this, statement !== config ? [statement, values] : arguments);
    }
    let result: unknown;
    try {
      if (at === CallbackAt.Callback) result = original.call(this, statement, values, wrapped);
      else if (at === CallbackAt.Values) result = original.call(this, statement, wrapped);
      else if (statement !== config) result = original.call(this, statement, values);
      else result = original.apply(this, arguments as any);
    } catch (err) {
      finish(operation, true, err);
      throw err;
    }
    return result;
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Submittables

/** The methods pg calls on a Submittable as the server answers; each runs in the caller's context. */
const SUBMITTABLE_METHODS = [
  'handleRowDescription',
  'handleDataRow',
  'handlePortalSuspended',
  'handleCommandComplete',
  'handleEmptyQuery',
  'handleCopyInResponse',
  'handleCopyData',
  'handleReadyForQuery',
  'handleError',
] as const;
type SubmittableMethod = (typeof SUBMITTABLE_METHODS)[number];

interface TrackedSubmittable {
  operation: Operation;
  /** The methods as they were before we put ours in front (own properties for pg-query-stream, inherited otherwise). */
  originals: Partial<Record<SubmittableMethod, AnyFunction>>;
}

const submittables = new WeakMap<object, TrackedSubmittable>();

function callOriginal(self: any, name: SubmittableMethod, args: IArguments): unknown {
  const tracked = submittables.get(self);
  const original = tracked?.originals[name];
  if (tracked === undefined || original === undefined) return undefined;
  return contextManager.run(tracked.operation.callerContext, original, self, args);
}

function makeSubmittableMethod(name: SubmittableMethod): AnyFunction {
  if (name === 'handleReadyForQuery') {
    return function handleReadyForQuery(this: any) {
      const tracked = submittables.get(this);
      // pg.Query turns a row it could not parse into an error here (handleError, which ends the span with it).
      if (tracked !== undefined && !this._canceledDueToError) finish(tracked.operation, false, undefined);
      return callOriginal(this, name, arguments);
    };
  }
  if (name === 'handleError') {
    return function handleError(this: any, error: unknown) {
      const tracked = submittables.get(this);
      if (tracked !== undefined) finish(tracked.operation, true, error);
      return callOriginal(this, name, arguments);
    };
  }
  return function (this: any) {
    return callOriginal(this, name, arguments);
  };
}

const SUBMITTABLE_WRAPPERS = new Map<SubmittableMethod, AnyFunction>(SUBMITTABLE_METHODS.map((name) => [name, makeSubmittableMethod(name)]));

function trackSubmittable(query: any, operation: Operation): void {
  const known = submittables.get(query);
  if (known !== undefined) {
    // Submitted again: our wrappers are in place; they now answer for this call.
    known.operation = operation;
    return;
  }
  const tracked: TrackedSubmittable = { operation, originals: {} };
  for (const name of SUBMITTABLE_METHODS) {
    const original = query[name];
    if (typeof original !== 'function') continue;
    tracked.originals[name] = original;
    Object.defineProperty(query, name, { value: SUBMITTABLE_WRAPPERS.get(name), writable: true, enumerable: false, configurable: true });
  }
  submittables.set(query, tracked);
}

function querySubmittable(client: any, original: AnyFunction, args: IArguments, parent: Context, query: any): unknown {
  // pg ends a Submittable through these two; one without them is not one we can follow.
  if (typeof query.handleReadyForQuery !== 'function' || typeof query.handleError !== 'function') {
    return original.apply(client, args as any);
  }
  let operation: Operation;
  try {
    operation = startQuery(client, parent, describeSubmittable(query)).operation;
    trackSubmittable(query, operation);
  } catch (err) {
    reportInstrumentationError('pg', 'the query span', err);
    return original.apply(client, args as any);
  }
  try {
    return original.apply(client, args as any);
  } catch (err) {
    finish(operation, true, err);
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Client#connect

/** pg's password step: `_getPassword` since pg 8.8, `_checkPgPass` before. */
const PASSWORD_STEPS = ['_getPassword', '_checkPgPass'];

/** The connect span of each client while it connects, for the password step (makePasswordStep). */
const connectSpans = new WeakMap<object, Operation>();

/**
 * pg's password step (`_getPassword`, `_checkPgPass` before pg 8.8) runs in the connection's context, which is the
 * root (makeClientConnect): while the client connects, it runs in the connect span's instead, so that what an
 * async `password` function does (fetching a token over HTTP) is the connect span's child.
 */
function makePasswordStep(original: AnyFunction): AnyFunction {
  return function passwordStep(this: any): unknown {
    const operation = connectSpans.get(this);
    if (operation === undefined || operation.ended) return original.apply(this, arguments as any);
    return contextManager.run(setSpan(operation.callerContext, operation.span), original, this, arguments);
  };
}

function makeClientConnect(original: AnyFunction): AnyFunction {
  return function connect(this: any, callback: any): any {
    if (!runtime.tracingEnabled) return original.apply(this, arguments as any);
    // A client pg-pool opens inside Pool#connect is connected synchronously from it: the pool wait is its parent.
    const parent = poolConnectContext !== undefined ? poolConnectContext : contextManager.active();
    if (!shouldTrace(parent) || (callback && typeof callback !== 'function')) return original.apply(this, arguments as any);
    let operation: Operation;
    try {
      operation = startOperation(CLIENT_CONNECT_SPAN_NAME, SpanKind.CLIENT, parent, connectionAttributes(connectionInfo(this)));
    } catch (err) {
      reportInstrumentationError('pg', 'the connect span', err);
      return original.apply(this, arguments as any);
    }
    connectSpans.set(this, operation);
    // The connection is opened in the root context: its socket keeps the context it was made in for its whole
    // life, and what arrives on it later (a NOTIFY, a notice, an idle connection's error) is new work, not the
    // connecting request's — run in the connect span's context, a LISTEN handler's queries joined the trace of
    // whoever had opened the connection, under a connect span long ended. The callback and the promise still
    // reach the caller in its own context (wrapCallback; the caller's `then`), as with Redis.
    if (typeof callback !== 'function') {
      return contextManager.run(ROOT_CONTEXT, callObserved, undefined, [this, '_Promise', operation, undefined, original, this, arguments]);
    }
    let result: unknown;
    try {
      result = contextManager.run(ROOT_CONTEXT, original, this, [wrapCallback(operation, callback)]);
    } catch (err) {
      finish(operation, true, err);
      throw err;
    }
    return result;
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Pool

/** Records what the pool's clients connect to (once per pool) and puts it on a pool span that started without it. */
function learnPoolConnection(pool: object, operation: Operation, client: unknown): void {
  let connection = poolConnections.get(pool);
  if (connection === undefined) {
    connection = connectionInfo(client as { connectionParameters?: unknown });
    if (connection === UNKNOWN_CONNECTION) return;
    poolConnections.set(pool, connection);
  }
  const span = operation.span as Span & { attributes?: Record<string, unknown> };
  if (!operation.ended && span.attributes?.['server.address'] === undefined) {
    span.setAttributes(setConnectionAttributes({}, connection));
  }
}

/**
 * Whether pg-pool 3 will hand this checkout an idle client on the next tick, without waiting for anything: it
 * queues every caller and, while clients are idle, serves the queue one caller per tick in order (Pool#connect,
 * _pulseQueue), so a caller that finds more idle clients than callers queued ahead of it gets one. Such a
 * checkout takes a tick and says nothing a `pg-pool.connect` span could show; a checkout that opens a connection
 * or waits for a busy pool's client is what the span is for. Anything but pg-pool's own fields: not known.
 */
function idleClientReady(pool: any): boolean {
  const idle = pool._idle;
  const queued = pool._pendingQueue;
  return Array.isArray(idle) && Array.isArray(queued) && idle.length > queued.length && pool.ending === false;
}

/** OTEL_INSTRUMENTATION_PG_POOL_CONNECT_SPANS: whether this checkout gets a span. */
function wantsPoolConnectSpan(pool: object): boolean {
  const mode = getConfig().pgPoolConnectSpans;
  return mode === 'always' || (mode === 'waiting' && !idleClientReady(pool));
}

function makePoolConnect(original: AnyFunction): AnyFunction {
  return function connect(this: any, callback: any): any {
    if (!runtime.tracingEnabled) return original.apply(this, arguments as any);
    const parent = contextManager.active();
    if (!shouldTrace(parent) || (callback && typeof callback !== 'function') || !wantsPoolConnectSpan(this)) {
      return original.apply(this, arguments as any);
    }
    const pool = this;
    let operation: Operation | undefined;
    let context: Context;
    let args: ArrayLike<unknown> = arguments;
    try {
      operation = startOperation(POOL_CONNECT_SPAN_NAME, SpanKind.INTERNAL, parent, connectionAttributes(poolConnections.get(pool) ?? UNKNOWN_CONNECTION));
      context = setSpan(parent, operation.span);
      if (typeof callback === 'function') {
        const started = operation;
        const wrapped = wrapCallback(started, callback);
        args = [
          function (this: unknown, error: unknown, client: unknown) {
            if (!error && client) learnPoolConnectionSafely(pool, started, client);
            return wrapped.apply(this, arguments as any);
          },
        ];
      }
    } catch (err) {
      reportInstrumentationError('pg', 'the pool connect span', err);
      if (operation !== undefined) finish(operation, false, undefined);
      return original.apply(this, arguments as any);
    }
    // Not run in the wait's context: what pg-pool schedules here (the tick that hands out an idle client, the
    // connection timeout) keeps the caller's, so the callback is usually called in the context it needs already,
    // where AsyncLocalStorage#run switches nothing (on Node 24 a switch is two AsyncContextFrame copies). The one
    // thing that needs the wait as its parent, a new connection's pg.connect span, is started synchronously from
    // here and reads it from poolConnectContext.
    const outer = poolConnectContext;
    poolConnectContext = context;
    try {
      if (typeof callback !== 'function') {
        const started = operation;
        return callObserved(this, 'Promise', started, (client) => learnPoolConnectionSafely(pool, started, client), original, this, args);
      }
      return original.apply(this, args as any);
    } catch (err) {
      if (typeof callback === 'function') finish(operation, true, err);
      throw err;
    } finally {
      poolConnectContext = outer;
    }
  };
}

function learnPoolConnectionSafely(pool: object, operation: Operation, client: unknown): void {
  try {
    learnPoolConnection(pool, operation, client);
  } catch (err) {
    reportInstrumentationError('pg', 'the pool connect span', err);
  }
}

function makePoolQuery(original: AnyFunction): AnyFunction {
  return function query(this: any, config: any, values: any, callback: any): any {
    if (!runtime.tracingEnabled) return original.apply(this, arguments as any);
    // pg-pool reports a function or a Submittable given here through its own paths; the client span covers the latter.
    if (config === null || (typeof config !== 'string' && typeof config !== 'object') || typeof config.submit === 'function') {
      return original.apply(this, arguments as any);
    }
    const parent = contextManager.active();
    if (!shouldTrace(parent) || (callback && typeof callback !== 'function')) return original.apply(this, arguments as any);
    const pool = this;
    let operation: Operation | undefined;
    let context: Context;
    let args: unknown[];
    try {
      const started = startQuery(undefined, parent, describeQuery(config, values), poolConnections.get(pool) ?? UNKNOWN_CONNECTION);
      operation = started.operation;
      let statement: unknown = config;
      if (started.newText !== undefined) {
        if (typeof config === 'string') statement = started.newText;
        else {
          statement = cloneConfig(config);
          setOwn(statement as object, 'text', started.newText);
        }
      }
      if (typeof values === 'function') args = [statement, wrapCallback(operation, values)];
      else if (typeof callback === 'function') args = [statement, values, wrapCallback(operation, callback)];
      else args = arguments.length > 1 ? [statement, values] : [statement];
      const pending: PoolQuery = { operation, queryArgument: statement, pool, claimed: false };
      context = setSpan(parent, operation.span).setValue(POOL_QUERY_KEY, pending);
    } catch (err) {
      reportInstrumentationError('pg', 'the pool query span', err);
      if (operation !== undefined) finish(operation, false, undefined);
      return original.apply(this, arguments as any);
    }
    if (typeof values !== 'function' && typeof callback !== 'function') {
      return contextManager.run(context, callObserved, undefined, [this, 'Promise', operation, undefined, original, this, args]);
    }
    let result: unknown;
    try {
      result = contextManager.run(context, original, this, args);
    } catch (err) {
      finish(operation, true, err);
      throw err;
    }
    return result;
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Patchers

/** pg's Client (JavaScript or native): query and connect on its prototype. */
function patchClientClass(Client: any): void {
  const proto = Client?.prototype;
  wrapMethod(proto, 'query', makeClientQuery);
  wrapMethod(proto, 'connect', makeClientConnect);
  for (const step of PASSWORD_STEPS) if (typeof proto?.[step] === 'function') wrapMethod(proto, step, makePasswordStep);
}

function unpatchClientClass(Client: any): void {
  const proto = Client?.prototype;
  unwrapMethod(proto, 'query');
  unwrapMethod(proto, 'connect');
  for (const step of PASSWORD_STEPS) unwrapMethod(proto, step);
}

function patchPoolClass(Pool: any): void {
  const proto = Pool?.prototype;
  wrapMethod(proto, 'connect', makePoolConnect);
  wrapMethod(proto, 'query', makePoolQuery);
}

function unpatchPoolClass(Pool: any): void {
  const proto = Pool?.prototype;
  unwrapMethod(proto, 'connect');
  unwrapMethod(proto, 'query');
}

/** The pg-pool class under pg's BoundPool (pg.Pool extends it), when pg-pool itself was loaded outside our hooks. */
function basePoolClass(BoundPool: any): any {
  const base = typeof BoundPool === 'function' ? Object.getPrototypeOf(BoundPool) : undefined;
  return typeof base === 'function' && base.prototype !== undefined && typeof base.prototype.connect === 'function' ? base : undefined;
}

/**
 * `pg`: Client, and the Pool class it is built on. `pg.native` is a getter that loads pg-native: it is never
 * read here (the native client is patched through its own file, lib/native/client.js, when it loads).
 */
export const pgPatcher: Patcher = {
  patch(pg: any, _info: ModuleInfo) {
    patchClientClass(pg.Client);
    const base = basePoolClass(pg.Pool);
    if (base !== undefined) patchPoolClass(base);
  },
  unpatch(pg: any) {
    unpatchClientClass(pg.Client);
    const base = basePoolClass(pg.Pool);
    if (base !== undefined) unpatchPoolClass(base);
  },
};

/** `pg/lib/native/client.js` (exports the native Client constructor); loads only when pg-native is installed. */
export const pgNativeClientPatcher: Patcher = {
  patch(NativeClient: any) {
    patchClientClass(NativeClient);
  },
  unpatch(NativeClient: any) {
    unpatchClientClass(NativeClient);
  },
};

/** `pg-pool` (exports the Pool class). */
export const pgPoolPatcher: Patcher = {
  patch(Pool: any) {
    patchPoolClass(Pool);
  },
  unpatch(Pool: any) {
    unpatchPoolClass(Pool);
  },
};
