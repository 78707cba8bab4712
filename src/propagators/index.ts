/**
 * Propagators by OTEL_PROPAGATORS name (OpenTelemetry specification, configuration/sdk-environment-variables.md,
 * "General SDK Configuration"), plus the getter and setter for plain header objects.
 */
import type { TextMapGetter, TextMapPropagator, TextMapSetter } from '../api/types';
import { diag } from '../diag/logger';
import { B3Propagator } from './b3-propagator';
import { CompositePropagator } from './composite-propagator';
import { NoopPropagator } from './noop-propagator';
import { W3CBaggagePropagator } from './w3c-baggage-propagator';
import { W3CTraceContextPropagator } from './w3c-trace-context-propagator';

export { B3Propagator, B3_DEBUG_TRACE_KEY } from './b3-propagator';
export type { B3InjectEncoding } from './b3-propagator';
export { ZerotelBaggage, baggageEntryMetadataFromString, createBaggage } from './baggage';
export { CompositePropagator } from './composite-propagator';
export { NoopPropagator } from './noop-propagator';
export { W3CBaggagePropagator } from './w3c-baggage-propagator';
export { W3CTraceContextPropagator, parseTraceParent } from './w3c-trace-context-propagator';

function propagatorFor(name: string): TextMapPropagator | undefined {
  switch (name) {
    case 'tracecontext':
      return new W3CTraceContextPropagator();
    case 'baggage':
      return new W3CBaggagePropagator();
    case 'b3':
      return new B3Propagator({ injectEncoding: 'single' });
    case 'b3multi':
      return new B3Propagator({ injectEncoding: 'multi' });
    default:
      return undefined;
  }
}

/**
 * The propagator for a list of names, already validated, deduplicated and ordered by the config module: the
 * named propagators in a CompositePropagator (even a single one, so that a throwing getter or setter is caught
 * there and never reaches the request), or a NoopPropagator for an empty list (`none`). An unknown name — which
 * the config module should have removed — is skipped with a warning.
 */
export function createPropagator(names: readonly string[]): TextMapPropagator {
  const propagators: TextMapPropagator[] = [];
  for (const name of names) {
    if (name === 'none') continue;
    const propagator = propagatorFor(name);
    if (propagator === undefined) diag.warn(`unknown propagator "${name}" ignored`);
    else propagators.push(propagator);
  }
  return propagators.length === 0 ? new NoopPropagator() : new CompositePropagator(propagators);
}

/** A carrier of HTTP headers as Node.js gives them: lower-case names, string or string[] values. */
export type HeaderCarrier = Record<string, string | string[] | number | undefined>;

/**
 * Reads plain header objects (Node.js `IncomingMessage.headers`, `OutgoingMessage.getHeaders()`). The lookup is
 * exact: Node.js lower-cases incoming header names, and the propagators ask for lower-case names. A string[]
 * value (a repeated header) is returned as it is; a number (an outgoing content-length) as a string.
 */
export const defaultTextMapGetter: TextMapGetter<HeaderCarrier> = {
  keys(carrier: HeaderCarrier): string[] {
    return carrier !== null && typeof carrier === 'object' ? Object.keys(carrier) : [];
  },
  get(carrier: HeaderCarrier, key: string): undefined | string | string[] {
    if (carrier === null || typeof carrier !== 'object') return undefined;
    const value = carrier[key];
    if (typeof value === 'string' || Array.isArray(value)) return value;
    if (typeof value === 'number') return String(value);
    return undefined;
  },
};

/** Writes into plain header objects: `carrier[key] = value`. */
export const defaultTextMapSetter: TextMapSetter<HeaderCarrier> = {
  set(carrier: HeaderCarrier, key: string, value: string): void {
    if (carrier !== null && typeof carrier === 'object') carrier[key] = value;
  },
};
