import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encodeTraceRequest } from '../../src/exporters/otlp/trace-protobuf-encoder';
import { ProtobufWriter } from '../../src/exporters/otlp/protobuf-writer';
import { NonRecordingSpan } from '../../src/trace/span';
import type { ReadableSpan } from '../../src/trace/span';
import { ROOT_CONTEXT, setSpan } from '../../src/context/context';
import { W3CTraceState } from '../../src/trace/trace-state';
import { Resource } from '../../src/resource/resource';
import { toEpochNanosBigInt } from '../../src/trace/time';
import { AnyValue, decodeRequest, flattenSpans, hexToBase64 } from './helpers/otlp-proto';
import { makeProvider } from './helpers/spans';
import { expectedAnyValue, expectedRequest, expectedResource, expectedScope, expectedSpan } from './expected';

const LONG_ASCII = 'x'.repeat(100_000);
const LONG_UNICODE = 'héllo wörld ✓ 日本語 🚀 '.repeat(3000);

/** One attribute of every kind the SDK accepts, with edge values. */
export const EVERY_ATTRIBUTE: Record<string, unknown> = {
  'str.plain': 'GET',
  'str.empty': '',
  'str.unicode': 'naïve café — 日本語 — 😀👍🏽 — العربية',
  'str.lone-surrogate': '\ud800abc\udc00',
  'str.long-ascii': LONG_ASCII,
  'str.long-unicode': LONG_UNICODE,
  'str.127': 'a'.repeat(127),
  'str.128': 'a'.repeat(128),
  'str.16383': 'b'.repeat(16383),
  'str.16384': 'b'.repeat(16384),
  'str.accents-boundary': 'é'.repeat(64), // 64 chars, 128 bytes: the length needs a second byte
  'bool.true': true,
  'bool.false': false,
  'int.zero': 0,
  'int.negative-zero': -0,
  'int.one': 1,
  'int.minus-one': -1,
  'int.max-safe': Number.MAX_SAFE_INTEGER,
  'int.min-safe': Number.MIN_SAFE_INTEGER,
  'int.2^31': 2 ** 31,
  'int.-2^31': -(2 ** 31),
  'int.2^32+5': 2 ** 32 + 5,
  'int.-2^40-3': -(2 ** 40) - 3,
  'double.half': 0.5,
  'double.negative': -1.25,
  'double.huge': 1e300,
  'double.tiny': 5e-324,
  'double.2^53': 2 ** 53,
  'double.nan': NaN,
  'double.inf': Infinity,
  'double.-inf': -Infinity,
  'array.strings': ['a', null, '', 'ü'],
  'array.numbers': [1, 2.5, -3, null],
  'array.bools': [true, false, null],
  'array.empty': [],
  'array.of-maps': [{ x: 1 }, { y: 'z' }],
  'array.of-arrays': [
    [1, 2],
    ['a', 'b'],
  ],
  'map.nested': { a: 1, b: { c: 'x', d: [1, 2], e: { f: true } }, g: new Uint8Array([9, 8, 7]) },
  'map.empty': {},
  'bytes.some': new Uint8Array([0, 1, 2, 253, 254, 255]),
  'bytes.empty': new Uint8Array(0),
  ['k'.repeat(300)]: 'long key',
  'ключ.юникод': 'unicode key',
};

