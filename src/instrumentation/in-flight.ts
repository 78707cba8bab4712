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
 *
 * Renewed: every RENEW_AFTER insertions the live entries move to a new Map. A Map's hash table is rebuilt as
 * entries come and go (to grow, to shrink, to clear deleted slots), and V8 allocates the new table in the old
 * generation when the Map itself is there — which a long-lived Map soon is. Under load that was a steady stream
 * of old-generation garbage, a new table every few dozen requests: measured on the node:http benchmark, the
 * largest source of memory promoted and then collected by full collections, and peak RSS growing by ~6 MB a
 * second between them. A Map replaced every thousand insertions is young when busy, and its tables die young.
 */
export class InFlight<V> {
  private _entries = new Map<object, V>();
  private _insertions = 0;

  constructor(private readonly _maxEntries = 65536) {}

  get(key: object): V | undefined {
    return this._entries.get(key);
  }

  set(key: object, value: V): void {
    if (++this._insertions >= RENEW_AFTER) {
      this._insertions = 0;
      this._entries = new Map(this._entries);
    }
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

const RENEW_AFTER = 1024;
