/**
 * The batching processor (specification/trace/sdk.md#batching-processor).
 *
 * - A bounded queue: when it is full the newest span is dropped and counted (memory stays bounded whatever the
 *   exporter does), and a warning with the count is written at most once a minute.
 * - A batch is exported when `maxExportBatchSize` spans are waiting, or `scheduleDelayMillis` after the first
 *   span was queued; never two exports at once; each export bounded by `exportTimeoutMillis`.
 * - Export work (encoding, I/O) is never done on the path of a request: the export is scheduled, and so is the
 *   encoding, but for the one case below that comes after the request's response is out.
 * - With an exporter that takes spans encoded ahead (OTLP protobuf, HTTP or gRPC: ExitCapableExporter's
 *   newEncodedBatch), ended spans are encoded well before their batch is exported and only their bytes are kept:
 *   span objects held for the tens of milliseconds a batch takes to fill survived young-generation collections and
 *   made V8 grow its young space (measured on the node:http benchmark, 6 s of load: peak RSS 90 MB → 74 MB, 64 MB
 *   without the agent; CPU a request within noise). The spans waiting are encoded when a SERVER span ends with
 *   SERVER_END_ENCODE_SPANS or more of them waiting — it ends once its response has been handed to the operating
 *   system, so no request waits on it, and the spans of its request have ended by then too — and otherwise at the
 *   end of the turn of the event loop in which ENCODE_AHEAD_SPANS of them are waiting (an unref'd immediate).
 *   Encoded only at the end of the turn, the spans of the requests served during that turn were alive at any
 *   young-generation collection within it: on Node.js 24, whose young generation grows further than Node 20's,
 *   that was 27 KB surviving each collection on the node:http benchmark (2 KB without the agent) and tens of
 *   megabytes of young generation after a minute of load.
 *   Other exporters get the spans themselves, as the specification describes.
 * - Timers are unref'd: they never keep a process alive.
 * - Exports run with tracing suppressed, so the exporter's own requests are never traced.
 */
import type { BatchConfig } from '../config';
import { diag } from '../diag/logger';
import type { ExitCapableExporter, ExportResult, SpanExporter } from '../exporters/types';
import { ExportResultCode } from '../exporters/types';
import { traceFlagsOf, type ReadableSpan } from '../trace/span';
import { AddResult, type EncodedSpanBatch } from '../exporters/otlp/trace-protobuf-encoder';
import type { SpanProcessor } from './types';
import { runSuppressed } from '../context/suppressed';
import { SpanKind } from '../api/types';

/**
 * Spans that wait as objects before an encode pass turns them into bytes. Encoding spans as they end keeps span
 * objects from surviving young-generation collections (see EncodedSpanBatch), but a pass per turn of the event
 * loop costs an immediate per turn: under load that was one or two requests' spans a pass. A few dozen spans
 * live a few milliseconds under load, less than the time between collections.
 */
const ENCODE_AHEAD_SPANS = 32;

/**
 * Spans that must be waiting for a server span's end to encode them. Encoding at every server span's end (one
 * or two requests' spans a pass) kept the fewest spans alive, but brought the encoder's code and data into the
 * caches on every request, and the application's code out: callgrind's cache simulation on the express `hello`
 * benchmark (Node 20, two runs each) counted ~500 more L1 instruction misses, ~400 more L1 data misses and ~450
 * more mispredicted branches a request than with a pass every 16 spans, a sixth to a quarter of all the agent
 * adds there. Every 16 spans still keeps what survives a young-generation collection near the floor (Node 24,
 * node:http: 9.6 KB a collection against 6.3 at every request, 27.4 encoding only at the end of a turn).
 */
export const SERVER_END_ENCODE_SPANS = 16;

/** SpanKind.SERVER (specification/trace/api.md#spankind), as the number the spans carry. */
const SERVER_KIND = SpanKind.SERVER;

