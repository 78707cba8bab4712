/**
 * Spans (specification/trace/api.md#span and sdk.md#span). A RecordingSpan records; a NonRecordingSpan only
 * carries a span context (sampled out, suppressed, or a remote parent).
 */
import type {
  AttributeValue,
  Attributes,
  InstrumentationScope,
  Link,
  Span,
  SpanContext,
  SpanKind,
  SpanStatus,
  TimeInput,
  TraceState,
} from '../api/types';
import type { SpanLimits } from '../config';
import { diag } from '../diag/logger';
import { sanitizeAttributes, sanitizeValue, truncateString } from './attributes';
import { spanIdHex, traceIdHex } from './ids';
import { isTimeInput, now, toRelativeMillis } from './time';
import type { Resource } from '../resource/resource';

export interface TimedEvent {
  name: string;
  /** Milliseconds since the time origin (see time.ts). */
  time: number;
  attributes: Attributes;
  droppedAttributesCount: number;
}

export interface SpanLink {
  context: SpanContext;
  attributes: Attributes;
  droppedAttributesCount: number;
}

/** What exporters read. Times are milliseconds since the time origin (see time.ts). */
export interface ReadableSpan {
  readonly name: string;
  readonly kind: SpanKind;
  spanContext(): SpanContext;
  readonly parentSpanId: string | undefined;
  /** Whether the parent came from another process; undefined for a root span. */
  readonly parentIsRemote: boolean | undefined;
  readonly startTime: number;
  readonly endTime: number;
  readonly ended: boolean;
  readonly status: SpanStatus;
  readonly attributes: Attributes;
  readonly links: SpanLink[];
  readonly events: TimedEvent[];
  readonly droppedAttributesCount: number;
  readonly droppedEventsCount: number;
  readonly droppedLinksCount: number;
  readonly resource: Resource;
  readonly instrumentationScope: InstrumentationScope;
}

/** What a span needs from the tracer that made it: limits, the processor chain, resource and scope. */
export interface SpanOwner {
  readonly limits: SpanLimits;
  readonly resource: Resource;
  readonly instrumentationScope: InstrumentationScope;
  onEnd(span: RecordingSpan): void;
}

const UNSET_STATUS: SpanStatus = Object.freeze({ code: 0 });
const NO_EVENTS: TimedEvent[] = Object.freeze([]) as unknown as TimedEvent[];
const NO_LINKS: SpanLink[] = Object.freeze([]) as unknown as SpanLink[];
/**
 * A span's attributes until its first setAttribute: most spans adopt the object their instrumentation built
 * (adoptAttributes), and an empty object made for each of them was garbage a span (allocation sampling on the
 * node:http benchmark).
 */
const NO_ATTRIBUTES: Attributes = Object.freeze({}) as Attributes;

/** A span's own copy of attributes it shared until now (undefined values, left out by the encoders, are dropped). */
function copyAttributes(attributes: Attributes): Attributes {
  const copy: Attributes = {};
  for (const key in attributes) {
    const value = attributes[key];
    if (value !== undefined) copy[key] = value;
  }
  return copy;
}

/** The trace flags, read from the span's own field when it has one (no span-context object made for it). */
export function traceFlagsOf(span: ReadableSpan): number {
  const flags = (span as { traceFlags?: unknown }).traceFlags;
  return typeof flags === 'number' ? flags : span.spanContext().traceFlags;
}

export class RecordingSpan implements Span, ReadableSpan {
  name: string;
  readonly kind: SpanKind;
  readonly traceFlags: number;
  readonly traceState: TraceState | undefined;
  readonly parentIsRemote: boolean | undefined;
  readonly startTime: number;
  // The ids as chunks (ids.ts), their hex made when first asked for. A trace or parent id that came as
  // hex (a remote or foreign parent) has -1 in its first chunk and only the hex.
  readonly _t0: number;
  readonly _t1: number;
  readonly _t2: number;
  readonly _t3: number;
  readonly _t4: number;
  readonly _t5: number;
  readonly _s0: number;
  readonly _s1: number;
  readonly _s2: number;
  readonly _p0: number;
  readonly _p1: number;
  readonly _p2: number;
  private _traceIdHex: string | undefined;
  private _spanIdHex: string | undefined = undefined;
  private _parentSpanIdHex: string | undefined;
  endTime = 0;
  ended = false;
  status: SpanStatus = UNSET_STATUS;
  attributes: Attributes = NO_ATTRIBUTES;
  /**
   * Whether `attributes` is an object other spans may hold too (NO_ATTRIBUTES, or one adopted by
   * Tracer.startShared): the first setAttribute copies it.
   */
  private _attributesShared = true;
  attributeCount = 0;
  droppedAttributesCount = 0;
  events: TimedEvent[] = NO_EVENTS;
  droppedEventsCount = 0;
  links: SpanLink[] = NO_LINKS;
  droppedLinksCount = 0;
  private _spanContext: SpanContext | undefined = undefined;
  private readonly _owner: SpanOwner;

