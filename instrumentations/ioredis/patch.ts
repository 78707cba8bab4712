/**
 * Wrapping for ioredis 5.
 *
 * Commands: `Redis#sendCommand(command, stream)` sees every command, often more than once (the offline queue
 * and a reconnect send a command again). The span starts at the first call, in the caller's context — so a
 * command queued while the client connects keeps its caller as parent and its span covers the wait — and ends
 * when the command is resolved or rejected. Those are observed by wrapping the command's own `resolve` /
 * `reject`: attaching handlers to its promise instead would mark the promise handled and hide an unhandled
 * rejection the application would otherwise see, and returning a derived promise would leave one unhandled
 * where ioredis ignores the return value (the offline queue, Cluster).
 *
 * ioredis 5.11+ also publishes `ioredis:command` / `ioredis:batch` / `ioredis:connect` TracingChannels, but
 * they are not used: a command is published only when it is written, so a command from the offline queue is
 * published from the connection's `ready` handler, in the wrong context and with its queueing time lost; a
 * plain pipeline is published as one command event per command with no batch event; and the published
 * arguments are redacted by the library's own rules, which hide the key of many commands (HGET, TTL, MGET)
 * and keep values of others (GETSET, LREM). See bench/redis-approaches.js for the CPU comparison.
 *
 * Pipelines and MULTI: `Pipeline#exec` gets one span; the commands it then sends through sendCommand (with a
 * pipeline stream) get none. A MULTI pipeline's exec runs twice (the first queues EXEC): only the run that sends
 * is traced. Auto-pipelining (`enableAutoPipelining`) is not a batch the application asked for: each command
 * keeps its own span, started when it is queued (`Pipeline#sendCommand`), in its caller's context.
 *
 * Connections: `connect()` gets a `redis connect` span (or `redis reconnect`, a root span, when ioredis
 * reconnects by itself) and runs in the root context, so the socket — and the replies, pub/sub messages and
 * reconnects it produces later — do not join the caller's trace. The commands ioredis sends itself while
 * connecting (AUTH, SELECT, CLIENT SETNAME, INFO) are children of the connect span.
 */
import path = require('node:path');
import type { Context, Span } from '../../src/api/types';
import { SpanKind } from '../../src/api/types';
import { getSpan, isTracingSuppressed, ROOT_CONTEXT, setSpan } from '../../src/context/context';
import { contextManager } from '../../src/context/global';
import * as runtime from '../../src/instrumentation/runtime';
import { getConfig, reportInstrumentationError, tracerGetter } from '../../src/instrumentation/runtime';
import type { ModuleInfo, Patcher } from '../../src/instrumentation/types';
import { unwrapMethod, wrapMethod } from '../../src/instrumentation/wrap';
import { isError } from '../../src/instrumentation/cross-realm';
import {
  BatchDescription,
  commandName,
  commandQueryText,
  firstErrorIn,
  recordRedisError,
  redisErrorPrefix,
  redisConnectAttributes,
  redisSpanAttributes,
} from '../redis/command-text';
import { clientEndpoint, clientNamespace, isMultiPipeline } from './attributes';

const getTracer = tracerGetter('ioredis');

/** Commands already seen by sendCommand (traced or deliberately not): a second send is a re-send. */
const seen = new WeakSet<object>();
/** Pipelines whose span was started (exec may run again: cluster redirections, MULTI's two passes). */
const tracedPipelines = new WeakSet<object>();
/** A client's open connect span, as the context its own handshake commands are children of. */
const connecting = new WeakMap<object, Context>();
/**
 * ioredis's marker of an auto-pipeline (the `kExec` symbol of built/autoPipelining.js), by Pipeline prototype, one
 * per copy of ioredis: read at patch time from the copy Node's require loaded, else learned from the first
 * pipeline that carries it (a copy loaded by Jest, whose files the agent cannot require: requiring them would
 * load another copy, with a symbol of its own).
 */
const autoPipelineMarkers = new WeakMap<object, symbol>();

/**
 * Ends a span, reporting (once) what our span code throws: it must not reach the library's promise, which would
 * then reject with our error instead of the reply, nor its resolve/reject callbacks, which would never settle it.
 */
function endSpan(span: Span): void {
  try {
    span.end();
  } catch (err) {
    reportInstrumentationError('ioredis', 'ending a span', err);
  }
}

function endWithError(span: Span, err: unknown): void {
  try {
    recordRedisError(span, err);
  } catch (e) {
    reportInstrumentationError('ioredis', 'recording an error', e);
  }
  endSpan(span);
}

