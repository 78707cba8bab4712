/**
 * InFlight (src/instrumentation/in-flight.ts): entries are found until removed, across the renewals of its Map
 * (every 128 insertions, or twice the live entries), and the oldest go first past the bound.
 */
import { describe, expect, it } from 'vitest';
import { InFlight } from '../../src/instrumentation/in-flight';

describe('InFlight', () => {
  it('keeps every live entry, and no removed one, across many renewals', () => {
    const map = new InFlight<number>();
    const live = new Map<object, number>();
    const longLived = { id: 'long' };
    map.set(longLived, -1);
    // A churn like a server's: requests come and go, a few stay open for a long time.
    const open: object[] = [];
    for (let i = 0; i < 10_000; i++) {
      const key = { i };
      map.set(key, i);
      live.set(key, i);
      open.push(key);
      if (open.length > 40 || i % 7 === 0) {
        const done = open.splice(i % 3, 1)[0];
        map.delete(done);
        live.delete(done);
        expect(map.get(done)).toBeUndefined();
      }
    }
    expect(map.get(longLived)).toBe(-1);
    expect(map.size).toBe(live.size + 1);
    for (const [key, value] of live) expect(map.get(key)).toBe(value);
  });

  it('drops the oldest entries past its bound, renewals included', () => {
    const map = new InFlight<number>(100);
    const keys = Array.from({ length: 2500 }, (_, i) => ({ i }));
    keys.forEach((k, i) => map.set(k, i));
    expect(map.size).toBe(100);
    expect(map.get(keys[2399])).toBeUndefined();
    for (let i = 2400; i < 2500; i++) expect(map.get(keys[i])).toBe(i);
  });
});