  /**
   * Only the tracer makes recording spans. `localParent` is the parent when it is one of ours (its chunks are
   * copied); `parent` a remote or foreign parent's context (its hex is kept); `t0`–`t5` a root span's new trace id
   * and `s0`–`s2` the span's new id, as chunks (ids.ts).
   */
  constructor(
    owner: SpanOwner,
    name: string,
    kind: SpanKind,
    traceFlags: number,
    traceState: TraceState | undefined,
    localParent: RecordingSpan | undefined,
    parent: SpanContext | undefined,
    startTime: number,
    t0: number,
    t1: number,
    t2: number,
    t3: number,
    t4: number,
    t5: number,
    s0: number,
    s1: number,
    s2: number,
  ) {
    this._owner = owner;
    this.name = name;
    this.kind = kind;
    this.traceFlags = traceFlags;
    this.traceState = traceState;
    if (localParent !== undefined) {
      this._t0 = localParent._t0;
      this._t1 = localParent._t1;
      this._t2 = localParent._t2;
      this._t3 = localParent._t3;
      this._t4 = localParent._t4;
      this._t5 = localParent._t5;
      this._traceIdHex = localParent._traceIdHex;
      this._p0 = localParent._s0;
      this._p1 = localParent._s1;
      this._p2 = localParent._s2;
      this._parentSpanIdHex = localParent._spanIdHex;
      this.parentIsRemote = false;
    } else if (parent !== undefined) {
      this._t0 = this._t1 = this._t2 = this._t3 = this._t4 = this._t5 = -1;
      this._traceIdHex = parent.traceId;
      this._p0 = this._p1 = this._p2 = -1;
      this._parentSpanIdHex = parent.spanId;
      this.parentIsRemote = parent.isRemote === true;
    } else {
      this._t0 = t0;
      this._t1 = t1;
      this._t2 = t2;
      this._t3 = t3;
      this._t4 = t4;
      this._t5 = t5;
      this._traceIdHex = undefined;
      this._p0 = this._p1 = this._p2 = -1;
      this._parentSpanIdHex = undefined;
      this.parentIsRemote = undefined;
    }
    this._s0 = s0;
    this._s1 = s1;
    this._s2 = s2;
    this.startTime = startTime;
  }

  get traceId(): string {
    let hex = this._traceIdHex;
    if (hex === undefined) hex = this._traceIdHex = traceIdHex(this._t0, this._t1, this._t2, this._t3, this._t4, this._t5);
    return hex;
  }

  get spanId(): string {
    let hex = this._spanIdHex;
    if (hex === undefined) hex = this._spanIdHex = spanIdHex(this._s0, this._s1, this._s2);
    return hex;
  }

  get parentSpanId(): string | undefined {
    let hex = this._parentSpanIdHex;
    if (hex === undefined && this._p0 >= 0) hex = this._parentSpanIdHex = spanIdHex(this._p0, this._p1, this._p2);
    return hex;
  }

  get resource(): Resource {
    return this._owner.resource;
  }

  get instrumentationScope(): InstrumentationScope {
    return this._owner.instrumentationScope;
  }

  spanContext(): SpanContext {
    let sc = this._spanContext;
    if (sc === undefined) {
      sc = this._spanContext = {
        traceId: this.traceId,
        spanId: this.spanId,
        traceFlags: this.traceFlags,
        traceState: this.traceState,
        isRemote: false,
      };
    }
    return sc;
  }

  isRecording(): boolean {
    return !this.ended;
  }

