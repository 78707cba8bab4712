/**
 * Wrapping for node-redis (`@redis/client`) 1.x (redis 4), 5.x (redis 5) and 6.x (redis 6, wrapped as 5.x: "5.x"
 * below means both) — 5.12+ included, whose own tracing channels publish too little (already-redacted arguments,
 * no MULTI commands): see README.md and channels.ts.
 *
 * Commands: a CLIENT span per command, started in the caller's context and ended when the reply (or error)
 * arrives. 5.x funnels every command through `RedisClient#sendCommand`. 1.x calls a private method from the
 * command methods, so the command executor is wrapped where the methods are attached (`attachCommands` in
 * commander.js, before client/index.js uses it), and `transformCommandArguments` hands the wrapper the Redis
 * arguments it computed, so they are not built twice.
 *
 * Batches: one span per MULTI/EXEC or pipeline (`_executeMulti` / `_executePipeline` in 5.x, `multiExecutor`
 * in 1.x), which add their commands to the queue without going through sendCommand — so queued commands get
 * no span of their own.
 *
 * Connections: `connect()` gets a `redis connect` span, and runs the library's connect in the root context: the
 * socket it opens, and everything the socket later does (replies, pub/sub messages delivered to listeners,
 * reconnects), would otherwise belong to whichever request happened to connect. After the first `ready`, each
 * reconnect attempt the client announces (`reconnecting`) gets a root `redis reconnect` span, ended by the next
 * `ready` or `error`.
 *
 * The returned promises resolve and reject exactly as the library's (node-redis awaits or chains every
 * promise sendCommand returns, so a derived promise is never left unhandled where the original was handled).
 */
import type { Context, Span } from '../../src/api/types';
import { SpanKind } from '../../src/api/types';
import { isTracingSuppressed, ROOT_CONTEXT } from '../../src/context/context';
import { contextManager } from '../../src/context/global';
import * as runtime from '../../src/instrumentation/runtime';
import { getConfig, reportInstrumentationError, tracerGetter } from '../../src/instrumentation/runtime';
import type { ModuleInfo, Patcher } from '../../src/instrumentation/types';
import { unwrapMethod, wrapMethod } from '../../src/instrumentation/wrap';
import {
  BatchDescription,
  commandName,
  commandQueryText,
  databaseNamespace,
  firstErrorIn,
  recordRedisError,
  redisConnectAttributes,
  redisSpanAttributes,
} from './command-text';
import { clientState, type ClientState } from './attributes';

const getTracer = tracerGetter('redis');

// ---------------------------------------------------------------------------------------------------------------
// Span helpers

function startCommandSpan(state: ClientState, args: ArrayLike<unknown>, parent: Context): Span {
  const name = commandName(args[0]);
  const text = commandQueryText(getConfig().redisQueryText, name, args, 1);
  return getTracer().startOwned(name, SpanKind.CLIENT, parent, redisSpanAttributes(state.endpoint, name, state.namespace, text, undefined));
}

/** For SELECT: the index it selects, so a success can update `db.namespace` for the next commands. */
function selectedIndex(args: ArrayLike<unknown>): number | undefined {
  const first = args[0];
  if (typeof first !== 'string' || (first !== 'SELECT' && first.toUpperCase() !== 'SELECT')) return undefined;
  const n = Number(args[1]);
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}

/**
 * Ends a span, reporting (once) what our span code throws: it must not reach the library's promise, which would
 * then reject with our error instead of the reply, nor its resolve/reject callbacks, which would never settle it.
 */
function endSpan(span: Span): void {
  try {
    span.end();
  } catch (err) {
    reportInstrumentationError('redis', 'ending a span', err);
  }
}

function endWithError(span: Span, err: unknown): void {
  try {
    recordRedisError(span, err);
  } catch (e) {
    reportInstrumentationError('redis', 'recording an error', e);
  }
  endSpan(span);
}

/**
 * The library's promise, followed: the span ends when it settles, and the promise returned resolves or rejects
 * with the same value. An async function rather than `then` with closures: nothing allocated per call beyond
 * the promise itself.
 */
async function settleCommand(span: Span, promise: Promise<unknown>, state: ClientState, selectIndex: number | undefined): Promise<unknown> {
  let value: unknown;
  try {
    value = await promise;
  } catch (err) {
    endWithError(span, err);
    throw err;
  }
  if (selectIndex !== undefined) state.namespace = databaseNamespace(selectIndex);
  endSpan(span);
  return value;
}

