import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import {
  createContextKey,
  getSpan,
  isTracingSuppressed,
  ROOT_CONTEXT,
  setSpan,
  SPAN_KEY,
  suppressTracing,
} from '../../src/context/context';
import { AsyncLocalStorageContextManager } from '../../src/context/context-manager';
import { NonRecordingSpan } from '../../src/trace/span';

const A = createContextKey('test a');
const B = createContextKey('test b');

describe('Context', () => {
  it('is immutable: setValue returns a new context and leaves the old one unchanged', () => {
    const one = ROOT_CONTEXT.setValue(A, 1);
    const two = one.setValue(A, 2).setValue(B, 'b');
    expect(ROOT_CONTEXT.getValue(A)).toBeUndefined();
    expect(one.getValue(A)).toBe(1);
    expect(one.getValue(B)).toBeUndefined();
    expect(two.getValue(A)).toBe(2);
    expect(two.getValue(B)).toBe('b');
  });

  it('deleteValue hides a key without touching the parent', () => {
    const one = ROOT_CONTEXT.setValue(A, 1).setValue(B, 2);
    const deleted = one.deleteValue(A);
    expect(deleted.getValue(A)).toBeUndefined();
    expect(deleted.getValue(B)).toBe(2);
    expect(one.getValue(A)).toBe(1);
  });

  it('keeps every live value when a deep chain is flattened', () => {
    const keys = Array.from({ length: 20 }, (_, i) => createContextKey(`deep ${i}`));
    let ctx = ROOT_CONTEXT;
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < keys.length; i++) ctx = ctx.setValue(keys[i], `${round}:${i}`);
    }
    ctx = ctx.deleteValue(keys[3]);
    for (let i = 0; i < keys.length; i++) expect(ctx.getValue(keys[i])).toBe(i === 3 ? undefined : `2:${i}`);
  });

  it('uses the same span and suppression keys as @opentelemetry/api and @opentelemetry/core', () => {
    expect(SPAN_KEY).toBe(Symbol.for('OpenTelemetry Context Key SPAN'));
    const span = new NonRecordingSpan({ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1 });
    expect(getSpan(setSpan(ROOT_CONTEXT, span))).toBe(span);
    expect(isTracingSuppressed(ROOT_CONTEXT)).toBe(false);
    expect(isTracingSuppressed(suppressTracing(ROOT_CONTEXT))).toBe(true);
    expect(suppressTracing(ROOT_CONTEXT).getValue(Symbol.for('OpenTelemetry SDK Context Key SUPPRESS_TRACING'))).toBe(true);
  });
});

describe('AsyncLocalStorageContextManager', () => {
  const manager = new AsyncLocalStorageContextManager();
  const ctx = ROOT_CONTEXT.setValue(A, 'inside');

  it('run() (the wrappers\' form) keeps this, arguments, the return value and errors; restores the context; carries it into async work', async () => {
    const self = { name: 'self' };
    const inner = ctx.setValue(B, 'nested');
    const seen: unknown[] = [];
    const result = manager.run(
      ctx,
      function (this: unknown, a: number, b: number) {
        seen.push(this, a, b, manager.active().getValue(A));
        // Entering the context already active switches nothing; a nested one is left again on return.
        manager.run(ctx, () => seen.push(manager.active() === ctx), undefined, []);
        manager.run(inner, () => seen.push(manager.active().getValue(B)), undefined, []);
        seen.push(manager.active() === ctx);
        return a * b;
      },
      self,
      [6, 7],
    );
    expect(result).toBe(42);
    expect(seen).toEqual([self, 6, 7, 'inside', true, 'nested', true]);
    expect(manager.active()).toBe(ROOT_CONTEXT);
    const error = new Error('thrown');
    expect(() => manager.run(ctx, () => { throw error; }, undefined, [])).toThrow(error);
    expect(manager.active()).toBe(ROOT_CONTEXT);
    const later = await (manager.run(ctx, () => new Promise((r) => setTimeout(() => r(manager.active().getValue(A)), 1)), undefined, []) as Promise<unknown>);
    expect(later).toBe('inside');
  });

  it('run() adds one frame of its own to the stack of an error thrown inside it (Node.js 20 and 22: no AsyncLocalStorage frames)', () => {
    manager.run(ctx, () => undefined, undefined, []); // AsyncLocalStorage enabled, as after the first request
    let stack = '';
    try {
      manager.run(ctx.setValue(B, 1), () => { throw new Error('where'); }, undefined, []);
    } catch (err) {
      stack = (err as Error).stack ?? '';
    }
    const frames = stack.split('\n').slice(1);
    expect(frames.filter((f) => f.includes('AsyncLocalStorageContextManager.run'))).toHaveLength(1);
    const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
    const frameBased = Number(process.versions.node.split('.')[0]) >= 24 || flags.includes('--experimental-async-context-frame');
    if (!frameBased) {
      expect(frames.some((f) => f.includes('applyWithThis') || f.includes('AsyncLocalStorage.run'))).toBe(false);
    }
  });

  it('with() makes a context active for the call and its async continuations, passing this and arguments', async () => {
    expect(manager.active()).toBe(ROOT_CONTEXT);
    const self = { name: 'self' };
    const result = await manager.with(
      ctx,
      async function (this: typeof self, x: number, y: number) {
        expect(this).toBe(self);
        await new Promise((r) => setTimeout(r, 1));
        expect(manager.active().getValue(A)).toBe('inside');
        return x + y;
      },
      self,
      2,
      3,
    );
    expect(result).toBe(5);
    expect(manager.active()).toBe(ROOT_CONTEXT);
  });

  it('the root context leaves the store empty (as without the agent) and still reads back as the root context', async () => {
    const seen: unknown[] = [];
    const detached = manager.bind(ROOT_CONTEXT, () => {
      seen.push(manager.storage.getStore(), manager.active());
    });
    await manager.with(ctx, async () => {
      manager.with(ROOT_CONTEXT, () => seen.push(manager.storage.getStore(), manager.active()));
      await new Promise<void>((resolve) =>
        manager.run(ROOT_CONTEXT, () => setTimeout(() => {
          // a callback scheduled from the root context: still the root context, still no store
          seen.push(manager.storage.getStore(), manager.active());
          resolve();
        }, 1), undefined, []),
      );
      detached();
      expect(manager.active().getValue(A)).toBe('inside');
    });
    expect(seen).toEqual([undefined, ROOT_CONTEXT, undefined, ROOT_CONTEXT, undefined, ROOT_CONTEXT]);
  });

  it('bind() on a function runs it in the bound context and keeps its name and length', () => {
    function handler(a: number, b: number) {
      return [manager.active().getValue(A), a + b];
    }
    const bound = manager.bind(ctx, handler);
    expect(bound.name).toBe('handler');
    expect(bound.length).toBe(2);
    expect(bound(1, 2)).toEqual(['inside', 3]);
  });

  it('bind() on an EventEmitter runs listeners in the bound context, and removeListener still works', () => {
    const emitter = new EventEmitter();
    manager.bind(ctx, emitter);
    const seen: unknown[] = [];
    const listener = () => seen.push(manager.active().getValue(A));
    emitter.on('x', listener);
    emitter.once('y', listener);
    emitter.emit('x');
    emitter.emit('y');
    emitter.emit('y');
    emitter.removeListener('x', listener);
    emitter.emit('x');
    expect(seen).toEqual(['inside', 'inside']);
    expect(emitter.listenerCount('x')).toBe(0);
    expect(Object.keys(emitter)).not.toContain('on');
  });
});
