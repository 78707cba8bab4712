import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as api from '@opentelemetry/api';
import type { Baggage, BaggageEntry, Context } from '../../src/api/types';
import { ROOT_CONTEXT, getBaggage, setBaggage, suppressTracing } from '../../src/context/context';
import { defaultTextMapGetter, defaultTextMapSetter, type HeaderCarrier } from '../../src/propagators';
import { baggageEntryMetadataFromString, createBaggage } from '../../src/propagators/baggage';
import {
  MAX_BAGGAGE_BYTES,
  MAX_BAGGAGE_MEMBERS,
  MAX_BAGGAGE_MEMBER_BYTES,
  W3CBaggagePropagator,
  encodeBaggageValue,
  isValidBaggageKey,
} from '../../src/propagators/w3c-baggage-propagator';

const propagator = new W3CBaggagePropagator();

function extract(headers: HeaderCarrier, context: Context = ROOT_CONTEXT): Context {
  return propagator.extract(context, headers, defaultTextMapGetter);
}

function entriesOf(header: string | string[]): Array<[string, string, string | undefined]> {
  const baggage = getBaggage(extract({ baggage: header }));
  if (baggage === undefined) return [];
  return baggage.getAllEntries().map(([k, e]) => [k, e.value, e.metadata?.toString()]);
}

function inject(baggage: Baggage | undefined, context: Context = ROOT_CONTEXT): HeaderCarrier {
  const carrier: HeaderCarrier = {};
  propagator.inject(baggage === undefined ? context : setBaggage(context, baggage), carrier, defaultTextMapSetter);
  return carrier;
}

function baggageOf(entries: Record<string, string>): Baggage {
  const record: Record<string, BaggageEntry> = {};
  for (const k of Object.keys(entries)) record[k] = { value: entries[k] };
  return createBaggage(record);
}