/**
 * Ends `span` when the command (or pipeline) is resolved or rejected, by wrapping its `resolve` / `reject`.
 * Two small closures per command: the only way to see the outcome without touching the promise.
 */
function endOnSettle(target: any, span: Span, scanReplies: boolean, refusalIgnored = false): void {
  const resolve = target.resolve;
  const reject = target.reject;
  if (typeof resolve !== 'function' || typeof reject !== 'function') {
    endSpan(span);
    return;
  }
  let open = true;
  target.resolve = function (this: unknown, value: unknown) {
    if (open) {
      open = false;
      const failed = scanReplies ? pipelineError(value) : undefined;
      if (failed !== undefined) endWithError(span, failed);
      else endSpan(span);
    }
    return resolve.apply(this, arguments as any);
  };
  target.reject = function (this: unknown, err: unknown) {
    if (open) {
      open = false;
      if (refusalIgnored) endRefused(span, err);
      else endWithError(span, err);
    }
    return reject.apply(this, arguments as any);
  };
}

/** A refusal the library itself ignores: the server's answer is kept (`db.response.status_code`), not as a failure. */
function endRefused(span: Span, err: unknown): void {
  try {
    const prefix = redisErrorPrefix(err);
    if (prefix !== undefined) span.setAttribute('db.response.status_code', prefix);
  } catch (e) {
    reportInstrumentationError('ioredis', 'recording a reply', e);
  }
  endSpan(span);
}

/**
 * ioredis's `CLIENT SETINFO` during the handshake, which it sends with its failure ignored: servers before Redis 7.2
 * refuse it ("unknown subcommand"), and the connection goes on. As an error span it would read as a failure of the
 * application's (and trip `zerotel run --fail-on error-spans` on every connection).
 */
function isIgnoredHandshakeCommand(command: any): boolean {
  const args = command.args;
  return (
    typeof command.name === 'string' &&
    command.name.toLowerCase() === 'client' &&
    Array.isArray(args) &&
    typeof args[0] === 'string' &&
    args[0].toLowerCase() === 'setinfo'
  );
}

/** A pipeline resolves with `[error, reply]` pairs: the first error, or inside a MULTI the EXEC reply's. */
function pipelineError(results: unknown): unknown {
  if (!Array.isArray(results)) return undefined;
  for (let i = 0; i < results.length; i++) {
    const pair = results[i];
    if (!Array.isArray(pair)) continue;
    if (isError(pair[0])) return pair[0];
    const inner = firstErrorIn(pair[1]);
    if (inner !== undefined) return inner;
  }
  return undefined;
}

function startCommandSpan(client: any, command: any, parent: Context): Span {
  const name = commandName(command.name);
  const text = commandQueryText(getConfig().redisQueryText, name, command.args, 0);
  return getTracer().startOwned(name, SpanKind.CLIENT, parent, redisSpanAttributes(clientEndpoint(client), name, clientNamespace(client), text, undefined));
}

// ---------------------------------------------------------------------------------------------------------------
// Commands

/**
 * The commands ioredis sends by itself while connecting (lib/redis/event_handler.js: connectHandler and the ready
 * check): AUTH, SELECT, CLIENT SETNAME / SETINFO, INFO, and READONLY for cluster replicas.
 */
const HANDSHAKE_COMMANDS = new Set(['auth', 'select', 'client', 'info', 'readonly']);

function isHandshakeCommand(name: unknown): boolean {
  return typeof name === 'string' && HANDSHAKE_COMMANDS.has(name.toLowerCase());
}

