import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encodeTraceRequestJson } from '../../src/exporters/otlp/trace-json-encoder';
import { encodeTraceRequest } from '../../src/exporters/otlp/trace-protobuf-encoder';
import { NonRecordingSpan } from '../../src/trace/span';
import type { ReadableSpan } from '../../src/trace/span';
import { ROOT_CONTEXT, setSpan } from '../../src/context/context';
import { W3CTraceState } from '../../src/trace/trace-state';
import { Resource } from '../../src/resource/resource';
import { toEpochNanosBigInt } from '../../src/trace/time';
import { CONVERSION, ExportTraceServiceRequest, decodeRequest } from './helpers/otlp-proto';
import { makeProvider } from './helpers/spans';
import { expectedRequest } from './expected';

const ID_FIELDS = new Set(['traceId', 'spanId', 'parentSpanId']);

/**
 * OTLP/JSON differs from the proto3 JSON mapping only in its hex ids: turn those into base64 (what protobufjs's
 * JSON mapping expects for bytes), then let protobufjs read the rest with the official definitions.
 */
function fromOtlpJson(text: string): any {
  const walk = (node: any): any => {
    if (Array.isArray(node)) return node.map(walk);
    if (node === null || typeof node !== 'object') return node;
    const out: any = {};
    for (const [k, v] of Object.entries(node)) {
      out[k] = ID_FIELDS.has(k) && typeof v === 'string' ? Buffer.from(v, 'hex').toString('base64') : walk(v);
    }
    return out;
  };
  const message = ExportTraceServiceRequest.fromObject(walk(JSON.parse(text)));
  return ExportTraceServiceRequest.toObject(message, CONVERSION);
}

function allKeys(node: any, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const item of node) allKeys(item, out);
  else if (node !== null && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      out.push(k);
      allKeys(v, out);
    }
  }
  return out;
}

async function sampleSpans(): Promise<ReadableSpan[]> {
  const { provider, finished } = makeProvider({
    resource: new Resource({ 'service.name': 'json', 'host.cores': 4 }, 'https://opentelemetry.io/schemas/1.26.0'),
  });
  const tracer = provider.getTracer('json-scope', '0.0.1', { schemaUrl: 'https://opentelemetry.io/schemas/1.21.0' });
  const parent = new NonRecordingSpan({
    traceId: '5b8efff798038103d269b633813fc60c',
    spanId: 'eee19b7ec3c1b174',
    traceFlags: 1,
    isRemote: true,
    traceState: W3CTraceState.parse('congo=t61rcWkgMzE'),
  });
  const server = tracer.startSpan('POST /orders', { kind: 1 }, setSpan(ROOT_CONTEXT, parent));
  server.setAttributes({
    'http.request.method': 'POST',
    'http.response.status_code': 503,
    'big.negative': -(2 ** 40),
    'ratio': 0.25,
    'nan': NaN,
    'inf': Infinity,
    'ninf': -Infinity,
    'ok': false,
    'text': 'quote " backslash \\ newline \n tab \t unicode ✓ 😀 control \u0001',
    'list': ['a', null, 'b'],
    'nums': [1, 1.5, null],
    'empty.list': [],
  });
  server.setAttribute('map', { inner: { deep: [true, false] }, n: 7 } as any);
  server.setAttribute('bytes', new Uint8Array([222, 173, 190, 239]) as any);
  server.addEvent('exception', { 'exception.type': 'Error', 'exception.message': 'boom' });
  server.addLink({ context: { traceId: 'ffffffffffffffffffffffffffffffff', spanId: '0000000000000001', traceFlags: 1, isRemote: false }, attributes: { a: 1 } });
  server.setStatus({ code: 2, message: 'upstream unavailable' });
  const child = tracer.startSpan('', { kind: 2 }, setSpan(ROOT_CONTEXT, server));
  child.end();
  server.end();
  return finished();
}

