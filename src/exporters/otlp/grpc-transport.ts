/**
 * OTLP/gRPC (opentelemetry-proto docs/specification.md, "OTLP/gRPC"): the unary call
 * `/opentelemetry.proto.collector.trace.v1.TraceService/Export` through @grpc/grpc-js, with our own encoder's bytes
 * as the request message (an identity serializer) — no proto-loader, no generated code.
 *
 * The calls are made by a worker thread (grpc-worker.ts), and this side only hands it encoded requests. Why:
 * - @grpc/grpc-js keeps the event loop alive while a call is in flight (it refs its HTTP/2 session, a timer
 *   while a connection is being made, and the call's deadline timer), none of which it lets a caller unref. A
 *   program that ended while an export was in flight to a collector that never answers therefore ended only at
 *   the export's deadline (10 s by default), not within OTEL_NODE_EXIT_FLUSH_TIMEOUT. In a thread of its own,
 *   whatever grpc-js holds holds that thread's loop only; the thread itself is unref'd, and ref'd only while an
 *   attempt must keep the process alive (`holdProcess`, the exit flush).
 * - Loading grpc-js takes about 40 ms and 13 MB in the thread that loads it (measured here); the application's
 *   thread now pays neither. The thread costs a similar amount of memory, once, for the protocol that needs it.
 *
 * One thread, one client (one channel, one HTTP/2 connection) per exporter, reused by every batch, started when
 * the first span is queued (`warmUp`). An export the process's end waits for, made before the thread is ready,
 * goes directly over node:http2 instead (grpc-direct.ts): a short program must not wait ~100 ms for the thread. `http://` endpoints are plain text, `https://` ones TLS (the configuration has already applied
 * OTEL_EXPORTER_OTLP_INSECURE to scheme-less endpoints). grpc-js's own retries are turned off: the exporter's
 * retry policy is the one that applies. If the thread dies, its calls fail as retryable transport errors and the
 * next export starts a new one (at most a few times: a thread that keeps dying is given up on, with a warning).
 */
import fs = require('node:fs');
import path = require('node:path');
import type { Worker } from 'node:worker_threads';
import { diag } from '../../diag/logger';
import { callExportDirect } from './grpc-direct';
import type { TlsMaterial } from './http-transport';
import { failure, SETTLED_ATTEMPT, type Attempt, type SendOptions, type SendOutcome, type Transport } from './transport';

export { TRACE_EXPORT_METHOD } from './grpc-protocol';

export interface GrpcTransportOptions {
  endpoint: string;
  headers: Record<string, string>;
  gzip: boolean;
  userAgent: string;
  tls: TlsMaterial;
}

/** Threads started for one exporter before it gives up on gRPC (each one died with calls in flight). */
const MAX_THREAD_STARTS = 4;

type Reply = { op: 'ready' } | { op: 'done'; id: number; outcome: SendOutcome } | { op: 'warn'; key: string; message: string };

function noop(): void {}

/** One call in flight in the thread. */
class GrpcAttempt implements Attempt {
  settled = false;
  held = false;
  constructor(
    private readonly _transport: GrpcTransport,
    readonly id: number,
    readonly done: (outcome: SendOutcome) => void,
  ) {}

  abort(): void {
    if (this.settled) return;
    this._transport._forget(this, true);
  }

  hold(): void {
    if (this.settled || this.held) return;
    this.held = true;
    this._transport._hold(1);
  }
}

export class GrpcTransport implements Transport {
  private readonly _options: GrpcTransportOptions;
  private _worker: Worker | undefined;
  private readonly _attempts = new Map<number, GrpcAttempt>();
  private _nextId = 1;
  /** The thread has loaded grpc-js and can make calls at once. */
  private _threadReady = false;
  /** Attempts that keep the process alive; the thread is ref'd while there are any. */
  private _holds = 0;
  private _threadStarts = 0;
  private _closed = false;
  /**
   * Node.js refused to start a thread at all (the permission model without `--allow-worker`: `new Worker` throws
   * ERR_ACCESS_DENIED): every call then goes directly over node:http2 (grpc-direct.ts), one connection per export,
   * unref'd like the thread. Without this every batch of a running service was dropped, as a failure that is not
   * retryable, while the exit flush (direct already) got through.
   */
  private _noThread = false;

  constructor(options: GrpcTransportOptions) {
    this._options = options;
  }

  prepare(body: Buffer, done: (prepared: Buffer | Error) => void): void {
    // Compression is grpc-js's (per message, `grpc-encoding: gzip`).
    done(body);
  }

