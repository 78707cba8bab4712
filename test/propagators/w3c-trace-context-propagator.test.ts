import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as api from '@opentelemetry/api';
import type { Context, SpanContext } from '../../src/api/types';
import { ROOT_CONTEXT, getSpan, getSpanContext, setSpan, suppressTracing } from '../../src/context/context';
import { isValidSpanId, isValidTraceId } from '../../src/trace/ids';
import { NonRecordingSpan } from '../../src/trace/span';
import { W3CTraceState } from '../../src/trace/trace-state';
import { defaultTextMapGetter, defaultTextMapSetter, type HeaderCarrier } from '../../src/propagators';
import { W3CTraceContextPropagator, parseTraceParent } from '../../src/propagators/w3c-trace-context-propagator';

const propagator = new W3CTraceContextPropagator();
const TRACE_ID = '12345678901234567890123456789012';
const SPAN_ID = '1234567890123456';
const VALID = `00-${TRACE_ID}-${SPAN_ID}-01`;

function extract(headers: HeaderCarrier, context: Context = ROOT_CONTEXT): Context {
  return propagator.extract(context, headers, defaultTextMapGetter);
}

function extracted(headers: HeaderCarrier): SpanContext | undefined {
  return getSpanContext(extract(headers));
}

function inject(context: Context): HeaderCarrier {
  const carrier: HeaderCarrier = {};
  propagator.inject(context, carrier, defaultTextMapSetter);
  return carrier;
}

function contextWith(sc: SpanContext): Context {
  return setSpan(ROOT_CONTEXT, new NonRecordingSpan(sc));
}

