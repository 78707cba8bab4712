/**
 * The tracing API shapes zerotel implements.
 *
 * They are structurally the same as @opentelemetry/api's interfaces, on purpose: when an application has
 * @opentelemetry/api installed, the agent registers its own objects there unchanged (see src/agent/bridge.ts),
 * so spans, contexts and propagators cross between the two without adapters.
 */

/** Span kinds, numbered as in @opentelemetry/api (OTLP numbers them one higher; the encoder adds 1). */
export const SpanKind = {
  INTERNAL: 0,
  SERVER: 1,
  CLIENT: 2,
  PRODUCER: 3,
  CONSUMER: 4,
} as const;
export type SpanKind = (typeof SpanKind)[keyof typeof SpanKind];

/** Status codes, numbered as in both the API and OTLP. */
export const SpanStatusCode = {
  UNSET: 0,
  OK: 1,
  ERROR: 2,
} as const;
export type SpanStatusCode = (typeof SpanStatusCode)[keyof typeof SpanStatusCode];

export const TraceFlags = {
  NONE: 0,
  SAMPLED: 1,
} as const;

export type AttributeScalar = string | number | boolean;
export type AttributeValue =
  | AttributeScalar
  | Array<string | null | undefined>
  | Array<number | null | undefined>
  | Array<boolean | null | undefined>;
export interface Attributes {
  [key: string]: AttributeValue | undefined;
}

/** [seconds, nanoseconds] as in the API, an epoch-millisecond number, a performance.now() number, or a Date. */
export type HrTime = [number, number];
export type TimeInput = HrTime | number | Date;

export interface TraceState {
  set(key: string, value: string): TraceState;
  unset(key: string): TraceState;
  get(key: string): string | undefined;
  serialize(): string;
}

export interface SpanContext {
  traceId: string;
  spanId: string;
  traceFlags: number;
  isRemote?: boolean;
  traceState?: TraceState;
}

export interface Link {
  context: SpanContext;
  attributes?: Attributes;
  droppedAttributesCount?: number;
}

export interface SpanStatus {
  code: SpanStatusCode;
  message?: string;
}

export interface Exception {
  name?: string;
  message?: string;
  stack?: string;
  code?: string | number;
}

/** The span interface of @opentelemetry/api, which our spans implement. */
export interface Span {
  spanContext(): SpanContext;
  setAttribute(key: string, value: AttributeValue): this;
  setAttributes(attributes: Attributes): this;
  addEvent(name: string, attributesOrStartTime?: Attributes | TimeInput, startTime?: TimeInput): this;
  addLink(link: Link): this;
  addLinks(links: Link[]): this;
  setStatus(status: SpanStatus): this;
  updateName(name: string): this;
  end(endTime?: TimeInput): void;
  isRecording(): boolean;
  recordException(exception: unknown, time?: TimeInput): void;
}

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  links?: Link[];
  startTime?: TimeInput;
  root?: boolean;
}

/** The context interface of @opentelemetry/api: immutable, keyed by symbols. */
export interface Context {
  getValue(key: symbol): unknown;
  setValue(key: symbol, value: unknown): Context;
  deleteValue(key: symbol): Context;
}

export interface Tracer {
  startSpan(name: string, options?: SpanOptions, context?: Context): Span;
  startActiveSpan<F extends (span: Span) => unknown>(name: string, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(name: string, options: SpanOptions, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    options: SpanOptions,
    context: Context,
    fn: F,
  ): ReturnType<F>;
}

export interface TracerOptions {
  schemaUrl?: string;
}

export interface TracerProvider {
  getTracer(name: string, version?: string, options?: TracerOptions): Tracer;
}

export interface TextMapGetter<Carrier = unknown> {
  keys(carrier: Carrier): string[];
  get(carrier: Carrier, key: string): undefined | string | string[];
}

export interface TextMapSetter<Carrier = unknown> {
  set(carrier: Carrier, key: string, value: string): void;
}

export interface TextMapPropagator<Carrier = unknown> {
  inject(context: Context, carrier: Carrier, setter: TextMapSetter<Carrier>): void;
  extract(context: Context, carrier: Carrier, getter: TextMapGetter<Carrier>): Context;
  fields(): string[];
}

export interface BaggageEntryMetadata {
  toString(): string;
  __TYPE__?: symbol;
}

export interface BaggageEntry {
  value: string;
  metadata?: BaggageEntryMetadata;
}

export interface Baggage {
  getEntry(key: string): BaggageEntry | undefined;
  getAllEntries(): [string, BaggageEntry][];
  setEntry(key: string, entry: BaggageEntry): Baggage;
  removeEntry(key: string): Baggage;
  removeEntries(...key: string[]): Baggage;
  clear(): Baggage;
}

export interface InstrumentationScope {
  name: string;
  version?: string;
  schemaUrl?: string;
}
