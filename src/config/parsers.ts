/**
 * Parsers for environment values. Each takes the raw value (undefined or '' meaning "not set", as the
 * OpenTelemetry environment-variable specification asks), a default, and a list to push warnings to; none throws.
 * A warning names the variable, the value given and what is used instead.
 */

export type Env = Readonly<Record<string, string | undefined>>;

export class Warnings {
  readonly messages: string[] = [];
  bad(name: string, value: string, why: string, fallback: unknown): void {
    this.messages.push(`${name}=${JSON.stringify(value)} ${why}; using ${describeFallback(fallback)} instead`);
  }
  note(message: string): void {
    this.messages.push(message);
  }
}

function describeFallback(fallback: unknown): string {
  if (typeof fallback === 'string') return fallback === '' ? 'nothing' : JSON.stringify(fallback);
  if (Array.isArray(fallback)) return fallback.length === 0 ? 'nothing' : JSON.stringify(fallback.join(','));
  if (fallback === Infinity) return 'no limit';
  return String(fallback);
}

export function raw(env: Env, name: string): string | undefined {
  const v = env[name];
  if (v === undefined) return undefined;
  const t = v.trim();
  return t === '' ? undefined : t;
}

/**
 * sdk-environment-variables.md, "Boolean": only the case-insensitive string "true" is true; "false", empty and
 * unset are false (unset or empty give `fallback`, for the few variables of ours whose default is true); any other
 * value is false with a warning. The value is not trimmed: " true" is not "true" (the specification forbids
 * widening what counts as true).
 *
 * `invalid` is what any other value means: false, as the specification says, except for a switch whose off
 * position gives away data (the query sanitizer), where a typo must not start recording literals.
 */
export function parseBoolean(env: Env, name: string, fallback: boolean, w: Warnings, invalid = false): boolean {
  const v = env[name];
  if (v === undefined || v.trim() === '') return fallback;
  const lower = v.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  w.bad(name, v, 'is not true or false', invalid);
  return invalid;
}

export interface IntegerRule {
  min: number;
  max?: number;
}

/**
 * An integer in [min, max]. Values that are not integers, or out of range, fall back with a warning
 * (for the batch processor the specification says a value that is zero or negative is ignored).
 */
export function parseInteger(env: Env, name: string, fallback: number, rule: IntegerRule, w: Warnings): number {
  const v = raw(env, name);
  if (v === undefined) return fallback;
  if (!/^[-+]?\d+$/.test(v)) {
    w.bad(name, v, 'is not an integer', fallback);
    return fallback;
  }
  const n = Number(v);
  if (!Number.isSafeInteger(n)) {
    w.bad(name, v, 'is too large', fallback);
    return fallback;
  }
  if (n < rule.min) {
    w.bad(name, v, `is below ${rule.min}`, fallback);
    return fallback;
  }
  if (rule.max !== undefined && n > rule.max) {
    w.bad(name, v, `is above ${rule.max}`, fallback);
    return fallback;
  }
  return n;
}

export function parseEnum<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T, w: Warnings): T {
  const v = raw(env, name);
  if (v === undefined) return fallback;
  const lower = v.toLowerCase();
  if ((allowed as readonly string[]).includes(lower)) return lower as T;
  w.bad(name, v, `is not one of ${allowed.join(', ')}`, fallback);
  return fallback;
}

/** A comma-separated list, items trimmed, empty items dropped. */
export function parseList(env: Env, name: string): string[] | undefined {
  const v = raw(env, name);
  if (v === undefined) return undefined;
  const out: string[] = [];
  for (const part of v.split(',')) {
    const t = part.trim();
    if (t !== '') out.push(t);
  }
  return out;
}

/**
 * The entries of a list variable that `valid` accepts. The others are dropped with one warning for the variable,
 * `why(dropped, count)` saying what is wrong with them, and the entries kept as what is used instead.
 */
export function keepValidEntries(
  env: Env,
  name: string,
  entries: readonly string[],
  valid: (entry: string) => boolean,
  why: (dropped: string, count: number) => string,
  w: Warnings,
): string[] {
  const kept = entries.filter(valid);
  if (kept.length < entries.length) {
    const dropped = entries.filter((e) => !valid(e));
    w.bad(name, raw(env, name) as string, why(dropped.map((e) => JSON.stringify(e)).join(', '), dropped.length), kept);
  }
  return kept;
}