export class BatchSpanProcessor implements SpanProcessor {
  private readonly _config: BatchConfig;
  /** Spans not encoded (all of them, unless spans are encoded ahead: then fewer than ENCODE_AHEAD_SPANS, or those of this turn). */
  private _queue: ReadableSpan[] = [];
  /** Spans encoded ahead, in batches of at most maxExportBatchSize; the last may still be filling. */
  private _batches: EncodedSpanBatch[] = [];
  private _encodedCount = 0;
  private _mode = Mode.Undecided;
  private _encodeScheduled = false;
  private _timer: NodeJS.Timeout | undefined;
  private _exporting: Promise<unknown> | undefined;
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

  /** Spans waiting for export, encoded or not. */
  get queueLength(): number {
    return this._queue.length + this._encodedCount;
  }

  get isExporting(): boolean {
    return this._exporting !== undefined;
  }

  onStart(): void {}

  /** Made once: with the collector down every span is dropped here, and the line is written once a minute. */
  private readonly _queueFullMessage = (): string =>
    `span queue full (OTEL_BSP_MAX_QUEUE_SIZE=${this._config.maxQueueSize}): ${this.droppedSpans} span(s) dropped so far`;

  onEnd(span: ReadableSpan): void {
    if (this._shutdown !== undefined || (traceFlagsOf(span) & 1) === 0) return;
    const queue = this._queue;
    const queued = queue.length + this._encodedCount;
    if (queued >= this._config.maxQueueSize) {
      this.droppedSpans++;
      diag.warnRateLimited('bsp-queue-full', this._queueFullMessage);
      return;
    }
    queue.push(span);
    // A server span's response is out: the spans waiting, its request's among them, are encoded now once there
    // are enough of them for a pass (see the top and SERVER_END_ENCODE_SPANS). Anything else is
    // scheduled, in the agent's own context, not the ending span's: a timer or an immediate keeps the async context
    // it was made in until it runs, and what it starts (the export, its timeouts, the exporter's sockets and their
    // callbacks) takes that context on. Made here, they kept the span that happened to end first, its request's
    // context and what that holds alive for the schedule delay, and an exporter's keep-alive connection for longer.
    if (span.kind === SERVER_KIND && this._mode === Mode.Encoded && queue.length >= SERVER_END_ENCODE_SPANS) this._encodeNow();
    else if (queue.length >= ENCODE_AHEAD_SPANS && this._mode !== Mode.Spans && !this._encodeScheduled) runSuppressed(this._scheduleEncodeFromEnd);
    if (queued + 1 >= this._config.maxExportBatchSize) runSuppressed(this._scheduleExportNowFromEnd);
    else if (this._timer === undefined && this._exporting === undefined) runSuppressed(this._startTimerFromEnd);
  }

  /** Encodes the spans waiting, whoever calls: a server span's end, the encode pass, the warm-up. Never throws. */
  private _encodeNow(): void {
    try {
      this._encodePending();
    } catch (err) {
      // Nothing in it should throw; if something does, the spans wait for the next export, as spans.
      diag.errorOnce('bsp-encode-pass', 'encoding ended spans ahead of their export failed', err);
    }
  }

  /** What onEnd schedules, made once each (runSuppressed takes a function; none is made per span). */
  private readonly _scheduleEncodeFromEnd = (): void => this._scheduleEncode();
  private readonly _scheduleExportNowFromEnd = (): void => this._scheduleExportNow();
  private readonly _startTimerFromEnd = (): void => this._startTimer();

  /**
   * Encodes the spans waiting as objects, at the end of this turn of the event loop (not inside the caller's
   * end()). Called once ENCODE_AHEAD_SPANS of them wait; fewer are encoded when their batch is exported.
   */
  private _scheduleEncode(): void {
    this._encodeScheduled = true;
    setImmediate(this._encodePass).unref();
  }

  /** The encode pass, made once (an immediate per pass needs no closure of its own). */
  private readonly _encodePass = (): void => {
    this._encodeScheduled = false;
    this._encodeNow();
  };

