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
