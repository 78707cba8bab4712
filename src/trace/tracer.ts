/**
 * Tracer and tracer provider (specification/trace/sdk.md#tracer-provider). `Tracer.start` is the instrumentations'
 * fast path: no options object, no attribute copy; `startSpan` / `startActiveSpan` are the API's forms.
 */
import type {
  Attributes,
  Context,
  InstrumentationScope,
  Link,
  Span,
  SpanContext,
  SpanKind,
  SpanOptions,
  Tracer as ApiTracer,
  TracerOptions,
} from '../api/types';
import type { SpanLimits } from '../config';
import { getSpan, isTracingSuppressed, ROOT_CONTEXT, setSpan } from '../context/context';
import { contextManager } from '../context/global';
import { diag } from '../diag/logger';
import type { SpanProcessor } from '../processors/types';
import { MultiSpanProcessor, NOOP_PROCESSOR } from '../processors/multi-span-processor';
import { Resource } from '../resource/resource';
import { DRAWN, drawSpanId, drawTraceId, INVALID_SPAN_CONTEXT, isSpanContextValid, spanIdHex, traceIdHex } from './ids';
import type { Sampler } from './samplers';
import { ParentBasedSampler, AlwaysOnSampler, SamplingDecision } from './samplers';
import { NonRecordingSpan, RecordingSpan, type SpanOwner } from './span';
import { now, toRelativeMillis } from './time';

/** An attribute builder of startOwnedDeferred, with its argument types erased. */
type Build = (a: unknown, b: unknown) => Attributes;

/** What a span does with the attributes it starts with: copies them, keeps them (built for it), or shares them. */
const enum Adopt {
  NO,
  OWNED,
  SHARED,
}

/** The specification's default span limits (sdk.md#span-limits), for a provider made without configuration. */
export const DEFAULT_LIMITS: SpanLimits = {
  attributeCountLimit: 128,
  attributeValueLengthLimit: Infinity,
  eventCountLimit: 128,
  linkCountLimit: 128,
  attributePerEventCountLimit: 128,
  attributePerLinkCountLimit: 128,
};

const SUPPRESSED_SPAN = new NonRecordingSpan(INVALID_SPAN_CONTEXT);

/** A new span's trace id as hex: its local parent's, its remote or foreign parent's, or the new one drawn for it. */
function traceIdOf(
  localParent: RecordingSpan | undefined,
  parent: SpanContext | undefined,
  t0: number,
  t1: number,
  t2: number,
  t3: number,
  t4: number,
  t5: number,
): string {
  if (localParent !== undefined) return localParent.traceId;
  if (parent !== undefined) return parent.traceId;
  return traceIdHex(t0, t1, t2, t3, t4, t5);
}

export class Tracer implements ApiTracer, SpanOwner {
  readonly instrumentationScope: InstrumentationScope;
  readonly limits: SpanLimits;
  private readonly _provider: TracerProvider;

  constructor(provider: TracerProvider, scope: InstrumentationScope) {
    this._provider = provider;
    this.instrumentationScope = scope;
    this.limits = provider.limits;
  }

  get resource(): Resource {
    return this._provider.resource;
  }

  onEnd(span: RecordingSpan): void {
    this._provider.processor.onEnd(span);
  }

  /**
   * Starts a span whose parent is the span in `context` (the active context when omitted). Returns a
   * non-recording span when tracing is suppressed in that context, the provider is shut down, or the sampler
   * drops it — a non-recording span still carries the context downstream services need. The attributes are
   * copied (and checked); see `startOwned` for the instrumentations' cheaper form.
   */
  start(
    name: string,
    kind: SpanKind,
    context: Context | undefined,
    attributes?: Attributes,
    links?: Link[],
    startTime?: number,
    root?: boolean,
  ): Span {
    return this._start(name, kind, context, attributes, Adopt.NO, links, startTime, root, undefined, undefined, undefined);
  }

  /**
   * `start` for an attributes object built for this one span (by an instrumentation's attribute function): the
   * span keeps that object instead of copying it key by key, when its values are plain and within the limits.
   * The caller must not use the object afterwards.
   */
  startOwned(name: string, kind: SpanKind, context: Context | undefined, attributes: Attributes): Span {
    return this._start(name, kind, context, attributes, Adopt.OWNED, undefined, undefined, undefined, undefined, undefined, undefined);
  }

