import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Context, TextMapGetter, TextMapPropagator, TextMapSetter } from '../../src/api/types';
import { ROOT_CONTEXT, getBaggage, getSpanContext } from '../../src/context/context';
import { diag } from '../../src/diag/logger';
import {
  B3Propagator,
  CompositePropagator,
  NoopPropagator,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
  createPropagator,
  defaultTextMapGetter,
  defaultTextMapSetter,
  type HeaderCarrier,
} from '../../src/propagators';

const KEY = Symbol('test key');

/** Records its calls in `log`; extract appends its name to a list kept in the context. */
class Recording implements TextMapPropagator {
  constructor(
    private readonly _name: string,
    private readonly _log: string[],
    private readonly _fields: string[] = [_name],
  ) {}
  inject(_context: Context, carrier: unknown, setter: TextMapSetter): void {
    this._log.push(`inject ${this._name}`);
    setter.set(carrier, 'order', `${(carrier as HeaderCarrier).order ?? ''}${this._name}`);
  }
  extract(context: Context, _carrier: unknown, _getter: TextMapGetter): Context {
    this._log.push(`extract ${this._name}`);
    const seen = (context.getValue(KEY) as string[] | undefined) ?? [];
    return context.setValue(KEY, [...seen, this._name]);
  }
  fields(): string[] {
    return this._fields;
  }
}

class Throwing implements TextMapPropagator {
  inject(): void {
    throw new Error('inject failed');
  }
  extract(): Context {
    throw new Error('extract failed');
  }
  fields(): string[] {
    return ['broken'];
  }
}

