/**
 * W3C Trace Context `tracestate` (https://www.w3.org/TR/trace-context/#tracestate-header): an immutable, ordered
 * list of vendor key/value members, most recently updated first.
 */
import type { TraceState } from '../api/types';

// §3.3.1.3.1 key: simple-key or tenant@system multi-tenant key.
const KEY_RE = /^(?:[a-z][_0-9a-z\-*/]{0,255}|[a-z0-9][_0-9a-z\-*/]{0,240}@[a-z][_0-9a-z\-*/]{0,13})$/;
// §3.3.1.3.2 value: printable ASCII except ',' and '=', no trailing space, 1..256 characters.
const VALUE_RE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;

/** §3.3.1.1: at most 32 list members. */
export const MAX_TRACE_STATE_MEMBERS = 32;
/** §3.3.1.5: a propagated header should stay within 512 characters. */
export const MAX_TRACE_STATE_LENGTH = 512;
/** §3.3.1.5: when trimming, members longer than this go first. */
const LONG_MEMBER = 128;

export function isValidTraceStateKey(key: string): boolean {
  return KEY_RE.test(key);
}

export function isValidTraceStateValue(value: string): boolean {
  return VALUE_RE.test(value);
}

export class W3CTraceState implements TraceState {
  /** Members, most recent first. */
  private readonly _members: ReadonlyArray<readonly [string, string]>;

  constructor(members: ReadonlyArray<readonly [string, string]> = []) {
    this._members = members;
  }

  /**
   * Parses a header value (several header lines joined by commas, as HTTP allows). Empty members are allowed
   * and skipped. A header with an invalid member, a repeated key, or more than 32 members is not a valid
   * tracestate and is discarded whole (§3.3.1.1, §3.3.1.3; the W3C test suite expects exactly this), so a
   * broken value is never propagated half-mended.
   */
  static parse(header: string | undefined): W3CTraceState | undefined {
    if (typeof header !== 'string') return undefined;
    const members: Array<[string, string]> = [];
    const parts = header.split(',');
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i].trim();
      if (part === '') continue;
      if (members.length === MAX_TRACE_STATE_MEMBERS) return undefined;
      const eq = part.indexOf('=');
      if (eq <= 0) return undefined;
      const key = part.slice(0, eq);
      const value = part.slice(eq + 1);
      if (!KEY_RE.test(key) || !VALUE_RE.test(value)) return undefined;
      for (let j = 0; j < members.length; j++) if (members[j][0] === key) return undefined;
      members.push([key, value]);
    }
    return new W3CTraceState(members);
  }

  get(key: string): string | undefined {
    for (let i = 0; i < this._members.length; i++) if (this._members[i][0] === key) return this._members[i][1];
    return undefined;
  }

  /** Adds or updates `key`, moving it to the front (§3.5 "Mutating the tracestate field"). Invalid input is ignored. */
  set(key: string, value: string): W3CTraceState {
    if (!KEY_RE.test(key) || !VALUE_RE.test(value)) return this;
    const next: Array<readonly [string, string]> = [[key, value]];
    for (const m of this._members) if (m[0] !== key) next.push(m);
    if (next.length > MAX_TRACE_STATE_MEMBERS) next.length = MAX_TRACE_STATE_MEMBERS;
    return new W3CTraceState(next);
  }

  unset(key: string): W3CTraceState {
    const next = this._members.filter((m) => m[0] !== key);
    return next.length === this._members.length ? this : new W3CTraceState(next);
  }

  get size(): number {
    return this._members.length;
  }

  /**
   * The header value. When longer than 512 characters it is trimmed as §3.3.1.5 suggests: first members longer
   * than 128 characters, from the end, then members from the end; members themselves are never cut.
   */
  serialize(): string {
    let members = this._members;
    let text = join(members);
    if (text.length <= MAX_TRACE_STATE_LENGTH) return text;
    const kept = members.slice();
    for (let i = kept.length - 1; i >= 0 && join(kept).length > MAX_TRACE_STATE_LENGTH; i--) {
      if (kept[i][0].length + kept[i][1].length + 1 > LONG_MEMBER) kept.splice(i, 1);
    }
    while (kept.length > 0 && join(kept).length > MAX_TRACE_STATE_LENGTH) kept.pop();
    members = kept;
    text = join(members);
    return text;
  }
}

function join(members: ReadonlyArray<readonly [string, string]>): string {
  let s = '';
  for (let i = 0; i < members.length; i++) s += (i === 0 ? '' : ',') + members[i][0] + '=' + members[i][1];
  return s;
}