describe('W3C traceparent parsing (cases of the W3C trace-context test suite)', () => {
  it('accepts a valid version-00 header and keeps the ids and flags', () => {
    const sc = extracted({ traceparent: VALID });
    expect(sc).toMatchObject({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1, isRemote: true });
  });

  it('accepts the specification examples (sampled and not sampled)', () => {
    expect(extracted({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' })).toMatchObject({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      traceFlags: 1,
    });
    expect(extracted({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00' })?.traceFlags).toBe(0);
  });

  it('sets a non-recording remote span', () => {
    const span = getSpan(extract({ traceparent: VALID }));
    expect(span).toBeInstanceOf(NonRecordingSpan);
    expect(span?.isRecording()).toBe(false);
    expect(span?.spanContext().isRemote).toBe(true);
  });

  it('keeps the whole flags byte (only the sampled bit has a meaning)', () => {
    expect(extracted({ traceparent: `00-${TRACE_ID}-${SPAN_ID}-09` })?.traceFlags).toBe(9);
    expect(extracted({ traceparent: `00-${TRACE_ID}-${SPAN_ID}-ff` })?.traceFlags).toBe(255);
    expect(extracted({ traceparent: `00-${TRACE_ID}-${SPAN_ID}-02` })?.traceFlags).toBe(2);
  });

  it('ignores leading and trailing optional white space (test_traceparent_ows_handling)', () => {
    for (const value of [` ${VALID}`, `\t${VALID}`, `${VALID} `, `${VALID}\t`, `\t ${VALID} \t`]) {
      expect(extracted({ traceparent: value })?.traceId).toBe(TRACE_ID);
    }
  });

  it('accepts a future version and parses its first four fields (test_traceparent_version_0xcc)', () => {
    expect(extracted({ traceparent: `cc-${TRACE_ID}-${SPAN_ID}-01` })?.traceId).toBe(TRACE_ID);
    expect(extracted({ traceparent: `cc-${TRACE_ID}-${SPAN_ID}-01-what-the-future-will-be-like` })).toMatchObject({
      traceId: TRACE_ID,
      spanId: SPAN_ID,
      traceFlags: 1,
    });
    expect(extracted({ traceparent: `01-${TRACE_ID}-${SPAN_ID}-00-` })?.traceId).toBe(TRACE_ID);
  });

  const invalid: Array<[string, string]> = [
    ['version ff', `ff-${TRACE_ID}-${SPAN_ID}-01`],
    ['version 00 with extra trailing characters', `${VALID}.`],
    ['version 00 with extra fields', `${VALID}-what-the-future-will-be-like`],
    ['version 00 with an extra dash', `${VALID}-`],
    ['future version, flags followed by something else than a dash', `cc-${TRACE_ID}-${SPAN_ID}-01.what-the-future-will-be-like`],
    ['illegal characters in version', `.0-${TRACE_ID}-${SPAN_ID}-01`],
    ['illegal characters in version (2)', `0.-${TRACE_ID}-${SPAN_ID}-01`],
    ['version too long', `000-${TRACE_ID}-${SPAN_ID}-01`],
    ['version too long (2)', `0000-${TRACE_ID}-${SPAN_ID}-01`],
    ['version too short', `0-${TRACE_ID}-${SPAN_ID}-01`],
    ['upper-case version', `CC-${TRACE_ID}-${SPAN_ID}-01`],
    ['all-zero trace id', `00-00000000000000000000000000000000-${SPAN_ID}-01`],
    ['illegal characters in trace id', `00-.2345678901234567890123456789012-${SPAN_ID}-01`],
    ['illegal characters in trace id (2)', `00-1234567890123456789012345678901.-${SPAN_ID}-01`],
    ['trace id too long', `00-123456789012345678901234567890123-${SPAN_ID}-01`],
    ['trace id too short', `00-1234567890123456789012345678901-${SPAN_ID}-01`],
    ['upper-case trace id', `00-4BF92F3577B34DA6A3CE929D0E0E4736-${SPAN_ID}-01`],
    ['all-zero parent id', `00-${TRACE_ID}-0000000000000000-01`],
    ['illegal characters in parent id', `00-${TRACE_ID}-.234567890123456-01`],
    ['illegal characters in parent id (2)', `00-${TRACE_ID}-123456789012345.-01`],
    ['parent id too long', `00-${TRACE_ID}-12345678901234567-01`],
    ['parent id too short', `00-${TRACE_ID}-123456789012345-01`],
    ['upper-case parent id', `00-${TRACE_ID}-00F067AA0BA902B7-01`],
    ['illegal characters in flags', `00-${TRACE_ID}-${SPAN_ID}-.0`],
    ['illegal characters in flags (2)', `00-${TRACE_ID}-${SPAN_ID}-0.`],
    ['flags too long', `00-${TRACE_ID}-${SPAN_ID}-001`],
    ['flags too short', `00-${TRACE_ID}-${SPAN_ID}-1`],
    ['upper-case flags', `00-${TRACE_ID}-${SPAN_ID}-0A`],
    ['future version shorter than 55 characters', `cc-${TRACE_ID}-${SPAN_ID}-1`],
    ['wrong separators', `00_${TRACE_ID}_${SPAN_ID}_01`],
    ['white space inside', `00- ${TRACE_ID}-${SPAN_ID}-01`],
    ['empty', ''],
    ['white space only', ' \t '],
  ];
  for (const [name, value] of invalid) {
    it(`rejects ${name}`, () => {
      const context = ROOT_CONTEXT.setValue(Symbol('marker'), 1);
      expect(extract({ traceparent: value }, context)).toBe(context);
      expect(parseTraceParent(value)).toBeUndefined();
    });
  }

  it('restarts the trace when traceparent is sent twice (test_traceparent_duplicated)', () => {
    expect(
      extracted({
        traceparent: [`00-${TRACE_ID.slice(0, 31)}1-${SPAN_ID}-01`, `00-${TRACE_ID}-${SPAN_ID}-01`],
      }),
    ).toBeUndefined();
    // Node.js joins a repeated unknown header with ", ": also invalid.
    expect(extracted({ traceparent: `${VALID}, ${VALID}` })).toBeUndefined();
  });

  it('accepts a string[] with one value', () => {
    expect(extracted({ traceparent: [VALID] })?.traceId).toBe(TRACE_ID);
  });

  it('ignores headers under other names (test_traceparent_header_name)', () => {
    expect(extracted({ 'trace-parent': VALID })).toBeUndefined();
    expect(extracted({ 'trace.parent': VALID })).toBeUndefined();
  });

  it('leaves the context alone without a traceparent', () => {
    expect(extract({})).toBe(ROOT_CONTEXT);
    expect(extract({ traceparent: undefined })).toBe(ROOT_CONTEXT);
  });
});

describe('W3C tracestate', () => {
  const base = `00-${TRACE_ID}-${SPAN_ID}-00`;

  it('is discarded without a valid traceparent (test_tracestate_included_traceparent_missing)', () => {
    expect(extract({ tracestate: 'foo=1' })).toBe(ROOT_CONTEXT);
    expect(extract({ traceparent: `ff${base.slice(2)}`, tracestate: 'foo=1' })).toBe(ROOT_CONTEXT);
  });

  it('is inherited with a traceparent (test_tracestate_included_traceparent_included)', () => {
    const ts = extracted({ traceparent: base, tracestate: 'foo=1,bar=2' })?.traceState;
    expect(ts?.get('foo')).toBe('1');
    expect(ts?.get('bar')).toBe('2');
  });

  it('combines several header values in order (test_tracestate_multiple_headers_different_keys)', () => {
    const ts = extracted({ traceparent: base, tracestate: ['foo=1,bar=2', 'rojo=1,congo=2', 'baz=3'] })?.traceState;
    expect(ts?.serialize()).toBe('foo=1,bar=2,rojo=1,congo=2,baz=3');
  });

  it('accepts empty values and empty members (test_tracestate_empty_header)', () => {
    expect(extracted({ traceparent: base, tracestate: '' })?.traceId).toBe(TRACE_ID);
    expect(extracted({ traceparent: base, tracestate: '' })?.traceState).toBeUndefined();
    expect(extracted({ traceparent: base, tracestate: ['foo=1', ''] })?.traceState?.get('foo')).toBe('1');
    expect(extracted({ traceparent: base, tracestate: ['', 'foo=1'] })?.traceState?.get('foo')).toBe('1');
  });

  it('handles optional white space (test_tracestate_ows_handling)', () => {
    for (const value of ['foo=1 \t , \t bar=2, \t baz=3', 'foo=1\t \t,\t \tbar=2,\t \tbaz=3']) {
      const ts = extracted({ traceparent: base, tracestate: value })?.traceState;
      expect([ts?.get('foo'), ts?.get('bar'), ts?.get('baz')]).toEqual(['1', '2', '3']);
    }
  });

  it('keeps all allowed characters (test_tracestate_all_allowed_characters)', () => {
    const key = 'abcdefghijklmnopqrstuvwxyz0123456789_-*/';
    let value = '';
    for (let c = 0x20; c <= 0x7e; c++) if (c !== 0x2c && c !== 0x3d) value += String.fromCharCode(c);
    const ts = extracted({ traceparent: base, tracestate: `${key}=${value}` })?.traceState;
    expect(ts?.get(key)).toBe(value);
    const ts2 = extracted({ traceparent: base, tracestate: `${key}@a-z0-9_-*/=${value}` })?.traceState;
    expect(ts2?.get(`${key}@a-z0-9_-*/`)).toBe(value);
  });

  it('keeps 32 members and discards 33 (test_tracestate_member_count_limit)', () => {
    const members = (n: number) => Array.from({ length: n }, (_, i) => `bar${String(i + 1).padStart(2, '0')}=${i + 1}`);
    const ts32 = extracted({ traceparent: base, tracestate: members(32).join(',') })?.traceState;
    expect(ts32?.get('bar01')).toBe('1');
    expect(ts32?.serialize().split(',')).toHaveLength(32);
    const sc33 = extracted({ traceparent: base, tracestate: members(33).join(',') });
    expect(sc33?.traceId).toBe(TRACE_ID); // a bad tracestate never invalidates traceparent
    expect(sc33?.traceState).toBeUndefined();
  });

  it('is kept intact across extract → inject: member order and values', () => {
    const header = 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE,tenant@vendor= spaced value,z=1';
    const out = inject(extract({ traceparent: base, tracestate: header }));
    expect(out).toEqual({ traceparent: base, tracestate: header });
  });

  it('is trimmed to 512 characters on inject, dropping whole members (long ones first)', () => {
    const long = (k: string) => `${k}=${'v'.repeat(150)}`;
    const short = Array.from({ length: 20 }, (_, i) => `k${i}=${'s'.repeat(20)}`);
    const members = [short[0], long('big1'), ...short.slice(1, 10), long('big2'), ...short.slice(10)];
    const sc = extracted({ traceparent: base, tracestate: members.join(',') });
    const out = inject(contextWith(sc!));
    const sent = String(out.tracestate);
    expect(sent.length).toBeLessThanOrEqual(512);
    const sentMembers = sent.split(',');
    for (const m of sentMembers) expect(members).toContain(m);
    // Members keep their relative order, and the long ones went first.
    expect(sentMembers).toEqual(members.filter((m) => sentMembers.includes(m)));
    expect(sentMembers.some((m) => m.startsWith('big'))).toBe(false);
    expect(sentMembers).toEqual(short);
  });
});

describe('W3C inject', () => {
  it('writes a version-00 traceparent and the tracestate', () => {
    const traceState = W3CTraceState.parse('congo=t61rcWkgMzE')!;
    const out = inject(contextWith({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1, traceState }));
    expect(out).toEqual({ traceparent: VALID, tracestate: 'congo=t61rcWkgMzE' });
  });

  it('omits an empty tracestate', () => {
    const out = inject(contextWith({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 0, traceState: new W3CTraceState() }));
    expect(out).toEqual({ traceparent: `00-${TRACE_ID}-${SPAN_ID}-00` });
  });

  it('masks the flags to the low 8 bits and writes two hex digits', () => {
    expect(inject(contextWith({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 0x101 })).traceparent).toBe(VALID);
    expect(inject(contextWith({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 0xab })).traceparent).toBe(
      `00-${TRACE_ID}-${SPAN_ID}-ab`,
    );
  });

  it('re-emits a future-version header as version 00 with the known fields only', () => {
    const out = inject(extract({ traceparent: `cc-${TRACE_ID}-${SPAN_ID}-01-future-stuff` }));
    expect(out.traceparent).toBe(VALID);
  });

  it('writes nothing for an invalid span context or no span', () => {
    expect(inject(ROOT_CONTEXT)).toEqual({});
    expect(inject(contextWith({ traceId: '0'.repeat(32), spanId: SPAN_ID, traceFlags: 1 }))).toEqual({});
    expect(inject(contextWith({ traceId: TRACE_ID, spanId: '0'.repeat(16), traceFlags: 1 }))).toEqual({});
    expect(inject(contextWith({ traceId: TRACE_ID.toUpperCase() + '', spanId: 'ABCDEF0123456789', traceFlags: 1 }))).toEqual({});
  });

  it('writes nothing when tracing is suppressed (as OpenTelemetry JS)', () => {
    const context = suppressTracing(contextWith({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1 }));
    expect(inject(context)).toEqual({});
  });

  it('reads span contexts put in an @opentelemetry/api context (shared context keys)', () => {
    const ctx = api.trace.setSpanContext(api.ROOT_CONTEXT, { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1 });
    expect(inject(ctx as unknown as Context)).toEqual({ traceparent: VALID });
    const back = propagator.extract(api.ROOT_CONTEXT as unknown as Context, { traceparent: VALID }, defaultTextMapGetter);
    expect(api.trace.getSpanContext(back as unknown as api.Context)).toMatchObject({ traceId: TRACE_ID, isRemote: true });
  });

  it('lists its fields', () => {
    expect(propagator.fields()).toEqual(['traceparent', 'tracestate']);
  });
});

// ---- property-based tests ----

const hexChars = fc.constantFrom(...'0123456789abcdef'.split(''));
const hex = (n: number) => fc.string({ unit: hexChars, minLength: n, maxLength: n });
const traceIdArb = hex(32).filter((s) => /[^0]/.test(s));
const spanIdArb = hex(16).filter((s) => /[^0]/.test(s));
const flagsArb = fc.integer({ min: 0, max: 255 });
const tsKeyArb = fc.stringMatching(/^[a-z][a-z0-9_\-*/]{0,15}(@[a-z][a-z0-9_\-*/]{0,5})?$/);
const tsValueArb = fc.stringMatching(/^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,10}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/);
const traceStateArb = fc
  .uniqueArray(fc.tuple(tsKeyArb, tsValueArb), { selector: (m) => m[0], maxLength: 32 })
  .filter((members) => members.map(([k, v]) => `${k}=${v}`).join(',').length <= 512)
  .map((members) => new W3CTraceState(members));

/** An independent, regex-based reading of the traceparent rules, as an oracle for the char-loop parser. */
function oracle(header: string): { traceId: string; spanId: string; traceFlags: number } | undefined {
  const trimmed = header.replace(/^[ \t]+/, '').replace(/[ \t]+$/, '');
  const m = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-[\s\S]*)?$/.exec(trimmed);
  if (m === null || m[1] === 'ff' || (m[1] === '00' && m[5] !== undefined)) return undefined;
  if (/^0+$/.test(m[2]) || /^0+$/.test(m[3])) return undefined;
  return { traceId: m[2], spanId: m[3], traceFlags: parseInt(m[4], 16) };
}

/** Strings that look like traceparent headers, with random damage, so the interesting branches are reached. */
const nearTraceParentArb = fc
  .tuple(
    fc.oneof({ arbitrary: hex(2), weight: 8 }, fc.constantFrom('00', 'ff', 'cc', '0', '000', 'FF', 'Cc')),
    fc.oneof(
      { arbitrary: traceIdArb, weight: 8 },
      hex(31),
      fc.constant('0'.repeat(32)),
      traceIdArb.map((s) => s.toUpperCase()),
    ),
    fc.oneof({ arbitrary: spanIdArb, weight: 8 }, hex(17), fc.constant('0'.repeat(16))),
    fc.oneof({ arbitrary: hex(2), weight: 8 }, fc.constantFrom('0', '001', 'Ff', '.0')),
    fc.oneof(
      { arbitrary: fc.constant(''), weight: 4 },
      fc.string({ unit: 'binary-ascii', maxLength: 20 }),
      fc.constantFrom('-future', '-', '.x'),
    ),
    fc.constantFrom('', '', ' ', '\t', ' \t'),
    fc.oneof({ arbitrary: fc.constant('-'), weight: 8 }, fc.constantFrom('_', ' ')),
  )
  .map(([v, t, s, f, rest, ows, sep]) => `${ows}${v}${sep}${t}-${s}-${f}${rest}${ows}`);

const anyStringArb = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 100 }),
  fc.string({ unit: 'binary-ascii', maxLength: 100 }),
  fc.string({ unit: fc.constantFrom(',', '-', ' ', '\t', '\0', '\x7f', 'é', '0', 'a', 'f', '='), maxLength: 80 }),
  fc.string({ unit: 'grapheme', minLength: 5000, maxLength: 20000 }),
  nearTraceParentArb,
);

