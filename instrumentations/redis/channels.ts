/**
 * node-redis (`@redis/client`) 5.12 and later publish their own diagnostics_channel TracingChannels
 * (client/tracing.js): `node-redis:command`, `node-redis:batch` and `node-redis:connect`, each traced with
 * `tracePromise`, plus point channels such as `node-redis:connection:ready`. This module is the instrumentation
 * that subscribes to them instead of wrapping anything. It is NOT registered in index.ts: the wrapper (patch.ts)
 * records more (the key of every keyed command, `full` arguments, MULTI's commands) for less CPU — see the
 * README and bench/redis-approaches.js, which measures the two on the same version. Registering it is one module
 * entry (`@redis/client` `>=5.12 <6`, load: channelsPatcher); its patcher subscribes once, when the module loads.
 *
 * What a message carries (and what it does not):
 * - command: `{ command, args, database, clientId, serverAddress, serverPort }`, plus `batchMode`/`batchSize`
 *   for a command inside a pipeline. `args` are already redacted by the library (its own rules, taken from
 *   @opentelemetry/redis-common), so `db.query.text` is built from them: in `sanitized` mode the key is kept only
 *   where the library kept it, and `full` mode cannot show more than the library published.
 * - batch: `{ batchMode: 'MULTI' | 'PIPELINE', batchSize, database, … }`. A pipeline's commands are published
 *   on the command channel inside the batch's synchronous part, so the batch span starts at the batch's `end`
 *   event with the start time of its `start` event, once its commands (and so its name, `PIPELINE SET`, and
 *   text) are known. A MULTI's commands are not published: its span is `MULTI` without a query text.
 * - spans end on `asyncEnd` (the returned promise settled), not on `end` (the synchronous part returned); a
 *   synchronous throw publishes `error` and `end` only, so `end` closes those.
 * - connect: the `start` event's store binding runs the library's connect in the root context, so the socket —
 *   and replies, pub/sub deliveries and reconnects it later produces — does not keep the caller's context.
 *   Reconnects are seen only through `node-redis:connection:ready` (a successful reconnect, with how long it
 *   took): failed reconnect attempts are not visible on these channels.
 */
import dc = require('node:diagnostics_channel');
import type { Context, Span } from '../../src/api/types';
import { SpanKind } from '../../src/api/types';
import { isTracingSuppressed, ROOT_CONTEXT } from '../../src/context/context';
import { contextManager } from '../../src/context/global';
import * as runtime from '../../src/instrumentation/runtime';
import { getConfig, reportInstrumentationError, tracerGetter } from '../../src/instrumentation/runtime';
import type { Patcher } from '../../src/instrumentation/types';
import { now } from '../../src/trace/time';
import {
  BatchDescription,
  commandName,
  commandQueryText,
  databaseNamespace,
  firstErrorIn,
  recordRedisError,
  redisConnectAttributes,
  redisSpanAttributes,
  type RedisEndpoint,
} from './command-text';

const getTracer = tracerGetter('redis');

/** Our span, kept on the library's message object for the events that follow (cheaper than a WeakMap). */
const SPAN = Symbol('zerotel.redis.span');
/** A batch waiting for its commands, on the batch message. */
const PENDING = Symbol('zerotel.redis.pendingBatch');
/** The caller's context, saved by the connect store binding before it switches to the root context. */
const CALLER = Symbol('zerotel.redis.caller');

interface CommandMessage {
  command?: unknown;
  args?: unknown[];
  database?: unknown;
  clientId?: unknown;
  serverAddress?: unknown;
  serverPort?: unknown;
  batchMode?: unknown;
  batchSize?: unknown;
  error?: unknown;
  result?: unknown;
  [SPAN]?: Span;
  [PENDING]?: PendingBatch;
  [CALLER]?: Context;
}

interface PendingBatch {
  parent: Context;
  startTime: number;
  description: BatchDescription;
}

/** The batch whose synchronous part is running: pipeline commands published now belong to it. */
let openBatch: PendingBatch | undefined;
/** Clients inside their first connect(): a `connection:ready` from any other client is a reconnect. */
const connecting = new Set<unknown>();

function endpointOf(message: CommandMessage): RedisEndpoint {
  return {
    address: typeof message.serverAddress === 'string' ? message.serverAddress : undefined,
    port: typeof message.serverPort === 'number' ? message.serverPort : undefined,
  };
}