  /**
   * `start` for an attributes object that many spans take and that its maker never changes (it makes a new one
   * instead): express's per-layer name, type and route. The span holds the object itself and copies it only if
   * something sets an attribute on it later; copying it for every span was five megamorphic property loads and
   * stores a request on the `hello` benchmark, for a handler span that is never changed.
   */
  startShared(name: string, kind: SpanKind, context: Context | undefined, attributes: Attributes | undefined): Span {
    return this._start(name, kind, context, attributes, Adopt.SHARED, undefined, undefined, undefined, undefined, undefined, undefined);
  }

  /**
   * `startOwned` with the attributes built by `build(a, b)` only when they are needed: after the sampling
   * decision, and only for a span that records, when the sampler does not read starting attributes (every
   * built-in sampler); before it, as the specification has samplers receive them, for any other sampler. A
   * request that is not sampled then costs no attribute work (the http server's attributes read a dozen headers
   * and socket fields). `build` gets two arguments so that callers need no closure.
   */
  startOwnedDeferred<A, B>(
    name: string,
    kind: SpanKind,
    context: Context | undefined,
    build: (a: A, b: B) => Attributes,
    a: A,
    b: B,
  ): Span {
    if (this._provider.sampler.readsAttributes !== false) {
      return this._start(name, kind, context, build(a, b), Adopt.OWNED, undefined, undefined, undefined, undefined, undefined, undefined);
    }
    return this._start(name, kind, context, undefined, Adopt.OWNED, undefined, undefined, undefined, build as Build, a, b);
  }

  private _start(
    name: string,
    kind: SpanKind,
    context: Context | undefined,
    attributes: Attributes | undefined,
    adopt: Adopt,
    links: Link[] | undefined,
    startTime: number | undefined,
    root: boolean | undefined,
    build: Build | undefined,
    buildA: unknown,
    buildB: unknown,
  ): Span {
    const ctx = context === undefined ? contextManager.active() : context;
    const provider = this._provider;
    if (provider.isShutdown || isTracingSuppressed(ctx)) return SUPPRESSED_SPAN;
    // The parent: one of ours (its ids are copied as they are kept), or a remote or foreign one (checked).
    let localParent: RecordingSpan | undefined;
    let parent: SpanContext | undefined;
    if (root !== true) {
      const parentSpan = getSpan(ctx);
      if (parentSpan !== undefined) {
        if (parentSpan instanceof RecordingSpan) localParent = parentSpan;
        else {
          const sc = parentSpan.spanContext();
          if (isSpanContextValid(sc)) parent = sc;
        }
      }
    }
    // New ids are copied out of DRAWN at once: the sampler is the application's code, and may start spans of its own.
    let t0 = -1, t1 = -1, t2 = -1, t3 = -1, t4 = -1, t5 = -1;
    if (localParent === undefined && parent === undefined) {
      drawTraceId();
      t0 = DRAWN[0];
      t1 = DRAWN[1];
      t2 = DRAWN[2];
      t3 = DRAWN[3];
      t4 = DRAWN[4];
      t5 = DRAWN[5];
    }
    drawSpanId();
    const s0 = DRAWN[6];
    const s1 = DRAWN[7];
    const s2 = DRAWN[8];
    const sampler = provider.sampler;
    // The trace id's hex only for a sampler that may read it (every built-in one but TraceIdRatioBased does not).
    const traceId = sampler.readsTraceId === false ? '' : traceIdOf(localParent, parent, t0, t1, t2, t3, t4, t5);
    // A root span is sampled against a context without the ignored parent.
    const samplingContext = localParent === undefined && parent === undefined && root === true ? ROOT_CONTEXT : ctx;
    const result = sampler.shouldSample(samplingContext, traceId, name, kind, attributes, links);
    const traceState =
      result.traceState !== undefined ? result.traceState : localParent !== undefined ? localParent.traceState : parent?.traceState;
    if (result.decision === SamplingDecision.NOT_RECORD) {
      const spanId = spanIdHex(s0, s1, s2);
      const id = traceId !== '' ? traceId : traceIdOf(localParent, parent, t0, t1, t2, t3, t4, t5);
      return new NonRecordingSpan({ traceId: id, spanId, traceFlags: 0, traceState, isRemote: false });
    }
    const flags = result.decision === SamplingDecision.RECORD_AND_SAMPLED ? 1 : 0;
    const span = new RecordingSpan(
      this,
      typeof name === 'string' ? name : String(name),
      kind,
      flags,
      traceState,
      localParent,
      parent,
      startTime === undefined ? now() : startTime,
      t0,
      t1,
      t2,
      t3,
      t4,
      t5,
      s0,
      s1,
      s2,
    );
    if (build !== undefined) attributes = build(buildA, buildB);
    if (attributes !== undefined && !(adopt !== Adopt.NO && span.adoptAttributes(attributes, adopt === Adopt.SHARED))) {
      span.setAttributes(attributes);
    }
    if (result.attributes !== undefined) span.setAttributes(result.attributes);
    if (links !== undefined) span.addLinks(links);
    provider.processor.onStart(span, ctx);
    return span;
  }

