import type { ReadableSpan } from '../trace/span';
import type { EncodedSpanBatch } from './otlp/trace-protobuf-encoder';

export const ExportResultCode = {
  SUCCESS: 0,
  FAILED: 1,
} as const;
export type ExportResultCode = (typeof ExportResultCode)[keyof typeof ExportResultCode];

export interface ExportResult {
  code: ExportResultCode;
  error?: Error;
}

/** specification/trace/sdk.md#span-exporter. `export` is never called again before its callback ran. */
export interface SpanExporter {
  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void;
  shutdown(): Promise<void>;
  forceFlush?(): Promise<void>;
}

/**
 * What an exporter may offer for the end of a process (see src/agent/process-lifecycle.ts). Both are bounded
 * by `timeoutMillis` and never retry past it.
 */
export interface ExitCapableExporter extends SpanExporter {
  /** An export whose I/O keeps the event loop alive until it is done (used from `beforeExit`). */
  exportForExit?(spans: ReadableSpan[], timeoutMillis: number): Promise<ExportResult>;
  /** A synchronous export (used from `exit`, after which no callback runs). */
  exportSync?(spans: ReadableSpan[], timeoutMillis: number): ExportResult;
  /** Gives up on retries that are waiting out a backoff, so a failing export ends now. */
  abortRetries?(): void;
  /**
   * Builds, ahead of the first export and off the request path, what that export needs (the exporter itself,
   * the gRPC transport's thread), so a short program's end-of-process flush does not pay for it. Never throws.
   */
  warmUp?(): void;
  /**
   * Exporters whose format can be written span by span (OTLP protobuf, over HTTP or gRPC) take spans encoded
   * ahead (see EncodedSpanBatch): the batch processor encodes each span soon after it ends and keeps only bytes.
   * A new, empty batch; undefined when this exporter takes ReadableSpans only. Never throws.
   */
  newEncodedBatch?(): EncodedSpanBatch | undefined;
  /** `export` for batches from newEncodedBatch: they make one request. The exporter releases them. */
  exportEncoded?(batches: EncodedSpanBatch[], resultCallback: (result: ExportResult) => void): void;
  /** `exportForExit` for batches from newEncodedBatch. */
  exportEncodedForExit?(batches: EncodedSpanBatch[], timeoutMillis: number): Promise<ExportResult>;
  /** `exportSync` for batches from newEncodedBatch. */
  exportEncodedSync?(batches: EncodedSpanBatch[], timeoutMillis: number): ExportResult;
}