describe('W3C baggage extract: examples of the specification', () => {
  it('reads the "Example" header with properties and optional white space', () => {
    expect(entriesOf('key1=value1;property1;property2, key2 = value2, key3=value3; propertyKey=propertyValue')).toEqual([
      ['key1', 'value1', 'property1;property2'],
      ['key2', 'value2', undefined],
      ['key3', 'value3', 'propertyKey=propertyValue'],
    ]);
  });

  it('reads "Examples of HTTP headers": a single header with a percent-encoded value', () => {
    expect(entriesOf('userId=alice,serverNode=DF%2028,isProduction=false')).toEqual([
      ['userId', 'alice', undefined],
      ['serverNode', 'DF 28', undefined],
      ['isProduction', 'false', undefined],
    ]);
  });

  it('combines several baggage headers in order', () => {
    expect(entriesOf(['userId=alice', 'serverNode=DF%2028,isProduction=false'])).toEqual([
      ['userId', 'alice', undefined],
      ['serverNode', 'DF 28', undefined],
      ['isProduction', 'false', undefined],
    ]);
  });

  it('accepts names and values with surrounding spaces', () => {
    expect(entriesOf(['userId =   alice', 'serverNode = DF%2028, isProduction = false'])).toEqual([
      ['userId', 'alice', undefined],
      ['serverNode', 'DF 28', undefined],
      ['isProduction', 'false', undefined],
    ]);
  });

  it('keeps equal signs inside values ("Parsers MUST NOT assume that the equal sign is only used to separate key and value")', () => {
    expect(entriesOf('k==a=b=;p=x=y')).toEqual([['k', '=a=b=', 'p=x=y']]);
  });

  it('accepts empty values and properties without values', () => {
    expect(entriesOf('k=;flag')).toEqual([['k', '', 'flag']]);
    expect(entriesOf('k= ; a ; b = 1 ')).toEqual([['k', '', 'a;b=1']]);
  });

  it('decodes UTF-8 percent-encoding', () => {
    expect(entriesOf('k=h%C3%A9llo%20w%C3%B6rld%20%F0%9F%98%80%20%E4%B8%AD')).toEqual([['k', 'héllo wörld 😀 中', undefined]]);
    expect(entriesOf('k=%2c%3b%3d%25')).toEqual([['k', ',;=%', undefined]]);
  });

  it('decodes leniently (WHATWG URL percent-decode): stray % kept, bad UTF-8 becomes U+FFFD', () => {
    expect(entriesOf('k=50%')).toEqual([['k', '50%', undefined]]);
    expect(entriesOf('k=%zz%4')).toEqual([['k', '%zz%4', undefined]]);
    expect(entriesOf('k=%FF')).toEqual([['k', '\uFFFD', undefined]]);
  });

  it('lets a later duplicate key win', () => {
    expect(entriesOf('a=1,b=2,a=3')).toEqual([
      ['a', '3', undefined],
      ['b', '2', undefined],
    ]);
  });

  it('skips malformed members and keeps the others', () => {
    const malformed = [
      '=novalue',
      'nokey',
      'bad key=1',
      'k=two words',
      'k=a"b',
      'k=back\\slash',
      'k=v;bad property',
      'k=v;=x',
      'k=v;p="q"',
      'k=\u00e9',
      'k\u00e9=v',
      'k=\x01',
      'k=\x7f',
      '(k)=v',
      'k:v',
    ];
    for (const member of malformed) {
      expect(entriesOf(`a=1,${member},z=26`), member).toEqual([
        ['a', '1', undefined],
        ['z', '26', undefined],
      ]);
    }
    expect(entriesOf(',, ,\t,a=1,,')).toEqual([['a', '1', undefined]]);
  });

  it('tolerates empty properties', () => {
    expect(entriesOf('k=v;;p;')).toEqual([['k', 'v', 'p']]);
    expect(entriesOf('k=v;')).toEqual([['k', 'v', undefined]]);
  });

  it('leaves the context alone when there is nothing usable', () => {
    const context = ROOT_CONTEXT.setValue(Symbol('marker'), 1);
    expect(extract({}, context)).toBe(context);
    expect(extract({ baggage: '' }, context)).toBe(context);
    expect(extract({ baggage: 'garbage, more garbage' }, context)).toBe(context);
    expect(extract({ baggage: [] }, context)).toBe(context);
  });

  it('replaces baggage already in the context', () => {
    const context = setBaggage(ROOT_CONTEXT, baggageOf({ old: '1' }));
    const out = extract({ baggage: 'new=2' }, context);
    expect(getBaggage(out)?.getAllEntries().map(([k]) => k)).toEqual(['new']);
  });
});

describe('W3C baggage limits on extract', () => {
  it('keeps at most 180 members', () => {
    const header = Array.from({ length: 200 }, (_, i) => `k${i}=${i}`).join(',');
    const entries = entriesOf(header);
    expect(entries).toHaveLength(MAX_BAGGAGE_MEMBERS);
    expect(entries[179]).toEqual(['k179', '179', undefined]);
  });

  it('ignores a member over 4096 bytes and keeps the others', () => {
    const big = `big=${'x'.repeat(MAX_BAGGAGE_MEMBER_BYTES)}`; // 4100 bytes
    const fits = `fit=${'x'.repeat(MAX_BAGGAGE_MEMBER_BYTES - 4)}`; // exactly 4096
    expect(entriesOf(`a=1,${big},b=2`).map(([k]) => k)).toEqual(['a', 'b']);
    expect(entriesOf(fits).map(([k]) => k)).toEqual(['fit']);
  });

  it('ignores members past 8192 bytes in all', () => {
    const member = (k: string) => `${k}=${'v'.repeat(4000)}`; // 4002 bytes each
    const entries = entriesOf([member('a'), member('b'), member('c'), 'd=1'].join(','));
    // a + ',' + b = 8005 bytes; c would take it to 12008: c and what follows are ignored.
    expect(entries.map(([k]) => k)).toEqual(['a', 'b']);
  });

  it('copes with a huge header', () => {
    const header = 'k=v,'.repeat(100_000) + 'x'.repeat(1_000_000);
    expect(entriesOf(header)).toEqual([['k', 'v', undefined]]);
  });
});

