/**
 * Samplers (specification/trace/sdk.md#sampling). Results for the common decisions are shared constants, so
 * sampling allocates nothing.
 */
import type { Attributes, Context, Link, SpanKind, TraceState } from '../api/types';
import { getSpan } from '../context/context';
import { isSpanContextValid } from './ids';
import { W3CTraceState } from './trace-state';
import { RecordingSpan } from './span';

export const SamplingDecision = {
  NOT_RECORD: 0,
  RECORD: 1,
  RECORD_AND_SAMPLED: 2,
} as const;
export type SamplingDecision = (typeof SamplingDecision)[keyof typeof SamplingDecision];

export interface SamplingResult {
  decision: SamplingDecision;
  attributes?: Attributes;
  traceState?: TraceState;
}

export interface Sampler {
  shouldSample(
    context: Context,
    traceId: string,
    spanName: string,
    spanKind: SpanKind,
    attributes: Attributes | undefined,
    links: Link[] | undefined,
  ): SamplingResult;
  toString(): string;
  /**
   * `false` when the sampler's decision never depends on the span's starting attributes, so that a span's
   * attributes can be built after the decision, and only for a span that records (Tracer#startOwnedDeferred).
   * A sampler that does not say is taken to read them.
   */
  readonly readsAttributes?: boolean;
  /**
   * `false` when the decision never depends on the trace id: such a sampler is passed an empty string, and the
   * trace id of a new span is not rendered as hex for it (ids.ts). A sampler that does not say is taken to read it.
   */
  readonly readsTraceId?: boolean;
}

const DROP: SamplingResult = Object.freeze({ decision: SamplingDecision.NOT_RECORD });
const SAMPLE: SamplingResult = Object.freeze({ decision: SamplingDecision.RECORD_AND_SAMPLED });

export class AlwaysOnSampler implements Sampler {
  readonly readsAttributes = false;
  readonly readsTraceId = false;
  shouldSample(): SamplingResult {
    return SAMPLE;
  }
  toString(): string {
    return 'AlwaysOnSampler';
  }
}

export class AlwaysOffSampler implements Sampler {
  readonly readsAttributes = false;
  readonly readsTraceId = false;
  shouldSample(): SamplingResult {
    return DROP;
  }
  toString(): string {
    return 'AlwaysOffSampler';
  }
}

const TWO_28 = 2 ** 28;

/**
 * TraceIdRatioBased, as the specification now defines it (sdk.md#traceidratiobased, with
 * trace/tracestate-probability-sampling.md): the randomness R is the least-significant 56 bits of the trace id
 * (or the `rv` sub-key of the `ot` tracestate entry when present), the rejection threshold is
 * T = round((1 - ratio) * 2^56), and a span is sampled when R >= T. Any two services with the same ratio
 * therefore decide alike for a trace, and a trace kept at one ratio is kept at every larger ratio.
 * 56-bit values are compared as two exact 28-bit halves, since a double holds only 53 bits.
 * A sampled decision records the threshold in tracestate (`ot=th:…`), as that specification asks.
 */
export class TraceIdRatioBasedSampler implements Sampler {
  readonly readsAttributes = false;
  readonly readsTraceId = true;
  readonly ratio: number;
  private readonly _thresholdHigh: number;
  private readonly _thresholdLow: number;
  /** The `th` value: the threshold as 14 hex digits with trailing zeros removed ('0' when it is zero). */
  readonly thresholdHex: string;

  constructor(ratio: number) {
    this.ratio = typeof ratio === 'number' && ratio >= 0 && ratio <= 1 ? ratio : 1;
    // Exact: ratio * 2^56 in bigint arithmetic via the double's own bits (ratio is a double, exactly representable).
    const maxAdjusted = 1n << 56n;
    const keep = BigInt(Math.round(this.ratio * 2 ** 56));
    const threshold = maxAdjusted - keep; // in [0, 2^56]
    const capped = threshold >= maxAdjusted ? maxAdjusted - 1n : threshold;
    this._thresholdHigh = Number(capped >> 28n);
    this._thresholdLow = Number(capped & BigInt(TWO_28 - 1));
    const hex = capped.toString(16).padStart(14, '0').replace(/0+$/, '');
    this.thresholdHex = hex === '' ? '0' : hex;
    this._never = this.ratio === 0;
  }

  private readonly _never: boolean;

