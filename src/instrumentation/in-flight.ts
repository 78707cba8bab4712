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
 * Bounded: an operation whose end the instrumentation never sees (a response nobody reads on a connection that stays
 * open) cannot make it grow without limit; past the bound the oldest entries go first (a Map iterates in insertion
 * order).
 *
 * Renewed: every RENEW_AFTER insertions (or twice the live entries, if more) the live entries move to a new Map.
 * A Map's hash table is rebuilt as entries come and go (to grow, to shrink, to clear deleted slots; a small one
 * every few insertions), and V8 allocates the new table in the old generation once the Map itself is there. The
 * table left behind is garbage, but old-generation garbage waits for a full collection, and until then the
 * young-generation collector takes its slots as live: every request, response and span it pointed to when it
 * was replaced survives each scavenge and is promoted. Measured with --trace-gc-nvp on the benchmark's `work`
 * route (20,000 requests, client entries churning in an old Map renewed every 1,024 insertions): 4.4 KB a
 * request promoted on Node 24 against 0.7 without the agent, scavenge pauses 16.5 µs a request against 5, and
 * the young generation grown to its maximum (the +109 MB RSS of an earlier run); on Node 20 16.3 KB against
 * 11.0, and 39.5 µs against 24.3. Renewed every 128 insertions the Map is young for nearly all its life, its
 * tables die young, and both figures are close to those of no agent (Node 24 0.6 KB and 6.0 µs, Node 20 11.6 KB
 * and 26.6 µs; every 256 was already back to 4.2 KB on Node 24). In that measurement a WeakMap for the client
 * entries did not promote either (Node 24 0.7 KB; Node 20 12.1 KB): the WeakMap finding above is Node 20's, on
 * the node:http app with the sampler off, and was not measured again. The floor of twice the live entries keeps the
 * copying to at most half an entry per insertion when many operations are in flight at once.
 */
export class InFlight<V> {
  private _entries = new Map<object, V>();
  private _insertions = 0;

  constructor(private readonly _maxEntries = 65536) {}

  get(key: object): V | undefined {
    return this._entries.get(key);
  }

  set(key: object, value: V): void {
    if (++this._insertions >= RENEW_AFTER && this._insertions >= 2 * this._entries.size) {
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

const RENEW_AFTER = 128;
