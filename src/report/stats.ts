/**
 * The few things a report keeps while it streams through trace files, each sized by what it describes (8 bytes
 * per duration, 16 per distinct trace, a fixed number of slow traces), never by the size of the files.
 */

const charCodeAt: (this: string, index: number) => number = String.prototype.charCodeAt; // called as charCodeAt.call(s, i): why, at charCodeAt in src/exporters/otlp/protobuf-writer.ts

/** Durations of one operation, kept exactly so percentiles are exact. */
export class DurationSeries {
  private _values = new Float64Array(16);
  private _length = 0;
  private _sorted = true;
  count = 0;
  errors = 0;
  total = 0;
  max = 0;

  add(ms: number, error: boolean): void {
    if (this._length === this._values.length) {
      const grown = new Float64Array(this._values.length * 2);
      grown.set(this._values);
      this._values = grown;
    }
    this._values[this._length++] = ms;
    this._sorted = false;
    this.count++;
    this.total += ms;
    if (ms > this.max) this.max = ms;
    if (error) this.errors++;
  }

  /** Nearest-rank percentile: the smallest duration with at least `p` % of all durations at or below it. */
  percentile(p: number): number {
    if (this._length === 0) return 0;
    if (!this._sorted) {
      this._values.subarray(0, this._length).sort();
      this._sorted = true;
    }
    const rank = Math.max(1, Math.ceil((p / 100) * this._length));
    return this._values[Math.min(rank, this._length) - 1];
  }
}

/**
 * Counts distinct trace ids in 16 bytes each: the low 64 bits of the id in an open-addressing table (the W3C
 * trace context makes the right-most bytes the random ones). Two traces share those 64 bits with a chance of
 * about n²/2⁶⁵ — one in 30 million for a million traces.
 */
export class TraceIdCounter {
  private _table = new Uint32Array(2 * 1024);
  private _mask = 1023;
  private _used = 0;
  private _zero = false;

  get size(): number {
    return this._used + (this._zero ? 1 : 0);
  }

  add(traceId: string): void {
    const n = traceId.length;
    if (n < 16) {
      this._insert(hashString(traceId), 0x9e3779b9);
      return;
    }
    const hi = parseInt(traceId.slice(n - 16, n - 8), 16) >>> 0;
    const lo = parseInt(traceId.slice(n - 8), 16) >>> 0;
    if (hi === 0 && lo === 0) this._zero = true;
    else this._insert(hi, lo);
  }

  private _insert(hi: number, lo: number): void {
    const table = this._table;
    let slot = (Math.imul(hi ^ Math.imul(lo, 0x85ebca6b), 0xc2b2ae35) >>> 0) & this._mask;
    for (;;) {
      const at = slot * 2;
      const h = table[at];
      const l = table[at + 1];
      if (h === 0 && l === 0) {
        table[at] = hi;
        table[at + 1] = lo;
        if (++this._used * 2 > this._mask + 1) this._grow();
        return;
      }
      if (h === hi && l === lo) return;
      slot = (slot + 1) & this._mask;
    }
  }

  private _grow(): void {
    const old = this._table;
    this._table = new Uint32Array(old.length * 2);
    this._mask = this._mask * 2 + 1;
    this._used = 0;
    for (let i = 0; i < old.length; i += 2) if (old[i] !== 0 || old[i + 1] !== 0) this._insert(old[i], old[i + 1]);
  }
}

function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ charCodeAt.call(s, i), 0x01000193);
  return h >>> 0 || 1;
}

export interface SlowTraceCandidate {
  traceId: string;
  /** The trace's longest span: its root, when the files hold the root. */
  durationMs: number;
  name: string;
  service: string;
}

/** The `limit` traces with the longest spans, found in one pass with `limit` entries of memory. */
export class SlowestTraces {
  private readonly _entries: SlowTraceCandidate[] = [];
  private _min = -Infinity;

  constructor(readonly limit: number) {}

  offer(traceId: string, durationMs: number, name: string, service: string): void {
    if (this.limit <= 0) return;
    const entries = this._entries;
    const full = entries.length >= this.limit;
    // A span no longer than the shortest kept one changes nothing: either its trace is not kept, or it is kept
    // with a span at least as long.
    if (full && durationMs <= this._min) return;
    for (const e of entries) {
      if (e.traceId === traceId) {
        if (durationMs > e.durationMs) Object.assign(e, { durationMs, name, service });
        this._updateMin();
        return;
      }
    }
    const entry = { traceId, durationMs, name, service };
    if (!full) entries.push(entry);
    else {
      let at = 0;
      for (let i = 1; i < entries.length; i++) if (entries[i].durationMs < entries[at].durationMs) at = i;
      entries[at] = entry;
    }
    if (entries.length >= this.limit) this._updateMin();
  }

  private _updateMin(): void {
    if (this._entries.length < this.limit) return;
    let min = Infinity;
    for (const e of this._entries) if (e.durationMs < min) min = e.durationMs;
    this._min = min;
  }

  /** Slowest first. */
  result(): SlowTraceCandidate[] {
    return [...this._entries].sort((a, b) => b.durationMs - a.durationMs || (a.traceId < b.traceId ? -1 : 1));
  }
}
