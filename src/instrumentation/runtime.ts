/**
 * What instrumentations need at run time: the configuration, the tracer provider and the propagator. The agent
 * sets it once at startup; tests set their own. Instrumentations read it through these module-level bindings,
 * which is the cheapest lookup a wrapped call can do.
 */
import type { Context, TextMapPropagator } from '../api/types';
import type { AgentConfig } from '../config';
import { readConfig } from '../config';
import type { Tracer, TracerProvider } from '../trace/tracer';
import { diag } from '../diag/logger';
import { agentVersion } from '../version';

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
  return current.provider.getTracer(`zerotel/instrumentations/${name}`, agentVersion());
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

/**
 * A cached getter for an instrumentation's tracer: one comparison per call instead of a map lookup and a
 * string concatenation, and still right when tests swap the runtime.
 */
export function tracerGetter(name: string): () => Tracer {
  let cachedFor: TracerProvider | undefined;
  let cached: Tracer | undefined;
  return () => {
    const provider = current!.provider;
    if (provider !== cachedFor) {
      cached = instrumentationTracer(name);
      cachedFor = provider;
    }
    return cached!;
  };
}

/**
 * Reports a failure inside an instrumentation's own span code, once per instrumentation and place: the
 * wrapped call goes on as if the agent were not there.
 */
export function reportInstrumentationError(instrumentation: string, where: string, err: unknown): void {
  diag.errorOnce(`${instrumentation}:${where}`, `the ${instrumentation} instrumentation failed in ${where}; the call goes on untraced`, err);
}
