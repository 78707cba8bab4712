import { afterEach, describe, expect, it } from 'vitest';
import { SpanKind } from '../../src/api/types';
import { readConfig } from '../../src/config';
import { ROOT_CONTEXT, setSpan } from '../../src/context/context';
import { contextManager } from '../../src/context/global';
import { diag, LogLevel } from '../../src/diag/logger';
import { isValidSpanId, isValidTraceId } from '../../src/trace/ids';
import type { RecordingSpan } from '../../src/trace/span';
import { NonRecordingSpan } from '../../src/trace/span';
import { toEpochNanosBigInt } from '../../src/trace/time';
import { DEFAULT_TEST_LIMITS, finished, memoryProvider } from '../helpers/sdk';

describe('span', () => {
  it('has valid random ids, kind, parent, and high-resolution start and end times', async () => {
    const { provider, exporter, tracer } = memoryProvider();
    const before = BigInt(Date.now()) * 1_000_000n;
    const parent = tracer.startSpan('parent', { kind: SpanKind.SERVER });
    const child = tracer.startSpan('child', { kind: SpanKind.CLIENT }, setSpan(ROOT_CONTEXT, parent));
    child.end();
    parent.end();
    const [c, p] = await finished(provider, exporter);
    expect(isValidTraceId(p.spanContext().traceId)).toBe(true);
    expect(isValidSpanId(p.spanContext().spanId)).toBe(true);
    expect(c.spanContext().traceId).toBe(p.spanContext().traceId);
    expect(c.parentSpanId).toBe(p.spanContext().spanId);
    expect(c.parentIsRemote).toBe(false);
    expect(p.parentSpanId).toBeUndefined();
    expect(c.kind).toBe(SpanKind.CLIENT);
    expect(p.kind).toBe(SpanKind.SERVER);
    const start = toEpochNanosBigInt(p.startTime);
    expect(start).toBeGreaterThanOrEqual(before - 2_000_000n);
    expect(start).toBeLessThan(before + 5_000_000_000n);
    expect(toEpochNanosBigInt(p.endTime)).toBeGreaterThanOrEqual(start);
  });

  it('generates distinct ids', () => {
    const { tracer } = memoryProvider();
    const ids = new Set<string>();
    for (let i = 0; i < 2000; i++) ids.add(tracer.startSpan('x').spanContext().spanId);
    expect(ids.size).toBe(2000);
  });

  it('accepts only valid attribute values, copies arrays, and drops invalid ones', async () => {
    const { provider, exporter, tracer } = memoryProvider();
    const span = tracer.startSpan('attrs');
    const arr = ['a', 'b'];
    span.setAttribute('s', 'text');
    span.setAttribute('n', 1.5);
    span.setAttribute('b', false);
    span.setAttribute('arr', arr);
    span.setAttribute('nulls', [1, null, 3]);
    span.setAttribute('map', { nested: { deep: 1 }, list: [true] } as any);
    span.setAttribute('bytes', new Uint8Array([1, 2]) as any);
    span.setAttribute('mixed', [1, 'a'] as any);
    span.setAttribute('fn', (() => 1) as any);
    span.setAttribute('undef', undefined as any);
    span.setAttribute('', 'empty key');
    span.setAttribute('toString', 'inherited name');
    span.setAttribute('__proto__', 'nope');
    arr.push('c');
    span.end();
    const [s] = await finished(provider, exporter);
    expect(s.attributes).toEqual({
      s: 'text',
      n: 1.5,
      b: false,
      arr: ['a', 'b'],
      nulls: [1, null, 3],
      map: { nested: { deep: 1 }, list: [true] },
      bytes: new Uint8Array([1, 2]),
      toString: 'inherited name',
    });
    expect(Object.getPrototypeOf(s.attributes)).toBe(Object.prototype);
  });

  it('enforces attribute count and value length limits and counts what it dropped', async () => {
    const limits = { ...DEFAULT_TEST_LIMITS, attributeCountLimit: 3, attributeValueLengthLimit: 4 };
    const { provider, exporter, tracer } = memoryProvider({ limits });
    const span = tracer.startSpan('limited', { attributes: { a: 'abcdefgh', b: ['123456', 'x'] } });
    span.setAttribute('c', 1);
    span.setAttribute('d', 2);
    span.setAttribute('e', 3);
    span.setAttribute('a', 'replaced-is-not-new');
    span.end();
    const [s] = await finished(provider, exporter);
    expect(s.attributes).toEqual({ a: 'repl', b: ['1234', 'x'], c: 1 });
    expect(s.droppedAttributesCount).toBe(2);
  });

  it('cuts strings by characters, never between the halves of one, and byte arrays by bytes (common/README.md, Attribute Limits)', async () => {
    const limits = { ...DEFAULT_TEST_LIMITS, attributeValueLengthLimit: 3 };
    const { provider, exporter, tracer } = memoryProvider({ limits });
    const span = tracer.startSpan('chars', { attributes: { e: '\u{1F600}\u{1F600}\u{1F600}\u{1F600}', mixed: ['a\u{1F600}bc', '\u{1F600}'] } });
    span.setAttribute('later', 'x\u{1F600}\u{1F600}yz');
    span.setAttribute('bytes', new Uint8Array([1, 2, 3, 4, 5, 6]));
    span.setAttribute('lone', '\ud83dabcd'); // an unpaired surrogate is one character, as it is to the encoder
    span.end();
    const [s] = await finished(provider, exporter);
    expect(s.attributes.e).toBe('\u{1F600}\u{1F600}\u{1F600}');
    expect(s.attributes.mixed).toEqual(['a\u{1F600}b', '\u{1F600}']);
    expect(s.attributes.later).toBe('x\u{1F600}\u{1F600}');
    expect(Array.from(s.attributes.bytes as unknown as Uint8Array)).toEqual([1, 2, 3]);
    expect(s.attributes.lone).toBe('\ud83dab');
  });

  it('keeps events in order with their own attribute limit and counts dropped events', async () => {
    const limits = { ...DEFAULT_TEST_LIMITS, eventCountLimit: 2, attributePerEventCountLimit: 1 };
    const { provider, exporter, tracer } = memoryProvider({ limits });
    const span = tracer.startSpan('events');
    span.addEvent('first', { a: 1, b: 2 });
    span.addEvent('second');
    span.addEvent('third', Date.now());
    span.end();
    const [s] = await finished(provider, exporter);
    expect(s.events.map((e) => e.name)).toEqual(['second', 'third']);
    expect(s.droppedEventsCount).toBe(1);
    const { provider: p2, exporter: e2, tracer: t2 } = memoryProvider({ limits });
    const one = t2.startSpan('one');
    one.addEvent('with attrs', { a: 1, b: 2 });
    one.end();
    const [s2] = await finished(p2, e2);
    expect(s2.events[0].attributes).toEqual({ a: 1 });
    expect(s2.events[0].droppedAttributesCount).toBe(1);
    expect(s2.events[0].time).toBeGreaterThanOrEqual(s2.startTime);
  });

  it('accepts links at start and later, within the link limit', async () => {
    const limits = { ...DEFAULT_TEST_LIMITS, linkCountLimit: 2, attributePerLinkCountLimit: 1 };
    const { provider, exporter, tracer } = memoryProvider({ limits });
    const other = { traceId: '1'.repeat(32), spanId: '2'.repeat(16), traceFlags: 1, isRemote: true };
    const span = tracer.startSpan('links', { links: [{ context: other, attributes: { x: 1, y: 2 } }] });
    span.addLink({ context: other });
    span.addLinks([{ context: other }]);
    span.end();
    const [s] = await finished(provider, exporter);
    expect(s.links).toHaveLength(2);
    expect(s.links[0].attributes).toEqual({ x: 1 });
    expect(s.links[0].droppedAttributesCount).toBe(1);
    expect(s.droppedLinksCount).toBe(1);
  });

  it('follows the status precedence rules', async () => {
    const { provider, exporter, tracer } = memoryProvider();
    const a = tracer.startSpan('a');
    a.setStatus({ code: 2, message: 'bad' });
    a.setStatus({ code: 0 });
    a.end();
    const b = tracer.startSpan('b');
    b.setStatus({ code: 1, message: 'ignored for OK' });
    b.setStatus({ code: 2, message: 'too late' });
    b.end();
    const c = tracer.startSpan('c');
    c.setStatus({ code: 2, message: 'first' });
    c.setStatus({ code: 2, message: 'second' });
    c.end();
    const [sa, sb, sc] = await finished(provider, exporter);
    expect(sa.status).toEqual({ code: 2, message: 'bad' });
    expect(sb.status).toEqual({ code: 1 });
    expect(sc.status).toEqual({ code: 2, message: 'second' });
  });

  it('records exceptions as exception events', async () => {
    const { provider, exporter, tracer } = memoryProvider();
    const span = tracer.startSpan('x');
    const err = new TypeError('wrong type');
    span.recordException(err);
    span.recordException('just a string');
    const sys = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    span.recordException(sys);
    span.end();
    const [s] = await finished(provider, exporter);
    expect(s.events.map((e) => e.name)).toEqual(['exception', 'exception', 'exception']);
    expect(s.events[0].attributes).toEqual({
      'exception.type': 'TypeError',
      'exception.message': 'wrong type',
      'exception.stacktrace': err.stack,
    });
    expect(s.events[1].attributes).toEqual({ 'exception.message': 'just a string' });
    expect(s.events[2].attributes['exception.type']).toBe('ECONNREFUSED');
  });

  it('updateName renames; a second end() is ignored; nothing changes after end', async () => {
    const { provider, exporter, tracer } = memoryProvider();
    const span = tracer.startSpan('old') as RecordingSpan;
    span.updateName('new');
    expect(span.isRecording()).toBe(true);
    span.end();
    const endTime = span.endTime;
    expect(span.isRecording()).toBe(false);
    span.end();
    span.setAttribute('late', 1);
    span.updateName('later');
    span.addEvent('late');
    expect(span.endTime).toBe(endTime);
    const spans = await finished(provider, exporter);
    expect(spans).toHaveLength(1);
    expect(spans[0].name).toBe('new');
    expect(spans[0].attributes).toEqual({});
    expect(spans[0].events).toEqual([]);
  });

  describe('debug messages for what a span ignores', () => {
    const levelBefore = diag.level;
    afterEach(() => {
      diag.setSink(undefined);
      diag.level = levelBefore;
    });

    /** Ends a span, then does to it what an ended span ignores; returns the diag lines written meanwhile. */
    function misuseEndedSpan(level: LogLevel): string[] {
      const { tracer } = memoryProvider();
      const lines: string[] = [];
      diag.level = level;
      diag.setSink((line) => lines.push(line));
      const span = tracer.startSpan('checkout');
      span.setAttribute('bad', (() => 1) as any);
      span.setAttribute('' as string, 'no key');
      span.end();
      span.setAttribute('late', 1);
      span.setAttributes({ later: 2 });
      span.addEvent('late event');
      span.addLink({ context: span.spanContext() });
      span.end();
      return lines;
    }

    it('says at debug level what it dropped or ignored, and the second end()', () => {
      expect(misuseEndedSpan(LogLevel.DEBUG)).toEqual([
        'zerotel debug: dropping invalid value for attribute bad on span checkout\n',
        'zerotel debug: ignoring attribute with invalid key \n',
        'zerotel debug: ignoring attribute late on ended span checkout\n',
        'zerotel debug: ignoring attribute later on ended span checkout\n',
        'zerotel debug: ignoring event late event on ended span checkout\n',
        'zerotel debug: ignoring link on ended span checkout\n',
        'zerotel debug: span checkout ended more than once; the later end is ignored\n',
      ]);
    });

    it('writes nothing at the level the agent uses when OTEL_LOG_LEVEL is unset', () => {
      const defaultLevel = readConfig({}).config.logLevel;
      expect(defaultLevel).toBe(LogLevel.WARN);
      expect(misuseEndedSpan(defaultLevel)).toEqual([]);
      // and nothing at info either, the specification's default (the one a user who sets OTEL_LOG_LEVEL=info gets)
      expect(misuseEndedSpan(LogLevel.INFO)).toEqual([]);
    });
  });

  it('accepts the API time forms and never ends before it starts', async () => {
    const { provider, exporter, tracer } = memoryProvider();
    const epochMs = Date.now();
    const a = tracer.startSpan('date', { startTime: new Date(epochMs) });
    a.end(epochMs + 5);
    const b = tracer.startSpan('hrtime', { startTime: [Math.floor(epochMs / 1000), (epochMs % 1000) * 1e6] });
    b.end([Math.floor(epochMs / 1000) - 10, 0]);
    const [sa, sb] = await finished(provider, exporter);
    expect(Number(toEpochNanosBigInt(sa.startTime) / 1_000_000n)).toBeCloseTo(epochMs, -1);
    expect(sa.endTime - sa.startTime).toBeCloseTo(5, 3);
    expect(sb.endTime).toBe(sb.startTime);
  });

  it('startActiveSpan makes the span active in the callback and returns its value', async () => {
    const { provider, exporter, tracer } = memoryProvider();
    const value = tracer.startActiveSpan('outer', (outer) => {
      const inner = tracer.startSpan('inner');
      inner.end();
      outer.end();
      return 42;
    });
    expect(value).toBe(42);
    const [inner, outer] = await finished(provider, exporter);
    expect(inner.parentSpanId).toBe(outer.spanContext().spanId);
    expect(contextManager.active()).toBe(ROOT_CONTEXT);
  });

  it('a remote parent is marked remote on the child; a root option starts a new trace', async () => {
    const { provider, exporter, tracer } = memoryProvider();
    const remote = new NonRecordingSpan({ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1, isRemote: true });
    const ctx = setSpan(ROOT_CONTEXT, remote);
    tracer.startSpan('child', {}, ctx).end();
    tracer.startSpan('root', { root: true }, ctx).end();
    const [child, root] = await finished(provider, exporter);
    expect(child.spanContext().traceId).toBe('a'.repeat(32));
    expect(child.parentIsRemote).toBe(true);
    expect(root.spanContext().traceId).not.toBe('a'.repeat(32));
    expect(root.parentSpanId).toBeUndefined();
  });

  it('returns a non-recording span when tracing is suppressed, and after shutdown', async () => {
    const { provider, exporter, tracer } = memoryProvider();
    const { suppressTracing } = await import('../../src/context/context');
    expect(tracer.startSpan('x', {}, suppressTracing(ROOT_CONTEXT)).isRecording()).toBe(false);
    await provider.shutdown();
    const after = tracer.startSpan('after');
    expect(after.isRecording()).toBe(false);
    after.end();
    expect(exporter.getFinishedSpans()).toHaveLength(0);
  });

  it('never throws on bad input', () => {
    const { tracer } = memoryProvider();
    const span = tracer.startSpan(undefined as any, null as any, undefined);
    expect(() => {
      span.setAttributes(null as any);
      span.addEvent(undefined as any, { a: Symbol('x') } as any);
      span.addLink(null as any);
      span.addLinks(undefined as any);
      span.setStatus(null as any);
      span.recordException(undefined);
      span.recordException(Object.create(null));
      span.end('not a time' as any);
    }).not.toThrow();
  });
});
