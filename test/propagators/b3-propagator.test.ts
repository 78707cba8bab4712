import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Context, SpanContext } from '../../src/api/types';
import { ROOT_CONTEXT, getSpan, getSpanContext, setSpan, suppressTracing } from '../../src/context/context';
import { generateTraceId, isValidSpanId, isValidTraceId } from '../../src/trace/ids';
import { NonRecordingSpan } from '../../src/trace/span';
import { defaultTextMapGetter, defaultTextMapSetter, type HeaderCarrier } from '../../src/propagators';
import { B3Propagator, B3_DEBUG_TRACE_KEY, parseB3SingleHeader } from '../../src/propagators/b3-propagator';

const single = new B3Propagator();
const multi = new B3Propagator({ injectEncoding: 'multi' });

// The examples of the B3 README.
const TRACE_ID = '80f198ee56343ba864fe8b2a57d3eff7';
const SPAN_ID = 'e457b5a2e4d86bd1';
const PARENT_ID = '05e3ac9a4f6e3b90';

function extract(headers: HeaderCarrier, propagator = single, context: Context = ROOT_CONTEXT): Context {
  return propagator.extract(context, headers, defaultTextMapGetter);
}

function extracted(headers: HeaderCarrier): SpanContext | undefined {
  return getSpanContext(extract(headers));
}

function inject(context: Context, propagator = single): HeaderCarrier {
  const carrier: HeaderCarrier = {};
  propagator.inject(context, carrier, defaultTextMapSetter);
  return carrier;
}

function contextWith(sc: SpanContext): Context {
  return setSpan(ROOT_CONTEXT, new NonRecordingSpan(sc));
}

describe('B3 single header extract', () => {
  it('reads trace id, span id, sampling state and parent id (README "Single Header")', () => {
    const sc = extracted({ b3: `${TRACE_ID}-${SPAN_ID}-1-${PARENT_ID}` });
    expect(sc).toEqual({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1, isRemote: true });
    expect(getSpan(extract({ b3: `${TRACE_ID}-${SPAN_ID}-1` }))?.isRecording()).toBe(false);
  });

  it('reads deny and a deferred decision as not sampled', () => {
    expect(extracted({ b3: `${TRACE_ID}-${SPAN_ID}-0` })?.traceFlags).toBe(0);
    expect(extracted({ b3: `${TRACE_ID}-${SPAN_ID}` })?.traceFlags).toBe(0);
  });

  it('reads debug as sampled and remembers it for the trace', () => {
    const ctx = extract({ b3: `${TRACE_ID}-${SPAN_ID}-d` });
    expect(getSpanContext(ctx)?.traceFlags).toBe(1);
    expect(ctx.getValue(B3_DEBUG_TRACE_KEY)).toBe(TRACE_ID);
  });

  it('left-pads a 64-bit trace id to 128 bits', () => {
    expect(extracted({ b3: `a3ce929d0e0e4736-${SPAN_ID}-1` })?.traceId).toBe('0000000000000000a3ce929d0e0e4736');
  });

  it('accepts surrounding white space and takes the first of several values', () => {
    expect(extracted({ b3: ` ${TRACE_ID}-${SPAN_ID}-1\t` })?.traceId).toBe(TRACE_ID);
    expect(extracted({ b3: [`${TRACE_ID}-${SPAN_ID}-1`, 'garbage'] })?.traceId).toBe(TRACE_ID);
  });

  it('yields no span context for a sampling state alone (b3: 0, 1, d)', () => {
    for (const value of ['0', '1', 'd']) {
      const context = ROOT_CONTEXT.setValue(Symbol('marker'), 1);
      expect(extract({ b3: value }, single, context)).toBe(context);
    }
  });

  const invalid: Array<[string, string]> = [
    ['an upper-case trace id', `${TRACE_ID.toUpperCase()}-${SPAN_ID}-1`],
    ['an upper-case span id', `${TRACE_ID}-${SPAN_ID.toUpperCase()}-1`],
    ['a trace id of 20 characters', `${TRACE_ID.slice(0, 20)}-${SPAN_ID}-1`],
    ['a span id of 15 characters', `${TRACE_ID}-${SPAN_ID.slice(1)}-1`],
    ['an all-zero trace id', `${'0'.repeat(32)}-${SPAN_ID}-1`],
    ['an all-zero 64-bit trace id', `${'0'.repeat(16)}-${SPAN_ID}-1`],
    ['an all-zero span id', `${TRACE_ID}-${'0'.repeat(16)}-1`],
    ['an unknown sampling state', `${TRACE_ID}-${SPAN_ID}-x`],
    ['a two-character sampling state', `${TRACE_ID}-${SPAN_ID}-11`],
    ['a legacy "true" sampling state', `${TRACE_ID}-${SPAN_ID}-true`],
    ['an empty sampling state', `${TRACE_ID}-${SPAN_ID}-`],
    ['a malformed parent id', `${TRACE_ID}-${SPAN_ID}-1-xyz`],
    ['an empty parent id', `${TRACE_ID}-${SPAN_ID}-1-`],
    ['a fifth field', `${TRACE_ID}-${SPAN_ID}-1-${PARENT_ID}-1`],
    ['a parent id without sampling state', `${TRACE_ID}-${SPAN_ID}-${PARENT_ID}`],
    ['a trace id alone', TRACE_ID],
    ['an empty value', ''],
    ['another sampling-only value', '2'],
  ];
  for (const [name, value] of invalid) {
    it(`rejects ${name}`, () => {
      const context = ROOT_CONTEXT.setValue(Symbol('marker'), 1);
      expect(extract({ b3: value }, single, context)).toBe(context);
      expect(parseB3SingleHeader(value)).toBeUndefined();
    });
  }
});