async function richSpans(): Promise<ReadableSpan[]> {
  const resource = new Resource(
    { 'service.name': 'checkout', 'service.instance.id': 'ï-1', 'host.cores': 8, 'process.command_args': ['node', 'app.js'] },
    'https://opentelemetry.io/schemas/1.26.0',
  );
  const { provider, finished } = makeProvider({
    resource,
    limits: {
      attributeCountLimit: 1000,
      attributeValueLengthLimit: Infinity,
      eventCountLimit: 3,
      linkCountLimit: 3,
      attributePerEventCountLimit: 2,
      attributePerLinkCountLimit: 2,
    },
  });
  const tracer = provider.getTracer('scope-a', '1.2.3', { schemaUrl: 'https://opentelemetry.io/schemas/1.21.0' });
  const remoteParent = new NonRecordingSpan({
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: 1,
    isRemote: true,
    traceState: W3CTraceState.parse('vendor=value,other=x'),
  });
  const server = tracer.startSpan('GET /users/:id — ✓', { kind: 1 }, setSpan(ROOT_CONTEXT, remoteParent));
  for (const [k, v] of Object.entries(EVERY_ATTRIBUTE)) server.setAttribute(k, v as any);
  server.addEvent('pushed out'); // the fourth event pushes this one out: droppedEventsCount 1
  server.addEvent('with attributes', { a: 1, b: 'two', c: 3 }); // c is dropped by the per-event limit
  server.addEvent('at a time', [1_700_000_000, 123_456_789]);
  server.addEvent('', { empty: '' });
  server.addLink({
    context: { traceId: 'ffffffffffffffffffffffffffffffff', spanId: '0000000000000001', traceFlags: 1, isRemote: true, traceState: W3CTraceState.parse('a=b') },
    attributes: { 'link.kind': 'remote', x: 1, y: 2 },
  });
  server.addLink({ context: { traceId: '0123456789abcdef0123456789abcdef', spanId: 'fedcba9876543210', traceFlags: 0, isRemote: false } });
  server.addLink({ context: { traceId: '11111111111111111111111111111111', spanId: '2222222222222222', traceFlags: 1 }, droppedAttributesCount: 4 });
  server.addLink({ context: { traceId: '33333333333333333333333333333333', spanId: '4444444444444444', traceFlags: 1 } }); // over the limit
  server.setStatus({ code: 2, message: 'échec: connexion refusée' });

  const child = tracer.startSpan('SELECT users', { kind: 2, attributes: { 'db.system.name': 'postgresql' } }, setSpan(ROOT_CONTEXT, server));
  child.setStatus({ code: 1 });
  child.end();
  server.end();

  const root = tracer.startSpan('', { kind: 0, startTime: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)) });
  root.end(new Date(Date.UTC(2024, 0, 2, 3, 4, 6, 0)));
  // Far beyond 2^53 ns (and beyond 2^62): year 2128.
  const future = tracer.startSpan('future', { kind: 3, startTime: [5_000_000_000, 999_999_999] });
  future.end([5_000_000_001, 1]);
  const consumer = tracer.startSpan('consumer', { kind: 4 });
  consumer.end();
  return finished();
}