  setAttribute(key: string, value: AttributeValue): this {
    if (this.ended) {
      diag.debug(`ignoring attribute ${key} on ended span ${this.name}`);
      return this;
    }
    if (typeof key !== 'string' || key.length === 0) {
      diag.debug(`ignoring attribute with invalid key ${String(key)}`);
      return this;
    }
    const limits = this._owner.limits;
    let v: AttributeValue | undefined;
    // Fast paths for the common types; everything else is checked and copied by sanitizeValue.
    if (typeof value === 'string') {
      v = value.length > limits.attributeValueLengthLimit ? truncateString(value, limits.attributeValueLengthLimit) : value;
    } else if (typeof value === 'number' || typeof value === 'boolean') {
      v = value;
    } else {
      v = sanitizeValue(value, limits.attributeValueLengthLimit);
      if (v === undefined) {
        diag.debug(`dropping invalid value for attribute ${key} on span ${this.name}`);
        return this;
      }
    }
    let attrs = this.attributes;
    if (this._attributesShared) {
      attrs = this.attributes = copyAttributes(attrs);
      this._attributesShared = false;
    }
    // A new key counts against the limit. (The own-property check only runs when an inherited name such as
    // `toString` was found; `__proto__` cannot be an own data property of a plain object at all.)
    if (attrs[key] === undefined || !Object.prototype.hasOwnProperty.call(attrs, key)) {
      if (key === '__proto__') return this;
      if (this.attributeCount >= limits.attributeCountLimit) {
        this.droppedAttributesCount++;
        if (this.droppedAttributesCount === 1) diag.debug(`span ${this.name} reached its attribute limit`);
        return this;
      }
      this.attributeCount++;
    }
    attrs[key] = v;
    return this;
  }

  /**
   * Takes `attributes` as this span's attribute object, without copying: for an object an instrumentation built
   * for this span alone (Tracer.startOwned), or, when `shared`, one that many spans take and nobody changes
   * (Tracer.startShared; this span copies it before its first setAttribute). Only when every value is a string,
   * number, boolean or undefined (left out, as by the encoders), there are no more than the count limit and no
   * value length limit applies; otherwise returns false and the caller copies.
   */
  adoptAttributes(attributes: Attributes, shared = false): boolean {
    const limits = this._owner.limits;
    if (this.attributeCount !== 0 || limits.attributeValueLengthLimit !== Infinity) return false;
    if (attributes === null || typeof attributes !== 'object' || Object.getPrototypeOf(attributes) !== Object.prototype) return false;
    let count = 0;
    for (const key in attributes) {
      const t = typeof attributes[key];
      if (t === 'undefined') continue; // an absent value in a fixed-shape object: the encoders skip it
      if (t !== 'string' && t !== 'number' && t !== 'boolean') return false;
      count++;
    }
    if (count > limits.attributeCountLimit) return false;
    this.attributes = attributes;
    this._attributesShared = shared;
    this.attributeCount = count;
    return true;
  }

  setAttributes(attributes: Attributes): this {
    if (attributes === null || typeof attributes !== 'object') return this;
    for (const key in attributes) {
      if (Object.prototype.hasOwnProperty.call(attributes, key)) {
        const value = attributes[key];
        if (value !== undefined) this.setAttribute(key, value);
      }
    }
    return this;
  }

  addEvent(name: string, attributesOrStartTime?: Attributes | TimeInput, startTime?: TimeInput): this {
    if (this.ended) {
      diag.debug(`ignoring event ${name} on ended span ${this.name}`);
      return this;
    }
    let attributes: Attributes | undefined;
    if (isTimeInput(attributesOrStartTime)) {
      startTime = attributesOrStartTime;
    } else {
      attributes = attributesOrStartTime;
    }
    const limits = this._owner.limits;
    if (limits.eventCountLimit === 0) {
      this.droppedEventsCount++;
      return this;
    }
    if (this.events === NO_EVENTS) this.events = [];
    else if (this.events.length >= limits.eventCountLimit) {
      // The newest events say most about how the span ended (an exception recorded before end): keep those.
      if (this.droppedEventsCount === 0) diag.debug(`span ${this.name} reached its event limit`);
      this.events.shift();
      this.droppedEventsCount++;
    }
    const sanitized = sanitizeAttributes(attributes, limits.attributePerEventCountLimit, limits.attributeValueLengthLimit);
    this.events.push({
      name: String(name),
      time: startTime === undefined ? now() : toRelativeMillis(startTime),
      attributes: sanitized.attributes,
      droppedAttributesCount: sanitized.dropped,
    });
    return this;
  }