describe('W3C baggage inject', () => {
  it('writes members in order', () => {
    expect(inject(baggageOf({ userId: 'alice', serverNode: 'DF 28', isProduction: 'false' }))).toEqual({
      baggage: 'userId=alice,serverNode=DF%2028,isProduction=false',
    });
  });

  it('percent-encodes what is not a baggage-octet, and %', () => {
    expect(encodeBaggageValue('plain-value_1.2~!#$&\'()*+/:<=>?@[]^`{|}')).toBe('plain-value_1.2~!#$&\'()*+/:<=>?@[]^`{|}');
    expect(encodeBaggageValue('a,b;c=d%e f"g\\h')).toBe('a%2Cb%3Bc=d%25e%20f%22g%5Ch');
    expect(encodeBaggageValue('\x00\x1f\x7f\t')).toBe('%00%1F%7F%09');
    expect(encodeBaggageValue('é😀中')).toBe('%C3%A9%F0%9F%98%80%E4%B8%AD');
    expect(encodeBaggageValue('\ud800x\udc00')).toBe('%EF%BF%BDx%EF%BF%BD');
  });

  it('writes properties after the value', () => {
    const b = createBaggage({ k: { value: 'v', metadata: baggageEntryMetadataFromString('prop1;prop2=v2') } });
    expect(inject(b)).toEqual({ baggage: 'k=v;prop1;prop2=v2' });
  });

  it('normalizes white space in properties and leaves out metadata that is not a property list', () => {
    const spaced = createBaggage({ k: { value: 'v', metadata: baggageEntryMetadataFromString(' a ; b = 1 ') } });
    expect(inject(spaced)).toEqual({ baggage: 'k=v;a;b=1' });
    const bad = createBaggage({ k: { value: 'v', metadata: baggageEntryMetadataFromString('x,y=z') } });
    expect(inject(bad)).toEqual({ baggage: 'k=v' });
    const empty = createBaggage({ k: { value: 'v', metadata: baggageEntryMetadataFromString('') } });
    expect(inject(empty)).toEqual({ baggage: 'k=v' });
  });

  it('skips keys that are not tokens', () => {
    expect(inject(baggageOf({ 'bad key': '1', 'ok.key': '2', 'ü': '3', '': '4' }))).toEqual({ baggage: 'ok.key=2' });
  });

  it('writes nothing for no baggage, empty baggage, or when tracing is suppressed', () => {
    expect(inject(undefined)).toEqual({});
    expect(inject(createBaggage())).toEqual({});
    expect(inject(baggageOf({ 'bad key': '1' }))).toEqual({});
    expect(inject(baggageOf({ a: '1' }), suppressTracing(ROOT_CONTEXT))).toEqual({});
  });

  it('drops whole members past 180', () => {
    const entries: Record<string, string> = {};
    for (let i = 0; i < 200; i++) entries[`k${i}`] = String(i);
    const header = String(inject(baggageOf(entries)).baggage);
    const members = header.split(',');
    expect(members).toHaveLength(180);
    expect(members[179]).toBe('k179=179');
  });

  it('drops a member over 4096 bytes, never cutting it', () => {
    const header = String(inject(baggageOf({ a: '1', big: 'x'.repeat(5000), b: '2' })).baggage);
    expect(header).toBe('a=1,b=2');
    // Encoding counts: 1400 'é' are 2800 bytes of UTF-8, 8400 characters encoded.
    expect(inject(baggageOf({ e: 'é'.repeat(1400) }))).toEqual({});
    const fits = 'x'.repeat(MAX_BAGGAGE_MEMBER_BYTES - 2);
    expect(inject(baggageOf({ f: fits })).baggage).toBe(`f=${fits}`);
  });

  it('drops members that would take the header past 8192 bytes', () => {
    const v = 'v'.repeat(3000);
    const header = String(inject(baggageOf({ a: v, b: v, c: v, d: '1' })).baggage);
    expect(header.length).toBeLessThanOrEqual(MAX_BAGGAGE_BYTES);
    expect(header.split(',').map((m) => m.split('=')[0])).toEqual(['a', 'b', 'd']);
    for (const member of header.split(',')) expect([`a=${v}`, `b=${v}`, `c=${v}`, 'd=1']).toContain(member);
  });

  it('reads baggage made by @opentelemetry/api, and its baggage reads ours', () => {
    const theirs = api.propagation.createBaggage({
      k: { value: 'a b', metadata: api.baggageEntryMetadataFromString('p=1') },
    });
    const ctx = api.propagation.setBaggage(api.ROOT_CONTEXT, theirs) as unknown as Context;
    const carrier: HeaderCarrier = {};
    propagator.inject(ctx, carrier, defaultTextMapSetter);
    expect(carrier).toEqual({ baggage: 'k=a%20b;p=1' });
    const back = propagator.extract(api.ROOT_CONTEXT as unknown as Context, carrier, defaultTextMapGetter);
    const seen = api.propagation.getBaggage(back as unknown as api.Context);
    expect(seen?.getEntry('k')?.value).toBe('a b');
    expect(seen?.getEntry('k')?.metadata?.toString()).toBe('p=1');
  });

  it('lists its field', () => {
    expect(propagator.fields()).toEqual(['baggage']);
  });
});

