import { describe, expect, it } from 'vitest';
import type { Attributes } from '../../src/api/types';
import { InMemorySpanExporter } from '../../src/exporters/in-memory-exporter';
import { SimpleSpanProcessor } from '../../src/processors/simple-span-processor';
import { ROOT_CONTEXT } from '../../src/context/context';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  SamplingDecision,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SamplingResult,
} from '../../src/trace/samplers';
import { TracerProvider } from '../../src/trace/tracer';

/** A builder that counts its calls, for the span attributes of startOwnedDeferred. */
function counter() {
  const calls: Array<[string, number]> = [];
  const build = (a: string, b: number): Attributes => {
    calls.push([a, b]);
    return { 'test.a': a, 'test.b': b };
  };
  return { calls, build };
}

function providerWith(sampler: Sampler) {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ sampler, processors: [new SimpleSpanProcessor(exporter)] });
  return { exporter, tracer: provider.getTracer('test') };
}

describe('Tracer#startOwnedDeferred', () => {
  it('builds no attributes for a span the sampler drops', () => {
    const { calls, build } = counter();
    const { tracer } = providerWith(new ParentBasedSampler({ root: new AlwaysOffSampler() }));
    const span = tracer.startOwnedDeferred('GET', 1, ROOT_CONTEXT, build, 'x', 1);
    expect(span.isRecording()).toBe(false);
    expect(calls).toEqual([]);
  });

  it('builds them once, after the decision, for a span that records', () => {
    const { calls, build } = counter();
    const { tracer, exporter } = providerWith(new ParentBasedSampler({ root: new AlwaysOnSampler() }));
    const span = tracer.startOwnedDeferred('GET', 1, ROOT_CONTEXT, build, 'x', 7);
    span.end();
    expect(calls).toEqual([['x', 7]]);
    expect(exporter.getFinishedSpans()[0].attributes).toEqual({ 'test.a': 'x', 'test.b': 7 });
  });

  it('builds them first, for the sampler, when the sampler may read them', () => {
    const { calls, build } = counter();
    const seen: Array<Attributes | undefined> = [];
    const custom: Sampler = {
      shouldSample(_c, _t, _n, _k, attributes): SamplingResult {
        seen.push(attributes);
        return { decision: attributes?.['test.b'] === 2 ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.NOT_RECORD };
      },
      toString: () => 'custom',
    };
    const { tracer, exporter } = providerWith(custom);
    tracer.startOwnedDeferred('GET', 1, ROOT_CONTEXT, build, 'x', 1).end();
    tracer.startOwnedDeferred('GET', 1, ROOT_CONTEXT, build, 'y', 2).end();
    expect(calls).toEqual([
      ['x', 1],
      ['y', 2],
    ]);
    expect(seen).toEqual([
      { 'test.a': 'x', 'test.b': 1 },
      { 'test.a': 'y', 'test.b': 2 },
    ]);
    expect(exporter.getFinishedSpans().map((s) => s.attributes)).toEqual([{ 'test.a': 'y', 'test.b': 2 }]);
  });

  it('knows which samplers read starting attributes', () => {
    expect(new AlwaysOnSampler().readsAttributes).toBe(false);
    expect(new TraceIdRatioBasedSampler(0.5).readsAttributes).toBe(false);
    expect(new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(0.1) }).readsAttributes).toBe(false);
    const custom: Sampler = { shouldSample: () => ({ decision: SamplingDecision.RECORD }), toString: () => 'c' };
    expect(new ParentBasedSampler({ root: custom }).readsAttributes).toBe(true);
    expect(new ParentBasedSampler({ root: new AlwaysOnSampler(), localParentSampled: custom }).readsAttributes).toBe(true);
  });
});