describe('OTLP protobuf encoder, decoded with the official definitions', () => {
  it('writes every field of every span exactly', async () => {
    const spans = await richSpans();
    expect(spans).toHaveLength(5);
    const decoded = decodeRequest(encodeTraceRequest(spans));
    expect(decoded).toEqual(expectedRequest(spans));
  });

  it('writes the details the comparison rests on as OTLP defines them', async () => {
    const spans = await richSpans();
    const flat = flattenSpans(decodeRequest(encodeTraceRequest(spans)));
    const byName = new Map(flat.map((f) => [f.span.name ?? '', f.span]));
    const server = byName.get('GET /users/:id — ✓');
    expect(server.kind).toBe(2); // SPAN_KIND_SERVER
    expect(server.flags).toBe(0x301); // sampled, parent known to be remote
    expect(server.traceState).toBe('vendor=value,other=x');
    expect(server.parentSpanId).toBe(hexToBase64('b7ad6b7169203331'));
    expect(server.droppedEventsCount).toBe(1);
    expect(server.droppedLinksCount).toBe(1);
    expect(server.events.map((e: any) => e.name ?? '')).toEqual(['with attributes', 'at a time', '']);
    expect(server.events[0].droppedAttributesCount).toBe(1);
    // The SDK holds times as relative milliseconds (a double): an HrTime input comes back within a microsecond.
    expect(near(server.events[1].timeUnixNano, 1700000000123456789n, 1000n)).toBe(true);
    expect(server.links.map((l: any) => l.flags)).toEqual([0x301, 0x100, 0x001]);
    expect(server.links[2].droppedAttributesCount).toBe(4);
    expect(server.status).toEqual({ code: 2, message: 'échec: connexion refusée' });
    const child = byName.get('SELECT users');
    expect(child.kind).toBe(3);
    expect(child.flags).toBe(0x101); // parent known to be local
    expect(child.status).toEqual({ code: 1 });
    const root = byName.get('');
    expect(root.kind).toBe(1);
    expect(root.flags).toBe(0x01); // a root: remoteness unknown
    expect(root.startTimeUnixNano).toBe('1704164645678000000');
    expect(root.endTimeUnixNano).toBe('1704164646000000000');
    const future = byName.get('future');
    expect(near(future.startTimeUnixNano, 5000000000999999999n, 1000n)).toBe(true);
    expect(near(future.endTimeUnixNano, 5000000001000000001n, 1000n)).toBe(true);
    expect(BigInt(future.startTimeUnixNano)).toBeGreaterThan(2n ** 62n);
    expect(byName.get('consumer').kind).toBe(5);
    for (const f of flat) expect(f.resourceSchemaUrl).toBe('https://opentelemetry.io/schemas/1.26.0');
    for (const f of flat) expect(f.scopeSchemaUrl).toBe('https://opentelemetry.io/schemas/1.21.0');
  });

  it('matches toEpochNanosBigInt for times of real spans (beyond 2^53 ns)', async () => {
    const spans = await richSpans();
    const flat = flattenSpans(decodeRequest(encodeTraceRequest(spans)));
    for (let i = 0; i < spans.length; i++) {
      expect(BigInt(flat[i].span.startTimeUnixNano)).toBe(toEpochNanosBigInt(spans[i].startTime));
      expect(BigInt(flat[i].span.endTimeUnixNano)).toBe(toEpochNanosBigInt(spans[i].endTime));
      expect(toEpochNanosBigInt(spans[i].startTime)).toBeGreaterThan(2n ** 53n);
    }
  });

  it('groups spans by resource, then by scope, keeping first-seen order', async () => {
    const a = makeProvider({ resource: new Resource({ 'service.name': 'a' }) });
    const b = makeProvider({ resource: new Resource({ 'service.name': 'b' }, 'https://example.com/schema') });
    const a1 = a.provider.getTracer('one');
    const a2 = a.provider.getTracer('two', '2.0');
    const b1 = b.provider.getTracer('one');
    a1.startSpan('a1-first').end();
    b1.startSpan('b1').end();
    a2.startSpan('a2').end();
    a1.startSpan('a1-second').end();
    const aSpans = await a.finished();
    const bSpans = await b.finished();
    // Interleave: a1-first, b1, a2, a1-second.
    const batch = [aSpans[0], bSpans[0], aSpans[1], aSpans[2]];
    const decoded = decodeRequest(encodeTraceRequest(batch));
    expect(decoded).toEqual({
      resourceSpans: [
        {
          resource: expectedResource(aSpans[0].resource),
          scopeSpans: [
            { scope: expectedScope(aSpans[0].instrumentationScope), spans: [expectedSpan(aSpans[0]), expectedSpan(aSpans[2])] },
            { scope: expectedScope(aSpans[1].instrumentationScope), spans: [expectedSpan(aSpans[1])] },
          ],
        },
        {
          resource: expectedResource(bSpans[0].resource),
          scopeSpans: [{ scope: expectedScope(bSpans[0].instrumentationScope), spans: [expectedSpan(bSpans[0])] }],
          schemaUrl: 'https://example.com/schema',
        },
      ],
    });
  });

  it('encodes an empty batch as an empty request', () => {
    expect(encodeTraceRequest([]).length).toBe(0);
    expect(decodeRequest(encodeTraceRequest([]))).toEqual({ resourceSpans: [] });
  });

  it('encodes a large batch (buffer growth, 3-byte lengths, long strings) and the next one after it', async () => {
    const { provider, finished } = makeProvider();
    const tracer = provider.getTracer('big');
    for (let i = 0; i < 512; i++) {
      const s = tracer.startSpan(`span-${i}`);
      s.setAttribute('payload', String(i).repeat(4000));
      s.end();
    }
    const spans = await finished();
    const body = encodeTraceRequest(spans);
    expect(body.length).toBeGreaterThan(4 * 1024 * 1024);
    expect(decodeRequest(body)).toEqual(expectedRequest(spans));
    const small = spans.slice(0, 2);
    expect(decodeRequest(encodeTraceRequest(small))).toEqual(expectedRequest(small));
  });

  it('reuses encoded attributes only where key, value and field are the same (repeated, changing, retyped values)', async () => {
    const { provider, finished } = makeProvider({ resource: new Resource({ 'shared.key': 'GET', 'service.name': 'cache-test' }) });
    const tracer = provider.getTracer('cache');
    for (let i = 0; i < 60; i++) {
      const s = tracer.startSpan(`span-${i}`, {
        attributes: {
          'shared.key': 'GET', // the same value as the resource attribute of that name: another field tag
          stable: 'always the same',
          changing: `/users/${i}`,
          alternating: i % 2 === 0 ? 'even' : 'odd',
          retyped: i % 3 === 0 ? '1' : i % 3 === 1 ? 1 : true,
          zero: i % 2 === 0 ? 0 : -0,
          port: 40000 + i,
          late: i < 30 ? 'before' : 'after', // stable, then changes once the key has many hits
        },
      });
      s.addEvent('e', { 'shared.key': 'GET', stable: 'always the same' });
      s.end();
    }
    const spans = await finished();
    // Encoded twice: the second batch is written from what the first left in the cache.
    for (let round = 0; round < 2; round++) {
      expect(decodeRequest(encodeTraceRequest(spans))).toEqual(expectedRequest(spans));
    }
  });

  it('copies the attributes a span shares with the last of its kind and name, and writes exactly the rest', async () => {
    const { provider, finished } = makeProvider();
    const tracer = provider.getTracer('runs');
    const big = 'q'.repeat(3000);
    for (let i = 0; i < 640; i++) {
      const attributes: Record<string, unknown> = {
        'http.request.method': 'GET',
        'url.path': i % 5 === 0 ? `/users/${i}` : '/users',
        'server.port': i % 7 === 0 ? '8080' : 8080, // retyped: equal only with the same type
        'network.peer.port': 40000 + (i % 3),
        zero: i % 2 === 0 ? 0 : -0,
        ratio: i % 11 === 0 ? NaN : 0.5,
      };
      if (i % 4 === 0) attributes.nested = { a: 1, b: [true, 'x'] }; // an object among the scalars
      if (i % 6 === 0) attributes['late.key'] = 'late';
      if (i % 9 === 0) attributes.long = big;
      if (i % 13 === 0) delete attributes['url.path']; // fewer keys: the run's next key is missing
      if (i % 17 === 0) attributes['network.peer.port'] = undefined;
      // Reordered keys from i = 320 on. The server spans named GET /users (four in ten) rarely match their run
      // whole, which is made again after 64 partial matches (i ≈ 160, before the reordering) and then after 128
      // more (i ≈ 480, after it): both runs are compared with and copied from.
      const ordered = i < 320 ? attributes : Object.fromEntries(Object.entries(attributes).reverse());
      const kind = i % 2 === 0 ? 1 : 2; // the same name for a server and a client span
      const s = tracer.startSpan(i % 10 === 0 ? 'other' : 'GET /users', { kind, attributes: ordered as any });
      s.end();
    }
    const spans = await finished();
    for (let round = 0; round < 3; round++) {
      expect(decodeRequest(encodeTraceRequest(spans))).toEqual(expectedRequest(spans));
    }
  });

  it('leaves out the absent keys of fixed-shape attribute objects, and still copies the rest from the run', async () => {
    const { provider, finished } = makeProvider();
    const tracer = provider.getTracer('fixed-shape');
    for (let i = 0; i < 300; i++) {
      // As the http server's attributes: every key present, absent ones undefined, some set later.
      const attributes: Record<string, string | number | undefined> = {
        'http.request.method': 'GET',
        'http.request.method_original': undefined,
        'url.path': i % 3 === 0 ? `/items/${i}` : '/items',
        'url.query': i % 4 === 0 ? 'q=1' : undefined,
        'server.port': 8080,
        'http.route': undefined,
        'http.response.status_code': undefined,
      };
      const span = tracer.startOwned('GET', 1, ROOT_CONTEXT, attributes as any);
      if (i % 2 === 0) span.setAttribute('http.route', '/items');
      span.setAttribute('http.response.status_code', i % 5 === 0 ? 500 : 200);
      span.end();
    }
    const spans = await finished();
    const first = decodeRequest(encodeTraceRequest(spans));
    expect(first).toEqual(expectedRequest(spans));
    const keysOf = (i: number) => flattenSpans(first)[i].span.attributes.map((kv: { key: string }) => kv.key);
    expect(keysOf(0)).toEqual(['http.request.method', 'url.path', 'url.query', 'server.port', 'http.route', 'http.response.status_code']);
    expect(keysOf(1)).toEqual(['http.request.method', 'url.path', 'server.port', 'http.response.status_code']);
    // The second batch is written from the runs the first left.
    expect(decodeRequest(encodeTraceRequest(spans))).toEqual(expectedRequest(spans));
  });

  it('round-trips random attributes, names and times (property test)', async () => {
    const scalar = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 80 }),
      fc.string({ maxLength: 300 }),
      fc.boolean(),
      fc.integer(),
      fc.maxSafeInteger(),
      fc.double(),
    );
    const value = fc.oneof(
      scalar,
      fc.array(fc.option(fc.string({ unit: 'grapheme', maxLength: 20 }), { nil: null }), { maxLength: 6 }),
      fc.array(fc.option(fc.double(), { nil: null }), { maxLength: 6 }),
      fc.array(fc.boolean(), { maxLength: 6 }),
      fc.dictionary(fc.string({ minLength: 1, maxLength: 10 }), scalar, { maxKeys: 4 }),
      fc.uint8Array({ maxLength: 40 }),
    );
    const { provider, memory } = makeProvider();
    const tracer = provider.getTracer('property');
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }), value, { maxKeys: 12 }),
        fc.string({ unit: 'binary', maxLength: 60 }),
        fc.integer({ min: 0, max: 4_000_000_000 }),
        fc.integer({ min: 0, max: 999_999_999 }),
        async (attributes, name, seconds, nanos) => {
          memory.reset();
          const span = tracer.startSpan(name, { kind: 2, startTime: [seconds, nanos] });
          for (const [k, v] of Object.entries(attributes)) if (k !== '__proto__') span.setAttribute(k, v as any);
          span.end([seconds + 1, nanos]);
          await provider.forceFlush();
          const spans = memory.getFinishedSpans();
          expect(decodeRequest(encodeTraceRequest(spans))).toEqual(expectedRequest(spans));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('ProtobufWriter', () => {
  it('writes int64 varints like the protobuf definition (negatives as ten bytes)', () => {
    const values = [0, 1, 127, 128, 300, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53 - 1, -1, -2, -128, -(2 ** 31), -(2 ** 32), -(2 ** 53) + 1];
    for (const v of values) {
      const w = new ProtobufWriter(16);
      w.int64Field(0x18, v);
      const decoded = decodeAnyValue(w.finish());
      expect(decoded).toEqual(expectedAnyValue(v));
    }
  });

  it('writes epoch nanoseconds exactly for any time below 2^64 ns', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 18_446_744_072 }), fc.integer({ min: 0, max: 999_999_999 }), (s, n) => {
        const w = new ProtobufWriter(4);
        w.epochNanosField(0x09, s, n);
        const buf = w.finish();
        expect(buf[0]).toBe(0x09);
        expect(buf.readBigUInt64LE(1)).toBe(BigInt(s) * 1_000_000_000n + BigInt(n));
      }),
      { numRuns: 2000 },
    );
  });

  it('writes ids from hex of either case as Buffer decodes them, and an all-zero id from hex of the wrong length', () => {
    fc.assert(
      fc.property(fc.constantFrom(8, 16), fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.boolean(), (n, bytes, upper) => {
        const id = Buffer.from(bytes.subarray(0, n));
        const hex = upper ? id.toString('hex').toUpperCase() : id.toString('hex');
        const w = new ProtobufWriter(4);
        w.hexField(0x0a, hex, n);
        w.hexField(0x12, hex.slice(1), n);
        const buf = w.finish();
        expect([...buf.subarray(0, 2)]).toEqual([0x0a, n]);
        expect(buf.subarray(2, 2 + n).equals(id)).toBe(true);
        expect([...buf.subarray(2 + n, 4 + n)]).toEqual([0x12, n]);
        expect(buf.subarray(4 + n).equals(Buffer.alloc(n))).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('writes UTF-8 as Buffer does, for short and long strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => {
        const w = new ProtobufWriter(8);
        w.stringField(0x0a, s);
        const buf = w.finish();
        const bytes = Buffer.from(s, 'utf8');
        const header = buf.length - bytes.length;
        expect(buf.subarray(header).equals(bytes)).toBe(true);
        expect(header).toBe(1 + (bytes.length < 128 ? 1 : bytes.length < 16384 ? 2 : 3));
      }),
      { numRuns: 2000 },
    );
  });

  it('moves content when a message outgrows (or undershoots) its reserved length bytes', () => {
    const w = new ProtobufWriter(8);
    const start = w.beginMessage(0x0a, 1);
    w.stringField(0x0a, 'z'.repeat(200));
    w.endMessage(start, 1);
    const start2 = w.beginMessage(0x12, 3);
    w.boolField(0x10, true);
    w.endMessage(start2, 3);
    const buf = w.finish();
    // 0x0a, len 203 (2 bytes), inner 0x0a, len 200 (2 bytes), 200 × 'z', then 0x12, 2, 0x10, 1.
    expect(buf.length).toBe(1 + 2 + 1 + 2 + 200 + 4);
    expect([...buf.subarray(0, 6)]).toEqual([0x0a, 0xcb, 0x01, 0x0a, 0xc8, 0x01]);
    expect([...buf.subarray(206)]).toEqual([0x12, 0x02, 0x10, 0x01]);
  });
});

function near(decimal: string, expected: bigint, tolerance: bigint): boolean {
  const d = BigInt(decimal) - expected;
  return d <= tolerance && d >= -tolerance;
}

/** Decodes a buffer holding the fields of one AnyValue. */
function decodeAnyValue(buf: Buffer): any {
  return AnyValue.toObject(AnyValue.decode(buf), { longs: String, bytes: String, arrays: true });
}

