/**
 * What the instrumentation learns from a query text — summary, single operation/collection, whether it has a
 * comment, its sanitized form — computed once per distinct text and kept in a bounded cache: applications send
 * the same few hundred texts over and over, so the per-query cost is one Map lookup.
 *
 * Bounds: ordinary texts (up to MAX_SMALL_TEXT characters) share MAX_ENTRIES places and MAX_CACHED_CHARACTERS
 * characters; longer ones (bulk INSERTs with generated placeholder lists, up to MAX_LARGE_TEXT) have
 * MAX_LARGE_ENTRIES places of their own, so a stream of unique large texts cannot push the hot small ones out.
 * Longer texts still are parsed on every call (linear, and the sanitizer stops at the attribute length limit).
 * Both drop their oldest entry first (insertion order: a hit costs no bookkeeping). The cache holds the strings
 * the application already made; it copies nothing.
 */
import { sanitizeSql } from './sql-sanitizer';
import { summarizeSql, type SqlSummary } from './sql-summary';

export const MAX_ENTRIES = 1000;
export const MAX_SMALL_TEXT = 16 * 1024;
export const MAX_CACHED_CHARACTERS = 2 * 1024 * 1024;
export const MAX_LARGE_ENTRIES = 8;
export const MAX_LARGE_TEXT = 256 * 1024;

export interface QueryInfo extends SqlSummary {
  /** The sanitized text, once asked for, and the length limit it was made under. */
  sanitized: string | undefined;
  sanitizedLimit: number;
}

const cache = new Map<string, QueryInfo>();
let cachedCharacters = 0;
const largeCache = new Map<string, QueryInfo>();

export function queryInfo(text: string): QueryInfo {
  const small = text.length <= MAX_SMALL_TEXT;
  const cached = small ? cache.get(text) : largeCache.get(text);
  if (cached !== undefined) return cached;
  const summary = summarizeSql(text) as QueryInfo;
  summary.sanitized = undefined;
  summary.sanitizedLimit = 0;
  if (small) {
    cache.set(text, summary);
    cachedCharacters += text.length;
    if (cache.size > MAX_ENTRIES || cachedCharacters > MAX_CACHED_CHARACTERS) evictOldest();
  } else if (text.length <= MAX_LARGE_TEXT) {
    largeCache.set(text, summary);
    if (largeCache.size > MAX_LARGE_ENTRIES) largeCache.delete(largeCache.keys().next().value as string);
  }
  return summary;
}

/** The text with its literals replaced by `?`, at most `maxLength` characters; computed once per text and limit. */
export function sanitizedText(info: QueryInfo, text: string, maxLength: number): string {
  if (info.sanitized === undefined || info.sanitizedLimit !== maxLength) {
    info.sanitized = sanitizeSql(text, maxLength);
    info.sanitizedLimit = maxLength;
  }
  return info.sanitized;
}

function evictOldest(): void {
  for (const key of cache.keys()) {
    if (cache.size <= MAX_ENTRIES && cachedCharacters <= MAX_CACHED_CHARACTERS) return;
    cache.delete(key);
    cachedCharacters -= key.length;
  }
}

/** For tests. */
export function queryInfoCacheSize(): { entries: number; characters: number; largeEntries: number } {
  return { entries: cache.size, characters: cachedCharacters, largeEntries: largeCache.size };
}

export function clearQueryInfoCache(): void {
  cache.clear();
  largeCache.clear();
  cachedCharacters = 0;
}