  shouldSample(context: Context, traceId: string): SamplingResult {
    if (this._never) return DROP;
    const parentState = getSpan(context)?.spanContext().traceState;
    let high: number;
    let low: number;
    const rv = explicitRandomness(parentState);
    if (rv !== undefined) {
      high = parseInt(rv.slice(0, 7), 16);
      low = parseInt(rv.slice(7, 14), 16);
    } else {
      high = parseInt(traceId.slice(18, 25), 16);
      low = parseInt(traceId.slice(25, 32), 16);
    }
    if (!(high > this._thresholdHigh || (high === this._thresholdHigh && low >= this._thresholdLow))) return DROP;
    return { decision: SamplingDecision.RECORD_AND_SAMPLED, traceState: withThreshold(parentState, this.thresholdHex) };
  }

  toString(): string {
    return `TraceIdRatioBased{${this.ratio}}`;
  }
}

/** The `rv` sub-key of the OpenTelemetry tracestate entry, when it is 14 hex digits. */
function explicitRandomness(state: TraceState | undefined): string | undefined {
  const ot = state?.get('ot');
  if (ot === undefined) return undefined;
  for (const field of ot.split(';')) {
    if (field.startsWith('rv:')) {
      const rv = field.slice(3);
      return /^[0-9a-f]{14}$/.test(rv) ? rv : undefined;
    }
  }
  return undefined;
}

/** Sets `th:<hex>` in the `ot` tracestate entry, keeping its other sub-keys. */
function withThreshold(state: TraceState | undefined, th: string): TraceState {
  const base = state ?? new W3CTraceState();
  const ot = base.get('ot');
  const fields = ot === undefined ? [] : ot.split(';').filter((f) => f !== '' && !f.startsWith('th:'));
  fields.unshift('th:' + th);
  return base.set('ot', fields.join(';'));
}

export interface ParentBasedOptions {
  root: Sampler;
  remoteParentSampled?: Sampler;
  remoteParentNotSampled?: Sampler;
  localParentSampled?: Sampler;
  localParentNotSampled?: Sampler;
}

/** ParentBased (sdk.md#parentbased): the parent's sampled flag decides; the root sampler decides for roots. */
export class ParentBasedSampler implements Sampler {
  private readonly _root: Sampler;
  private readonly _remoteSampled: Sampler;
  private readonly _remoteNotSampled: Sampler;
  private readonly _localSampled: Sampler;
  private readonly _localNotSampled: Sampler;
  readonly readsAttributes: boolean;
  readonly readsTraceId: boolean;

  constructor(options: ParentBasedOptions) {
    const on = new AlwaysOnSampler();
    const off = new AlwaysOffSampler();
    this._root = options.root;
    this._remoteSampled = options.remoteParentSampled ?? on;
    this._remoteNotSampled = options.remoteParentNotSampled ?? off;
    this._localSampled = options.localParentSampled ?? on;
    this._localNotSampled = options.localParentNotSampled ?? off;
    // It reads what any of the samplers it delegates to may read.
    const delegates = [this._root, this._remoteSampled, this._remoteNotSampled, this._localSampled, this._localNotSampled];
    this.readsAttributes = delegates.some((d) => d.readsAttributes !== false);
    this.readsTraceId = delegates.some((d) => d.readsTraceId !== false);
  }

  shouldSample(
    context: Context,
    traceId: string,
    spanName: string,
    spanKind: SpanKind,
    attributes: Attributes | undefined,
    links: Link[] | undefined,
  ): SamplingResult {
    const parentSpan = getSpan(context);
    if (parentSpan === undefined) return this._root.shouldSample(context, traceId, spanName, spanKind, attributes, links);
    // Our own span, the usual parent, is valid by construction and local: its flags are read off it, since its
    // spanContext() would write out its ids in hex for nobody (and allocate) on every child span.
    if (parentSpan instanceof RecordingSpan) {
      const delegate = (parentSpan.traceFlags & 1) === 1 ? this._localSampled : this._localNotSampled;
      return delegate.shouldSample(context, traceId, spanName, spanKind, attributes, links);
    }
    const parent = parentSpan.spanContext();
    // Only a foreign or remote parent needs checking.
    if (parent === undefined || !isSpanContextValid(parent)) {
      return this._root.shouldSample(context, traceId, spanName, spanKind, attributes, links);
    }
    const sampled = (parent.traceFlags & 1) === 1;
    const delegate = parent.isRemote
      ? sampled
        ? this._remoteSampled
        : this._remoteNotSampled
      : sampled
        ? this._localSampled
        : this._localNotSampled;
    return delegate.shouldSample(context, traceId, spanName, spanKind, attributes, links);
  }

  toString(): string {
    return `ParentBased{root=${this._root.toString()}}`;
  }
}

export function createSampler(name: string, ratio: number): Sampler {
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
    case 'parentbased_always_on':
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}
