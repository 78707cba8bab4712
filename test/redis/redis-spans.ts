/**
 * Helpers for the Redis integration tests: find a scenario's parent span and its children, read facts the
 * fixture printed, and delete test keys with a client in the test process (which runs without the agent).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'vitest';
import { ROOT } from '../helpers/child';
import { REDIS_URL } from '../helpers/services';
import type { ReceivedSpan } from '../helpers/receiver';

export function scenarioSpan(spans: ReceivedSpan[], name: string): ReceivedSpan {
  const found = spans.find((s) => s.name === 'scenario:' + name);
  if (found === undefined) throw new Error(`no span scenario:${name}; have: ${spans.map((s) => s.name).join(', ')}`);
  return found;
}

export function childrenOf(spans: ReceivedSpan[], parent: ReceivedSpan): ReceivedSpan[] {
  return spans.filter((s) => s.parentSpanId === parent.spanId && s.traceId === parent.traceId).sort((a, b) => (a.start < b.start ? -1 : 1));
}

/** The children of scenario `name`, which must be exactly the given span names in start order. */
export function scenarioChildren(spans: ReceivedSpan[], name: string, expectedNames: string[]): ReceivedSpan[] {
  const children = childrenOf(spans, scenarioSpan(spans, name));
  expect(children.map((s) => s.name)).toEqual(expectedNames);
  return children;
}

/** The server the fixtures talk to, as server.address / server.port should name it. */
const redisUrl = new URL(REDIS_URL);
export const REDIS_ADDRESS = redisUrl.hostname;
export const REDIS_PORT = Number(redisUrl.port || 6379);

/** Attributes every command span has. */
export function expectRedisClientSpan(span: ReceivedSpan, operation: string, namespace = '0'): void {
  expect(span.kind).toBe(2);
  expect(span.attributes['db.system.name']).toBe('redis');
  expect(span.attributes['db.operation.name']).toBe(operation);
  expect(span.attributes['db.namespace']).toBe(namespace);
  expect(span.attributes['server.address']).toBe(REDIS_ADDRESS);
  expect(span.attributes['server.port']).toBe(REDIS_PORT);
}

export function lastJsonLine(stdout: string): Record<string, any> {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

/** Deletes every key under `prefix` (and in databases 3 and 5, which the fixtures use). */
export async function deleteKeys(url: string, prefix: string): Promise<void> {
  const Redis = require('ioredis');
  for (const db of [0, 3, 5]) {
    const client = new Redis(url, { db, lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await client.connect();
      const keys: string[] = await client.keys(prefix + '*');
      if (keys.length > 0) await client.del(keys);
    } finally {
      client.disconnect();
    }
  }
}

/**
 * The agent hooks the package named `ioredis`: other versions installed under other names (`ioredis5-oldest`,
 * 5.0.0, the declared range's lower bound; `ioredis5-legacy`, 5.9.3; `ioredis6`) are reached through a symlink named `ioredis`, loaded with --preserve-symlinks, as an
 * application depending on them would have them. Made per test process, removed after.
 */
const LEGACY_DIR = path.join(ROOT, 'test/fixtures/redis/.ioredis-legacy', String(process.pid));

/** Where the symlink named `ioredis` to the devDependency `installedAs` is (see linkIoredis). */
export function ioredisLink(installedAs: string): string {
  return path.join(LEGACY_DIR, installedAs, 'node_modules', 'ioredis');
}

export const LEGACY_IOREDIS = ioredisLink('ioredis5-legacy');
export const IOREDIS6 = ioredisLink('ioredis6');
export const OLDEST_IOREDIS = ioredisLink('ioredis5-oldest');

/** Makes the links of OLDEST_IOREDIS, LEGACY_IOREDIS and IOREDIS6. */
export function linkLegacyIoredis(): void {
  for (const installedAs of ['ioredis5-oldest', 'ioredis5-legacy', 'ioredis6']) {
    const link = ioredisLink(installedAs);
    if (fs.existsSync(link)) continue;
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.symlinkSync(path.join(ROOT, 'node_modules', installedAs), link, 'dir');
  }
}

export function unlinkLegacyIoredis(): void {
  fs.rmSync(LEGACY_DIR, { recursive: true, force: true });
  try {
    fs.rmdirSync(path.dirname(LEGACY_DIR));
  } catch {
    // another test process still has its link there
  }
}
