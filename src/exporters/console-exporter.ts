/**
 * `OTEL_TRACES_EXPORTER=console`: each exported batch printed as readable trace trees on stdout, with colour
 * only when stdout is a terminal.
 */
import type { ReadableSpan } from '../trace/span';
import { toEpochMillis } from '../trace/time';
import { renderTraces, type RenderSpan } from '../render/trace-tree';
import { ExportResultCode, type ExportResult, type SpanExporter } from './types';

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

export class ConsoleSpanExporter implements SpanExporter {
  constructor(
    private readonly _write: (text: string) => void = (text) => process.stdout.write(text),
    private readonly _color: boolean = process.stdout.isTTY === true,
  ) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    try {
      const text = renderTraces(spans.map(toRenderSpan), { color: this._color, barWidth: 0, showService: true });
      this._write(text + '\n\n');
      resultCallback({ code: ExportResultCode.SUCCESS });
    } catch (err) {
      resultCallback({ code: ExportResultCode.FAILED, error: err as Error });
    }
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