  send(body: Buffer, options: SendOptions, done: (outcome: SendOutcome) => void): Attempt {
    // The thread gets its own copy (moved, not cloned, to it): the body may be sent again on a retry.
    const copy = new Uint8Array(body.length);
    copy.set(body);
    options.onBodyReleased?.();
    if (this._closed) {
      done(failure('shutdown', 'the exporter is shut down', false));
      return SETTLED_ATTEMPT;
    }
    if (options.holdProcess && !this._threadReady) {
      // The process is ending and waits for this call: it cannot wait for the thread to start as well.
      const abort = callExportDirect(this._options, copy, options.timeoutMillis, true, (outcome) => done(outcome));
      return { abort, hold: noop };
    }
    if (this._noThread) return this._sendDirect(copy, options, done);
    let worker: Worker;
    try {
      worker = this._thread();
    } catch (err) {
      if (this._noThread) return this._sendDirect(copy, options, done);
      done(failure('transport', `cannot start the gRPC export thread: ${(err as Error).message}`, false));
      return SETTLED_ATTEMPT;
    }
    const attempt = new GrpcAttempt(this, this._nextId++, done);
    this._attempts.set(attempt.id, attempt);
    if (options.holdProcess) attempt.hold();
    worker.postMessage({ op: 'send', id: attempt.id, body: copy, deadline: Date.now() + Math.max(1, options.timeoutMillis) }, [copy.buffer]);
    return attempt;
  }

  warmUp(): void {
    if (this._closed || this._noThread) return;
    try {
      this._thread();
    } catch (err) {
      diag.debug('cannot start the gRPC export thread', err);
    }
  }

  shutdown(): void {
    if (this._closed) return;
    this._closed = true;
    // The thread closes its channel and ends once its calls have answered; their outcomes still arrive here.
    this._worker?.postMessage({ op: 'close' });
  }

  /** One call over node:http2 in this thread (see `_noThread`); it keeps the process alive only when asked to. */
  private _sendDirect(body: Uint8Array, options: SendOptions, done: (outcome: SendOutcome) => void): Attempt {
    const abort = callExportDirect(this._options, body, options.timeoutMillis, options.holdProcess === true, (outcome) => done(outcome));
    return { abort, hold: noop };
  }

  /** @internal Removes an attempt (answered or abandoned); `cancel` tells the thread to stop its call. */
  _forget(attempt: GrpcAttempt, cancel: boolean): void {
    attempt.settled = true;
    this._attempts.delete(attempt.id);
    if (attempt.held) this._hold(-1);
    if (cancel) this._worker?.postMessage({ op: 'cancel', id: attempt.id });
  }

  /** @internal */
  _hold(delta: number): void {
    const before = this._holds;
    this._holds += delta;
    if (before === 0 && this._holds > 0) this._worker?.ref();
    else if (before > 0 && this._holds === 0) this._worker?.unref();
  }

  private _thread(): Worker {
    if (this._worker !== undefined) return this._worker;
    if (this._threadStarts >= MAX_THREAD_STARTS) throw new Error(`it stopped ${MAX_THREAD_STARTS} times`);
    this._threadStarts++;
    const { Worker: WorkerThread } = require('node:worker_threads') as typeof import('node:worker_threads');
    let worker: Worker;
    try {
      worker = new WorkerThread(workerFile(), {
        workerData: this._options,
        // No preload, no loader hooks: the agent never runs in its own export thread.
        execArgv: [],
      });
    } catch (err) {
      if ((err as { code?: unknown } | null)?.code === 'ERR_ACCESS_DENIED') {
        this._noThread = true;
        diag.debug('OTLP/gRPC: Node.js does not allow this process a thread (--permission without --allow-worker); exports go directly over HTTP/2', err);
      }
      throw err;
    }
    worker.on('message', (reply: Reply) => this._onReply(reply));
    worker.on('error', (err: Error) => this._onThreadEnd(worker, `the gRPC export thread failed: ${err.message}`));
    worker.on('exit', () => this._onThreadEnd(worker, 'the gRPC export thread stopped'));
    // After the listeners: adding a 'message' listener refs the thread again.
    worker.unref();
    this._worker = worker;
    return worker;
  }

  private _onReply(reply: Reply): void {
    if (reply.op === 'ready') {
      this._threadReady = true;
      return;
    }
    if (reply.op === 'warn') {
      diag.warnOnce(reply.key, reply.message);
      return;
    }
    const attempt = this._attempts.get(reply.id);
    if (attempt === undefined) return; // abandoned meanwhile
    this._forget(attempt, false);
    attempt.done(reply.outcome);
  }

  /** The thread is gone (an error, or it ended after `close`): its calls in flight fail, retryable. */
  private _onThreadEnd(worker: Worker, message: string): void {
    if (this._worker !== worker) return;
    this._worker = undefined;
    this._threadReady = false;
    const pending = Array.from(this._attempts.values());
    this._attempts.clear();
    this._holds = 0;
    if (pending.length > 0 || !this._closed) diag.debug(message);
    for (const attempt of pending) {
      attempt.settled = true;
      attempt.done(failure('transport', message, !this._closed));
    }
  }
}

/** The compiled thread script; from the TypeScript sources (the tests), the one in dist/. */
function workerFile(): string {
  const here = path.join(__dirname, 'grpc-worker.js');
  if (fs.existsSync(here)) return here;
  return path.join(__dirname, '..', '..', '..', 'dist', 'src', 'exporters', 'otlp', 'grpc-worker.js');
}
