import type { ReadableSpan } from '../trace/span';

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
}
