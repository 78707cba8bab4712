import { afterEach, describe, expect, it, vi } from 'vitest';
import { diag } from '../../src/diag/logger';
import { ExportResultCode, type ExportResult, type SpanExporter } from '../../src/exporters/types';
import { BatchSpanProcessor } from '../../src/processors/batch-span-processor';
import type { ReadableSpan } from '../../src/trace/span';
import { TracerProvider } from '../../src/trace/tracer';
import { AlwaysOffSampler } from '../../src/trace/samplers';
import { contextManager } from '../../src/context/global';
import { isTracingSuppressed } from '../../src/context/context';
import { runApp } from '../helpers/child';

/** An exporter whose exports finish only when the test says so. */
class ControlledExporter implements SpanExporter {
  batches: string[][] = [];
  pending: Array<(r: ExportResult) => void> = [];
  concurrent = 0;
  maxConcurrent = 0;
  suppressedSeen: boolean[] = [];
  auto = false;
  shutdownCalled = false;
  export(spans: ReadableSpan[], cb: (r: ExportResult) => void): void {
    this.batches.push(spans.map((s) => s.name));
    this.suppressedSeen.push(isTracingSuppressed(contextManager.active()));
    this.concurrent++;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.concurrent);
    const done = (r: ExportResult) => {
      this.concurrent--;
      cb(r);
    };
    if (this.auto) setImmediate(done, { code: ExportResultCode.SUCCESS });
    else this.pending.push(done);
  }
  finishOne(code: 0 | 1 = ExportResultCode.SUCCESS) {
    this.pending.shift()?.({ code });
  }
  shutdown() {
    this.shutdownCalled = true;
    return Promise.resolve();
  }
}

function setup(config: Partial<ConstructorParameters<typeof BatchSpanProcessor>[1]> = {}) {
  const exporter = new ControlledExporter();
  const bsp = new BatchSpanProcessor(exporter, {
    scheduleDelayMillis: 5000,
    maxQueueSize: 2048,
    maxExportBatchSize: 512,
    exportTimeoutMillis: 30000,
    ...config,
  });
  const provider = new TracerProvider({ processors: [bsp] });
  const tracer = provider.getTracer('bsp-test');
  const end = (name: string) => tracer.startSpan(name).end();
  return { exporter, bsp, provider, end };
}

const tick = () => new Promise((r) => setImmediate(r));

afterEach(() => {
  vi.useRealTimers();
  diag.setSink(undefined);
  diag.reset();
});