describe('B3 multiple headers extract', () => {
  const headers = (extra: HeaderCarrier): HeaderCarrier => ({
    'x-b3-traceid': TRACE_ID,
    'x-b3-spanid': SPAN_ID,
    'x-b3-parentspanid': PARENT_ID,
    ...extra,
  });

  it('reads the README example', () => {
    expect(extracted(headers({ 'x-b3-sampled': '1' }))).toEqual({
      traceId: TRACE_ID,
      spanId: SPAN_ID,
      traceFlags: 1,
      isRemote: true,
    });
  });

  it('reads sampled 1/0, the legacy true/false, and absent as deferred (not sampled)', () => {
    expect(extracted(headers({ 'x-b3-sampled': '1' }))?.traceFlags).toBe(1);
    expect(extracted(headers({ 'x-b3-sampled': 'true' }))?.traceFlags).toBe(1);
    expect(extracted(headers({ 'x-b3-sampled': '0' }))?.traceFlags).toBe(0);
    expect(extracted(headers({ 'x-b3-sampled': 'false' }))?.traceFlags).toBe(0);
    expect(extracted(headers({}))?.traceFlags).toBe(0);
  });

  it('reads X-B3-Flags: 1 as debug, which implies sampled even with X-B3-Sampled: 0', () => {
    const ctx = extract(headers({ 'x-b3-flags': '1', 'x-b3-sampled': '0' }));
    expect(getSpanContext(ctx)?.traceFlags).toBe(1);
    expect(ctx.getValue(B3_DEBUG_TRACE_KEY)).toBe(TRACE_ID);
    expect(extract(headers({ 'x-b3-flags': '0' })).getValue(B3_DEBUG_TRACE_KEY)).toBeUndefined();
  });

  it('left-pads a 64-bit trace id', () => {
    expect(extracted(headers({ 'x-b3-traceid': '463ac35c9f6413ad' }))?.traceId).toBe('0000000000000000463ac35c9f6413ad');
  });

  it('takes the first value of a repeated header', () => {
    expect(extracted(headers({ 'x-b3-traceid': [TRACE_ID, 'nonsense'], 'x-b3-sampled': ['1', '0'] }))).toMatchObject({
      traceId: TRACE_ID,
      traceFlags: 1,
    });
  });

  it('rejects missing or malformed ids', () => {
    const context = ROOT_CONTEXT.setValue(Symbol('marker'), 1);
    for (const bad of [
      { 'x-b3-traceid': undefined },
      { 'x-b3-spanid': undefined },
      { 'x-b3-traceid': TRACE_ID.toUpperCase() },
      { 'x-b3-traceid': '0'.repeat(32) },
      { 'x-b3-spanid': '0'.repeat(16) },
      { 'x-b3-spanid': SPAN_ID + '0' },
    ]) {
      expect(extract(headers(bad), single, context)).toBe(context);
    }
    // A sampling decision alone carries no ids.
    expect(extract({ 'x-b3-sampled': '0' }, single, context)).toBe(context);
  });

  it('lets the single header win over the multiple headers, and falls back to them when it is unusable', () => {
    const other = '463ac35c9f6413ad48485a3953bb6124';
    expect(extracted({ ...headers({ 'x-b3-sampled': '0' }), b3: `${other}-${SPAN_ID}-1` })?.traceId).toBe(other);
    expect(extracted({ ...headers({ 'x-b3-sampled': '1' }), b3: 'garbage' })?.traceId).toBe(TRACE_ID);
    expect(extracted({ ...headers({ 'x-b3-sampled': '1' }), b3: '0' })?.traceId).toBe(TRACE_ID);
  });

  it('is extracted the same way by both configurations', () => {
    const h = headers({ 'x-b3-sampled': '1' });
    expect(getSpanContext(extract(h, multi))).toEqual(getSpanContext(extract(h, single)));
    const s = { b3: `${TRACE_ID}-${SPAN_ID}-d` };
    expect(getSpanContext(extract(s, multi))).toEqual(getSpanContext(extract(s, single)));
  });
});

