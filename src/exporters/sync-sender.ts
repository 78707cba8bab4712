/**
 * A synchronous HTTP request, for the `exit` event, after which Node runs no more I/O callbacks: a short-lived
 * worker thread sends the request on its own event loop while this thread waits on a shared flag with
 * Atomics.wait, for at most the given time. Measured: a worker starts and sends in tens of milliseconds, which is
 * why this is the last resort (src/agent/process-lifecycle.ts) and not the usual flush.
 *
 * The worker is started with no execArgv, so the preload (and the agent) do not load in it.
 */
import path = require('node:path');

export interface SyncRequest {
  url: string;
  headers: Record<string, string>;
  body: Uint8Array;
  /** gRPC over HTTP/2: the body is the message, framed by the worker. */
  grpc?: boolean;
  ca?: Uint8Array;
  cert?: Uint8Array;
  key?: Uint8Array;
}

export interface SyncResult {
  ok: boolean;
  /** HTTP status, or the gRPC status code; -1 for a network error, -2 when the time ran out. */
  status: number;
}

/** Sends `request` and waits for its answer, at most `timeoutMillis`. Never throws. */
export function sendSync(request: SyncRequest, timeoutMillis: number): SyncResult {
  if (timeoutMillis <= 0) return { ok: false, status: -2 };
  let worker: import('node:worker_threads').Worker | undefined;
  try {
    const { Worker } = require('node:worker_threads') as typeof import('node:worker_threads');
    const shared = new SharedArrayBuffer(8);
    const state = new Int32Array(shared);
    worker = new Worker(path.join(__dirname, 'sync-sender-worker.js'), {
      workerData: { shared, request, timeoutMillis },
      execArgv: [],
      stdout: true,
      stderr: true,
    });
    worker.unref();
    const outcome = Atomics.wait(state, 0, 0, timeoutMillis);
    if (outcome === 'timed-out') return { ok: false, status: -2 };
    const status = Atomics.load(state, 1);
    return { ok: request.grpc === true ? status === 0 : status >= 200 && status < 300, status };
  } catch {
    return { ok: false, status: -1 };
  } finally {
    // The process is ending; the worker must not hold it up either way.
    void worker?.terminate().catch(() => undefined);
  }
}
