import { AsyncLocalStorage, AsyncResource, executionAsyncResource } from 'node:async_hooks';
import type { EventEmitter } from 'node:events';
import type { Context } from '../api/types';
import { ROOT_CONTEXT } from './context';
import { copyFunctionShape } from '../instrumentation/function-shape';

type AnyFunction = (...args: any[]) => any;

const EMITTER_ADD_METHODS = ['addListener', 'on', 'once', 'prependListener', 'prependOnceListener'] as const;
const EMITTER_REMOVE_METHODS = ['removeListener', 'off'] as const;
const kBoundListeners = Symbol('zerotel.boundListeners');

function applyWithThis(fn: AnyFunction, thisArg: unknown, args: ArrayLike<unknown>): unknown {
  return fn.apply(thisArg, args as unknown[]);
}

/**
 * What the store holds for a context: nothing for the root context, which `active()` reads back as the root
 * context all the same. Instrumentations run a client's connect in the root context so that its socket's
 * callbacks do not keep a request's context alive; storing ROOT_CONTEXT there, instead of no store, made every
 * callback of that socket slow on Node 24 (the benchmark's express app, its node-redis client connected at
 * startup: 57K more instructions a request on `work`, 29 % of the agent's cost there, and 36.5K on `hello`, with
 * V8 going to its runtime ~50 times a request to define the properties of Node's `nextTick` objects; see the
 * README's Performance section). With no store, as without the agent.
 */
function storeOf(context: Context): Context {
  return context === ROOT_CONTEXT ? (undefined as unknown as Context) : context;
}

/**
 * The context of the innermost `run` that an exception last left, until the microtasks of the current turn run
 * (or another `run` returns normally: the exception was caught). An exception thrown synchronously by a request
 * handler leaves the handler's context before Node.js reports it as uncaught, so `uncaughtExceptionMonitor` finds
 * the root context active; this is the context it was thrown in, for the process's fatal-exception record
 * (process-lifecycle.ts). Kept by a `finally` that looks at a flag, not by catching and rethrowing: a rethrow
 * would move the source line Node.js prints above an uncaught error to the rethrow.
 */
let thrownFrom: Context | undefined;

function forgetThrown(): void {
  thrownFrom = undefined;
}

function noteThrown(context: Context): void {
  // The first (innermost) frame an exception leaves wins; the outer frames it leaves next keep it.
  if (thrownFrom !== undefined || context === ROOT_CONTEXT) return;
  thrownFrom = context;
  queueMicrotask(forgetThrown);
}

/** The context an exception that is now being reported as uncaught was thrown in, if it left a wrapped call. */
export function thrownContext(): Context | undefined {
  return thrownFrom;
}

/** A handle on an async context frame, from captureFrame, to run a call in with runInFrame. */
export type CapturedFrame = AsyncResource;

/** No destroy hook registered for a captured frame: nothing needs to know when it goes. */
const CAPTURED_FRAME_OPTIONS = { requireManualDestroy: true };

/** The symbol Node.js 20 and 22 keep an AsyncLocalStorage's store under, on each async resource, if this is one. */
function resourceStoreKey(als: AsyncLocalStorage<Context>): symbol | undefined {
  const key = (als as unknown as { kResourceStore?: unknown }).kResourceStore;
  return typeof key === 'symbol' && typeof (als as unknown as { enabled?: unknown }).enabled === 'boolean' ? key : undefined;
}

/**
 * The context manager, on AsyncLocalStorage. Its method names and behaviour are those of @opentelemetry/api's
 * ContextManager, so the bridge can register it there as it is.
 */
export class AsyncLocalStorageContextManager {
  private readonly _als = new AsyncLocalStorage<Context>();
  /**
   * Where Node.js 20 and 22 (without --experimental-async-context-frame) keep a store: on the current async
   * resource, under this symbol of the AsyncLocalStorage instance; undefined where AsyncLocalStorage works
   * otherwise (Node 24's AsyncContextFrame), which then gets AsyncLocalStorage's own methods. `run` does there what
   * AsyncLocalStorage#run does, without what a wrapper's call does not need: the rest-parameter array, the
   * comparison through getStore, and two frames (`AsyncLocalStorage.run`, `applyWithThis`) that an error thrown in
   * a wrapped call would carry in its stack, pushing the application's frames out of V8's ten.
   */
  private readonly _key: symbol | undefined = resourceStoreKey(this._als);

  /**
   * The AsyncLocalStorage behind this manager, for `diagnostics_channel` `bindStore`: a subscriber to a
   * library's TracingChannel can then choose the context the traced function runs in.
   */
  get storage(): AsyncLocalStorage<Context> {
    return this._als;
  }

  active(): Context {
    const store = this._als.getStore();
    return store === undefined ? ROOT_CONTEXT : store;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    context: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    // The common call, with(ctx, fn), goes to AsyncLocalStorage directly: no argument shuffling.
    if (thisArg === undefined && args.length === 0) return this._als.run(storeOf(context), fn as () => ReturnType<F>);
    return this._als.run(storeOf(context), applyWithThis, fn, thisArg, args) as ReturnType<F>;
  }

