/**
 * `require('zerotel')` / `import … from 'zerotel'`: what an application may ask of the agent that its preload
 * (`--require zerotel/register`) started. The agent needs no code in the application; this is for the few places
 * where the application knows something the agent cannot — chiefly a serverless handler or a test harness that
 * must see its spans sent before the platform freezes or the harness moves on.
 *
 * It reads the running agent from the process-wide mark the preload leaves (src/agent/start.ts), so that it finds
 * the agent even when the application resolves another copy of this package than the preload's; it loads nothing
 * of the SDK itself. Without the preload every call is a harmless no-op. Nothing here throws.
 */
import type { Agent } from './agent/agent';

export type {
  Attributes,
  AttributeValue,
  Context,
  Link,
  Span,
  SpanContext,
  SpanOptions,
  SpanStatus,
  Tracer,
  TracerProvider,
} from './api/types';
export { SpanKind, SpanStatusCode } from './api/types';

/** The key src/agent/start.ts announces the running agent under (Symbol.for: shared by every copy). */
const AGENT_KEY = Symbol.for('zerotel.agent');

function agent(): Agent | undefined {
  try {
    const mark = (globalThis as Record<symbol, { agent?: Agent } | undefined>)[AGENT_KEY];
    return mark?.agent;
  } catch {
    return undefined;
  }
}

/** Whether the preload started an agent in this process (false when it is off, disabled, or not preloaded). */
export function isAgentRunning(): boolean {
  return agent() !== undefined;
}

/**
 * Sends every span ended so far and resolves when the exporters are done with them (sent, or given up within
 * their own timeouts: OTEL_EXPORTER_OTLP_TIMEOUT). Resolves at once when no agent runs. Never rejects: a failed
 * export is the exporter's to report, as it is for the agent's own batches.
 */
export function forceFlush(): Promise<void> {
  const running = agent();
  if (running === undefined) return Promise.resolve();
  try {
    return running.forceFlush().then(
      () => undefined,
      () => undefined,
    );
  } catch {
    return Promise.resolve();
  }
}
