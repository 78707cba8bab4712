/**
 * The agent's tracing SDK — tracer provider, sampler, batch processors, exporters, propagator — built from the
 * configuration. The agent builds it when something first needs it (an instrumented module is loaded, the
 * application loads @opentelemetry/api, or the startup line is printed), not at startup: a process that never
 * traces anything never loads it.
 */
import * as path from 'node:path';
import type { TextMapPropagator } from '../api/types';
import type { AgentConfig } from '../config';
import { diag } from '../diag/logger';
import { LazyExporter } from '../exporters/lazy-exporter';
import type { ExitCapableExporter, SpanExporter } from '../exporters/types';
import { BatchSpanProcessor } from '../processors/batch-span-processor';
import { LazyPropagator } from '../propagators/lazy-propagator';
import { Resource } from '../resource/resource';
import { createSampler } from '../trace/samplers';
import { TracerProvider } from '../trace/tracer';

export interface ExporterEntry {
  name: string;
  exporter: SpanExporter;
  processor: BatchSpanProcessor;
}

export interface Sdk {
  provider: TracerProvider;
  propagator: TextMapPropagator;
  exporters: ExporterEntry[];
}

/** The exporters, each built on its first use (see LazyExporter). */
function createExporter(name: string, config: AgentConfig, cwd: string | undefined): SpanExporter | undefined {
  switch (name) {
    case 'console':
      return new LazyExporter(() => {
        const { ConsoleSpanExporter } = require('../exporters/console-exporter') as typeof import('../exporters/console-exporter');
        return new ConsoleSpanExporter();
      });
    case 'otlp':
      return new LazyExporter(() => {
        const { createOtlpExporter } = require('../exporters/otlp') as typeof import('../exporters/otlp');
        return createOtlpExporter(config.otlp) as unknown as ExitCapableExporter;
      });
    case 'file':
      if (cwd === undefined && (config.fileExporterPath === undefined || !path.isAbsolute(config.fileExporterPath))) {
        diag.warn(`the file exporter is off: the directory this process was started in no longer exists, and OTEL_EXPORTER_FILE_PATH (${config.fileExporterPath ?? 'not set'}) is not an absolute path`);
        return undefined;
      }
      return new LazyExporter(() => {
        const { createFileExporter } = require('../exporters/file-exporter') as typeof import('../exporters/file-exporter');
        return createFileExporter(config.fileExporterPath, cwd ?? '/');
      });
    default:
      return undefined;
  }
}

/**
 * @param cwd the directory the process started in: a relative OTEL_EXPORTER_FILE_PATH is taken from there, not
 *   from wherever the process is when the SDK is built; undefined when it was removed before the process started.
 */
export function buildSdk(config: AgentConfig, cwd: string | undefined): Sdk {
  const exporters: ExporterEntry[] = [];
  for (const name of config.tracesExporters) {
    try {
      const exporter = createExporter(name, config, cwd);
      if (exporter !== undefined) exporters.push({ name, exporter, processor: new BatchSpanProcessor(exporter, config.batch) });
    } catch (err) {
      diag.error(`could not create the ${name} exporter; spans will not be sent there`, err);
    }
  }
  const provider = new TracerProvider({
    // Detected on first read (the first export): no file or system calls before that.
    resource: new Resource(() => (require('../resource/detectors') as typeof import('../resource/detectors')).detectResourceAttributes(config)),
    sampler: createSampler(config.sampler, config.samplerRatio),
    limits: config.spanLimits,
    processors: exporters.map((e) => e.processor),
  });
  return { provider, propagator: new LazyPropagator(config.propagators), exporters };
}
