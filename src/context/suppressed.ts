import { contextManager } from './global';
import { ROOT_CONTEXT, suppressTracing } from './context';

/** The context the agent's own work runs in: no parent, tracing suppressed, so exports are never traced. */
export const SUPPRESSED_CONTEXT = suppressTracing(ROOT_CONTEXT);

export function runSuppressed<T>(fn: () => T): T {
  return contextManager.with(SUPPRESSED_CONTEXT, fn);
}
