import { describe, expect, it } from 'vitest';
import * as api from '@opentelemetry/api';
import type { Baggage } from '../../src/api/types';
import { ZerotelBaggage, baggageEntryMetadataFromString, createBaggage } from '../../src/propagators/baggage';

describe('Baggage object', () => {
  it('creates from a record or from pairs, in order', () => {
    const fromRecord = createBaggage({ a: { value: '1' }, b: { value: '2' } });
    expect(fromRecord.getAllEntries()).toEqual([
      ['a', { value: '1' }],
      ['b', { value: '2' }],
    ]);
    const fromPairs = createBaggage([
      ['z', { value: '26' }],
      ['y', { value: '25' }],
    ]);
    expect(fromPairs.getAllEntries().map(([k]) => k)).toEqual(['z', 'y']);
    expect(createBaggage().getAllEntries()).toEqual([]);
  });

  it('is immutable: every change returns a new object and leaves the old one as it was', () => {
    const b0 = createBaggage({ a: { value: '1' } });
    const b1 = b0.setEntry('b', { value: '2' });
    const b2 = b1.setEntry('a', { value: 'changed' });
    const b3 = b2.removeEntry('b');
    expect(b0.getAllEntries()).toEqual([['a', { value: '1' }]]);
    expect(b1.getAllEntries()).toEqual([
      ['a', { value: '1' }],
      ['b', { value: '2' }],
    ]);
    // A replaced key keeps its place.
    expect(b2.getAllEntries()).toEqual([
      ['a', { value: 'changed' }],
      ['b', { value: '2' }],
    ]);
    expect(b3.getAllEntries()).toEqual([['a', { value: 'changed' }]]);
  });

  it('hands out frozen entries and fresh arrays', () => {
    const b = createBaggage({ a: { value: '1' } });
    const entry = b.getEntry('a')!;
    expect(Object.isFrozen(entry)).toBe(true);
    const all = b.getAllEntries();
    all.pop();
    expect(b.getAllEntries()).toHaveLength(1);
    // Changing the object passed in does not change the baggage.
    const input = { value: 'x' };
    const b2 = b.setEntry('k', input);
    input.value = 'y';
    expect(b2.getEntry('k')?.value).toBe('x');
  });

  it('getEntry, removeEntries, clear', () => {
    const b = createBaggage({ a: { value: '1' }, b: { value: '2' }, c: { value: '3' } });
    expect(b.getEntry('b')).toEqual({ value: '2' });
    expect(b.getEntry('nope')).toBeUndefined();
    expect(b.removeEntries('a', 'c', 'nope').getAllEntries()).toEqual([['b', { value: '2' }]]);
    expect(b.removeEntries('nope')).toBe(b);
    expect(b.removeEntry('nope')).toBe(b);
    expect(b.clear().getAllEntries()).toEqual([]);
    expect(b.getAllEntries()).toHaveLength(3);
  });

  it('keeps metadata, whose toString gives back the property string', () => {
    const metadata = baggageEntryMetadataFromString('prop1;prop2=v');
    expect(metadata.toString()).toBe('prop1;prop2=v');
    expect(String(metadata)).toBe('prop1;prop2=v');
    const b = createBaggage({ a: { value: '1', metadata } });
    expect(b.getEntry('a')?.metadata?.toString()).toBe('prop1;prop2=v');
    expect(baggageEntryMetadataFromString(undefined as unknown as string).toString()).toBe('');
  });

  it('ignores invalid entries instead of throwing', () => {
    const b = createBaggage({ a: { value: '1' } });
    expect(b.setEntry('x', null as unknown as { value: string })).toBe(b);
    expect(b.setEntry(1 as unknown as string, { value: 'v' })).toBe(b);
    expect(createBaggage({ bad: undefined as unknown as { value: string } }).getAllEntries()).toEqual([]);
  });

  it('is usable as an @opentelemetry/api Baggage, and the other way round', () => {
    // (A cast only for the compiler: the API brands its metadata type with a `unique symbol`, which no other
    // declaration can match at the type level; at run time the shapes are the same.)
    const ours = createBaggage({ a: { value: '1' } }) as unknown as api.Baggage;
    const ctx = api.propagation.setBaggage(api.ROOT_CONTEXT, ours);
    expect(api.propagation.getBaggage(ctx)?.getEntry('a')?.value).toBe('1');
    const theirs: Baggage = api.propagation.createBaggage({ b: { value: '2' } });
    expect(theirs.getAllEntries()).toEqual([['b', { value: '2' }]]);
    expect(ours).toBeInstanceOf(ZerotelBaggage);
  });
});
