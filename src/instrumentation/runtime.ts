/**
 * What instrumentations need at run time: the configuration, the tracer provider and the propagator. The agent
 * sets it once at startup; tests set their own. Instrumentations read it through these module-level bindings,
 * which is the cheapest lookup a wrapped call can do.
 */
import type { Context, TextMapPropagator } from '../api/types';
import type { AgentConfig } from '../config';
import { readConfig } from '../config';
import type { Tracer, TracerProvider } from '../trace/tracer';
import { VERSION } from '../version';

export interface Runtime {
  config: AgentConfig;
  provider: TracerProvider;
  propagator: TextMapPropagator;
}

let current: Runtime | undefined;
/** False when no runtime is set or the agent was shut down: wrappers then call straight through. */
export let tracingEnabled = false;

export function setRuntime(runtime: Runtime | undefined): void {
  current = runtime;
  tracingEnabled = runtime !== undefined;
}

export function getRuntime(): Runtime | undefined {
  return current;
}

/** The configuration in force, or the defaults when no agent runs (attribute helpers called from tests). */
export function getConfig(): AgentConfig {
  return current !== undefined ? current.config : defaultConfig();
}

let defaults: AgentConfig | undefined;
function defaultConfig(): AgentConfig {
  if (defaults === undefined) defaults = readConfig({}).config;
  return defaults;
}

/** The tracer of one instrumentation, named after its folder (`zerotel/instrumentations/<name>`). */
export function instrumentationTracer(name: string): Tracer {
  if (current === undefined) throw new Error('zerotel runtime is not set');
  return current.provider.getTracer(`zerotel/instrumentations/${name}`, VERSION);
}

const NOOP_PROPAGATOR: TextMapPropagator = {
  inject() {},
  extract(context: Context) {
    return context;
  },
  fields() {
    return [];
  },
};

export function getPropagator(): TextMapPropagator {
  return current !== undefined ? current.propagator : NOOP_PROPAGATOR;
}
