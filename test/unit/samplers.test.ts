import { describe, expect, it } from 'vitest';
import { ROOT_CONTEXT, setSpan } from '../../src/context/context';
import { generateTraceId } from '../../src/trace/ids';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  createSampler,
  ParentBasedSampler,
  SamplingDecision,
  TraceIdRatioBasedSampler,
} from '../../src/trace/samplers';
import { NonRecordingSpan } from '../../src/trace/span';
import { W3CTraceState } from '../../src/trace/trace-state';
import { finished, memoryProvider } from '../helpers/sdk';

function parent(flags: number, isRemote: boolean, traceState?: W3CTraceState) {
  return setSpan(ROOT_CONTEXT, new NonRecordingSpan({ traceId: 'f'.repeat(32), spanId: 'e'.repeat(16), traceFlags: flags, isRemote, traceState }));
}

const sample = (s: { shouldSample: Function }, ctx = ROOT_CONTEXT, traceId = generateTraceId()) =>
  s.shouldSample(ctx, traceId, 'name', 0, undefined, undefined).decision;

describe('samplers', () => {
  it('always_on and always_off', () => {
    expect(sample(new AlwaysOnSampler())).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(sample(new AlwaysOffSampler())).toBe(SamplingDecision.NOT_RECORD);
  });

  it('traceidratio decides on the 56 low bits of the trace id against the threshold (1 - ratio) * 2^56', () => {
    const half = new TraceIdRatioBasedSampler(0.5);
    // randomness 0x80000000000000 is exactly the threshold for 0.5: kept; one less: dropped.
    expect(sample(half, ROOT_CONTEXT, '0'.repeat(18) + '80000000000000')).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(sample(half, ROOT_CONTEXT, 'f'.repeat(18) + '7fffffffffffff')).toBe(SamplingDecision.NOT_RECORD);
    // the high 72 bits play no part
    expect(sample(half, ROOT_CONTEXT, 'ffffffffffffffffff' + '00000000000001')).toBe(SamplingDecision.NOT_RECORD);
    expect(half.thresholdHex).toBe('8');
    // the spec's example: ratio 0.1 keeps R < 7205759403792794 as "low" probabilities, threshold 0xe666666666666
    expect(new TraceIdRatioBasedSampler(0.1).thresholdHex).toBe('e6666666666666');
    expect(new TraceIdRatioBasedSampler(1).thresholdHex).toBe('0');
  });

  it('traceidratio is deterministic, monotonic in the ratio, and close to the ratio', () => {
    const ids = Array.from({ length: 20000 }, () => generateTraceId());
    const keptAt = (ratio: number) => {
      const s = new TraceIdRatioBasedSampler(ratio);
      return new Set(ids.filter((id) => sample(s, ROOT_CONTEXT, id) === SamplingDecision.RECORD_AND_SAMPLED));
    };
    const k10 = keptAt(0.1);
    const k30 = keptAt(0.3);
    expect(keptAt(0.1)).toEqual(k10);
    for (const id of k10) expect(k30.has(id)).toBe(true);
    expect(k10.size / ids.length).toBeGreaterThan(0.085);
    expect(k10.size / ids.length).toBeLessThan(0.115);
    expect(keptAt(0).size).toBe(0);
    expect(keptAt(1).size).toBe(ids.length);
  });

  it('traceidratio records its threshold in tracestate and honours an explicit rv', () => {
    const s = new TraceIdRatioBasedSampler(0.5);
    const result = s.shouldSample(ROOT_CONTEXT, '0'.repeat(18) + 'ffffffffffffff', 'n', 0, undefined, undefined);
    expect(result.traceState?.get('ot')).toBe('th:8');
    const withRv = parent(1, true, W3CTraceState.parse('ot=rv:00000000000001;x:y,vendor=1'));
    // the trace id alone would be kept, the explicit randomness says drop
    expect(sample(s, withRv, '0'.repeat(18) + 'ffffffffffffff')).toBe(SamplingDecision.NOT_RECORD);
    const keep = parent(1, true, W3CTraceState.parse('ot=rv:ffffffffffffff;x:y,vendor=1'));
    const kept = s.shouldSample(keep, '0'.repeat(32), 'n', 0, undefined, undefined);
    expect(kept.traceState?.get('ot')).toBe('th:8;rv:ffffffffffffff;x:y');
    expect(kept.traceState?.get('vendor')).toBe('1');
  });

  it('parentbased follows the parent and uses the root sampler for roots', () => {
    const pb = new ParentBasedSampler({ root: new AlwaysOffSampler() });
    expect(sample(pb)).toBe(SamplingDecision.NOT_RECORD);
    expect(sample(pb, parent(1, true))).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(sample(pb, parent(0, true))).toBe(SamplingDecision.NOT_RECORD);
    expect(sample(pb, parent(1, false))).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(sample(pb, parent(0, false))).toBe(SamplingDecision.NOT_RECORD);
    const custom = new ParentBasedSampler({
      root: new AlwaysOnSampler(),
      remoteParentNotSampled: new AlwaysOnSampler(),
      localParentSampled: new AlwaysOffSampler(),
    });
    expect(sample(custom, parent(0, true))).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(sample(custom, parent(1, false))).toBe(SamplingDecision.NOT_RECORD);
  });

  it('parentbased reads the flags of our own (local, recording) parent span off the span', () => {
    // A root sampler that records without sampling: the parent is a RecordingSpan with traceFlags 0.
    const recordOnly = { shouldSample: () => ({ decision: SamplingDecision.RECORD }), toString: () => 'RecordOnly' };
    const pb = new ParentBasedSampler({ root: recordOnly as never, localParentNotSampled: new AlwaysOnSampler(), localParentSampled: new AlwaysOffSampler() });
    const { tracer } = memoryProvider({ sampler: pb });
    const notSampledParent = tracer.startSpan('parent');
    expect(notSampledParent.isRecording()).toBe(true);
    expect(notSampledParent.spanContext().traceFlags & 1).toBe(0);
    // localParentNotSampled (AlwaysOn here) decides
    expect(sample(pb, setSpan(ROOT_CONTEXT, notSampledParent))).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    const sampledParent = memoryProvider().tracer.startSpan('sampled');
    // localParentSampled (AlwaysOff here) decides
    expect(sample(pb, setSpan(ROOT_CONTEXT, sampledParent))).toBe(SamplingDecision.NOT_RECORD);
  });

  it('createSampler maps every configured name', () => {
    expect(createSampler('always_on', 1).toString()).toBe('AlwaysOnSampler');
    expect(createSampler('always_off', 1).toString()).toBe('AlwaysOffSampler');
    expect(createSampler('traceidratio', 0.25).toString()).toBe('TraceIdRatioBased{0.25}');
    expect(createSampler('parentbased_always_on', 1).toString()).toBe('ParentBased{root=AlwaysOnSampler}');
    expect(createSampler('parentbased_always_off', 1).toString()).toBe('ParentBased{root=AlwaysOffSampler}');
    expect(createSampler('parentbased_traceidratio', 0.5).toString()).toBe('ParentBased{root=TraceIdRatioBased{0.5}}');
  });

  it('a dropped span is not recorded or exported but still carries the context', async () => {
    const { provider, exporter, tracer } = memoryProvider({ sampler: new AlwaysOffSampler() });
    const span = tracer.startSpan('dropped');
    expect(span.isRecording()).toBe(false);
    expect(span.spanContext().traceFlags & 1).toBe(0);
    const child = tracer.startSpan('child', {}, setSpan(ROOT_CONTEXT, span));
    expect(child.spanContext().traceId).toBe(span.spanContext().traceId);
    span.end();
    child.end();
    expect(await finished(provider, exporter)).toHaveLength(0);
  });
});