describe('B3 inject', () => {
  const sampled = contextWith({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1 });
  const unsampled = contextWith({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 0 });

  it('single: b3 = {trace}-{span}-{1|0}', () => {
    expect(inject(sampled)).toEqual({ b3: `${TRACE_ID}-${SPAN_ID}-1` });
    expect(inject(unsampled)).toEqual({ b3: `${TRACE_ID}-${SPAN_ID}-0` });
    // Only the sampled bit counts.
    expect(inject(contextWith({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 0x02 }))).toEqual({
      b3: `${TRACE_ID}-${SPAN_ID}-0`,
    });
  });

  it('multi: X-B3-TraceId, X-B3-SpanId, X-B3-Sampled; never X-B3-ParentSpanId', () => {
    expect(inject(sampled, multi)).toEqual({ 'x-b3-traceid': TRACE_ID, 'x-b3-spanid': SPAN_ID, 'x-b3-sampled': '1' });
    expect(inject(unsampled, multi)).toEqual({ 'x-b3-traceid': TRACE_ID, 'x-b3-spanid': SPAN_ID, 'x-b3-sampled': '0' });
  });

  it('propagates debug for the trace that arrived as debug ("B3 Extract": MUST preserve the debug flag)', () => {
    const fromSingle = extract({ b3: `${TRACE_ID}-${SPAN_ID}-d` });
    expect(inject(fromSingle)).toEqual({ b3: `${TRACE_ID}-${SPAN_ID}-d` });
    expect(inject(fromSingle, multi)).toEqual({ 'x-b3-traceid': TRACE_ID, 'x-b3-spanid': SPAN_ID, 'x-b3-flags': '1' });
    // A local child span of the same trace keeps debug downstream.
    const child = setSpan(fromSingle, new NonRecordingSpan({ traceId: TRACE_ID, spanId: 'aaaaaaaaaaaaaaaa', traceFlags: 1 }));
    expect(inject(child)).toEqual({ b3: `${TRACE_ID}-aaaaaaaaaaaaaaaa-d` });
    // A new root trace started under that context is not debug.
    const otherTrace = generateTraceId();
    const root = setSpan(fromSingle, new NonRecordingSpan({ traceId: otherTrace, spanId: SPAN_ID, traceFlags: 1 }));
    expect(inject(root)).toEqual({ b3: `${otherTrace}-${SPAN_ID}-1` });
  });

  it('writes a 64-bit trace id padded to 32 characters', () => {
    expect(inject(extract({ b3: `a3ce929d0e0e4736-${SPAN_ID}-1` }))).toEqual({
      b3: `0000000000000000a3ce929d0e0e4736-${SPAN_ID}-1`,
    });
  });

  it('writes nothing for an invalid span context, no span, or when tracing is suppressed', () => {
    expect(inject(ROOT_CONTEXT)).toEqual({});
    expect(inject(contextWith({ traceId: '0'.repeat(32), spanId: SPAN_ID, traceFlags: 1 }), multi)).toEqual({});
    expect(inject(suppressTracing(sampled))).toEqual({});
    expect(inject(suppressTracing(sampled), multi)).toEqual({});
  });

  it('lists the fields of its inject encoding', () => {
    expect(single.fields()).toEqual(['b3']);
    expect(multi.fields()).toEqual(['x-b3-traceid', 'x-b3-spanid', 'x-b3-sampled', 'x-b3-flags']);
  });
});

// ---- property-based tests ----

const hexChars = fc.constantFrom(...'0123456789abcdef'.split(''));
const hex = (n: number) => fc.string({ unit: hexChars, minLength: n, maxLength: n });
const nonZero = (s: string) => /[^0]/.test(s);
const traceId32 = hex(32).filter(nonZero);
const traceId16 = hex(16).filter(nonZero);
const spanIdArb = hex(16).filter(nonZero);