  addLink(link: Link): this {
    if (this.ended) {
      diag.debug(`ignoring link on ended span ${this.name}`);
      return this;
    }
    if (link === null || typeof link !== 'object' || link.context === null || typeof link.context !== 'object') {
      diag.debug(`ignoring invalid link on span ${this.name}`);
      return this;
    }
    const limits = this._owner.limits;
    if (this.links.length >= limits.linkCountLimit) {
      this.droppedLinksCount++;
      return this;
    }
    if (this.links === NO_LINKS) this.links = [];
    const sanitized = sanitizeAttributes(link.attributes, limits.attributePerLinkCountLimit, limits.attributeValueLengthLimit);
    this.links.push({
      context: link.context,
      attributes: sanitized.attributes,
      droppedAttributesCount: sanitized.dropped + (Number(link.droppedAttributesCount) || 0),
    });
    return this;
  }

  addLinks(links: Link[]): this {
    if (Array.isArray(links)) for (let i = 0; i < links.length; i++) this.addLink(links[i]);
    return this;
  }

  /**
   * Status precedence (api.md#set-status): OK is final; ERROR replaces UNSET or an earlier ERROR; UNSET is
   * ignored. The description is kept only with ERROR.
   */
  setStatus(status: SpanStatus): this {
    if (this.ended || status === null || typeof status !== 'object') return this;
    const code = status.code;
    if (this.status.code === 1 || (code !== 1 && code !== 2)) return this;
    this.status =
      code === 2 && typeof status.message === 'string' ? { code: 2, message: status.message } : { code };
    return this;
  }

  updateName(name: string): this {
    if (!this.ended) this.name = String(name);
    return this;
  }

  recordException(exception: unknown, time?: TimeInput): void {
    if (this.ended) return;
    this.addEvent('exception', exceptionAttributes(exception), time);
  }

  end(endTime?: TimeInput): void {
    if (this.ended) {
      diag.debug(`span ${this.name} ended more than once; the later end is ignored`);
      return;
    }
    let end = endTime === undefined ? now() : toRelativeMillis(endTime);
    if (end < this.startTime) {
      diag.debug(`span ${this.name} ends before it starts; its duration is set to 0`);
      end = this.startTime;
    }
    this.endTime = end;
    this.ended = true;
    this._owner.onEnd(this);
  }
}

/** The attributes of an `exception` event (semantic conventions: exceptions on spans). */
export function exceptionAttributes(exception: unknown): Attributes {
  const attributes: Attributes = {};
  if (typeof exception === 'string') {
    attributes['exception.message'] = exception;
    return attributes;
  }
  if (exception === null || typeof exception !== 'object') {
    attributes['exception.message'] = String(exception);
    return attributes;
  }
  const e = exception as { name?: unknown; message?: unknown; stack?: unknown; code?: unknown };
  const type = exceptionType(exception);
  if (type !== undefined) attributes['exception.type'] = type;
  if (typeof e.message === 'string') attributes['exception.message'] = e.message;
  if (typeof e.stack === 'string') attributes['exception.stacktrace'] = e.stack;
  if (attributes['exception.type'] === undefined && attributes['exception.message'] === undefined) {
    attributes['exception.message'] = safeString(exception);
  }
  return attributes;
}

/**
 * The exception's type for `exception.type` and `error.type`: its name (TypeError, QueryFailedError…); for a
 * plain Error carrying a system or library code (ECONNREFUSED), the code, which says more.
 */
export function exceptionType(exception: unknown): string | undefined {
  if (exception === null || typeof exception !== 'object') return undefined;
  const e = exception as { name?: unknown; code?: unknown; constructor?: { name?: unknown } };
  let name = typeof e.name === 'string' && e.name !== '' ? e.name : undefined;
  if (name === undefined && typeof e.constructor?.name === 'string' && e.constructor.name !== 'Object') {
    name = e.constructor.name;
  }
  if ((name === undefined || name === 'Error') && typeof e.code === 'string' && e.code !== '') return e.code;
  return name;
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return '[unprintable]';
  }
}

/** A span that records nothing and carries a span context: sampled out, suppressed, or a remote parent. */
export class NonRecordingSpan implements Span {
  constructor(private readonly _spanContext: SpanContext) {}
  spanContext(): SpanContext {
    return this._spanContext;
  }
  setAttribute(): this {
    return this;
  }
  setAttributes(): this {
    return this;
  }
  addEvent(): this {
    return this;
  }
  addLink(): this {
    return this;
  }
  addLinks(): this {
    return this;
  }
  setStatus(): this {
    return this;
  }
  updateName(): this {
    return this;
  }
  end(): void {}
  isRecording(): boolean {
    return false;
  }
  recordException(): void {}
}
