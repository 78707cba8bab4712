import { describe, expect, it } from 'vitest';
import { InMemorySpanExporter } from '../../src/exporters/in-memory-exporter';
import { encodeTraceRequest } from '../../src/exporters/otlp/trace-protobuf-encoder';
import { SimpleSpanProcessor } from '../../src/processors/simple-span-processor';
import { TracerProvider } from '../../src/trace/tracer';
import { AlwaysOffSampler, ParentBasedSampler, SamplingDecision, TraceIdRatioBasedSampler, type Sampler } from '../../src/trace/samplers';
import { isValidSpanId, isValidTraceId } from '../../src/trace/ids';
import { setSpan, ROOT_CONTEXT } from '../../src/context/context';
import { NonRecordingSpan } from '../../src/trace/span';
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

  it('renders a span\'s ids as hex only when asked, and a child of ours carries its parent\'s ids exactly', () => {
    const t = new TracerProvider({ processors: [] }).getTracer('test');
    const parent = t.startSpan('parent') as any;
    expect(parent._traceIdHex).toBeUndefined();
    expect(parent._spanIdHex).toBeUndefined();
    const before = t.startSpan('child before hex', undefined, setSpan(ROOT_CONTEXT, parent)) as any;
    expect(isValidTraceId(parent.spanContext().traceId)).toBe(true);
    expect(isValidSpanId(parent.spanContext().spanId)).toBe(true);
    const after = t.startSpan('child after hex', undefined, setSpan(ROOT_CONTEXT, parent)) as any;
    for (const child of [before, after]) {
      expect(child.traceId).toBe(parent.traceId);
      expect(child.parentSpanId).toBe(parent.spanId);
      expect(child.spanId).not.toBe(parent.spanId);
      expect(child.parentIsRemote).toBe(false);
    }
    expect(parent.parentSpanId).toBeUndefined();
    const grandchild = t.startSpan('grandchild', undefined, setSpan(ROOT_CONTEXT, before)) as any;
    expect(grandchild.traceId).toBe(parent.traceId);
    expect(grandchild.parentSpanId).toBe(before.spanId);
  });

  it('keeps a remote parent\'s ids as it got them', () => {
    const t = new TracerProvider({ processors: [] }).getTracer('test');
    const remote = new NonRecordingSpan({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1, isRemote: true });
    const span = t.startSpan('server', { kind: 1 }, setSpan(ROOT_CONTEXT, remote)) as any;
    expect(span.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(span.parentSpanId).toBe('00f067aa0ba902b7');
    expect(span.parentIsRemote).toBe(true);
    const child = t.startSpan('child', undefined, setSpan(ROOT_CONTEXT, span)) as any;
    expect(child.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(child.parentSpanId).toBe(span.spanId);
  });

  it('gives a sampler that may read the trace id the new span\'s own, and one that does not an empty string', () => {
    const seen: string[] = [];
    const custom: Sampler = {
      shouldSample: (_c, traceId) => (seen.push(traceId), { decision: SamplingDecision.RECORD_AND_SAMPLED }),
      toString: () => 'custom',
    };
    const span = new TracerProvider({ sampler: custom, processors: [] }).getTracer('t').startSpan('s');
    expect(seen).toEqual([span.spanContext().traceId]);
    const quiet: Sampler = { ...custom, readsTraceId: false };
    seen.length = 0;
    new TracerProvider({ sampler: quiet, processors: [] }).getTracer('t').startSpan('s');
    expect(seen).toEqual(['']);
    expect(new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(0.5) }).readsTraceId).toBe(true);
    expect(new ParentBasedSampler({ root: new AlwaysOffSampler() }).readsTraceId).toBe(false);
  });

  it('decides a ratio by the span\'s real trace id, and gives a dropped span valid ids', () => {
    const ratio = new TraceIdRatioBasedSampler(0.5);
    const t = new TracerProvider({ sampler: ratio, processors: [] }).getTracer('t');
    let recorded = 0;
    for (let i = 0; i < 400; i++) {
      const span = t.startSpan('s');
      const sc = span.spanContext();
      expect(isValidTraceId(sc.traceId) && isValidSpanId(sc.spanId)).toBe(true);
      // the decision the sampler makes for this id on its own is the one the span got
      const alone = ratio.shouldSample(ROOT_CONTEXT, sc.traceId, 's', 0, undefined, undefined).decision;
      expect(span.isRecording()).toBe(alone !== SamplingDecision.NOT_RECORD);
      if (span.isRecording()) recorded++;
    }
    expect(recorded).toBeGreaterThan(120);
    expect(recorded).toBeLessThan(280);
  });

  it('keeps a span\'s ids when its sampler starts spans of its own', () => {
    let inner: any;
    let busy = false;
    const seen: string[] = [];
    const provider: TracerProvider = new TracerProvider({
      processors: [],
      sampler: {
        shouldSample: (_c, traceId) => {
          seen.push(traceId);
          // the application's sampler starting a span of its own (logging through an instrumented client, say)
          if (!busy) {
            busy = true;
            inner = provider.getTracer('inside').startSpan('inner', undefined, ROOT_CONTEXT);
          }
          return { decision: SamplingDecision.RECORD_AND_SAMPLED };
        },
        toString: () => 'busy',
      },
    });
    const outer = provider.getTracer('t').startSpan('outer', undefined, ROOT_CONTEXT) as any;
    expect(seen[0]).toBe(outer.traceId);
    expect(outer.spanId).not.toBe(inner.spanId);
    expect(outer.traceId).not.toBe(inner.traceId);
    const child = provider.getTracer('t').startSpan('child', undefined, setSpan(ROOT_CONTEXT, outer)) as any;
    expect(child.traceId).toBe(outer.traceId);
    expect(child.parentSpanId).toBe(outer.spanId);
  });
});
