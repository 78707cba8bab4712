/**
 * The end of a process, which the agent must never change: the same exit time (within a small bound), the same
 * exit code or signal, the application's own `beforeExit` / `exit` listeners run as often as without the agent.
 *
 * How spans queued at the end still get out — chosen by measurement (bench/exit.js):
 *
 * 1. `beforeExit` (the loop ran dry, the common end of a script or test file). Flushing from a `beforeExit`
 *    listener gives the loop new work, so Node emits `beforeExit` again and the application's listeners run twice
 *    (the OpenTelemetry agent's fault). Instead the agent intercepts the emission itself: when spans are pending
 *    it starts the exit flush and holds this one emission back; when the flush is done the loop runs dry again,
 *    Node emits `beforeExit` once more, and this time the application's listeners run — once, as without the
 *    agent. The flush reuses the exporter's kept-alive connection and makes no retries: measured, a script
 *    that ends after one request takes ~11 ms longer to end over OTLP/HTTP and ~30 ms over gRPC (a direct
 *    HTTP/2 call when the gRPC thread is not ready yet), healthy or refusing collector alike. A ref'd timer holds the loop open for at most
 *    OTEL_NODE_EXIT_FLUSH_TIMEOUT (default 1000 ms) in all — the bound when a collector accepts and never answers.
 *
 * 2. `exit` (process.exit() was called, a fatal exception, or spans ended after the flush). No I/O callback runs
 *    after `exit`, so what is left goes out synchronously: exporters offer `exportSync` (console writes directly;
 *    OTLP hands the encoded request to a short-lived worker thread and waits on it with Atomics.wait, within
 *    what is left of the same bound). This costs a thread start: measured, +53 to +79 ms (HTTP) and +77 to +114 ms
 *    (gRPC), by the machine's speed, for the same script ending by process.exit(), against +2 to +46 ms through
 *    `beforeExit` in the same runs — which is why it is the fallback and not the first choice.
 *
 * 3. SIGTERM / SIGINT. Adding a listener removes Node's default "terminate" action. When the application has no
 *    listener of its own, the agent flushes (bounded by OTEL_NODE_SHUTDOWN_TIMEOUT) and then re-raises the
 *    signal with its own listener removed, so the process ends by that signal exactly as without the agent.
 *    When the application has its own listener, the agent flushes and leaves the rest to it. An application
 *    that cleans up, removes its listener and re-raises the signal (`process.kill(process.pid, signal)`, as
 *    NestJS's shutdown hooks do) expects Node's default action; with the agent's listener still there the signal
 *    is only queued on Node's unref'd signal handle, and an event loop the cleanup left empty would end with
 *    code 0 before it is dispatched. So a signal a process sends itself while only the agent listens holds the
 *    loop open until it arrives, and the agent then flushes and ends the process by it.
 *    signal-exit (npm, execa, write-file-atomic, foreground-child… all use it) listens too, but ends the process
 *    itself only when its listeners are the only ones: its listeners do not count as the application's, or each
 *    would leave the ending to the other and the process would ignore the signal. The agent flushes, removes its
 *    listener and raises the signal again; signal-exit, alone now, runs its exit handlers and ends the process
 *    by the signal, as it does without the agent.
 *
 * `exit` and `uncaughtExceptionMonitor` are seen in the same wrapped `process.emit`, not through listeners: the
 * agent's listeners would count against the application's process.setMaxListeners and be removed by its
 * process.removeAllListeners(). The signals need listeners (Node watches a signal only while one is added).
 *
 * 4. A fatal uncaught exception: `uncaughtExceptionMonitor` (which changes nothing about how Node handles the
 *    error) records it on the active span and ends the spans of that context, which the `exit` hand-off then
 *    sends. Node prints the error and exits with the same code as without the agent.
 */
import { constants } from 'node:os';
import { copyFunctionShape } from '../instrumentation/function-shape';
import { diag } from '../diag/logger';
import type { ExitCapableExporter, ExportResult } from '../exporters/types';
import type { Agent } from './agent';