/**
 * What node-redis 1.x throws to the caller (its WatchError, `name` "Error") when a MULTI's EXEC replied null: a
 * WATCHed key changed and Redis discarded the transaction. The executor resolves with that null; the library's
 * `exec()` turns it into the error afterwards. (5.x throws it from the executor itself.)
 */
const WATCH_ABORTED = Object.freeze({ name: 'WatchError', message: 'One (or more) of the watched keys has been changed' });

/**
 * As settleCommand, for a batch: a MULTI whose EXEC reply holds a failed command's error is a failed span, and so
 * is a 1.x MULTI (`watchable`) whose EXEC reply is null.
 */
async function settleBatch(span: Span, promise: Promise<unknown>, state: ClientState, selectIndex: unknown, watchable: boolean): Promise<unknown> {
  let value: unknown;
  try {
    value = await promise;
  } catch (err) {
    endWithError(span, err);
    throw err;
  }
  if (typeof selectIndex === 'number') state.namespace = databaseNamespace(selectIndex);
  // 1.x resolves a MULTI with [MULTI's reply, [QUEUED…], EXEC's reply].
  const failed = watchable && Array.isArray(value) && value.length > 0 && value[value.length - 1] === null ? WATCH_ABORTED : firstErrorIn(value);
  if (failed !== undefined) endWithError(span, failed);
  else endSpan(span);
  return value;
}

function isThenable(value: unknown): value is Promise<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function';
}

/** The active context, or undefined when this call must not be traced. */
function tracedParent(): Context | undefined {
  if (!runtime.tracingEnabled) return undefined;
  const parent = contextManager.active();
  return isTracingSuppressed(parent) ? undefined : parent;
}

// ---------------------------------------------------------------------------------------------------------------
// Commands (5.x: sendCommand; 1.x: sendCommand for raw commands)

/**
 * 1.x `{ isolated: true }` (`commandOptions({ isolated: true })`, or sendCommand's options): the library hands the
 * command to a client of its isolation pool, whose own `sendCommand` makes the command's span — in the caller's
 * context, since the pool calls it from a continuation of the caller's acquire. A span here too would count the
 * command twice. Only while the client is open, though: a closed client refuses the command before it reaches the
 * pool, and that refusal is traced here. (5.x has no such option: it sends the command on the client itself.)
 */
function isIsolated(options: unknown): boolean {
  return options !== null && typeof options === 'object' && Boolean((options as { isolated?: unknown }).isolated);
}

function makeSendCommand(isolatable: boolean) {
  return (original: (...args: any[]) => any) =>
    function sendCommand(this: any, args: unknown, options: unknown): any {
      const parent = tracedParent();
      if (parent === undefined || !Array.isArray(args) || args.length === 0 || (isolatable && isIsolated(options) && this.isOpen === true)) {
        return original.apply(this, arguments as any);
      }
      let span: Span | undefined;
      let state: ClientState | undefined;
      try {
        state = clientState(this);
        span = startCommandSpan(state, args, parent);
      } catch (err) {
        reportInstrumentationError('redis', 'starting a command span', err);
      }
      if (span === undefined) return original.apply(this, arguments as any);
      let result: unknown;
      try {
        result = original.apply(this, arguments as any);
      } catch (err) {
        endWithError(span, err);
        throw err;
      }
      if (!isThenable(result)) {
        endSpan(span);
        return result;
      }
      return settleCommand(span, result, state!, selectedIndex(args));
    };
}

// ---------------------------------------------------------------------------------------------------------------
// Commands of 1.x: the executor behind the command methods, and transformCommandArguments feeding it

/**
 * Set while a wrapped executor runs, so transformCommandArguments hands back the Redis arguments it built (and
 * whether its command options isolate the command: see isIsolated).
 */
let capturing = false;
let capturedArgs: unknown[] | undefined;
let capturedIsolated = false;

function makeTransformCommandArguments(original: (...args: any[]) => any) {
  return function transformCommandArguments(this: unknown): any {
    const out = original.apply(this, arguments as any);
    if (capturing) {
      capturing = false;
      capturedArgs = out !== null && typeof out === 'object' && Array.isArray(out.args) ? out.args : undefined;
      capturedIsolated = capturedArgs !== undefined && isIsolated(out.options);
    }
    return out;
  };
}

/**
 * Wraps a 1.x command executor (`commandsExecutor`). The executor is an async function: it runs synchronously up
 * to its first await, which is after transformCommandArguments and after the command is queued, so the span
 * starts right after the original call returns its promise.
 */
