/**
 * An exporter that builds the real one on first use. The agent's startup then loads no exporter code at all
 * (the OTLP exporter with its encoders and transports is several milliseconds of module loading); the first
 * export, seconds later and off the request path, pays for it instead.
 */
import type { ReadableSpan } from '../trace/span';
import type { EncodedSpanBatch } from './otlp/trace-protobuf-encoder';
import { ExportResultCode, type ExitCapableExporter, type ExportResult } from './types';

export class LazyExporter implements ExitCapableExporter {
  private _real: ExitCapableExporter | undefined;
  private _failed: Error | undefined;

  constructor(private readonly _create: () => ExitCapableExporter) {}

  /** The real exporter, built now if it was not yet; undefined if building it failed. */
  get real(): ExitCapableExporter | undefined {
    if (this._real === undefined && this._failed === undefined) {
      try {
        this._real = this._create();
      } catch (err) {
        this._failed = err instanceof Error ? err : new Error(String(err));
      }
    }
    return this._real;
  }

  private _failure(): ExportResult {
    return { code: ExportResultCode.FAILED, error: this._failed };
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    const real = this.real;
    if (real === undefined) resultCallback(this._failure());
    else real.export(spans, resultCallback);
  }

  exportForExit(spans: ReadableSpan[], timeoutMillis: number): Promise<ExportResult> {
    const real = this.real;
    if (real === undefined) return Promise.resolve(this._failure());
    if (real.exportForExit !== undefined) return real.exportForExit(spans, timeoutMillis);
    return new Promise((resolve) => real.export(spans, resolve));
  }

  exportSync(spans: ReadableSpan[], timeoutMillis: number): ExportResult {
    const real = this.real;
    if (real === undefined) return this._failure();
    if (real.exportSync === undefined) return { code: ExportResultCode.FAILED, error: new Error('no synchronous export') };
    return real.exportSync(spans, timeoutMillis);
  }

  /** Builds the real exporter (the batch processor asks off the request path, as for warmUp). */
  newEncodedBatch(): EncodedSpanBatch | undefined {
    try {
      return this.real?.newEncodedBatch?.();
    } catch {
      return undefined;
    }
  }

  exportEncoded(batches: EncodedSpanBatch[], resultCallback: (result: ExportResult) => void): void {
    const real = this.real;
    if (real?.exportEncoded === undefined) resultCallback(this._unsupported());
    else real.exportEncoded(batches, resultCallback);
  }

  exportEncodedForExit(batches: EncodedSpanBatch[], timeoutMillis: number): Promise<ExportResult> {
    const real = this.real;
    if (real?.exportEncodedForExit === undefined) return Promise.resolve(this._unsupported());
    return real.exportEncodedForExit(batches, timeoutMillis);
  }

  exportEncodedSync(batches: EncodedSpanBatch[], timeoutMillis: number): ExportResult {
    const real = this.real;
    if (real?.exportEncodedSync === undefined) return this._unsupported();
    return real.exportEncodedSync(batches, timeoutMillis);
  }

  /** Only reached if a batch came from an exporter other than the real one, which the processor never does. */
  private _unsupported(): ExportResult {
    return this._failed !== undefined ? this._failure() : { code: ExportResultCode.FAILED, error: new Error('no export of encoded spans') };
  }

  warmUp(): void {
    try {
      this.real?.warmUp?.();
    } catch {
      // the first export will try again and report what failed
    }
  }

  abortRetries(): void {
    this._real?.abortRetries?.();
  }

  forceFlush(): Promise<void> {
    return this._real?.forceFlush?.() ?? Promise.resolve();
  }

  shutdown(): Promise<void> {
    return this._real?.shutdown() ?? Promise.resolve();
  }
}
