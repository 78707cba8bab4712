/**
 * `OTEL_TRACES_EXPORTER=console`: each exported batch printed as readable trace trees on stdout, with colour
 * only when stdout is a terminal.
 */
import type { ReadableSpan } from '../trace/span';
import { toEpochMillis } from '../trace/time';
import { renderTraces, type RenderSpan } from '../render/trace-tree';
import { ExportResultCode, type ExitCapableExporter, type ExportResult } from './types';

export function toRenderSpan(span: ReadableSpan): RenderSpan {
  const sc = span.spanContext();
  const service = span.resource.attributes['service.name'];
  return {
    traceId: sc.traceId,
    spanId: sc.spanId,
    parentSpanId: span.parentSpanId,
    name: span.name,
    kind: span.kind,
    start: toEpochMillis(span.startTime),
    duration: span.endTime - span.startTime,
    statusCode: span.status.code,
    statusMessage: span.status.message,
    attributes: span.attributes,
    service: typeof service === 'string' ? service : undefined,
  };
}

export class ConsoleSpanExporter implements ExitCapableExporter {
  constructor(
    private readonly _write: (text: string) => void = (text) => process.stdout.write(text),
    private readonly _color: boolean = process.stdout.isTTY === true,
  ) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    resultCallback(this.exportSync(spans));
  }

  /** Writing to stdout is synchronous for files, pipes and terminals on Linux, so this is safe at exit. */
  exportSync(spans: ReadableSpan[]): ExportResult {
    try {
      const text = renderTraces(spans.map(toRenderSpan), { color: this._color, barWidth: 0, showService: true });
      this._write(text + '\n\n');
      return { code: ExportResultCode.SUCCESS };
    } catch (err) {
      return { code: ExportResultCode.FAILED, error: err as Error };
    }
  }

  exportForExit(spans: ReadableSpan[]): Promise<ExportResult> {
    return Promise.resolve(this.exportSync(spans));
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