describe('BatchSpanProcessor', () => {
  it('exports a full batch on the next turn of the loop, not inside end()', async () => {
    const { exporter, end } = setup({ maxExportBatchSize: 3 });
    end('a');
    end('b');
    end('c');
    expect(exporter.batches).toHaveLength(0);
    await tick();
    expect(exporter.batches).toEqual([['a', 'b', 'c']]);
    expect(exporter.suppressedSeen).toEqual([true]);
  });

  it('exports a partial batch after the schedule delay', async () => {
    vi.useFakeTimers();
    const { exporter, end } = setup({ scheduleDelayMillis: 100 });
    end('a');
    vi.advanceTimersByTime(99);
    expect(exporter.batches).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(exporter.batches).toEqual([['a']]);
  });

  it('never runs two exports at once', async () => {
    const { exporter, end } = setup({ maxExportBatchSize: 2 });
    for (let i = 0; i < 6; i++) end(`s${i}`);
    await tick();
    expect(exporter.batches).toHaveLength(1);
    exporter.finishOne();
    await tick();
    await tick();
    expect(exporter.batches).toHaveLength(2);
    exporter.finishOne();
    await tick();
    await tick();
    exporter.finishOne();
    await tick();
    expect(exporter.batches).toEqual([['s0', 's1'], ['s2', 's3'], ['s4', 's5']]);
    expect(exporter.maxConcurrent).toBe(1);
  });

  it('drops the newest spans when the queue is full, counts them, and warns at most once a minute', async () => {
    const lines: string[] = [];
    diag.setSink((l) => lines.push(l));
    const { exporter, bsp, end } = setup({ maxQueueSize: 4, maxExportBatchSize: 4 });
    for (let i = 0; i < 4; i++) end(`kept${i}`);
    await tick(); // the first batch goes out and stays pending: the queue refills
    for (let i = 0; i < 4; i++) end(`queued${i}`);
    for (let i = 0; i < 5; i++) end(`dropped${i}`);
    expect(bsp.droppedSpans).toBe(5);
    expect(bsp.queueLength).toBe(4);
    expect(lines.filter((l) => l.includes('span queue full'))).toHaveLength(1);
    exporter.auto = true;
    exporter.finishOne();
    await bsp.forceFlush();
    expect(exporter.batches.flat()).toEqual(['kept0', 'kept1', 'kept2', 'kept3', 'queued0', 'queued1', 'queued2', 'queued3']);
  });

  it('forceFlush resolves after everything queued before it was exported, in order', async () => {
    const { exporter, bsp, end } = setup({ maxExportBatchSize: 2 });
    exporter.auto = true;
    for (let i = 0; i < 5; i++) end(`s${i}`);
    await bsp.forceFlush();
    expect(exporter.batches.flat()).toEqual(['s0', 's1', 's2', 's3', 's4']);
    expect(bsp.queueLength).toBe(0);
    expect(bsp.exportedSpans).toBe(5);
  });

  it('shutdown flushes everything, shuts the exporter down, and takes no more spans', async () => {
    const { exporter, bsp, end, provider } = setup();
    exporter.auto = true;
    end('before');
    await provider.shutdown();
    expect(exporter.batches.flat()).toEqual(['before']);
    expect(exporter.shutdownCalled).toBe(true);
    bsp.onEnd({ spanContext: () => ({ traceFlags: 1 }) } as any);
    expect(bsp.queueLength).toBe(0);
  });

  it('gives up on an export that exceeds the export timeout and goes on', async () => {
    const { exporter, bsp, end } = setup({ exportTimeoutMillis: 20, maxExportBatchSize: 1 });
    end('stuck');
    end('next');
    const started = Date.now();
    await bsp.forceFlush();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(bsp.failedSpans).toBeGreaterThanOrEqual(1);
    expect(exporter.batches[0]).toEqual(['stuck']);
  });

  it('survives an exporter that throws', async () => {
    const exporter: SpanExporter = {
      export() {
        throw new Error('exporter bug');
      },
      shutdown: () => Promise.resolve(),
    };
    const lines: string[] = [];
    diag.setSink((l) => lines.push(l));
    const bsp = new BatchSpanProcessor(exporter, { scheduleDelayMillis: 10, maxQueueSize: 10, maxExportBatchSize: 10, exportTimeoutMillis: 100 });
    const provider = new TracerProvider({ processors: [bsp] });
    provider.getTracer('t').startSpan('x').end();
    await bsp.forceFlush();
    expect(bsp.failedSpans).toBe(1);
    expect(lines.some((l) => l.includes('exporter threw'))).toBe(true);
  });

  it('ignores spans that are not sampled', async () => {
    const exporter = new ControlledExporter();
    const bsp = new BatchSpanProcessor(exporter, { scheduleDelayMillis: 10, maxQueueSize: 10, maxExportBatchSize: 10, exportTimeoutMillis: 100 });
    const provider = new TracerProvider({ processors: [bsp], sampler: new AlwaysOffSampler() });
    provider.getTracer('t').startSpan('x').end();
    expect(bsp.queueLength).toBe(0);
  });

  it('adds no timer or immediate that keeps the process alive when a span is queued, though its timer runs', async () => {
    // getActiveResourcesInfo() lists the timers and immediates that keep the event loop alive: unref'd ones are
    // not among them.
    const refd = () => {
      const info = process.getActiveResourcesInfo();
      return { timeouts: info.filter((r) => r === 'Timeout').length, immediates: info.filter((r) => r === 'Immediate').length };
    };
    const { exporter, bsp, end } = setup({ scheduleDelayMillis: 50 });
    const before = refd();
    end('a');
    expect(refd()).toEqual(before);
    expect(bsp.queueLength).toBe(1);
    // The schedule timer is there all the same: the span goes out when it fires.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(exporter.batches).toEqual([['a']]);
  });

  it('lets a process end with its own exit code while a span waits for a minute-long schedule delay', async () => {
    // The processor as the agent builds it from the environment (OTEL_BSP_SCHEDULE_DELAY=60000), in a process of
    // its own: ref'd, its timer would keep that process alive for the minute, and runApp would kill it.
    const program = `
      const { readConfig } = require('./dist/src/config');
      const { BatchSpanProcessor } = require('./dist/src/processors/batch-span-processor');
      const { TracerProvider } = require('./dist/src/trace/tracer');
      const exporter = { export(spans, done) { console.log('exported ' + spans.length); done({ code: 0 }); }, shutdown: async () => {} };
      const bsp = new BatchSpanProcessor(exporter, readConfig(process.env).config.batch);
      new TracerProvider({ processors: [bsp] }).getTracer('t').startSpan('waiting').end();
      console.log('queued ' + bsp.queueLength);
      process.exitCode = 7;
    `;
    // runApp puts nodeArgs before its script: with ['-e'] the script is the program's source.
    const r = await runApp(program, { nodeArgs: ['-e'], env: { OTEL_BSP_SCHEDULE_DELAY: '60000' }, timeoutMs: 15_000 });
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.code).toBe(7);
    // It ended before the minute was up: the span was still waiting, never exported.
    expect(r.stdout).toBe('queued 1\n');
    expect(r.elapsedMs).toBeLessThan(10_000);
  });
});
