import type { SpanExporter } from '../exporters/types';
import { ExportResultCode } from '../exporters/types';
import { diag } from '../diag/logger';
import { traceFlagsOf, type ReadableSpan } from '../trace/span';
import type { SpanProcessor } from './types';
import { runSuppressed } from '../context/suppressed';

/**
 * Hands each sampled span to the exporter as it ends (sdk.md#simple-processor). Exports are serialised, as the
 * exporter contract asks: a span that ends while an export runs waits its turn.
 */
export class SimpleSpanProcessor implements SpanProcessor {
  private _pending: ReadableSpan[] = [];
  private _exporting = false;
  private _idle: Array<() => void> = [];
  private _shutdown = false;

  constructor(private readonly _exporter: SpanExporter) {}

  onStart(): void {}

  onEnd(span: ReadableSpan): void {
    if (this._shutdown || (traceFlagsOf(span) & 1) === 0) return;
    this._pending.push(span);
    if (!this._exporting) this._next();
  }

  private _next(): void {
    const span = this._pending.shift();
    if (span === undefined) {
      this._exporting = false;
      const idle = this._idle;
      this._idle = [];
      for (const resolve of idle) resolve();
      return;
    }
    this._exporting = true;
    runSuppressed(() => {
      try {
        this._exporter.export([span], (result) => {
          if (result.code !== ExportResultCode.SUCCESS) diag.warnRateLimited('simple-export', 'span export failed', result.error?.message ?? '');
          this._next();
        });
      } catch (err) {
        diag.errorOnce('simple-export-threw', 'the span exporter threw', err);
        this._next();
      }
    });
  }

  forceFlush(): Promise<void> {
    if (!this._exporting) return this._exporter.forceFlush?.() ?? Promise.resolve();
    return new Promise<void>((resolve) => this._idle.push(resolve)).then(() => this._exporter.forceFlush?.());
  }

  async shutdown(): Promise<void> {
    if (this._shutdown) return;
    await this.forceFlush();
    this._shutdown = true;
    await this._exporter.shutdown();
  }
}
