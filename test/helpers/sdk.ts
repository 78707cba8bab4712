import { InMemorySpanExporter } from '../../src/exporters/in-memory-exporter';
import { SimpleSpanProcessor } from '../../src/processors/simple-span-processor';
import { DEFAULT_LIMITS, TracerProvider, type TracerProviderOptions } from '../../src/trace/tracer';

export const DEFAULT_TEST_LIMITS = DEFAULT_LIMITS;

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