function makeSendCommand(original: (...args: any[]) => any) {
  return function sendCommand(this: any, command: any, stream: any): any {
    if (!runtime.tracingEnabled || command === null || typeof command !== 'object') return original.apply(this, arguments as any);
    // A pipeline's commands are described by the pipeline's span (or, auto-pipelined, traced when queued).
    if (stream != null && stream.isPipeline === true) return original.apply(this, arguments as any);
    if (seen.has(command)) return original.apply(this, arguments as any);
    seen.add(command);
    let parent = contextManager.active();
    if (isTracingSuppressed(parent)) return original.apply(this, arguments as any);
    try {
      // ioredis's own handshake (AUTH, SELECT, INFO…) runs from the socket, in the root context. So does the
      // application's 'connect' listener, whose commands are its own: only the handshake's commands are taken.
      let handshake = false;
      if (this.status === 'connect' && getSpan(parent) === undefined && isHandshakeCommand(command.name)) {
        const connectContext = connecting.get(this);
        if (connectContext !== undefined) {
          parent = connectContext;
          handshake = true;
        }
      }
      endOnSettle(command, startCommandSpan(this, command, parent), false, handshake && isIgnoredHandshakeCommand(command));
    } catch (err) {
      reportInstrumentationError('ioredis', 'starting a command span', err);
    }
    return original.apply(this, arguments as any);
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Pipelines and MULTI

function isAutoPipeline(pipeline: any): boolean {
  const proto = Object.getPrototypeOf(pipeline);
  const marker = autoPipelineMarkers.get(proto);
  if (marker !== undefined) return pipeline[marker] !== undefined;
  // An auto-pipeline has the marker from its creation (ioredis sets it to false before queueing anything).
  const symbols = Object.getOwnPropertySymbols(pipeline);
  for (let i = 0; i < symbols.length; i++) {
    if (symbols[i].description === 'exec') {
      autoPipelineMarkers.set(proto, symbols[i]);
      return true;
    }
  }
  return false;
}

/** `Pipeline#sendCommand(command)` queues a command: for an auto-pipeline, that is where its caller is. */
function makePipelineSendCommand(original: (...args: any[]) => any) {
  return function sendCommand(this: any, command: any): any {
    if (!runtime.tracingEnabled || !isAutoPipeline(this) || command === null || typeof command !== 'object') {
      return original.apply(this, arguments as any);
    }
    const parent = contextManager.active();
    if (!isTracingSuppressed(parent) && !seen.has(command)) {
      seen.add(command);
      try {
        endOnSettle(command, startCommandSpan(this.redis, command, parent), false);
      } catch (err) {
        reportInstrumentationError('ioredis', 'starting a command span', err);
      }
    }
    return original.apply(this, arguments as any);
  };
}

function startPipelineSpan(pipeline: any, parent: Context): Span {
  const queue: any[] = Array.isArray(pipeline._queue) ? pipeline._queue : [];
  const multi = isMultiPipeline(queue);
  const batch = new BatchDescription(getConfig().redisQueryText);
  // A MULTI's own MULTI and EXEC are the transaction's frame, not operations in it.
  const first = multi ? 1 : 0;
  const last = multi ? queue.length - 1 : queue.length;
  for (let i = first; i < last; i++) {
    const command = queue[i];
    batch.add(commandName(command?.name), command?.args, 0);
  }
  const name = batch.operationName(multi ? 'MULTI' : 'PIPELINE');
  return getTracer().start(
    name,
    SpanKind.CLIENT,
    parent,
    redisSpanAttributes(clientEndpoint(pipeline.redis), name, clientNamespace(pipeline.redis), batch.queryText(), batch.batchSize()),
  );
}

function makePipelineExec(original: (...args: any[]) => any) {
  return function exec(this: any): any {
    // `_transactions > 0`: the first of a MULTI's two passes, which only queues EXEC.
    if (!runtime.tracingEnabled || this._transactions > 0 || tracedPipelines.has(this) || isAutoPipeline(this)) {
      return original.apply(this, arguments as any);
    }
    tracedPipelines.add(this);
    const parent = contextManager.active();
    if (isTracingSuppressed(parent)) return original.apply(this, arguments as any);
    try {
      endOnSettle(this, startPipelineSpan(this, parent), true);
    } catch (err) {
      reportInstrumentationError('ioredis', 'starting a pipeline span', err);
    }
    return original.apply(this, arguments as any);
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Connections

/** A connect() in progress: its span, and the error ioredis reported on the way, if any. */
interface PendingConnect {
  span: Span;
  error: unknown;
}

const pendingConnects = new WeakMap<object, PendingConnect>();

/**
 * Ends a connect span where ioredis decides the outcome of the connect() promise, without following the promise:
 * `setStatus('ready')` comes just before the 'ready' event that resolves it; 'close', 'end' or 'reconnecting'
 * before it mean the attempt failed (the promise rejects), with the error ioredis reported through silentEmit
 * ('error'). The application gets ioredis's own promise, settled when it would be without the agent (awaiting it
 * and returning another settled later, which reordered continuations around the 'ready' event; found running
 * ioredis's suite side by side), and still an unhandled rejection when nobody handles it.
 */
function settleConnect(client: object, status: unknown): void {
  const pending = pendingConnects.get(client);
  if (pending === undefined) return;
  if (status !== 'ready' && status !== 'close' && status !== 'end' && status !== 'reconnecting') return;
  pendingConnects.delete(client);
  const open = connecting.get(client);
  if (open !== undefined && getSpan(open) === pending.span) connecting.delete(client);
  if (status === 'ready') endSpan(pending.span);
  else endWithError(pending.span, pending.error ?? new Error('Connection is closed.'));
}

function makeSetStatus(original: (...args: any[]) => any) {
  return function setStatus(this: any, status: unknown): any {
    try {
      settleConnect(this, status);
    } catch (err) {
      reportInstrumentationError('ioredis', 'ending the connect span', err);
    }
    return original.apply(this, arguments as any);
  };
}

function makeSilentEmit(original: (...args: any[]) => any) {
  return function silentEmit(this: any, eventName: unknown, arg: unknown): any {
    if (eventName === 'error') {
      const pending = pendingConnects.get(this);
      if (pending !== undefined && pending.error === undefined) pending.error = arg;
    }
    return original.apply(this, arguments as any);
  };
}

function makeConnect(original: (...args: any[]) => any) {
  return function connect(this: any, callback: unknown): any {
    if (!runtime.tracingEnabled) return original.apply(this, arguments as any);
    // ioredis rejects at once a connect() while it is connecting or connected: no connection, no span.
    const status = this.status;
    if (status === 'connecting' || status === 'connect' || status === 'ready') return original.apply(this, arguments as any);
    // ioredis reconnects by calling connect() from its close handler: nobody waits on that call.
    const reconnect = status === 'reconnecting';
    const parent = reconnect ? ROOT_CONTEXT : contextManager.active();
    if (isTracingSuppressed(parent)) return original.apply(this, arguments as any);
    let pending: PendingConnect | undefined;
    try {
      const span = getTracer().start(reconnect ? 'redis reconnect' : 'redis connect', SpanKind.CLIENT, parent, redisConnectAttributes(clientEndpoint(this), clientNamespace(this)));
      pending = { span, error: undefined };
      pendingConnects.set(this, pending);
      connecting.set(this, setSpan(ROOT_CONTEXT, span));
    } catch (err) {
      reportInstrumentationError('ioredis', 'starting the connect span', err);
    }
    try {
      return contextManager.run(ROOT_CONTEXT, original, this, arguments);
    } catch (err) {
      if (pending !== undefined && pendingConnects.get(this) === pending) {
        pendingConnects.delete(this);
        connecting.delete(this);
        endWithError(pending.span, err);
      }
      throw err;
    }
  };
}


// ---------------------------------------------------------------------------------------------------------------
// Patcher

export const ioredisPatcher: Patcher = {
  patch(Redis: any, info: ModuleInfo) {
    const proto = Redis?.prototype;
    if (proto === undefined) return;
    const pipelineProto = Redis.Pipeline?.prototype;
    if (info.basedir !== undefined && pipelineProto != null && !autoPipelineMarkers.has(pipelineProto)) {
      try {
        // Only from the copy Node's require loaded (its main file is in require.cache with these exports).
        if (require.cache[require.resolve(info.basedir)]?.exports === Redis) {
          const marker = require(path.join(info.basedir, 'built', 'autoPipelining.js')).kExec;
          if (typeof marker === 'symbol') autoPipelineMarkers.set(pipelineProto, marker);
        }
      } catch {
        // Learned from the first auto-pipeline instead (isAutoPipeline).
      }
    }
    wrapMethod(proto, 'sendCommand', makeSendCommand);
    wrapMethod(proto, 'connect', makeConnect);
    wrapMethod(proto, 'setStatus', makeSetStatus);
    wrapMethod(proto, 'silentEmit', makeSilentEmit);
    wrapMethod(pipelineProto, 'exec', makePipelineExec);
    wrapMethod(pipelineProto, 'sendCommand', makePipelineSendCommand);
  },
  unpatch(Redis: any) {
    const proto = Redis?.prototype;
    if (proto === undefined) return;
    unwrapMethod(proto, 'sendCommand');
    unwrapMethod(proto, 'connect');
    unwrapMethod(proto, 'setStatus');
    unwrapMethod(proto, 'silentEmit');
    const pipelineProto = Redis.Pipeline?.prototype;
    unwrapMethod(pipelineProto, 'exec');
    unwrapMethod(pipelineProto, 'sendCommand');
  },
};