describe('W3C baggage round trips', () => {
  const awkward = [
    'plain',
    'with space',
    'comma,separated',
    'semi;colon',
    'equals=sign==',
    '100% sure %25 %zz',
    'quote " and backslash \\',
    'héllo wörld',
    '日本語テキスト',
    'emoji 😀👍🏽',
    'tab\tnew\nline\r',
    '\x00\x7f',
    '',
    ' leading and trailing ',
  ];
  for (const value of awkward) {
    it(`keeps ${JSON.stringify(value)}`, () => {
      const metadata = baggageEntryMetadataFromString('p1;p2=x');
      const out = inject(createBaggage({ k: { value, metadata } }));
      const entries = entriesOf(String(out.baggage));
      expect(entries).toEqual([['k', value, 'p1;p2=x']]);
    });
  }
});

// ---- property-based tests ----

const tcharArb = fc.constantFrom(..."!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".split(''));
const tokenArb = fc.string({ unit: tcharArb, minLength: 1, maxLength: 12 });
const octetArb = fc.constantFrom(
  ...Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i)).filter((c) => !'",;\\'.includes(c)),
);
const propertyArb = fc.oneof(
  tokenArb,
  fc.tuple(tokenArb, fc.string({ unit: octetArb, maxLength: 8 })).map(([k, v]) => `${k}=${v}`),
);
const metadataArb = fc.option(fc.array(propertyArb, { minLength: 1, maxLength: 3 }).map((p) => p.join(';')));
const valueArb = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.string({ unit: 'binary-ascii', maxLength: 20 }),
  fc.string({ unit: fc.constantFrom('%', ',', ';', '=', ' ', '"', '\\', 'é', '😀', 'a'), maxLength: 20 }),
);
const baggageArb = fc
  .uniqueArray(fc.tuple(tokenArb, valueArb, metadataArb), { selector: (e) => e[0], maxLength: 10 })
  .map((entries) => ({
    entries,
    baggage: createBaggage(
      entries.map(
        ([k, v, m]) =>
          [k, m === null ? { value: v } : { value: v, metadata: baggageEntryMetadataFromString(m) }] as const,
      ),
    ),
  }));