type Emit = (this: NodeJS.Process, event: string | symbol, ...args: unknown[]) => boolean;

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/** How long a signal the process sent itself may take to reach its listener: far more than it ever needs. */
const SELF_SIGNAL_WAIT_MS = 1000;

type Kill = (pid: number, signal?: string | number) => true;

/** The name of a signal as process.kill takes it (a name or a number; SIGTERM when omitted), if it is one of ours. */
function ourSignal(signal: unknown): (typeof SIGNALS)[number] | undefined {
  if (signal === undefined || signal === 'SIGTERM' || signal === constants.signals.SIGTERM) return 'SIGTERM';
  if (signal === 'SIGINT' || signal === constants.signals.SIGINT) return 'SIGINT';
  return undefined;
}

function noop(): void {}

/**
 * How many of a signal's listeners are signal-exit's: each loaded copy of signal-exit 4 counts itself in the
 * emitter it keeps on globalThis, signal-exit 3 in the one it keeps on process, one listener per signal each.
 */
function signalExitListeners(): number {
  let count = 0;
  const v4 = (globalThis as any)[Symbol.for('signal-exit emitter')];
  if (v4 !== null && typeof v4 === 'object' && typeof v4.count === 'number') count += v4.count;
  const v3 = (process as any).__signal_exit_emitter__;
  if (v3 !== null && typeof v3 === 'object' && typeof v3.count === 'number') count += v3.count;
  return count;
}

/** Listeners of `signal` that are the application's own: neither the agent's (`ours`) nor signal-exit's. */
function applicationListeners(signal: string, ours: unknown): number {
  const listeners = process.listeners(signal as NodeJS.Signals);
  const others = listeners.length - (listeners.includes(ours as any) ? 1 : 0) - signalExitListeners();
  return others > 0 ? others : 0;
}

export class ProcessLifecycle {
  private _installed = false;
  private _originalEmit: Emit | undefined;
  private _emit: Emit | undefined;
  /** Milliseconds of exit flushing still allowed (shared by beforeExit and exit). */
  private _exitBudget: number;
  private _flushing = false;
  private readonly _signalListeners = new Map<string, (signal: NodeJS.Signals) => void>();
  private _originalKill: Kill | undefined;
  private _kill: Kill | undefined;
  /** The ref'd timer that holds the loop open until a signal the process sent itself arrives. */
  private _selfSignalWait: NodeJS.Timeout | undefined;
  /** @internal The `exit` event, seen in process.emit. Never throws into Node's exit. */
  _onExit(): void {
    try {
      this._exitHandoff();
    } catch (err) {
      diag.debug('the exit hand-off failed', err);
    }
  }

  /** @internal The `uncaughtExceptionMonitor` event, seen in process.emit. */
  _onUncaught(error: Error, origin: string): void {
    if (this._installed) this._recordFatal(error, origin);
  }

  constructor(private readonly _agent: Agent) {
    this._exitBudget = _agent.config.exitFlushTimeoutMillis;
  }

  install(): void {
    if (this._installed) return;
    this._installed = true;
    const lifecycle = this;
    const originalEmit = (this._originalEmit = process.emit as unknown as Emit);
    // `exit` and `uncaughtExceptionMonitor` are seen here, before the application's listeners (as listeners added
    // at startup would be), not through listeners of the agent's: those counted against the application's
    // process.setMaxListeners (an application that allowed itself one `exit` listener got a
    // MaxListenersExceededWarning it never had without the agent), showed in process.listeners(), and
    // process.removeAllListeners() took them away, with the spans of every later process.exit().
    const emit: Emit = function (this: NodeJS.Process, event: string | symbol) {
      if (event === 'beforeExit') {
        if (lifecycle._holdBeforeExit()) return false;
      } else if (event === 'exit') lifecycle._onExit();
      else if (event === 'uncaughtExceptionMonitor') lifecycle._onUncaught(arguments[1] as Error, arguments[2] as string);
      return originalEmit.apply(this, arguments as unknown as [string, ...unknown[]]);
    };
    this._emit = emit;
    // Non-enumerable, so the application sees no new key on `process`.
    Object.defineProperty(process, 'emit', { value: emit, writable: true, configurable: true, enumerable: false });
    for (const signal of SIGNALS) {
      const listener = (received: NodeJS.Signals) => this._onSignal(received, listener);
      this._signalListeners.set(signal, listener);
      process.on(signal, listener);
    }
    const originalKill = (this._originalKill = process.kill as Kill);
    const kill: Kill = function (this: NodeJS.Process, pid: number, signal?: string | number) {
      const result = originalKill.apply(this, arguments as unknown as [number, (string | number)?]);
      // Reached only when the signal was sent (kill throws otherwise).
      lifecycle._afterKill(pid, signal);
      return result;
    };
    copyFunctionShape(kill, originalKill);
    this._kill = kill;
    process.kill = kill;
  }

