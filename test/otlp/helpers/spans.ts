/** Spans made by the real SDK: a TracerProvider with a SimpleSpanProcessor feeding an InMemorySpanExporter. */
import { InMemorySpanExporter } from '../../../src/exporters/in-memory-exporter';
import { SimpleSpanProcessor } from '../../../src/processors/simple-span-processor';
import { Resource } from '../../../src/resource/resource';
import type { Attributes } from '../../../src/api/types';
import type { SpanLimits } from '../../../src/config';
import { TracerProvider } from '../../../src/trace/tracer';
import type { ReadableSpan } from '../../../src/trace/span';

export function makeProvider(options: { resource?: Resource; limits?: SpanLimits } = {}): {
  provider: TracerProvider;
  memory: InMemorySpanExporter;
  finished(): Promise<ReadableSpan[]>;
} {
  const memory = new InMemorySpanExporter();
  const provider = new TracerProvider({ processors: [new SimpleSpanProcessor(memory)], ...options });
  return {
    provider,
    memory,
    async finished() {
      await provider.forceFlush();
      return memory.getFinishedSpans();
    },
  };
}

/** A batch of simple spans: one root with `count - 1` children. */
export async function simpleBatch(count: number, attributes: Attributes = { 'http.request.method': 'GET' }): Promise<ReadableSpan[]> {
  const { provider, finished } = makeProvider({ resource: new Resource({ 'service.name': 'otlp-test' }) });
  const tracer = provider.getTracer('test', '1.0.0');
  for (let i = 0; i < count; i++) tracer.startSpan(`span ${i}`, { kind: 1, attributes }).end();
  return finished();
}