function tracedParent(): Context | undefined {
  if (!runtime.tracingEnabled) return undefined;
  const parent = contextManager.active();
  return isTracingSuppressed(parent) ? undefined : parent;
}

function failSpan(message: CommandMessage): void {
  const span = message[SPAN];
  if (span !== undefined) recordRedisError(span, message.error);
}

/** Ends the span at `end` only when the traced function threw synchronously (no asyncEnd follows). */
function endOnSyncThrow(message: CommandMessage): void {
  const span = message[SPAN];
  if (span !== undefined && message.error !== undefined) {
    message[SPAN] = undefined;
    span.end();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// node-redis:command

const commandHandlers = {
  start(message: CommandMessage): void {
    try {
      if (message.batchMode !== undefined) {
        // A pipeline's command: described in the batch span, no span of its own.
        if (openBatch !== undefined) {
          const args = message.args;
          openBatch.description.add(commandName(message.command), args, 1);
        }
        return;
      }
      const parent = tracedParent();
      if (parent === undefined) return;
      const name = commandName(message.command);
      const text = commandQueryText(getConfig().redisQueryText, name, message.args, 1);
      message[SPAN] = getTracer().start(
        name,
        SpanKind.CLIENT,
        parent,
        redisSpanAttributes(endpointOf(message), name, databaseNamespace(message.database), text, undefined),
      );
    } catch (err) {
      reportInstrumentationError('redis', 'a command span', err);
    }
  },
  end(message: CommandMessage): void {
    endOnSyncThrow(message);
  },
  asyncStart(): void {},
  asyncEnd(message: CommandMessage): void {
    const span = message[SPAN];
    if (span !== undefined) {
      message[SPAN] = undefined;
      span.end();
    }
  },
  error(message: CommandMessage): void {
    try {
      failSpan(message);
    } catch (err) {
      reportInstrumentationError('redis', 'a command span', err);
    }
  },
};

// ---------------------------------------------------------------------------------------------------------------
// node-redis:batch

const batchHandlers = {
  start(message: CommandMessage): void {
    const parent = tracedParent();
    if (parent === undefined) return;
    try {
      const pending: PendingBatch = { parent, startTime: now(), description: new BatchDescription(getConfig().redisQueryText) };
      message[PENDING] = pending;
      openBatch = pending;
    } catch (err) {
      reportInstrumentationError('redis', 'a batch span', err);
    }
  },
  end(message: CommandMessage): void {
    const pending = message[PENDING];
    if (pending === undefined) return;
    message[PENDING] = undefined;
    if (openBatch === pending) openBatch = undefined;
    try {
      const kind = message.batchMode === 'MULTI' ? 'MULTI' : 'PIPELINE';
      const description = pending.description;
      let name: string;
      let size: number | undefined;
      if (description.count > 0) {
        name = description.operationName(kind);
        size = description.batchSize();
      } else {
        name = kind;
        size = typeof message.batchSize === 'number' && message.batchSize !== 1 ? message.batchSize : undefined;
      }
      const span = getTracer().start(
        name,
        SpanKind.CLIENT,
        pending.parent,
        redisSpanAttributes(endpointOf(message), name, databaseNamespace(message.database), description.queryText(), size),
        undefined,
        pending.startTime,
      );
      message[SPAN] = span;
      if (message.error !== undefined) {
        recordRedisError(span, message.error);
        endOnSyncThrow(message);
      }
    } catch (err) {
      reportInstrumentationError('redis', 'a batch span', err);
    }
  },
  asyncStart(): void {},
  asyncEnd(message: CommandMessage): void {
    const span = message[SPAN];
    if (span === undefined) return;
    message[SPAN] = undefined;
    try {
      // A MULTI resolves with the EXEC reply, which holds the errors of the commands that failed inside it.
      const failed = message.error === undefined ? firstErrorIn(message.result) : undefined;
      if (failed !== undefined) recordRedisError(span, failed);
    } catch (err) {
      reportInstrumentationError('redis', 'a batch span', err);
    }
    span.end();
  },
  error(message: CommandMessage): void {
    try {
      failSpan(message);
    } catch (err) {
      reportInstrumentationError('redis', 'a batch span', err);
    }
  },
};

// ---------------------------------------------------------------------------------------------------------------
// node-redis:connect and node-redis:connection:ready

/** The connect store binding: remember the caller's context, run the library's connect in the root context. */
function connectStoreTransform(message: CommandMessage): Context {
  try {
    message[CALLER] = contextManager.active();
  } catch {
    // nothing to remember: the connect span gets no parent
  }
  return ROOT_CONTEXT;
}

const connectHandlers = {
  start(message: CommandMessage): void {
    if (!runtime.tracingEnabled) return;
    const parent = message[CALLER] ?? contextManager.active();
    message[CALLER] = undefined;
    if (isTracingSuppressed(parent)) return;
    try {
      connecting.add(message.clientId);
      message[SPAN] = getTracer().start('redis connect', SpanKind.CLIENT, parent, redisConnectAttributes(endpointOf(message), undefined));
    } catch (err) {
      reportInstrumentationError('redis', 'the connect span', err);
    }
  },
  end(message: CommandMessage): void {
    if (message.error !== undefined) connecting.delete(message.clientId);
    endOnSyncThrow(message);
  },
  asyncStart(): void {},
  asyncEnd(message: CommandMessage): void {
    connecting.delete(message.clientId);
    const span = message[SPAN];
    if (span !== undefined) {
      message[SPAN] = undefined;
      span.end();
    }
  },
  error(message: CommandMessage): void {
    try {
      failSpan(message);
    } catch (err) {
      reportInstrumentationError('redis', 'the connect span', err);
    }
  },
};

/** A successful connection: when it is not a client's first connect(), a reconnect, timed by the library. */
function onConnectionReady(message: unknown): void {
  if (!runtime.tracingEnabled || message === null || typeof message !== 'object') return;
  const m = message as CommandMessage & { createTimeMs?: unknown };
  if (connecting.has(m.clientId)) return;
  try {
    const took = typeof m.createTimeMs === 'number' && m.createTimeMs >= 0 ? m.createTimeMs : 0;
    const end = now();
    // No caller waits for a reconnect: it is a trace of its own.
    const span = getTracer().start('redis reconnect', SpanKind.CLIENT, ROOT_CONTEXT, redisConnectAttributes(endpointOf(m), undefined), undefined, end - took);
    span.end();
  } catch (err) {
    reportInstrumentationError('redis', 'a reconnect span', err);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Subscription

const CHANNEL_COMMAND = 'node-redis:command';
const CHANNEL_BATCH = 'node-redis:batch';
const CHANNEL_CONNECT = 'node-redis:connect';
const CHANNEL_READY = 'node-redis:connection:ready';

let subscribed = false;

function subscribe(): void {
  if (subscribed) return;
  if (typeof dc.tracingChannel !== 'function') return;
  subscribed = true;
  dc.tracingChannel(CHANNEL_COMMAND).subscribe(commandHandlers as any);
  dc.tracingChannel(CHANNEL_BATCH).subscribe(batchHandlers as any);
  const connect = dc.tracingChannel(CHANNEL_CONNECT);
  connect.subscribe(connectHandlers as any);
  connect.start.bindStore(contextManager.storage as any, connectStoreTransform as any);
  dc.subscribe(CHANNEL_READY, onConnectionReady);
}

function unsubscribe(): void {
  if (!subscribed) return;
  subscribed = false;
  dc.tracingChannel(CHANNEL_COMMAND).unsubscribe(commandHandlers as any);
  dc.tracingChannel(CHANNEL_BATCH).unsubscribe(batchHandlers as any);
  const connect = dc.tracingChannel(CHANNEL_CONNECT);
  connect.unsubscribe(connectHandlers as any);
  connect.start.unbindStore(contextManager.storage as any);
  dc.unsubscribe(CHANNEL_READY, onConnectionReady);
}

/**
 * Applied when `@redis/client` ≥ 5.12 is loaded: the exports are left alone, the channels are subscribed to
 * (once per process, however many copies of the package load). Subscribing only then keeps the library's
 * `hasSubscribers` check false — and its per-command trace contexts unbuilt — in processes that never use it.
 */
export const channelsPatcher: Patcher = {
  patch() {
    subscribe();
  },
  unpatch() {
    unsubscribe();
  },
};

/** For the benchmark and tests: subscribe without loading through the hook. */
export const subscribeChannels = subscribe;
export const unsubscribeChannels = unsubscribe;