describe('CompositePropagator', () => {
  let lines: string[];
  beforeEach(() => {
    lines = [];
    diag.reset();
    diag.setSink((line) => lines.push(line));
  });
  afterEach(() => {
    diag.setSink(undefined);
    diag.reset();
  });

  it('runs inject and extract in the given order, chaining the contexts', () => {
    const log: string[] = [];
    const composite = new CompositePropagator([new Recording('a', log), new Recording('b', log), new Recording('c', log)]);
    const carrier: HeaderCarrier = {};
    composite.inject(ROOT_CONTEXT, carrier, defaultTextMapSetter);
    expect(carrier.order).toBe('abc');
    const out = composite.extract(ROOT_CONTEXT, {}, defaultTextMapGetter);
    expect(out.getValue(KEY)).toEqual(['a', 'b', 'c']);
    expect(log).toEqual(['inject a', 'inject b', 'inject c', 'extract a', 'extract b', 'extract c']);
  });

  it('gives the union of the fields, in order and without repeats', () => {
    const log: string[] = [];
    const composite = new CompositePropagator([
      new Recording('a', log, ['x', 'y']),
      new Recording('b', log, ['y', 'z']),
    ]);
    expect(composite.fields()).toEqual(['x', 'y', 'z']);
    composite.fields().push('mutated');
    expect(composite.fields()).toEqual(['x', 'y', 'z']);
  });

  it('skips a throwing propagator, keeps the others, and logs once', () => {
    const log: string[] = [];
    const composite = new CompositePropagator([new Recording('a', log), new Throwing(), new Recording('b', log)]);
    for (let i = 0; i < 3; i++) {
      const carrier: HeaderCarrier = {};
      expect(() => composite.inject(ROOT_CONTEXT, carrier, defaultTextMapSetter)).not.toThrow();
      expect(carrier.order).toBe('ab');
      const out = composite.extract(ROOT_CONTEXT, {}, defaultTextMapGetter);
      expect(out.getValue(KEY)).toEqual(['a', 'b']);
    }
    expect(lines.filter((l) => l.includes('threw on inject'))).toHaveLength(1);
    expect(lines.filter((l) => l.includes('threw on extract'))).toHaveLength(1);
    expect(lines[0]).toMatch(/^zerotel error: propagator Throwing #1 threw on inject; skipped/);
    expect(composite.fields()).toEqual(['a', 'broken', 'b']);
  });

  it('survives a propagator whose fields() throws', () => {
    const bad: TextMapPropagator = {
      inject() {},
      extract: (c) => c,
      fields() {
        throw new Error('no fields');
      },
    };
    expect(new CompositePropagator([bad, new W3CBaggagePropagator()]).fields()).toEqual(['baggage']);
    expect(lines.some((l) => l.includes('threw on fields()'))).toBe(true);
  });

  it('survives a throwing getter or setter', () => {
    const composite = createPropagator(['tracecontext', 'baggage']);
    const getter: TextMapGetter = {
      keys: () => [],
      get() {
        throw new Error('getter broke');
      },
    };
    const setter: TextMapSetter = {
      set() {
        throw new Error('headers already sent');
      },
    };
    const ctx = new W3CTraceContextPropagator().extract(
      ROOT_CONTEXT,
      { traceparent: '00-12345678901234567890123456789012-1234567890123456-01' },
      defaultTextMapGetter,
    );
    expect(composite.extract(ROOT_CONTEXT, {}, getter)).toBe(ROOT_CONTEXT);
    expect(() => composite.inject(ctx, {}, setter)).not.toThrow();
  });
});

describe('createPropagator', () => {
  it('maps names to propagators, in order', () => {
    expect(createPropagator(['tracecontext', 'baggage']).fields()).toEqual(['traceparent', 'tracestate', 'baggage']);
    expect(createPropagator(['b3']).fields()).toEqual(['b3']);
    expect(createPropagator(['b3multi']).fields()).toEqual(['x-b3-traceid', 'x-b3-spanid', 'x-b3-sampled', 'x-b3-flags']);
    expect(createPropagator(['baggage', 'b3', 'tracecontext']).fields()).toEqual([
      'baggage',
      'b3',
      'traceparent',
      'tracestate',
    ]);
  });

  it('gives a no-op propagator for none', () => {
    const none = createPropagator([]);
    expect(none).toBeInstanceOf(NoopPropagator);
    const carrier: HeaderCarrier = {};
    none.inject(ROOT_CONTEXT, carrier, defaultTextMapSetter);
    expect(carrier).toEqual({});
    expect(none.extract(ROOT_CONTEXT, { traceparent: 'x' }, defaultTextMapGetter)).toBe(ROOT_CONTEXT);
    expect(none.fields()).toEqual([]);
  });

  it('propagates a request end to end with the default tracecontext,baggage', () => {
    const propagator = createPropagator(['tracecontext', 'baggage']);
    const incoming: HeaderCarrier = {
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      tracestate: 'congo=t61rcWkgMzE',
      baggage: 'userId=alice,serverNode=DF%2028',
    };
    const ctx = propagator.extract(ROOT_CONTEXT, incoming, defaultTextMapGetter);
    expect(getSpanContext(ctx)?.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(getBaggage(ctx)?.getEntry('serverNode')?.value).toBe('DF 28');
    const outgoing: HeaderCarrier = {};
    propagator.inject(ctx, outgoing, defaultTextMapSetter);
    expect(outgoing).toEqual(incoming);
  });

  it('extracts B3 and W3C together, the later propagator winning', () => {
    const headers: HeaderCarrier = {
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      b3: '80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1',
    };
    expect(getSpanContext(createPropagator(['tracecontext', 'b3']).extract(ROOT_CONTEXT, headers, defaultTextMapGetter))?.traceId).toBe(
      '80f198ee56343ba864fe8b2a57d3eff7',
    );
    expect(getSpanContext(createPropagator(['b3', 'tracecontext']).extract(ROOT_CONTEXT, headers, defaultTextMapGetter))?.traceId).toBe(
      '4bf92f3577b34da6a3ce929d0e0e4736',
    );
    expect(new B3Propagator().fields()).toEqual(['b3']);
  });
});

describe('defaultTextMapGetter / defaultTextMapSetter', () => {
  it('reads strings and string[] values, and nothing else', () => {
    const carrier: HeaderCarrier = { a: '1', b: ['x', 'y'], c: 42, d: undefined };
    expect(defaultTextMapGetter.get(carrier, 'a')).toBe('1');
    expect(defaultTextMapGetter.get(carrier, 'b')).toEqual(['x', 'y']);
    expect(defaultTextMapGetter.get(carrier, 'c')).toBe('42');
    expect(defaultTextMapGetter.get(carrier, 'd')).toBeUndefined();
    expect(defaultTextMapGetter.get(carrier, 'missing')).toBeUndefined();
    expect(defaultTextMapGetter.get(null as unknown as HeaderCarrier, 'a')).toBeUndefined();
    expect(defaultTextMapGetter.keys(carrier)).toEqual(['a', 'b', 'c', 'd']);
    expect(defaultTextMapGetter.keys(undefined as unknown as HeaderCarrier)).toEqual([]);
  });

  it('does not find inherited properties as headers', () => {
    expect(defaultTextMapGetter.get({}, 'constructor')).toBeUndefined();
    expect(defaultTextMapGetter.get({}, 'toString')).toBeUndefined();
  });

  it('sets carrier[key] = value', () => {
    const carrier: HeaderCarrier = {};
    defaultTextMapSetter.set(carrier, 'traceparent', 'v');
    expect(carrier).toEqual({ traceparent: 'v' });
    expect(() => defaultTextMapSetter.set(null as unknown as HeaderCarrier, 'k', 'v')).not.toThrow();
  });
});