/** A regex reading of the B3 single-header rules, as an oracle for the parser. */
function oracle(header: string): { traceId: string; spanId: string; traceFlags: number; debug: boolean } | undefined {
  const m = /^([0-9a-f]{32}|[0-9a-f]{16})-([0-9a-f]{16})(?:-([01d])(?:-([0-9a-f]{16}))?)?$/.exec(
    header.replace(/^[ \t]+/, '').replace(/[ \t]+$/, ''),
  );
  if (m === null || !nonZero(m[1]) || !nonZero(m[2]) || (m[4] !== undefined && !nonZero(m[4]))) return undefined;
  return {
    traceId: m[1].padStart(32, '0'),
    spanId: m[2],
    traceFlags: m[3] === '1' || m[3] === 'd' ? 1 : 0,
    debug: m[3] === 'd',
  };
}

const nearB3Arb = fc
  .tuple(
    fc.oneof({ arbitrary: traceId32, weight: 4 }, { arbitrary: traceId16, weight: 2 }, hex(20), fc.constant('0'.repeat(16))),
    fc.oneof({ arbitrary: spanIdArb, weight: 6 }, hex(15), fc.constant('0'.repeat(16)), spanIdArb.map((s) => s.toUpperCase())),
    fc.oneof(
      { arbitrary: fc.constantFrom('', '-1', '-0', '-d'), weight: 6 },
      fc.constantFrom('-', '-x', '-D', '-true', '-10'),
    ),
    fc.oneof(
      { arbitrary: fc.constant(''), weight: 4 },
      spanIdArb.map((s) => `-${s}`),
      fc.constantFrom('-', '-0000000000000000', '-abc'),
      fc.string({ unit: 'binary-ascii', maxLength: 20 }),
    ),
    fc.constantFrom('', '', ' ', '\t'),
  )
  .map(([t, s, state, parent, ows]) => `${ows}${t}-${s}${state}${parent}${ows}`);

const anyStringArb = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.string({ unit: 'binary-ascii', maxLength: 80 }),
  fc.string({ unit: fc.constantFrom('-', '0', '1', 'd', 'a', 'F', ' ', ',', '\0', 'é'), maxLength: 60 }),
  fc.string({ unit: 'grapheme', minLength: 5000, maxLength: 20000 }),
  nearB3Arb,
);

function expectValidOrUnchanged(out: Context, context: Context): void {
  if (out === context) return;
  const sc = getSpanContext(out)!;
  expect(isValidTraceId(sc.traceId)).toBe(true);
  expect(isValidSpanId(sc.spanId)).toBe(true);
  expect([0, 1]).toContain(sc.traceFlags);
  expect(sc.isRemote).toBe(true);
}

describe('B3 properties', () => {
  it('single header: extract never throws and yields the original context or a valid span context', () => {
    fc.assert(
      fc.property(fc.oneof(anyStringArb, fc.array(anyStringArb, { maxLength: 3 })), (b3) => {
        const context = ROOT_CONTEXT.setValue(Symbol('marker'), 1);
        expectValidOrUnchanged(extract({ b3 }, single, context), context);
      }),
      { numRuns: 500 },
    );
  });

  it('multiple headers: extract never throws and yields the original context or a valid span context', () => {
    const value = fc.oneof(anyStringArb, traceId32, traceId16, spanIdArb, fc.constantFrom('1', '0', 'true', 'd'));
    fc.assert(
      fc.property(
        fc.record(
          {
            'x-b3-traceid': value,
            'x-b3-spanid': value,
            'x-b3-sampled': value,
            'x-b3-flags': value,
            'x-b3-parentspanid': value,
          },
          { requiredKeys: [] },
        ),
        (headers) => {
          const context = ROOT_CONTEXT.setValue(Symbol('marker'), 1);
          expectValidOrUnchanged(extract(headers, multi, context), context);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('the single-header parser agrees with a regex reading of the README', () => {
    fc.assert(
      fc.property(fc.oneof(nearB3Arb, anyStringArb), (header) => {
        const got = parseB3SingleHeader(header);
        const want = oracle(header);
        if (want === undefined) {
          expect(got).toBeUndefined();
        } else {
          expect(got?.spanContext).toEqual({ traceId: want.traceId, spanId: want.spanId, traceFlags: want.traceFlags, isRemote: true });
          expect(got?.debug).toBe(want.debug);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('extract ∘ inject is the identity on valid span contexts, in both encodings', () => {
    fc.assert(
      fc.property(traceId32, spanIdArb, fc.constantFrom(0, 1), fc.boolean(), (traceId, spanId, traceFlags, useMulti) => {
        const propagator = useMulti ? multi : single;
        const back = getSpanContext(extract(inject(contextWith({ traceId, spanId, traceFlags }), propagator), propagator));
        expect(back).toEqual({ traceId, spanId, traceFlags, isRemote: true });
      }),
      { numRuns: 300 },
    );
  });
});