const memberLikeArb = fc
  .tuple(
    fc.oneof({ arbitrary: tokenArb, weight: 4 }, fc.string({ maxLength: 5 })),
    fc.constantFrom('', ' ', '\t'),
    fc.constantFrom('=', '=', '=', '', ':'),
    fc.oneof(
      { arbitrary: fc.string({ unit: octetArb, maxLength: 10 }), weight: 4 },
      fc.string({ unit: 'binary', maxLength: 10 }),
    ),
    fc.oneof({ arbitrary: fc.constant(''), weight: 3 }, metadataArb.map((m) => (m === null ? ';' : `;${m}`))),
  )
  .map(([k, ows, eq, v, props]) => `${ows}${k}${ows}${eq}${ows}${v}${props}${ows}`);

const headerArb = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({ unit: 'binary-ascii', maxLength: 200 }),
  fc.string({ unit: fc.constantFrom(',', ';', '=', '%', ' ', '\t', 'a', 'b', '2', 'F', 'é', '\0'), maxLength: 100 }),
  fc.array(memberLikeArb, { maxLength: 20 }).map((m) => m.join(',')),
  fc.array(memberLikeArb, { minLength: 150, maxLength: 250 }).map((m) => m.join(',')),
  fc.string({ unit: 'grapheme', minLength: 5000, maxLength: 20000 }),
);

describe('W3C baggage properties', () => {
  it('extract never throws and yields the original context or valid baggage within the limits', () => {
    fc.assert(
      fc.property(fc.oneof(headerArb, fc.array(headerArb, { maxLength: 3 })), (header) => {
        const context = ROOT_CONTEXT.setValue(Symbol('marker'), 1);
        const out = extract({ baggage: header }, context);
        if (out === context) return;
        const entries = getBaggage(out)!.getAllEntries();
        expect(entries.length).toBeGreaterThan(0);
        expect(entries.length).toBeLessThanOrEqual(MAX_BAGGAGE_MEMBERS);
        for (const [key, entry] of entries) {
          expect(isValidBaggageKey(key)).toBe(true);
          expect(typeof entry.value).toBe('string');
          const meta = entry.metadata?.toString();
          if (meta !== undefined) expect(meta).toMatch(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+(=[^",;\\\s]*)?(;[!#$%&'*+\-.^_`|~0-9A-Za-z]+(=[^",;\\\s]*)?)*$/);
        }
        // What was extracted can always be sent on, within the limits.
        const sent = String(inject(getBaggage(out)).baggage);
        expect(sent.length).toBeLessThanOrEqual(MAX_BAGGAGE_BYTES);
      }),
      { numRuns: 500 },
    );
  });

  it('extract ∘ inject is the identity on baggage within the limits', () => {
    fc.assert(
      fc.property(baggageArb, ({ entries, baggage }) => {
        const out = inject(baggage);
        if (entries.length === 0) {
          expect(out).toEqual({});
          return;
        }
        const back = getBaggage(extract(out))!;
        expect(back.getAllEntries().map(([k, e]) => [k, e.value, e.metadata?.toString() ?? null])).toEqual(
          entries.map(([k, v, m]) => [k, v, m]),
        );
      }),
      { numRuns: 500 },
    );
  });

  it('inject never writes more than the limits, whatever the entries', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.string({ maxLength: 10 }), fc.string({ unit: 'binary', maxLength: 2000 })), { maxLength: 200 }),
        (pairs) => {
          const header = inject(createBaggage(pairs.map(([k, v]) => [k, { value: v }] as const))).baggage;
          if (header === undefined) return;
          const text = String(header);
          expect(text.length).toBeLessThanOrEqual(MAX_BAGGAGE_BYTES);
          const members = text.split(',');
          expect(members.length).toBeLessThanOrEqual(MAX_BAGGAGE_MEMBERS);
          for (const m of members) expect(m.length).toBeLessThanOrEqual(MAX_BAGGAGE_MEMBER_BYTES);
          expect(/^[\x21-\x7e]*$/.test(text)).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });
});
