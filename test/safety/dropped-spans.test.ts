/**
 * Dropped spans are counted and reported at most once a minute, with the count. In process, against the real
 * batch processor and tracer, with an exporter that never answers (a collector that hangs) and the logger's
 * clock moved by hand: a flood of spans gives one warning, more within the minute give none, and the first after
 * the minute gives the running count and how many warnings were held back. (The child-process side of this —
 * one line for 300,000 spans — is in soak.test.ts.)
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { diag, LogLevel } from '../../src/diag/logger';
import type { ExportResult, SpanExporter } from '../../src/exporters/types';
import { BatchSpanProcessor } from '../../src/processors/batch-span-processor';
import { TracerProvider } from '../../src/trace/tracer';

let lines: string[];
let now: number;

beforeEach(() => {
  lines = [];
  now = 1_000_000;
  diag.reset();
  diag.level = LogLevel.WARN;
  diag.now = () => now;
  diag.setSink((line) => lines.push(line));
});

afterEach(() => {
  diag.setSink(undefined);
  diag.now = Date.now;
  diag.reset();
});

/** A collector that accepts every batch and never answers. */
const hanging: SpanExporter = {
  export(_spans: unknown[], _done: (result: ExportResult) => void) {},
  shutdown: async () => undefined,
};

describe('spans dropped because the queue is full', () => {
  it('are reported at most once a minute, each time with the running count', async () => {
    const processor = new BatchSpanProcessor(hanging, { maxQueueSize: 10, maxExportBatchSize: 5, scheduleDelayMillis: 60_000, exportTimeoutMillis: 600_000 });
    const tracer = new TracerProvider({ processors: [processor] }).getTracer('flood');
    const flood = (n: number) => {
      for (let i = 0; i < n; i++) tracer.startSpan('s').end();
    };

    flood(1000);
    expect(processor.droppedSpans).toBe(990);
    expect(lines).toEqual(['zerotel warn: span queue full (OTEL_BSP_MAX_QUEUE_SIZE=10): 1 span(s) dropped so far\n']);

    // the exporter takes a batch (and never answers); the queue fills again; still within the minute: silence
    await new Promise((resolve) => setImmediate(resolve));
    now += 30_000;
    flood(500);
    expect(processor.droppedSpans).toBe(990 + 495);
    expect(lines).toHaveLength(1);

    // a minute after the first warning: one more line, with the count so far and the warnings held back
    now += 30_001;
    flood(1);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toBe(
      `zerotel warn: span queue full (OTEL_BSP_MAX_QUEUE_SIZE=10): ${990 + 495 + 1} span(s) dropped so far ` +
        `(${990 + 495 - 1} more like this in the last minute)\n`,
    );
  });
});
