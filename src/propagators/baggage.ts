/**
 * The Baggage object (OpenTelemetry specification, baggage/api.md): an immutable set of name/value entries, each
 * with optional metadata. It has the shape of @opentelemetry/api's `Baggage` interface, so a baggage put in a
 * context here is read by `propagation.getBaggage` of an application's @opentelemetry/api, and the other way round
 * (both sides use the `OpenTelemetry Baggage Key` context key).
 *
 * Every change returns a new object; entries are frozen, so handing them out needs no copy.
 */
import type { Baggage, BaggageEntry, BaggageEntryMetadata } from '../api/types';

/** Brands metadata made here, as @opentelemetry/api brands its own (a symbol of its own, so not the same one). */
const METADATA_TYPE: symbol = Symbol.for('zerotel BaggageEntryMetadata');

class StringMetadata implements BaggageEntryMetadata {
  readonly __TYPE__: symbol = METADATA_TYPE;
  constructor(private readonly _value: string) {}
  toString(): string {
    return this._value;
  }
}

/**
 * Metadata holding the W3C property string of an entry (`prop1;prop2=v`, without the leading `;`); its
 * toString() gives the string back. A non-string argument gives empty metadata rather than throwing.
 */
export function baggageEntryMetadataFromString(str: string): BaggageEntryMetadata {
  return Object.freeze(new StringMetadata(typeof str === 'string' ? str : ''));
}

function freezeEntry(entry: BaggageEntry): BaggageEntry {
  const value = typeof entry.value === 'string' ? entry.value : String(entry.value);
  const metadata = entry.metadata;
  return Object.freeze(metadata === undefined || metadata === null ? { value } : { value, metadata });
}

function isEntry(entry: unknown): entry is BaggageEntry {
  return entry !== null && typeof entry === 'object' && (entry as BaggageEntry).value !== undefined;
}

const EMPTY_MAP: ReadonlyMap<string, BaggageEntry> = new Map();

export class ZerotelBaggage implements Baggage {
  /** Entries in insertion order. Never mutated after construction. */
  private readonly _entries: ReadonlyMap<string, BaggageEntry>;

  /** Takes ownership of `entries`, whose values must already be frozen (see createBaggage). */
  constructor(entries: ReadonlyMap<string, BaggageEntry> = EMPTY_MAP) {
    this._entries = entries;
  }

  get size(): number {
    return this._entries.size;
  }

  getEntry(key: string): BaggageEntry | undefined {
    return this._entries.get(key);
  }

  getAllEntries(): [string, BaggageEntry][] {
    const out: [string, BaggageEntry][] = [];
    for (const pair of this._entries) out.push([pair[0], pair[1]]);
    return out;
  }

  /** Adds or replaces `key`. A replaced key keeps its position; a new one goes last. */
  setEntry(key: string, entry: BaggageEntry): ZerotelBaggage {
    if (typeof key !== 'string' || !isEntry(entry)) return this;
    const next = new Map(this._entries);
    next.set(key, freezeEntry(entry));
    return new ZerotelBaggage(next);
  }

  removeEntry(key: string): ZerotelBaggage {
    if (!this._entries.has(key)) return this;
    const next = new Map(this._entries);
    next.delete(key);
    return new ZerotelBaggage(next);
  }

  removeEntries(...keys: string[]): ZerotelBaggage {
    let next: Map<string, BaggageEntry> | undefined;
    for (let i = 0; i < keys.length; i++) {
      if (!this._entries.has(keys[i])) continue;
      if (next === undefined) next = new Map(this._entries);
      next.delete(keys[i]);
    }
    return next === undefined ? this : new ZerotelBaggage(next);
  }

  clear(): ZerotelBaggage {
    return this._entries.size === 0 ? this : EMPTY_BAGGAGE;
  }
}

const EMPTY_BAGGAGE = new ZerotelBaggage();

/**
 * A baggage holding `entries` (a record, as @opentelemetry/api's `propagation.createBaggage` takes, or pairs
 * in order). Entries without a value are ignored.
 */
export function createBaggage(
  entries: Record<string, BaggageEntry> | Iterable<readonly [string, BaggageEntry]> = {},
): ZerotelBaggage {
  const map = new Map<string, BaggageEntry>();
  if (entries !== null && typeof entries === 'object') {
    if (typeof (entries as Iterable<unknown>)[Symbol.iterator] === 'function') {
      for (const pair of entries as Iterable<readonly [string, BaggageEntry]>) {
        if (Array.isArray(pair) && typeof pair[0] === 'string' && isEntry(pair[1])) map.set(pair[0], freezeEntry(pair[1]));
      }
    } else {
      const record = entries as Record<string, BaggageEntry>;
      for (const key of Object.keys(record)) {
        if (isEntry(record[key])) map.set(key, freezeEntry(record[key]));
      }
    }
  }
  return map.size === 0 ? EMPTY_BAGGAGE : new ZerotelBaggage(map);
}