function makeExecutor(original: (...args: any[]) => any) {
  return function executor(this: any): any {
    const parent = tracedParent();
    if (parent === undefined) return original.apply(this, arguments as any);
    capturing = true;
    capturedArgs = undefined;
    capturedIsolated = false;
    let result: unknown;
    try {
      result = original.apply(this, arguments as any);
    } finally {
      capturing = false;
    }
    const args = capturedArgs as unknown[] | undefined;
    capturedArgs = undefined;
    if (args === undefined || args.length === 0 || (capturedIsolated && this.isOpen === true) || !isThenable(result)) return result;
    let span: Span | undefined;
    let state: ClientState | undefined;
    try {
      state = clientState(this);
      span = startCommandSpan(state, args, parent);
    } catch (err) {
      reportInstrumentationError('redis', 'starting a command span', err);
    }
    return span === undefined ? result : settleCommand(span, result, state!, undefined);
  };
}

/** 1.x `attachCommands({ BaseClass, commands, executor })`: the client's command methods get the traced executor. */
function makeAttachCommands(original: (...args: any[]) => any) {
  return function attachCommands(this: unknown, config: any): any {
    try {
      if (config !== null && typeof config === 'object' && config.BaseClass?.name === 'RedisClient' && typeof config.executor === 'function') {
        return original.call(this, { ...config, executor: makeExecutor(config.executor) });
      }
    } catch (err) {
      reportInstrumentationError('redis', 'attachCommands', err);
    }
    return original.apply(this, arguments as any);
  };
}

/** 1.x SELECT(options?, db) calls the private sendCommand itself. */
function makeSelect(original: (...args: any[]) => any) {
  return function SELECT(this: any, optionsOrDb: unknown, maybeDb: unknown): any {
    const parent = tracedParent();
    if (parent === undefined) return original.apply(this, arguments as any);
    const db = typeof optionsOrDb === 'number' || typeof optionsOrDb === 'string' ? optionsOrDb : maybeDb;
    const args = ['SELECT', String(db)];
    let span: Span | undefined;
    let state: ClientState | undefined;
    try {
      state = clientState(this);
      span = startCommandSpan(state, args, parent);
    } catch (err) {
      reportInstrumentationError('redis', 'starting a command span', err);
    }
    const result = original.apply(this, arguments as any);
    if (span === undefined) return result;
    if (!isThenable(result)) {
      endSpan(span);
      return result;
    }
    return settleCommand(span, result, state!, selectedIndex(args));
  };
}

/** 1.x executeScript(script, args, options): EVALSHA, retried as EVAL on NOSCRIPT, as one span. */
function makeExecuteScript(original: (...args: any[]) => any) {
  return function executeScript(this: any, script: any, args: unknown): any {
    const parent = tracedParent();
    if (parent === undefined) return original.apply(this, arguments as any);
    let span: Span | undefined;
    let state: ClientState | undefined;
    try {
      state = clientState(this);
      const redisArgs: unknown[] = ['EVALSHA', script?.SHA1];
      // As executeScript builds them: the number of keys (when the script declares it), then the arguments.
      if (script?.NUMBER_OF_KEYS !== undefined) redisArgs.push(String(script.NUMBER_OF_KEYS));
      if (Array.isArray(args)) for (let i = 0; i < args.length; i++) redisArgs.push(args[i]);
      span = startCommandSpan(state, redisArgs, parent);
    } catch (err) {
      reportInstrumentationError('redis', 'starting a command span', err);
    }
    const result = original.apply(this, arguments as any);
    if (span === undefined) return result;
    if (!isThenable(result)) {
      endSpan(span);
      return result;
    }
    return settleCommand(span, result, state!, undefined);
  };
}