describe('W3C trace context properties', () => {
  it('extract never throws and yields the original context or a valid remote span context', () => {
    fc.assert(
      fc.property(anyStringArb, fc.option(anyStringArb), (traceparent, tracestate) => {
        const context = ROOT_CONTEXT.setValue(Symbol('marker'), 1);
        const headers: HeaderCarrier = { traceparent };
        if (tracestate !== null) headers.tracestate = tracestate;
        const out = extract(headers, context);
        if (out === context) return;
        const sc = getSpanContext(out)!;
        expect(isValidTraceId(sc.traceId)).toBe(true);
        expect(isValidSpanId(sc.spanId)).toBe(true);
        expect(Number.isInteger(sc.traceFlags) && sc.traceFlags >= 0 && sc.traceFlags <= 255).toBe(true);
        expect(sc.isRemote).toBe(true);
        if (sc.traceState !== undefined) expect(() => sc.traceState!.serialize()).not.toThrow();
      }),
      { numRuns: 500 },
    );
  });

  it('the char-loop parser agrees with a regex reading of the specification', () => {
    fc.assert(
      fc.property(fc.oneof(nearTraceParentArb, anyStringArb), (header) => {
        const got = parseTraceParent(header);
        const want = oracle(header);
        if (want === undefined) expect(got).toBeUndefined();
        else expect(got).toMatchObject(want);
      }),
      { numRuns: 2000 },
    );
  });

  it('extract ∘ inject is the identity on valid span contexts', () => {
    fc.assert(
      fc.property(traceIdArb, spanIdArb, flagsArb, fc.option(traceStateArb), (traceId, spanId, traceFlags, traceState) => {
        const sc: SpanContext = { traceId, spanId, traceFlags, traceState: traceState ?? undefined };
        const back = extracted(inject(contextWith(sc)))!;
        expect(back).toMatchObject({ traceId, spanId, traceFlags, isRemote: true });
        const sent = traceState?.serialize() ?? '';
        expect(back.traceState?.serialize() ?? '').toBe(sent);
      }),
      { numRuns: 300 },
    );
  });

  it('inject ∘ extract gives back a valid version-00 header unchanged', () => {
    fc.assert(
      fc.property(traceIdArb, spanIdArb, flagsArb, traceStateArb, (traceId, spanId, flags, traceState) => {
        const headers = {
          traceparent: `00-${traceId}-${spanId}-${flags.toString(16).padStart(2, '0')}`,
          tracestate: traceState.serialize(),
        };
        const out = inject(extract(headers));
        expect(out.traceparent).toBe(headers.traceparent);
        expect(out.tracestate).toBe(headers.tracestate === '' ? undefined : headers.tracestate);
      }),
      { numRuns: 300 },
    );
  });
});
