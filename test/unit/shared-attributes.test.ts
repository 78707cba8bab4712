import { describe, expect, it } from 'vitest';
import { InMemorySpanExporter } from '../../src/exporters/in-memory-exporter';
import { SimpleSpanProcessor } from '../../src/processors/simple-span-processor';
import { ROOT_CONTEXT } from '../../src/context/context';
import { TracerProvider } from '../../src/trace/tracer';
import type { SpanLimits } from '../../src/config';
import type { RecordingSpan } from '../../src/trace/span';

function setup(limits?: Partial<SpanLimits>) {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    processors: [new SimpleSpanProcessor(exporter)],
    ...(limits ? { limits: { ...new TracerProvider().limits, ...limits } } : {}),
  });
  return { exporter, provider, tracer: provider.getTracer('test') };
}

describe('Tracer#startShared', () => {
  it('lets spans hold one attributes object until one of them sets an attribute, then copies it for that span alone', async () => {
    const { tracer, exporter, provider } = setup();
    const shared = Object.freeze({ 'express.name': 'handler', 'express.type': 'request_handler', 'http.route': '/a' });
    const a = tracer.startShared('a', 0, ROOT_CONTEXT, shared) as RecordingSpan;
    const b = tracer.startShared('b', 0, ROOT_CONTEXT, shared) as RecordingSpan;
    expect(a.attributes).toBe(shared);
    expect(b.attributes).toBe(shared);
    expect(a.attributeCount).toBe(3);

    a.setAttribute('http.route', '/b');
    a.setAttribute('extra', 1);
    expect(a.attributes).not.toBe(shared);
    expect(a.attributeCount).toBe(4);
    expect(shared).toEqual({ 'express.name': 'handler', 'express.type': 'request_handler', 'http.route': '/a' });
    expect(b.attributes).toBe(shared);
    a.end();
    b.end();
    await provider.forceFlush();
    const [endedA, endedB] = exporter.getFinishedSpans();
    expect(endedA.attributes).toEqual({ 'express.name': 'handler', 'express.type': 'request_handler', 'http.route': '/b', extra: 1 });
    expect(endedB.attributes).toEqual({ 'express.name': 'handler', 'express.type': 'request_handler', 'http.route': '/a' });
  });

  it('counts a shared object against the attribute limit, and copies it when a value length limit applies', () => {
    const { tracer } = setup({ attributeCountLimit: 3 });
    const shared = Object.freeze({ x: 'one', y: 'two', z: 'three' });
    const span = tracer.startShared('s', 0, ROOT_CONTEXT, shared) as RecordingSpan;
    span.setAttribute('w', 'four');
    expect(span.attributes).toEqual({ x: 'one', y: 'two', z: 'three' });
    expect(span.droppedAttributesCount).toBe(1);

    const cut = setup({ attributeValueLengthLimit: 2 }).tracer.startShared('s', 0, ROOT_CONTEXT, shared) as RecordingSpan;
    expect(cut.attributes).not.toBe(shared);
    expect(cut.attributes).toEqual({ x: 'on', y: 'tw', z: 'th' });
  });

  it('leaves out undefined values when it copies, as the encoders do', () => {
    const { tracer } = setup();
    const shared = Object.freeze({ x: 'one', y: undefined });
    const span = tracer.startShared('s', 0, ROOT_CONTEXT, shared) as RecordingSpan;
    expect(span.attributeCount).toBe(1);
    span.setAttribute('z', true);
    expect(Object.keys(span.attributes)).toEqual(['x', 'z']);
    expect(span.attributeCount).toBe(2);
  });
});
