import { InMemorySpanExporter } from '../../src/exporters/in-memory-exporter';
import { SimpleSpanProcessor } from '../../src/processors/simple-span-processor';
import { TracerProvider, type TracerProviderOptions } from '../../src/trace/tracer';
import type { SpanLimits } from '../../src/config';

export const DEFAULT_TEST_LIMITS: SpanLimits = {
  attributeCountLimit: 128,
  attributeValueLengthLimit: Infinity,
  eventCountLimit: 128,
  linkCountLimit: 128,
  attributePerEventCountLimit: 128,
  attributePerLinkCountLimit: 128,
};

/** A provider exporting synchronously-ish into memory, for in-process tests of the SDK. */
export function memoryProvider(options: Omit<TracerProviderOptions, 'processors'> = {}) {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ ...options, processors: [new SimpleSpanProcessor(exporter)] });
  return { provider, exporter, tracer: provider.getTracer('test', '1.0.0') };
}

export async function finished(provider: TracerProvider, exporter: InMemorySpanExporter) {
  await provider.forceFlush();
  return exporter.getFinishedSpans();
}