  startSpan(name: string, options?: SpanOptions, context?: Context): Span {
    if (options === undefined || options === null || typeof options !== 'object') {
      return this.start(name, 0, context);
    }
    const kind = typeof options.kind === 'number' && options.kind >= 0 && options.kind <= 4 ? options.kind : 0;
    return this.start(
      name,
      kind as SpanKind,
      context,
      options.attributes,
      Array.isArray(options.links) ? options.links : undefined,
      options.startTime === undefined ? undefined : toRelativeMillis(options.startTime),
      options.root === true,
    );
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, ...rest: unknown[]): ReturnType<F> {
    let options: SpanOptions | undefined;
    let context: Context | undefined;
    let fn: F;
    if (rest.length < 2) fn = rest[0] as F;
    else if (rest.length === 2) {
      options = rest[0] as SpanOptions;
      fn = rest[1] as F;
    } else {
      options = rest[0] as SpanOptions;
      context = rest[1] as Context;
      fn = rest[2] as F;
    }
    const parentContext = context ?? contextManager.active();
    const span = this.startSpan(name, options, parentContext);
    return contextManager.run(setSpan(parentContext, span), fn, undefined, [span]) as ReturnType<F>;
  }
}

export interface TracerProviderOptions {
  resource?: Resource;
  sampler?: Sampler;
  limits?: SpanLimits;
  processors?: SpanProcessor[];
}

export class TracerProvider {
  readonly resource: Resource;
  readonly sampler: Sampler;
  readonly limits: SpanLimits;
  processor: SpanProcessor;
  isShutdown = false;
  private readonly _processors: SpanProcessor[];
  private readonly _tracers = new Map<string, Tracer>();

  constructor(options: TracerProviderOptions = {}) {
    this.resource = options.resource ?? Resource.empty();
    this.sampler = options.sampler ?? new ParentBasedSampler({ root: new AlwaysOnSampler() });
    this.limits = options.limits ?? DEFAULT_LIMITS;
    this._processors = [...(options.processors ?? [])];
    this.processor = this._composeProcessor();
  }

  private _composeProcessor(): SpanProcessor {
    if (this._processors.length === 0) return NOOP_PROCESSOR;
    if (this._processors.length === 1) return this._processors[0];
    return new MultiSpanProcessor(this._processors);
  }

  get processors(): readonly SpanProcessor[] {
    return this._processors;
  }

  addSpanProcessor(processor: SpanProcessor): void {
    this._processors.push(processor);
    this.processor = this._composeProcessor();
  }

  getTracer(name: string, version?: string, options?: TracerOptions): Tracer {
    const safeName = typeof name === 'string' && name !== '' ? name : '';
    if (safeName === '') diag.debug('a tracer was requested with an empty name');
    const key = `${safeName}@${version ?? ''}@${options?.schemaUrl ?? ''}`;
    let tracer = this._tracers.get(key);
    if (tracer === undefined) {
      tracer = new Tracer(this, { name: safeName, version, schemaUrl: options?.schemaUrl });
      this._tracers.set(key, tracer);
    }
    return tracer;
  }

  forceFlush(): Promise<void> {
    return this.processor.forceFlush().catch((err) => diag.debug('flush failed', err));
  }

  shutdown(): Promise<void> {
    if (this.isShutdown) return Promise.resolve();
    this.isShutdown = true;
    return this.processor.shutdown().catch((err) => diag.debug('shutdown failed', err));
  }
}

export { setSpan };
