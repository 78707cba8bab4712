import type { OtlpConfig } from '../../../src/config';
import { diag } from '../../../src/diag/logger';
import type { ExportResult } from '../../../src/exporters/types';
import type { OtlpTraceExporter } from '../../../src/exporters/otlp';
import type { ReadableSpan } from '../../../src/trace/span';

export function otlpConfig(overrides: Partial<OtlpConfig>): OtlpConfig {
  return {
    protocol: 'http/protobuf',
    endpoint: 'http://127.0.0.1:4318/v1/traces',
    headers: {},
    timeoutMillis: 2000,
    compression: 'none',
    insecure: false,
    ...overrides,
  };
}

/**
 * "export() returns at once": well under any timeout or backoff in these tests, with room for a loaded machine
 * (CI shares its two cores with the databases).
 */
export const PROMPT_MS = 100;

/** Short backoff for tests: 20 ms, ×1.5, at most 100 ms. */
export const FAST_RETRY = { retry: { initialBackoffMillis: 20, maxBackoffMillis: 100 } };

export interface ExportRun {
  result: ExportResult;
  /** How long export() itself took to return. */
  returnMs: number;
  /** From the call to the callback. */
  totalMs: number;
  callbacks: number;
}

export function runExport(exporter: OtlpTraceExporter, spans: ReadableSpan[]): Promise<ExportRun> {
  return new Promise((resolve) => {
    const start = performance.now();
    let callbacks = 0;
    let returnMs = -1;
    exporter.export(spans, (result) => {
      callbacks++;
      const totalMs = performance.now() - start;
      // Give a second (wrong) callback a chance to show up before resolving.
      setTimeout(() => resolve({ result, returnMs, totalMs, callbacks }), 30);
    });
    returnMs = performance.now() - start;
  });
}

/** Collects the agent's diagnostic lines for the duration of a test. */
export function captureDiag(): { lines: string[]; warnings(): string[]; restore(): void } {
  const lines: string[] = [];
  diag.reset();
  diag.setSink((line) => lines.push(line));
  return {
    lines,
    warnings: () => lines.filter((l) => l.startsWith('zerotel warn:')),
    restore: () => {
      diag.setSink(undefined);
      diag.reset();
    },
  };
}