describe('OTLP/JSON encoder', () => {
  it('follows the OTLP JSON rules: camelCase keys, hex ids, integer enums, 64-bit integers as strings', async () => {
    const spans = await sampleSpans();
    const json = JSON.parse(encodeTraceRequestJson(spans));
    // Only lowerCamelCase field names (attribute keys are values, not field names).
    for (const key of allKeys(json)) expect(key).toMatch(/^[a-z][A-Za-z]*$/);
    const rs = json.resourceSpans[0];
    expect(rs.schemaUrl).toBe('https://opentelemetry.io/schemas/1.26.0');
    expect(rs.scopeSpans[0].scope).toEqual({ name: 'json-scope', version: '0.0.1' });
    expect(rs.scopeSpans[0].schemaUrl).toBe('https://opentelemetry.io/schemas/1.21.0');
    const [child, server] = rs.scopeSpans[0].spans;
    expect(server.traceId).toBe('5b8efff798038103d269b633813fc60c');
    expect(server.parentSpanId).toBe('eee19b7ec3c1b174');
    expect(server.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(server.traceState).toBe('congo=t61rcWkgMzE');
    expect(server.kind).toBe(2);
    expect(server.flags).toBe(0x301);
    expect(child.kind).toBe(3);
    expect(child.flags).toBe(0x101);
    expect(child.parentSpanId).toBe(server.spanId);
    expect(server.startTimeUnixNano).toBe(toEpochNanosBigInt(spans[1].startTime).toString());
    expect(server.endTimeUnixNano).toBe(toEpochNanosBigInt(spans[1].endTime).toString());
    expect(typeof server.events[0].timeUnixNano).toBe('string');
    expect(server.status).toEqual({ message: 'upstream unavailable', code: 2 });
    const attr = (k: string) => server.attributes.find((a: any) => a.key === k).value;
    expect(attr('http.response.status_code')).toEqual({ intValue: '503' });
    expect(attr('big.negative')).toEqual({ intValue: String(-(2 ** 40)) });
    expect(attr('ratio')).toEqual({ doubleValue: 0.25 });
    expect(attr('nan')).toEqual({ doubleValue: 'NaN' });
    expect(attr('inf')).toEqual({ doubleValue: 'Infinity' });
    expect(attr('ninf')).toEqual({ doubleValue: '-Infinity' });
    expect(attr('ok')).toEqual({ boolValue: false });
    expect(attr('list')).toEqual({ arrayValue: { values: [{ stringValue: 'a' }, {}, { stringValue: 'b' }] } });
    expect(attr('empty.list')).toEqual({ arrayValue: { values: [] } });
    expect(attr('map')).toEqual({
      kvlistValue: {
        values: [
          { key: 'inner', value: { kvlistValue: { values: [{ key: 'deep', value: { arrayValue: { values: [{ boolValue: true }, { boolValue: false }] } } }] } } },
          { key: 'n', value: { intValue: '7' } },
        ],
      },
    });
    expect(attr('bytes')).toEqual({ bytesValue: Buffer.from([222, 173, 190, 239]).toString('base64') });
    expect(server.links[0]).toEqual({
      traceId: 'ffffffffffffffffffffffffffffffff',
      spanId: '0000000000000001',
      attributes: [{ key: 'a', value: { intValue: '1' } }],
      flags: 0x101,
    });
  });

  it('decodes, through the official definitions, to exactly what the protobuf encoding decodes to', async () => {
    const spans = await sampleSpans();
    const fromJson = fromOtlpJson(encodeTraceRequestJson(spans));
    const fromProtobuf = decodeRequest(encodeTraceRequest(spans));
    expect(fromJson).toEqual(fromProtobuf);
    expect(fromJson).toEqual(expectedRequest(spans));
  });

  it('leaves out the absent (undefined) keys of a fixed-shape attribute object, as the protobuf encoding does', async () => {
    const { provider, finished } = makeProvider();
    const span = provider.getTracer('fixed-shape').startOwned('GET', 1, ROOT_CONTEXT, {
      'http.request.method': 'GET',
      'url.query': undefined,
      'http.route': undefined,
      'http.response.status_code': undefined,
    } as any);
    span.setAttribute('http.response.status_code', 204);
    span.end();
    const spans = await finished();
    const json = JSON.parse(encodeTraceRequestJson(spans));
    const keys = json.resourceSpans[0].scopeSpans[0].spans[0].attributes.map((kv: { key: string }) => kv.key);
    expect(keys).toEqual(['http.request.method', 'http.response.status_code']);
    expect(fromOtlpJson(encodeTraceRequestJson(spans))).toEqual(decodeRequest(encodeTraceRequest(spans)));
  });

  it('agrees with the protobuf encoding for random attributes (property test)', async () => {
    const scalar = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.boolean(), fc.integer(), fc.maxSafeInteger(), fc.double());
    const value = fc.oneof(
      scalar,
      fc.array(fc.option(fc.string({ maxLength: 10 }), { nil: null }), { maxLength: 5 }),
      fc.array(fc.option(fc.double(), { nil: null }), { maxLength: 5 }),
      fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), scalar, { maxKeys: 3 }),
      fc.uint8Array({ maxLength: 20 }),
    );
    const { provider, memory } = makeProvider();
    const tracer = provider.getTracer('property');
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.string({ minLength: 1, maxLength: 20 }), value, { maxKeys: 10 }), fc.string({ maxLength: 30 }), async (attributes, name) => {
        memory.reset();
        const span = tracer.startSpan(name);
        for (const [k, v] of Object.entries(attributes)) if (k !== '__proto__') span.setAttribute(k, v as any);
        span.end();
        await provider.forceFlush();
        const spans = memory.getFinishedSpans();
        expect(fromOtlpJson(encodeTraceRequestJson(spans))).toEqual(decodeRequest(encodeTraceRequest(spans)));
      }),
      { numRuns: 200 },
    );
  });
});