  /**
   * Moves the spans not yet encoded into encoded batches, when the exporter takes them (decided at the first
   * call: asking builds the exporter). A span that cannot be encoded is dropped and counted. Never throws.
   */
  private _encodePending(): void {
    const queue = this._queue;
    if (queue.length === 0) return;
    if (this._mode === Mode.Undecided) this._decideMode();
    if (this._mode !== Mode.Encoded) return;
    const max = this._config.maxExportBatchSize;
    const batches = this._batches;
    let batch = batches.length > 0 ? batches[batches.length - 1] : undefined;
    let i = 0;
    for (; i < queue.length; i++) {
      if (batch === undefined || batch.count >= max) {
        batch = this._newBatch();
        if (batch === undefined) break;
      }
      let result = batch.add(queue[i]);
      if (result === AddResult.Full) {
        batch = this._newBatch();
        if (batch === undefined) break;
        result = batch.add(queue[i]);
      }
      if (result === AddResult.Added) this._encodedCount++;
      else {
        this.failedSpans++;
        diag.warnRateLimited('bsp-encode', `a span could not be encoded for export, or is over the request size limit; ${this.failedSpans} span(s) not exported so far`);
      }
    }
    if (i === queue.length) queue.length = 0;
    else queue.splice(0, i); // the exporter stopped taking encoded spans: the rest stay spans
  }

  private _decideMode(): void {
    const exporter = this._exporter as ExitCapableExporter;
    let first: EncodedSpanBatch | undefined;
    if (
      typeof exporter.newEncodedBatch === 'function' &&
      typeof exporter.exportEncoded === 'function' &&
      typeof exporter.exportEncodedForExit === 'function'
    ) {
      try {
        // Asking may build the exporter, which loads modules: nothing it does is traced.
        first = runSuppressed(() => exporter.newEncodedBatch!());
      } catch (err) {
        diag.debug('the exporter cannot take encoded spans', err);
      }
    }
    if (first === undefined) {
      this._mode = Mode.Spans;
      return;
    }
    this._mode = Mode.Encoded;
    this._batches.push(first);
  }

  private _newBatch(): EncodedSpanBatch | undefined {
    let batch: EncodedSpanBatch | undefined;
    try {
      batch = (this._exporter as ExitCapableExporter).newEncodedBatch?.();
    } catch (err) {
      diag.debug('the exporter cannot take encoded spans', err);
    }
    if (batch === undefined) this._mode = Mode.Spans;
    else this._batches.push(batch);
    return batch;
  }

