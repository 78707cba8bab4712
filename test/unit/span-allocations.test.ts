import { describe, expect, it } from 'vitest';
import { InMemorySpanExporter } from '../../src/exporters/in-memory-exporter';
import { encodeTraceRequest } from '../../src/exporters/otlp/trace-protobuf-encoder';
import { SimpleSpanProcessor } from '../../src/processors/simple-span-processor';
import { TracerProvider } from '../../src/trace/tracer';
import type { ReadableSpan } from '../../src/trace/span';
import { decodeRequest } from '../otlp/helpers/otlp-proto';

function tracer() {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ processors: [new SimpleSpanProcessor(exporter)] });
  return { exporter, tracer: provider.getTracer('test') };
}

describe('what a span allocates', () => {
  it('spans without attributes share no attribute object: the first setAttribute gives a span its own', () => {
    const { tracer: t } = tracer();
    const a = t.startSpan('a');
    const b = t.startSpan('b');
    a.setAttribute('only.a', 1);
    b.setAttribute('only.b', 'x');
    const c = t.startSpan('c');
    expect((a as unknown as ReadableSpan).attributes).toEqual({ 'only.a': 1 });
    expect((b as unknown as ReadableSpan).attributes).toEqual({ 'only.b': 'x' });
    expect((c as unknown as ReadableSpan).attributes).toEqual({});
    expect(Object.isFrozen((c as unknown as ReadableSpan).attributes)).toBe(true); // not writable behind the span's back
    c.setAttributes({ 'now.c': true });
    expect((c as unknown as ReadableSpan).attributes).toEqual({ 'now.c': true });
  });

  it('OTLP/protobuf encoding reads our spans ids from their fields, without building their SpanContext', () => {
    // A processor that only keeps the spans: the span processors read the flags from the span's field too, but
    // this test is about the encoder alone.
    const ended: ReadableSpan[] = [];
    const keep = { onStart() {}, onEnd: (s: ReadableSpan) => void ended.push(s), forceFlush: async () => {}, shutdown: async () => {} };
    const t = new TracerProvider({ processors: [keep] }).getTracer('test');
    const parent = t.startSpan('parent');
    parent.end();
    const [span] = ended;
    expect((span as any)._spanContext).toBeUndefined();
    const decoded = decodeRequest(encodeTraceRequest([span]));
    expect((span as any)._spanContext).toBeUndefined();
    const encoded = decoded.resourceSpans[0].scopeSpans[0].spans[0];
    const hex = (bytes: string) => Buffer.from(bytes, 'base64').toString('hex'); // the decoder gives bytes as base64
    expect(hex(encoded.traceId)).toBe(parent.spanContext().traceId);
    expect(hex(encoded.spanId)).toBe(parent.spanContext().spanId);
    expect(encoded.flags & 0xff).toBe(1);
  });
});
