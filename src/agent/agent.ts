/**
 * The running agent: the provider, processors and exporters built from the configuration, the instrumentation
 * hooks, the bridge to @opentelemetry/api, and the process-lifecycle handlers.
 */
import type { TextMapPropagator } from '../api/types';
import type { AgentConfig } from '../config';
import { diag } from '../diag/logger';
import { LazyExporter } from '../exporters/lazy-exporter';
import type { ExitCapableExporter, SpanExporter } from '../exporters/types';
import { InstrumentationHooks } from '../instrumentation/hooks';
import { selectInstrumentations } from '../instrumentation/registry';
import { setRuntime } from '../instrumentation/runtime';
import { BatchSpanProcessor } from '../processors/batch-span-processor';
import { LazyPropagator } from '../propagators/lazy-propagator';
import { Resource } from '../resource/resource';
import { createSampler } from '../trace/samplers';
import { TracerProvider } from '../trace/tracer';
import { apiBridgeDefinition, setBridgeTarget } from './api-bridge';
import { applicationUsesEsm, registerEsmLoader } from './esm-loader';
import { ProcessLifecycle } from './process-lifecycle';

export interface ExporterEntry {
  name: string;
  exporter: SpanExporter;
  processor: BatchSpanProcessor;
}

/** The exporters, each built on its first use (see LazyExporter). */
function createExporter(name: string, config: AgentConfig): SpanExporter | undefined {
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
    case 'file': {
      // A relative OTEL_EXPORTER_FILE_PATH is taken from where the process started, not where it is at the first export.
      const cwd = process.cwd();
      return new LazyExporter(() => {
        const { createFileExporter } = require('../exporters/file-exporter') as typeof import('../exporters/file-exporter');
        return createFileExporter(config.fileExporterPath, cwd);
      });
    }
    default:
      return undefined;
  }
}

export class Agent {
  readonly provider: TracerProvider;
  readonly propagator: TextMapPropagator;
  readonly exporters: ExporterEntry[] = [];
  readonly hooks: InstrumentationHooks;
  readonly esm: boolean;
  readonly lifecycle: ProcessLifecycle;

  constructor(readonly config: AgentConfig) {
    for (const name of config.tracesExporters) {
      try {
        const exporter = createExporter(name, config);
        if (exporter === undefined) continue;
        this.exporters.push({ name, exporter, processor: new BatchSpanProcessor(exporter, config.batch) });
      } catch (err) {
        diag.error(`could not create the ${name} exporter; spans will not be sent there`, err);
      }
    }
    this.provider = new TracerProvider({
      // Detected on first read (the first export): no file or system calls at startup.
      resource: new Resource(() => (require('../resource/detectors') as typeof import('../resource/detectors')).detectResourceAttributes(config)),
      sampler: createSampler(config.sampler, config.samplerRatio),
      limits: config.spanLimits,
      processors: this.exporters.map((e) => e.processor),
    });
    this.propagator = new LazyPropagator(config.propagators);
    setRuntime({ config, provider: this.provider, propagator: this.propagator });
    setBridgeTarget(this.provider, this.propagator);

    this.hooks = new InstrumentationHooks([...selectInstrumentations(config), apiBridgeDefinition]);
    this.esm = applicationUsesEsm(config.nodeOptions, config.esmHook);
    if (this.esm && !registerEsmLoader(this.hooks.esmIncludeNames)) this.esm = false;
    this.hooks.enable({ esm: this.esm });
    this.lifecycle = new ProcessLifecycle(this);
    this.lifecycle.install();
  }

  /** Spans waiting in a queue, or an export under way. */
  hasPendingSpans(): boolean {
    for (const e of this.exporters) if (e.processor.queueLength > 0 || e.processor.isExporting) return true;
    return false;
  }

  forceFlush(): Promise<void> {
    return this.provider.forceFlush();
  }

  /** Stops everything: no more spans, hooks removed, patches undone, queues flushed. */
  async shutdown(): Promise<void> {
    setRuntime(undefined);
    this.lifecycle.uninstall();
    this.hooks.disable();
    await this.provider.shutdown();
  }

  describe(): string {
    const otlp = this.config.otlp;
    const exporters = this.exporters.map((e) => (e.name === 'otlp' ? `otlp (${otlp.protocol} → ${otlp.endpoint})` : e.name));
    const service = this.provider.resource.attributes['service.name'];
    return (
      `service ${String(service)}; exporters ${exporters.join(', ') || 'none'}; sampler ${this.provider.sampler.toString()}; ` +
      `propagators ${this.config.propagators.join(',') || 'none'}; instrumentations ` +
      `${this.hooks.definitions.filter((d) => d !== apiBridgeDefinition).map((d) => d.name).join(',') || 'none'}; ` +
      `ESM hook ${this.esm ? 'on' : 'off'}`
    );
  }
}
