/**
 * The batching processor (specification/trace/sdk.md#batching-processor).
 *
 * - A bounded queue: when it is full the newest span is dropped and counted (memory stays bounded whatever the
 *   exporter does), and a warning with the count is written at most once a minute.
 * - A batch is exported when `maxExportBatchSize` spans are waiting, or `scheduleDelayMillis` after the first
 *   span was queued; never two exports at once; each export bounded by `exportTimeoutMillis`.
 * - Export work (encoding, I/O) is never done on the path of the span's `end()`: it is scheduled.
 * - Timers are unref'd: they never keep a process alive.
 * - Exports run with tracing suppressed, so the exporter's own requests are never traced.
 */
import type { BatchConfig } from '../config';
import { diag } from '../diag/logger';
import type { ExitCapableExporter, ExportResult, SpanExporter } from '../exporters/types';
import { ExportResultCode } from '../exporters/types';
import type { ReadableSpan } from '../trace/span';
import type { SpanProcessor } from './types';
import { runSuppressed } from '../context/suppressed';

export class BatchSpanProcessor implements SpanProcessor {
  private readonly _config: BatchConfig;
  private _queue: ReadableSpan[] = [];
  private _timer: NodeJS.Timeout | undefined;
  private _exporting: Promise<void> | undefined;
  private _exportScheduled = false;
  private _warmedUp = false;
  private _shutdown: Promise<void> | undefined;
  /** Spans dropped because the queue was full, since the processor started. */
  droppedSpans = 0;
  /** Spans in batches whose export failed, since the processor started. */
  failedSpans = 0;
  /** Spans exported successfully, since the processor started. */
  exportedSpans = 0;

  constructor(
    private readonly _exporter: SpanExporter,
    config: BatchConfig,
  ) {
    this._config = config;
  }

  get exporter(): SpanExporter {
    return this._exporter;
  }

  get queueLength(): number {
    return this._queue.length;
  }

  get isExporting(): boolean {
    return this._exporting !== undefined;
  }

  onStart(): void {}

  onEnd(span: ReadableSpan): void {
    if (this._shutdown !== undefined || (sampledFlags(span) & 1) === 0) return;
    const queue = this._queue;
    if (queue.length >= this._config.maxQueueSize) {
      this.droppedSpans++;
      diag.warnRateLimited(
        'bsp-queue-full',
        `span queue full (OTEL_BSP_MAX_QUEUE_SIZE=${this._config.maxQueueSize}): ${this.droppedSpans} span(s) dropped so far`,
      );
      return;
    }
    queue.push(span);
    if (queue.length >= this._config.maxExportBatchSize) this._scheduleExportNow();
    else if (this._timer === undefined && this._exporting === undefined) this._startTimer();
  }

  private _startTimer(): void {
    if (!this._warmedUp) this._warmUp();
    const timer = setTimeout(() => {
      this._timer = undefined;
      this._exportLoop();
    }, this._config.scheduleDelayMillis);
    timer.unref();
    this._timer = timer;
  }

  /**
   * The first span is queued: the exporter gets ready for its first export now, on the next turn of the loop
   * (not inside the caller's end()), rather than at that export — which, for a short program, is the flush that
   * its end waits for (bench/exit.js: a gRPC flush at `beforeExit` took ~100 ms more when its thread started there).
   */
  private _warmUp(): void {
    this._warmedUp = true;
    const exporter = this._exporter as ExitCapableExporter;
    if (exporter.warmUp === undefined) return;
    setImmediate(() => {
      try {
        runSuppressed(() => exporter.warmUp!());
      } catch (err) {
        diag.debug('exporter warm-up failed', err);
      }
    }).unref();
  }

  /** A full batch is waiting: export on the next turn of the event loop, not inside the caller's end(). */
  private _scheduleExportNow(): void {
    if (this._exportScheduled || this._exporting !== undefined) return;
    this._exportScheduled = true;
    const immediate = setImmediate(() => {
      this._exportScheduled = false;
      this._exportLoop();
    });
    immediate.unref();
  }

  /** Exports batches while at least one full batch waits; leaves a partial batch to the timer. */
  private _exportLoop(): void {
    if (this._exporting !== undefined || this._queue.length === 0) return;
    if (this._timer !== undefined) {
      clearTimeout(this._timer);
      this._timer = undefined;
    }
    this._exportOneBatch().then(() => {
      if (this._queue.length >= this._config.maxExportBatchSize) this._exportLoop();
      else if (this._queue.length > 0 && this._timer === undefined) this._startTimer();
    });
  }

