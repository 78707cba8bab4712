import type { Context } from '../api/types';
import type { ReadableSpan, RecordingSpan } from '../trace/span';
import type { SpanProcessor } from './types';

/** Several processors behind one (for several exporters at once: `OTEL_TRACES_EXPORTER=otlp,console`). */
export class MultiSpanProcessor implements SpanProcessor {
  constructor(readonly processors: SpanProcessor[]) {}

  onStart(span: RecordingSpan, parentContext: Context): void {
    for (let i = 0; i < this.processors.length; i++) this.processors[i].onStart(span, parentContext);
  }

  onEnd(span: ReadableSpan): void {
    for (let i = 0; i < this.processors.length; i++) this.processors[i].onEnd(span);
  }

  async forceFlush(): Promise<void> {
    await Promise.all(this.processors.map((p) => p.forceFlush()));
  }

  async shutdown(): Promise<void> {
    await Promise.all(this.processors.map((p) => p.shutdown()));
  }
}

export const NOOP_PROCESSOR: SpanProcessor = {
  onStart() {},
  onEnd() {},
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};
