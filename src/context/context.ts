import type { Baggage, Context, Span, SpanContext } from '../api/types';

/**
 * Context keys are `Symbol.for` symbols with the same descriptions @opentelemetry/api and @opentelemetry/core
 * use, so that a span or baggage put in a context by either side is found by the other (see the bridge), and an
 * application that suppresses tracing through @opentelemetry/core is obeyed here too.
 */
export const SPAN_KEY: symbol = Symbol.for('OpenTelemetry Context Key SPAN');
export const BAGGAGE_KEY: symbol = Symbol.for('OpenTelemetry Baggage Key');
export const SUPPRESS_TRACING_KEY: symbol = Symbol.for('OpenTelemetry SDK Context Key SUPPRESS_TRACING');

export function createContextKey(description: string): symbol {
  return Symbol.for(description);
}

/** Past this many links in a chain, setValue flattens it (bounds lookups and what old entries keep alive). */
const MAX_CHAIN = 8;

/**
 * An immutable context stored as a short chain of (key, value) links: setting a value is one small allocation,
 * and a lookup walks a handful of links (the span key, set last, is usually the first). A deleted key is a link
 * whose value is undefined.
 */
class ChainContext implements Context {
  constructor(
    readonly _parent: ChainContext | undefined,
    readonly _key: symbol | undefined,
    readonly _value: unknown,
    readonly _depth: number,
  ) {}

  getValue(key: symbol): unknown {
    let c: ChainContext | undefined = this;
    while (c !== undefined) {
      if (c._key === key) return c._value;
      c = c._parent;
    }
    return undefined;
  }

  setValue(key: symbol, value: unknown): Context {
    if (this._depth < MAX_CHAIN) return new ChainContext(this, key, value, this._depth + 1);
    return flatten(this, key, value);
  }

  deleteValue(key: symbol): Context {
    return this.setValue(key, undefined);
  }
}

/** Rebuilds a long chain with only the live value of each key, then adds (key, value). Rare: deep nesting. */
function flatten(from: ChainContext, key: symbol, value: unknown): Context {
  const seen = new Set<symbol>([key]);
  const live: Array<[symbol, unknown]> = [];
  for (let c: ChainContext | undefined = from; c !== undefined; c = c._parent) {
    const k = c._key;
    if (k === undefined || seen.has(k)) continue;
    seen.add(k);
    if (c._value !== undefined) live.push([k, c._value]);
  }
  let out = ROOT as ChainContext;
  for (let i = live.length - 1; i >= 0; i--) out = new ChainContext(out, live[i][0], live[i][1], out._depth + 1);
  return value === undefined ? out : new ChainContext(out, key, value, out._depth + 1);
}

const ROOT = new ChainContext(undefined, undefined, undefined, 0);
export const ROOT_CONTEXT: Context = ROOT;

export function getSpan(context: Context): Span | undefined {
  return (context.getValue(SPAN_KEY) as Span | undefined) || undefined;
}

export function setSpan(context: Context, span: Span): Context {
  return context.setValue(SPAN_KEY, span);
}

export function getSpanContext(context: Context): SpanContext | undefined {
  const span = getSpan(context);
  return span === undefined ? undefined : span.spanContext();
}

export function suppressTracing(context: Context): Context {
  return context.setValue(SUPPRESS_TRACING_KEY, true);
}

export function isTracingSuppressed(context: Context): boolean {
  return context.getValue(SUPPRESS_TRACING_KEY) === true;
}

export function getBaggage(context: Context): Baggage | undefined {
  return (context.getValue(BAGGAGE_KEY) as Baggage | undefined) || undefined;
}

export function setBaggage(context: Context, baggage: Baggage): Context {
  return context.setValue(BAGGAGE_KEY, baggage);
}
