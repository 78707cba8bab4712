/**
 * Memory stays bounded while the collector is dead: the batch queue is the bound. A child process under the
 * preload (with --expose-gc) makes 300,000 spans through @opentelemetry/api — bridged to the agent, so each one
 * goes through the agent's processor and exporter — and samples heapUsed after a full GC every 20,000 spans.
 * After the warm-up (the queue filling, code compiled) the heap must stay flat, and the spans that could not be
 * queued are reported in one warning with a count, not one per span or per batch.
 */
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REGISTER, runApp } from '../helpers/child';
import { startCollector, type Collector, type CollectorFault } from './collectors';

const APP = path.join(__dirname, '..', 'fixtures', 'safety', 'soak-app.js');
const SPANS = 300_000;
const SAMPLE_EVERY = 20_000;
/** Samples up to here are warm-up: the queue fills (2048 spans) and the code is compiled. */
const WARM_UP_SPANS = 40_000;
/**
 * Generous: a queue that grew with the spans would add hundreds of megabytes over this run, and a leak of even
 * 12 bytes a span would pass 3 MB; a flat heap moves by tens of kilobytes here.
 */
const MAX_GROWTH_BYTES = 3 * 1024 * 1024;

const collectors: Collector[] = [];
afterAll(async () => {
  for (const c of collectors) await c.close();
});

describe.each(['refused', 'hanging', 'slow'] as CollectorFault[])('against a collector that is %s', (fault) => {
  it(`keeps the heap flat over ${SPANS} spans and reports the drops once`, { timeout: 60_000 }, async () => {
    const collector = await startCollector(fault);
    collectors.push(collector);
    const run = await runApp(APP, {
      nodeArgs: ['--expose-gc', '--require', REGISTER],
      env: {
        SPANS: String(SPANS),
        SAMPLE_EVERY: String(SAMPLE_EVERY),
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: collector.url,
        OTEL_BSP_SCHEDULE_DELAY: '50',
      },
      timeoutMs: 50_000,
    });
    expect(run.code, run.stderr).toBe(0);
    const { spans, samples } = JSON.parse(run.stdout) as { spans: number; samples: Array<{ spans: number; heapUsed: number }> };
    expect(spans).toBeGreaterThanOrEqual(100_000);
    const table = samples.map((s) => `${s.spans}: ${(s.heapUsed / 1e6).toFixed(2)} MB`).join('\n');
    const warm = samples.filter((s) => s.spans >= WARM_UP_SPANS);
    expect(warm.length, table).toBeGreaterThanOrEqual(10);
    const base = warm[0].heapUsed;
    const highest = Math.max(...warm.map((s) => s.heapUsed));
    expect(highest - base, `heap after gc by spans made:\n${table}`).toBeLessThan(MAX_GROWTH_BYTES);
    expect(warm.at(-1)!.heapUsed - base, table).toBeLessThan(MAX_GROWTH_BYTES);

    const lines = run.stderr.split('\n').filter(Boolean);
    for (const line of lines) expect(line).toMatch(/^zerotel warn: /);
    const queueFull = lines.filter((l) => l.includes('span queue full'));
    expect(queueFull, run.stderr).toHaveLength(1);
    expect(queueFull[0]).toMatch(/\b\d+ span\(s\) dropped so far/);
    expect(lines.length).toBeLessThanOrEqual(3);
  });
});