  /** Takes up to one batch from the head of the queue and exports it. Resolves when done; never rejects. */
  private _exportOneBatch(limit = this._config.maxExportBatchSize): Promise<void> {
    const batch = this._queue.length <= limit ? this._queue : this._queue.slice(0, limit);
    this._queue = this._queue.length <= limit ? [] : this._queue.slice(limit);
    const run = new Promise<void>((resolve) => {
      let settled = false;
      const timeout = setTimeout(() => {
        if (settled) return;
        settled = true;
        this.failedSpans += batch.length;
        diag.warnRateLimited('bsp-export-timeout', `span export timed out after ${this._config.exportTimeoutMillis} ms (OTEL_BSP_EXPORT_TIMEOUT)`);
        resolve();
      }, this._config.exportTimeoutMillis);
      timeout.unref();
      const done = (result: ExportResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timeout);
        if (result.code === ExportResultCode.SUCCESS) this.exportedSpans += batch.length;
        else this.failedSpans += batch.length;
        resolve();
      };
      runSuppressed(() => {
        try {
          this._exporter.export(batch, done);
        } catch (err) {
          diag.errorOnce('bsp-exporter-threw', 'the span exporter threw; the batch is dropped', err);
          done({ code: ExportResultCode.FAILED, error: err as Error });
        }
      });
    });
    const tracked = run.then(() => {
      if (this._exporting === tracked) this._exporting = undefined;
    });
    this._exporting = tracked;
    return tracked;
  }

  /**
   * Resolves once every span queued before the call has been handed to the exporter and its export finished
   * (or timed out). Spans that end during the flush are left for later, so a busy process cannot keep a flush
   * going forever.
   */
  async forceFlush(): Promise<void> {
    let remaining = this._queue.length;
    if (this._timer !== undefined) {
      clearTimeout(this._timer);
      this._timer = undefined;
    }
    while (this._exporting !== undefined) await this._exporting;
    while (remaining > 0) {
      const n = Math.min(remaining, this._config.maxExportBatchSize, this._queue.length);
      if (n === 0) break;
      remaining -= n;
      await this._exportOneBatch(n);
    }
    if (this._queue.length > 0 && this._timer === undefined && this._shutdown === undefined) this._startTimer();
    await this._exporter.forceFlush?.();
  }

  shutdown(): Promise<void> {
    if (this._shutdown === undefined) {
      this._shutdown = (async () => {
        await this.forceFlush();
        // Spans that ended while that flush ran are exported too: after shutdown nothing else will take them.
        while (this._queue.length > 0) await this._exportOneBatch();
        await this._exporter.shutdown();
      })();
    }
    return this._shutdown;
  }

  /**
   * The flush for the end of a process (src/agent/process-lifecycle.ts): retries waiting out a backoff are
   * abandoned, the export under way is awaited, and what is queued goes out through the exporter's exit export
   * (no retries). Everything within `timeoutMillis`; what does not fit stays queued for the final hand-off.
   */
  async flushForExit(timeoutMillis: number): Promise<void> {
    const exporter = this._exporter as ExitCapableExporter;
    const deadline = Date.now() + timeoutMillis;
    try {
      exporter.abortRetries?.();
    } catch (err) {
      diag.debug('abortRetries failed', err);
    }
    if (this._timer !== undefined) {
      clearTimeout(this._timer);
      this._timer = undefined;
    }
    if (this._exporting !== undefined) await withinDeadline(this._exporting, deadline);
    while (this._queue.length > 0 && Date.now() < deadline && this._exporting === undefined) {
      const batch = this._queue.slice(0, this._config.maxExportBatchSize);
      this._queue = this._queue.slice(batch.length);
      const run = runSuppressed(() => {
        if (exporter.exportForExit !== undefined) return exporter.exportForExit(batch, deadline - Date.now());
        return new Promise<ExportResult>((resolve) => exporter.export(batch, resolve));
      }).then(
        (result) => {
          if (result.code === ExportResultCode.SUCCESS) this.exportedSpans += batch.length;
          else this.failedSpans += batch.length;
        },
        () => {
          this.failedSpans += batch.length;
        },
      );
      const tracked: Promise<void> = run.then(() => {
        if (this._exporting === tracked) this._exporting = undefined;
      });
      this._exporting = tracked;
      if (!(await withinDeadline(tracked, deadline))) break;
    }
  }

  /** Removes and returns everything queued (for the synchronous hand-off when the process exits). */
  drainQueue(): ReadableSpan[] {
    const all = this._queue;
    this._queue = [];
    if (this._timer !== undefined) {
      clearTimeout(this._timer);
      this._timer = undefined;
    }
    return all;
  }
}

/** Waits for `promise` until `deadline` (epoch ms). Resolves true when it settled in time. Never rejects. */
function withinDeadline(promise: Promise<unknown>, deadline: number): Promise<boolean> {
  const remaining = deadline - Date.now();
  if (remaining <= 0) return Promise.resolve(false);
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), remaining);
    timer.unref();
    promise.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(true);
      },
    );
  });
}

/** The trace flags, read from the span's own field when it has one (no span-context object made for it). */
function sampledFlags(span: ReadableSpan): number {
  const flags = (span as { traceFlags?: number }).traceFlags;
  return typeof flags === 'number' ? flags : span.spanContext().traceFlags;
}
