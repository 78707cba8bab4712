import type { ReadableSpan } from '../trace/span';
import { ExportResultCode, type ExportResult, type SpanExporter } from './types';

/** Keeps exported spans in memory: for tests, and for programs that inspect their own traces. */
export class InMemorySpanExporter implements SpanExporter {
  private _spans: ReadableSpan[] = [];
  private _stopped = false;
  /** How many times export() was called. */
  exportCalls = 0;

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.exportCalls++;
    if (this._stopped) {
      resultCallback({ code: ExportResultCode.FAILED, error: new Error('exporter is shut down') });
      return;
    }
    for (const s of spans) this._spans.push(s);
    setImmediate(resultCallback, { code: ExportResultCode.SUCCESS });
  }

  getFinishedSpans(): ReadableSpan[] {
    return this._spans.slice();
  }

  reset(): void {
    this._spans = [];
  }

  shutdown(): Promise<void> {
    this._stopped = true;
    return Promise.resolve();
  }
}