  /**
   * Takes what one export sends from the head of the queue: an encoded batch, or up to `limit` spans. Spans that
   * still wait as objects are encoded first, so that an export on a timer or a flush includes them.
   */
  private _take(limit: number): Taken {
    this._encodePending();
    // A batch can be empty (every span in it failed to encode): it is not sent, and keeps filling.
    if (this._batches.length > 0 && this._batches[0].count > 0) {
      const batch = this._batches.shift()!;
      this._encodedCount -= batch.count;
      return { spans: undefined, batch, count: batch.count };
    }
    const queue = this._queue;
    const spans = queue.length <= limit ? queue : queue.slice(0, limit);
    this._queue = queue.length <= limit ? [] : queue.slice(limit);
    return { spans, batch: undefined, count: spans.length };
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
    setImmediate(() => {
      // The first spans are encoded here, which decides whether the exporter takes encoded spans (deciding builds
      // the exporter, so onEnd leaves it to this immediate): from then on a server span's end encodes its request's.
      this._encodeNow();
      if (exporter.warmUp === undefined) return;
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
    if (this._exporting !== undefined || this.queueLength === 0) return;
    if (this._timer !== undefined) {
      clearTimeout(this._timer);
      this._timer = undefined;
    }
    this._exportOneBatch().then(() => {
      const queued = this.queueLength;
      if (queued >= this._config.maxExportBatchSize) this._exportLoop();
      else if (queued > 0 && this._timer === undefined) this._startTimer();
    });
  }

  /**
   * Takes up to one batch from the head of the queue and exports it. Resolves to the number of spans taken when
   * done; never rejects.
   */
  private _exportOneBatch(limit = this._config.maxExportBatchSize): Promise<number> {
    const taken = this._take(limit);
    const count = taken.count;
    const run = new Promise<void>((resolve) => {
      let settled = false;
      const timeout = setTimeout(() => {
        if (settled) return;
        settled = true;
        this.failedSpans += count;
        diag.warnRateLimited('bsp-export-timeout', `span export timed out after ${this._config.exportTimeoutMillis} ms (OTEL_BSP_EXPORT_TIMEOUT)`);
        resolve();
      }, this._config.exportTimeoutMillis);
      timeout.unref();
      const done = (result: ExportResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timeout);
        if (result.code === ExportResultCode.SUCCESS) this.exportedSpans += count;
        else this.failedSpans += count;
        resolve();
      };
      runSuppressed(() => {
        try {
          if (taken.batch !== undefined) (this._exporter as ExitCapableExporter).exportEncoded!([taken.batch], done);
          else this._exporter.export(taken.spans!, done);
        } catch (err) {
          diag.errorOnce('bsp-exporter-threw', 'the span exporter threw; the batch is dropped', err);
          done({ code: ExportResultCode.FAILED, error: err as Error });
        }
      });
    });
    const tracked = run.then(() => {
      if (this._exporting === tracked) this._exporting = undefined;
      return count;
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
    let remaining = this.queueLength;
    if (this._timer !== undefined) {
      clearTimeout(this._timer);
      this._timer = undefined;
    }
    while (this._exporting !== undefined) await this._exporting;
    while (remaining > 0) {
      const n = Math.min(remaining, this._config.maxExportBatchSize, this.queueLength);
      if (n === 0) break;
      // An encoded batch is taken whole: it may hold spans that ended during the flush, which go out with it.
      const taken = await this._exportOneBatch(n);
      if (taken === 0) break;
      remaining -= taken;
    }
    if (this.queueLength > 0 && this._timer === undefined && this._shutdown === undefined) this._startTimer();
    await this._exporter.forceFlush?.();
  }

  shutdown(): Promise<void> {
    if (this._shutdown === undefined) {
      this._shutdown = (async () => {
        await this.forceFlush();
        // Spans that ended while that flush ran are exported too: after shutdown nothing else will take them.
        while (this.queueLength > 0) if ((await this._exportOneBatch()) === 0) break;
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
    while (this.queueLength > 0 && Date.now() < deadline && this._exporting === undefined) {
      const taken = this._take(this._config.maxExportBatchSize);
      const count = taken.count;
      if (count === 0) break;
      const run = runSuppressed(() => {
        if (taken.batch !== undefined) return exporter.exportEncodedForExit!([taken.batch], deadline - Date.now());
        const spans = taken.spans!;
        if (exporter.exportForExit !== undefined) return exporter.exportForExit(spans, deadline - Date.now());
        return new Promise<ExportResult>((resolve) => exporter.export(spans, resolve));
      }).then(
        (result) => {
          if (result.code === ExportResultCode.SUCCESS) this.exportedSpans += count;
          else this.failedSpans += count;
        },
        () => {
          this.failedSpans += count;
        },
      );
      const tracked: Promise<void> = run.then(() => {
        if (this._exporting === tracked) this._exporting = undefined;
      });
      this._exporting = tracked;
      if (!(await withinDeadline(tracked, deadline))) break;
    }
  }

  /**
   * Removes and returns everything queued, for the synchronous hand-off when the process exits: the encoded
   * batches (spans that ended since the last turn are encoded now), and the spans, when the exporter takes those.
   */
  drainQueue(): { spans: ReadableSpan[]; batches: EncodedSpanBatch[] } {
    this._encodePending();
    const spans = this._queue;
    const batches = this._batches.filter(nonEmpty);
    this._queue = [];
    this._batches = [];
    this._encodedCount = 0;
    if (this._timer !== undefined) {
      clearTimeout(this._timer);
      this._timer = undefined;
    }
    return { spans, batches };
  }
}

function nonEmpty(batch: EncodedSpanBatch): boolean {
  return batch.count > 0;
}

/** Whether the exporter gets spans encoded ahead (decided when the first span is queued: see _warmUp). */
const enum Mode {
  Undecided,
  Spans,
  Encoded,
}

/** What one export sends: an encoded batch, or spans. */
interface Taken {
  spans: ReadableSpan[] | undefined;
  batch: EncodedSpanBatch | undefined;
  count: number;
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