/** 1.x executeFunction(name, fn, args, options): FCALL. */
function makeExecuteFunction(original: (...args: any[]) => any) {
  return function executeFunction(this: any, name: unknown, fn: any, args: unknown): any {
    const parent = tracedParent();
    if (parent === undefined) return original.apply(this, arguments as any);
    let span: Span | undefined;
    let state: ClientState | undefined;
    try {
      state = clientState(this);
      const redisArgs: unknown[] = [fn?.IS_READ_ONLY ? 'FCALL_RO' : 'FCALL', name];
      // As fCallArguments builds them: the number of keys (when the function declares it), then the arguments.
      if (fn?.NUMBER_OF_KEYS !== undefined) redisArgs.push(String(fn.NUMBER_OF_KEYS));
      if (Array.isArray(args)) for (let i = 0; i < args.length; i++) redisArgs.push(args[i]);
      span = startCommandSpan(state, redisArgs, parent);
    } catch (err) {
      reportInstrumentationError('redis', 'starting a command span', err);
    }
    const result = original.apply(this, arguments as any);
    if (span === undefined) return result;
    if (!isThenable(result)) {
      endSpan(span);
      return result;
    }
    return settleCommand(span, result, state!, undefined);
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Batches

/** `wrapped`: the commands are the MULTI's own, between a MULTI and an EXEC (1.0–1.1), which are not counted. */
function startBatchSpan(state: ClientState, commands: unknown, kind: 'MULTI' | 'PIPELINE', parent: Context, wrapped: boolean): Span {
  const batch = new BatchDescription(getConfig().redisQueryText);
  if (Array.isArray(commands)) {
    const end = wrapped ? commands.length - 1 : commands.length;
    for (let i = wrapped ? 1 : 0; i < end; i++) {
      const args = commands[i]?.args;
      if (Array.isArray(args) && args.length > 0) batch.add(commandName(args[0]), args, 1);
      else batch.add('UNKNOWN', undefined, 0);
    }
  }
  const name = batch.operationName(kind);
  return getTracer().start(
    name,
    SpanKind.CLIENT,
    parent,
    redisSpanAttributes(state.endpoint, name, state.namespace, batch.queryText(), batch.batchSize()),
  );
}

/**
 * 5.x `_executeMulti(commands, selectedDB)` / `_executePipeline(commands, selectedDB)`, and 1.x
 * `multiExecutor(commands, selectedDB, chainId)` where a chain id means MULTI and none a pipeline. 1.0 and 1.1
 * (redis 4.0–4.1) have `multiExecutor(commands, chainId)`, and a MULTI's commands come between its MULTI and
 * EXEC: a symbol in the second place is that chain id.
 */
function makeBatchExecutor(kind: 'MULTI' | 'PIPELINE' | 'BY_CHAIN_ID') {
  return function wrap(original: (...args: any[]) => any) {
    return function executeBatch(this: any, commands: unknown, selectedDB: unknown, chainId: unknown): any {
      const parent = tracedParent();
      if (parent === undefined) return original.apply(this, arguments as any);
      let span: Span | undefined;
      let state: ClientState | undefined;
      const wrapped = kind === 'BY_CHAIN_ID' && typeof selectedDB === 'symbol';
      const batchKind = kind === 'BY_CHAIN_ID' ? (chainId === undefined && !wrapped ? 'PIPELINE' : 'MULTI') : kind;
      try {
        state = clientState(this);
        span = startBatchSpan(state, commands, batchKind, parent, wrapped);
      } catch (err) {
        reportInstrumentationError('redis', 'starting a batch span', err);
      }
      let result: unknown;
      try {
        result = original.apply(this, arguments as any);
      } catch (err) {
        if (span !== undefined) endWithError(span, err);
        throw err;
      }
      if (span === undefined) return result;
      if (!isThenable(result)) {
        endSpan(span);
        return result;
      }
      return settleBatch(span, result, state!, selectedDB, kind === 'BY_CHAIN_ID' && batchKind === 'MULTI');
    };
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Connections

function makeConnect(original: (...args: any[]) => any) {
  return function connect(this: any): any {
    const parent = tracedParent();
    if (parent === undefined) return original.apply(this, arguments as any);
    let span: Span | undefined;
    let state: ClientState | undefined;
    try {
      state = clientState(this);
      span = getTracer().start('redis connect', SpanKind.CLIENT, parent, redisConnectAttributes(state.endpoint, state.namespace));
    } catch (err) {
      reportInstrumentationError('redis', 'starting the connect span', err);
    }
    let result: unknown;
    try {
      result = contextManager.run(ROOT_CONTEXT, original, this, arguments);
    } catch (err) {
      if (span !== undefined) endWithError(span, err);
      throw err;
    }
    if (span === undefined) return result;
    if (!isThenable(result)) {
      endSpan(span);
      return result;
    }
    return settleCommand(span, result, state!, undefined);
  };
}

/** Reconnect attempts, from the events the client emits (`reconnecting`, then `ready` or `error`). */
function makeClientEmit(original: (...args: any[]) => any) {
  return function emit(this: any, event: unknown, arg: unknown): any {
    if (runtime.tracingEnabled && (event === 'reconnecting' || event === 'ready' || event === 'error')) {
      try {
        onConnectionEvent(this, event, arg);
      } catch (err) {
        reportInstrumentationError('redis', 'a reconnect span', err);
      }
    }
    return original.apply(this, arguments as any);
  };
}

function onConnectionEvent(client: any, event: 'reconnecting' | 'ready' | 'error', arg: unknown): void {
  const state = clientState(client);
  if (event === 'ready') {
    state.everReady = true;
    const span = state.reconnect;
    if (span !== undefined) {
      state.reconnect = undefined;
      endSpan(span);
    }
  } else if (event === 'error') {
    const span = state.reconnect;
    if (span !== undefined) {
      state.reconnect = undefined;
      endWithError(span, arg);
    }
  } else if (state.everReady && state.reconnect === undefined) {
    // No caller waits for a reconnect: it is a trace of its own.
    state.reconnect = getTracer().start('redis reconnect', SpanKind.CLIENT, ROOT_CONTEXT, redisConnectAttributes(state.endpoint, state.namespace));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Client pools (5.x `createClientPool`)

/**
 * `RedisClientPool#execute(fn)`, through which every pool command, MULTI and `execute` call goes. With an idle
 * client, fn runs at once, in the caller's context. Otherwise the task waits in the pool's queue and fn runs when a
 * client comes back — from the previous task's promise continuation, in the context of whoever issued *that*
 * task: its command spans would join another request's trace. So a task that may wait gets fn bound to its
 * caller's context (suppression included), and only such a task pays for the binding.
 */
function makePoolExecute(original: (...args: any[]) => any) {
  return function execute(this: any, fn: unknown): any {
    if (!runtime.tracingEnabled || typeof fn !== 'function') return original.apply(this, arguments as any);
    let task = fn;
    try {
      if (!(this.idleClients > 0)) task = contextManager.bind(contextManager.active(), fn);
    } catch (err) {
      reportInstrumentationError('redis', 'binding a pool task to its caller', err);
    }
    return task === fn ? original.apply(this, arguments as any) : original.call(this, task);
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Patchers

/** `@redis/client/dist/lib/client/index.js` (1.x and 5.0–5.11): the RedisClient prototype. */
export const clientPatcher: Patcher = {
  patch(exportsObject: any, info: ModuleInfo) {
    const proto = exportsObject?.default?.prototype;
    if (proto === undefined) return;
    wrapMethod(proto, 'sendCommand', makeSendCommand(info.version.startsWith('1.')));
    wrapMethod(proto, 'connect', makeConnect);
    wrapMethod(proto, 'emit', makeClientEmit);
    if (info.version.startsWith('1.')) {
      // Module commands (json, ft, ts…) are attached later, from the prototype's commandsExecutor.
      wrapMethod(proto, 'commandsExecutor', makeExecutor);
      wrapMethod(proto, 'SELECT', makeSelect);
      wrapMethod(proto, 'executeScript', makeExecuteScript);
      wrapMethod(proto, 'executeFunction', makeExecuteFunction);
      wrapMethod(proto, 'multiExecutor', makeBatchExecutor('BY_CHAIN_ID'));
    } else {
      wrapMethod(proto, '_executeMulti', makeBatchExecutor('MULTI'));
      wrapMethod(proto, '_executePipeline', makeBatchExecutor('PIPELINE'));
    }
  },
  unpatch(exportsObject: any) {
    const proto = exportsObject?.default?.prototype;
    if (proto === undefined) return;
    for (const name of ['sendCommand', 'connect', 'emit', 'commandsExecutor', 'SELECT', 'executeScript', 'executeFunction', 'multiExecutor', '_executeMulti', '_executePipeline']) {
      unwrapMethod(proto, name);
    }
  },
};

/** `@redis/client/dist/lib/client/pool.js` (5.x): RedisClientPool. */
export const poolPatcher: Patcher = {
  patch(exportsObject: any) {
    const proto = exportsObject?.RedisClientPool?.prototype;
    if (proto !== undefined) wrapMethod(proto, 'execute', makePoolExecute);
  },
  unpatch(exportsObject: any) {
    const proto = exportsObject?.RedisClientPool?.prototype;
    if (proto !== undefined) unwrapMethod(proto, 'execute');
  },
};

/** `@redis/client/dist/lib/commander.js` (1.x): where command methods get their executor. */
export const commanderPatcher: Patcher = {
  patch(exportsObject: any) {
    wrapMethod(exportsObject, 'attachCommands', makeAttachCommands);
    wrapMethod(exportsObject, 'transformCommandArguments', makeTransformCommandArguments);
  },
  unpatch(exportsObject: any) {
    unwrapMethod(exportsObject, 'attachCommands');
    unwrapMethod(exportsObject, 'transformCommandArguments');
  },
};