  uninstall(): void {
    if (!this._installed) return;
    this._installed = false;
    // Restore only if nobody wrapped it after us; otherwise leave theirs (ours then just passes through).
    if ((process.emit as unknown) === this._emit) {
      delete (process as any).emit;
      if ((process.emit as unknown) !== this._originalEmit) {
        Object.defineProperty(process, 'emit', { value: this._originalEmit, writable: true, configurable: true, enumerable: false });
      }
    }
    for (const [signal, listener] of this._signalListeners) process.removeListener(signal, listener);
    this._signalListeners.clear();
    if (process.kill === this._kill && this._originalKill !== undefined) process.kill = this._originalKill;
    this._clearSelfSignalWait();
  }

  /**
   * After `process.kill` sent a signal: when it went to this process, is one the agent listens for, and nobody
   * else listens for it, Node's default action (ending the process) is what the sender expects; keep the loop
   * alive until the agent's listener gets the signal and ends the process by it (_onSignal).
   */
  private _afterKill(pid: unknown, signal: unknown): void {
    try {
      if (!this._installed || this._selfSignalWait !== undefined || Number(pid) !== process.pid) return;
      const name = ourSignal(signal);
      if (name === undefined) return;
      const ours = this._signalListeners.get(name);
      if (ours === undefined || !process.listeners(name).includes(ours) || applicationListeners(name, ours) !== 0) return;
      this._selfSignalWait = setTimeout(() => {
        this._selfSignalWait = undefined;
      }, SELF_SIGNAL_WAIT_MS);
    } catch (err) {
      diag.debug('checking a signal sent to this process failed', err);
    }
  }

  private _clearSelfSignalWait(): void {
    if (this._selfSignalWait !== undefined) {
      clearTimeout(this._selfSignalWait);
      this._selfSignalWait = undefined;
    }
  }

  /**
   * Decides whether to hold back this `beforeExit` emission: yes when spans are pending, budget remains and no
   * exit flush is already under way. Starts that flush.
   */
  private _holdBeforeExit(): boolean {
    if (!this._installed || this._flushing || this._exitBudget <= 0 || !this._agent.hasPendingSpans()) return false;
    this._flushing = true;
    const started = Date.now();
    const budget = this._exitBudget;
    // This timer is what keeps the loop alive while the flush runs; everything else the exporters hold is unref'd.
    const keepAlive = setTimeout(noop, budget);
    Promise.all(this._agent.exporters.map((e) => e.processor.flushForExit(budget)))
      .catch((err) => diag.debug('exit flush failed', err))
      .finally(() => {
        // Node emits `beforeExit` again only if the loop is alive after this emission: a flush that settled
        // without I/O (an export waiting out a retry backoff is just abandoned) ends within this emission's
        // microtasks, and clearing the timer alone would end the process with the application's listeners never
        // called. An immediate is one more turn of the loop, after which it runs dry and `beforeExit` comes again.
        setImmediate(noop);
        clearTimeout(keepAlive);
        this._exitBudget -= Date.now() - started;
        this._flushing = false;
      });
    return true;
  }

