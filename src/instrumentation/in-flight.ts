/**
 * What an instrumentation keeps about an operation in flight (a request, a query), found from the library's
 * object for it and removed by the instrumentation when the operation ends.
 *
 * Why not a WeakMap, which would need no removal: V8's young-generation collector keeps whatever a WeakMap holds
 * alive until the next full collection, so under load every span, context and attribute object of operations
 * long finished survived into the old generation. Measured on the plain node:http benchmark with the sampler off:
 * the young space grew to its maximum, each scavenge took 5–8 ms instead of 0.4, and peak RSS rose by 33 MB; with
 * this map, as without the agent.
 *
 * Bounded: an operation whose end the instrumentation never sees (a response nobody reads) cannot make it grow
 * without limit; past the bound the oldest entries go first (a Map iterates in insertion order).
 */
export class InFlight<V> {
  private readonly _entries = new Map<object, V>();

  constructor(private readonly _maxEntries = 65536) {}

  get(key: object): V | undefined {
    return this._entries.get(key);
  }

  set(key: object, value: V): void {
    const entries = this._entries;
    if (entries.size >= this._maxEntries) {
      const oldest = entries.keys().next();
      if (oldest.done !== true) entries.delete(oldest.value);
    }
    entries.set(key, value);
  }

  delete(key: object): void {
    this._entries.delete(key);
  }

  get size(): number {
    return this._entries.size;
  }
}
