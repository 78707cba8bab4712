/**
 * The running agent: the provider, processors and exporters built from the configuration, the instrumentation
 * hooks, the bridge to @opentelemetry/api, and the process-lifecycle handlers.
 */
import type { TextMapPropagator } from '../api/types';
import type { AgentConfig } from '../config';
import { InstrumentationHooks } from '../instrumentation/hooks';
import { selectInstrumentations } from '../instrumentation/registry';
import { workingDirectory } from '../resource/working-directory';
import { setRuntime } from '../instrumentation/runtime';
import type { TracerProvider } from '../trace/tracer';
import { apiBridgeDefinition, setBridgeTarget } from './api-bridge';
import { applicationUsesEsm, registerEsmLoader } from './esm-loader';
import { ProcessLifecycle } from './process-lifecycle';
import type { ExporterEntry, Sdk } from './sdk';

export type { ExporterEntry } from './sdk';

const NO_EXPORTERS: readonly ExporterEntry[] = Object.freeze([]);

export class Agent {
  readonly hooks: InstrumentationHooks;
  readonly esm: boolean;
  readonly lifecycle: ProcessLifecycle;
  private _sdk: Sdk | undefined;
  /** Undefined when the working directory was removed before the process started (process.cwd() throws ENOENT). */
  private readonly _cwd = workingDirectory();

  /** The SDK, built on first use (src/agent/sdk.ts). */
  get sdk(): Sdk {
    if (this._sdk === undefined) {
      const { buildSdk } = require('./sdk') as typeof import('./sdk');
      this._sdk = buildSdk(this.config, this._cwd);
    }
    return this._sdk;
  }

  get provider(): TracerProvider {
    return this.sdk.provider;
  }

  get propagator(): TextMapPropagator {
    return this.sdk.propagator;
  }

  /** The exporters, or none while the SDK is not built (then nothing can be pending either). */
  get exporters(): readonly ExporterEntry[] {
    return this._sdk === undefined ? NO_EXPORTERS : this._sdk.exporters;
  }

  constructor(readonly config: AgentConfig) {
    // The agent itself is what instrumentations read config, provider and propagator from, on every span. Not an
    // object literal with getters: V8 (Node 20) gives such a literal dictionary properties, and each read from
    // optimised code was then a generic lookup; a class instance has a fast map and inlined getters.
    setRuntime(this);
    setBridgeTarget(() => this.sdk);

    this.hooks = new InstrumentationHooks([...selectInstrumentations(config), apiBridgeDefinition]);
    this.esm = applicationUsesEsm(config.nodeOptions, config.esmHook);
    this.hooks.enable({
      esm: this.esm ? registerEsmLoader(this.hooks.esmInclude) : false,
      entry: process.argv[1],
      dynamicImports: config.esmHook !== false,
    });
    this.lifecycle = new ProcessLifecycle(this);
    this.lifecycle.install();
  }

  /** Spans waiting in a queue, or an export under way. */
  hasPendingSpans(): boolean {
    for (const e of this.exporters) if (e.processor.queueLength > 0 || e.processor.isExporting) return true;
    return false;
  }

  forceFlush(): Promise<void> {
    return this._sdk === undefined ? Promise.resolve() : this._sdk.provider.forceFlush();
  }

  /** Stops everything: no more spans, hooks removed, patches undone, queues flushed. */
  async shutdown(): Promise<void> {
    setRuntime(undefined);
    this.lifecycle.uninstall();
    this.hooks.disable();
    if (this._sdk !== undefined) await this._sdk.provider.shutdown();
  }

  describe(): string {
    const otlp = this.config.otlp;
    const sdk = this.sdk;
    const exporters = sdk.exporters.map((e) => (e.name === 'otlp' ? `otlp (${otlp.protocol} → ${otlp.endpoint})` : e.name));
    const service = sdk.provider.resource.attributes['service.name'];
    return (
      `service ${String(service)}; exporters ${exporters.join(', ') || 'none'}; sampler ${sdk.provider.sampler.toString()}; ` +
      `propagators ${this.config.propagators.join(',') || 'none'}; instrumentations ` +
      `${this.hooks.definitions.filter((d) => d !== apiBridgeDefinition).map((d) => d.name).join(',') || 'none'}; ` +
      `ESM hook ${this.esm ? 'on' : 'off'}`
    );
  }
}