  /**
   * The wrappers' form of `with`: no rest parameters to collect, so a wrapped call allocates nothing here.
   * `args` may be the wrapper's own `arguments`.
   */
  run(context: Context, fn: AnyFunction, thisArg: unknown, args: ArrayLike<unknown>): unknown {
    const key = this._key;
    let returned = false;
    // Until the first AsyncLocalStorage#run enables it, the storage has no async hook to carry a store on.
    if (key === undefined || !(this._als as unknown as { enabled: boolean }).enabled) {
      try {
        const result = this._als.run(storeOf(context), applyWithThis, fn, thisArg, args);
        returned = true;
        return result;
      } finally {
        if (!returned) noteThrown(context);
        else if (thrownFrom !== undefined) thrownFrom = undefined;
      }
    }
    const store = storeOf(context);
    const resource = executionAsyncResource() as Record<symbol, unknown>;
    const previous = resource[key];
    if (previous === store) return fn.apply(thisArg, args as unknown[]);
    resource[key] = store;
    try {
      const result = fn.apply(thisArg, args as unknown[]);
      returned = true;
      return result;
    } finally {
      resource[key] = previous;
      if (!returned) noteThrown(context);
      else if (thrownFrom !== undefined) thrownFrom = undefined;
    }
  }

  /**
   * Where AsyncLocalStorage keeps its stores in AsyncContextFrame (Node 24; Node 22 with
   * --experimental-async-context-frame): a handle on the async context current now — the agent's store and the
   * application's — to run a later call in with runInFrame. Undefined where stores live on async resources (Node 20
   * and 22), where `run(ROOT_CONTEXT, …)` makes nothing and is the cheaper way out of a span's context.
   *
   * Why: on AsyncContextFrame, `run` makes a new frame (a Map) each time, even to leave a context, and every async
   * resource made inside keeps that frame; running a call in a frame captured earlier makes none. A frame captured
   * when a request arrives is as old as the connection's, so a long-lived resource made later in it (Node's keep-alive
   * timer) holds nothing young.
   */
  captureFrame(): CapturedFrame | undefined {
    return this._key === undefined ? new AsyncResource('zerotel.frame', CAPTURED_FRAME_OPTIONS) : undefined;
  }

  /** Calls `fn` with `thisArg` and `args` in the frame `frame` captured (see captureFrame). */
  runInFrame(frame: CapturedFrame, fn: AnyFunction, thisArg: unknown, args: ArrayLike<unknown>): unknown {
    return frame.runInAsyncScope(applyWithThis, undefined, fn, thisArg, args);
  }

  bind<T>(context: Context, target: T): T {
    if (typeof target === 'function') return this._bindFunction(context, target as unknown as AnyFunction) as T;
    if (target !== null && typeof target === 'object' && typeof (target as any).on === 'function' &&
        typeof (target as any).removeListener === 'function' && typeof (target as any).emit === 'function') {
      this._bindEmitter(context, target as unknown as EventEmitter);
    }
    return target;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this._als.disable();
    return this;
  }

  private _bindFunction(context: Context, target: AnyFunction): AnyFunction {
    const als = this._als;
    const store = storeOf(context);
    const bound = function (this: unknown) {
      return als.run(store, applyWithThis, target, this, arguments);
    };
    copyFunctionShape(bound, target);
    return bound;
  }

  /**
   * Listeners added to the emitter from now on run in `context`. The emitter gets non-enumerable own methods;
   * removeListener still finds a listener by the function the application passed.
   */
  private _bindEmitter(context: Context, emitter: EventEmitter): void {
    const target = emitter as any;
    if (target[kBoundListeners] !== undefined) return;
    const map = new Map<string | symbol, WeakMap<AnyFunction, AnyFunction>>();
    Object.defineProperty(target, kBoundListeners, { value: map, enumerable: false, configurable: true });
    const manager = this;
    for (const name of EMITTER_ADD_METHODS) {
      const original = target[name];
      if (typeof original !== 'function') continue;
      const patched = function (this: unknown, event: string | symbol, listener: AnyFunction) {
        if (typeof listener !== 'function') return original.call(this, event, listener);
        let byListener = map.get(event);
        if (byListener === undefined) map.set(event, (byListener = new WeakMap()));
        let bound = byListener.get(listener);
        if (bound === undefined) {
          bound = manager._bindFunction(context, listener);
          byListener.set(listener, bound);
        }
        return original.call(this, event, bound);
      };
      copyFunctionShape(patched, original);
      Object.defineProperty(target, name, { value: patched, enumerable: false, configurable: true, writable: true });
    }
    for (const name of EMITTER_REMOVE_METHODS) {
      const original = target[name];
      if (typeof original !== 'function') continue;
      const patched = function (this: unknown, event: string | symbol, listener: AnyFunction) {
        const bound = map.get(event)?.get(listener);
        return original.call(this, event, bound === undefined ? listener : bound);
      };
      copyFunctionShape(patched, original);
      Object.defineProperty(target, name, { value: patched, enumerable: false, configurable: true, writable: true });
    }
  }
}