/**
 * A list of names from a fixed set: lower-cased, deduplicated in order, unknown names skipped. `none` alone means
 * an empty list. One warning for the variable, however many of its names are unknown, saying what is used instead:
 * the known names, or the default when none is left.
 */
export function parseNameList(
  env: Env,
  name: string,
  known: readonly string[],
  fallback: readonly string[],
  w: Warnings,
): string[] {
  const items = parseList(env, name);
  if (items === undefined) return [...fallback];
  const out: string[] = [];
  const unknown: string[] = [];
  let sawNone = false;
  for (const item of items) {
    const lower = item.toLowerCase();
    if (lower === 'none') {
      sawNone = true;
      continue;
    }
    if (!known.includes(lower)) {
      if (!unknown.includes(item)) unknown.push(item);
      continue;
    }
    if (!out.includes(lower)) out.push(lower);
  }
  const fallsBack = !sawNone && out.length === 0;
  const used = fallsBack ? [...fallback] : out;
  if (unknown.length > 0) {
    const names = unknown.map((u) => JSON.stringify(u)).join(', ');
    const what = unknown.length === 1 ? 'a value it does not know' : 'values it does not know';
    w.bad(name, raw(env, name) as string, `names ${what}, ${names} (known: ${known.join(', ')}, none)`, used.length > 0 ? used.join(',') : 'none');
  } else if (fallsBack) {
    w.note(`${name} names nothing usable; using ${JSON.stringify(fallback.join(','))} instead`);
  }
  if (sawNone && out.length > 0) {
    w.note(`${name} lists "none" together with other values; "none" is ignored`);
  }
  return used;
}

function percentDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/**
 * `key=value` pairs separated by commas, with keys and values percent-decoded (W3C Baggage octet rules, as
 * the specification asks for OTEL_RESOURCE_ATTRIBUTES and the OTLP headers). A bad pair is skipped with a
 * warning, or with `allOrNothing` the whole value is discarded (resource/sdk.md, "Specifying resource
 * information via an environment variable": on any decoding error the entire value SHOULD be discarded).
 */
export function parseKeyValueList(env: Env, name: string, w: Warnings, allOrNothing = false): Array<[string, string]> {
  const v = raw(env, name);
  if (v === undefined) return [];
  const out: Array<[string, string]> = [];
  for (const part of v.split(',')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    let why: string | undefined;
    let key: string | undefined;
    let value: string | undefined;
    if (eq <= 0) why = 'is not key=value';
    else {
      key = percentDecode(part.slice(0, eq).trim());
      value = percentDecode(part.slice(eq + 1).trim());
      if (key === undefined || key === '' || value === undefined) why = 'is not valid percent-encoding';
    }
    if (why !== undefined) {
      if (allOrNothing) {
        w.note(`${name}: ${JSON.stringify(part)} ${why}; the whole value is ignored`);
        return [];
      }
      w.note(`${name}: skipping ${JSON.stringify(part)}, which ${why}`);
      continue;
    }
    out.push([key as string, value as string]);
  }
  return out;
}

/** A decimal number, as the specification's examples write one ("0.25"); not hex, binary or "Infinity". */
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A number in [min, max] (floating point). */
export function parseNumber(env: Env, name: string, fallback: number, min: number, max: number, w: Warnings): number {
  const v = raw(env, name);
  if (v === undefined) return fallback;
  if (!DECIMAL.test(v)) {
    w.bad(name, v, 'is not a decimal number', fallback);
    return fallback;
  }
  const n = Number(v);
  if (n < min || n > max) {
    w.bad(name, v, `is not between ${min} and ${max}`, fallback);
    return fallback;
  }
  return n;
}

/** An absolute http(s) URL; anything else falls back with a warning. */
export function parseUrl(env: Env, name: string, w: Warnings): URL | undefined {
  const v = raw(env, name);
  if (v === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    w.bad(name, v, 'is not a URL', 'the default');
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    w.bad(name, v, 'is not an http:// or https:// URL', 'the default');
    return undefined;
  }
  return url;
}