  /** The `exit` event: what is still queued goes out synchronously, within what is left of the budget. */
  private _exitHandoff(): void {
    if (!this._installed) return;
    let budget = this._exitBudget;
    for (const entry of this._agent.exporters) {
      if (entry.processor.queueLength === 0) continue;
      const exporter = entry.exporter as ExitCapableExporter;
      const { spans, batches } = entry.processor.drainQueue();
      // Spans encoded ahead and spans not encoded: one queue holds one kind or the other (a mix only if the
      // exporter stopped taking encoded spans), so this is one synchronous export, rarely two.
      if (batches.length > 0) budget = finalExport(entry.name, budget, batches.length, () => exporter.exportEncodedSync?.(batches, budget));
      if (spans.length > 0) budget = finalExport(entry.name, budget, spans.length, () => exporter.exportSync?.(spans, budget));
    }
    this._exitBudget = budget;
  }

  private _onSignal(signal: NodeJS.Signals, ours: (signal: NodeJS.Signals) => void): void {
    this._clearSelfSignalWait();
    const appHandles = applicationListeners(signal, ours) > 0;
    const timeout = this._agent.config.shutdownTimeoutMillis;
    const flush = Promise.all(this._agent.exporters.map((e) => e.processor.flushForExit(timeout))).catch((err) =>
      diag.debug('flush on signal failed', err),
    );
    if (appHandles) return; // the application decides what the signal does; it gets our flush and nothing else
    // Hold the loop open for the flush (it may be otherwise idle), then end the process by the same signal.
    const keepAlive = setTimeout(() => undefined, timeout + 100);
    flush.finally(() => {
      clearTimeout(keepAlive);
      for (const s of SIGNALS) {
        const listener = this._signalListeners.get(s);
        if (listener !== undefined) process.removeListener(s, listener);
      }
      // With no listener left, Node's default action applies: the process ends by this signal (or signal-exit,
      // the only one listening now, runs its handlers and raises it again itself).
      (this._originalKill ?? process.kill).call(process, process.pid, signal);
    });
  }

  /** Records a fatal exception on the active span and ends it, so the `exit` hand-off can send it. */
  private _recordFatal(error: Error, origin: string): void {
    try {
      // Not fatal when the application handles it: leave everything alone.
      if (origin === 'uncaughtException' && process.listenerCount('uncaughtException') > 0) return;
      if (origin === 'unhandledRejection' && process.listenerCount('unhandledRejection') > 0) return;
      if ((this._agent as { exporters: readonly unknown[] }).exporters.length === 0) return; // nothing was ever traced
      const { getSpan } = require('../context/context') as typeof import('../context/context');
      const { contextManager } = require('../context/global') as typeof import('../context/global');
      let span = getSpan(contextManager.active()) as any;
      if (span === undefined && origin === 'uncaughtException') {
        // Thrown synchronously inside a wrapped call (a request handler): its context is left by now.
        const { thrownContext } = require('../context/context-manager') as typeof import('../context/context-manager');
        const thrown = thrownContext();
        if (thrown !== undefined) span = getSpan(thrown);
      }
      if (span === undefined || typeof span.isRecording !== 'function' || !span.isRecording()) return;
      span.recordException(error);
      span.setStatus({ code: 2, message: error instanceof Error ? error.message : String(error) });
      if (span.attributes !== undefined && span.attributes['error.type'] === undefined && error instanceof Error) {
        span.setAttribute('error.type', error.name || 'Error');
      }
      span.end();
    } catch (err) {
      diag.debug('recording the fatal exception failed', err);
    }
  }
}

/**
 * One synchronous export at `exit` (`send` gives undefined when the exporter has none); returns the budget left.
 * `what` is what is lost if it cannot run: a count of spans or of encoded batches, for the debug message.
 */
function finalExport(name: string, budget: number, what: number, send: () => ExportResult | undefined): number {
  if (budget <= 0) {
    diag.debug(`${what} batch(es) or span(s) not exported at exit (${name}): no time left`);
    return budget;
  }
  const started = Date.now();
  try {
    const result = send();
    if (result === undefined) diag.debug(`no synchronous export at exit (${name})`);
    else if (result.code !== 0) diag.debug(`final export at exit failed (${name})`, result.error?.message ?? '');
  } catch (err) {
    diag.debug(`final export at exit threw (${name})`, err);
  }
  return budget - (Date.now() - started);
}
