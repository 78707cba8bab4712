/**
 * ioredis against the real Redis, under the preload: 5.11 (which also publishes its own tracing channels, not
 * used), 5.9.3 (`ioredis5-legacy`) and 6 (`ioredis6`). The agent hooks the package named `ioredis`, so 5.9.3 and
 * 6 are reached through a symlink named `ioredis` with --preserve-symlinks, as an application that depends on them
 * would have it.
 */
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REGISTER, ROOT, runApp } from '../helpers/child';
import { Receiver, type ReceivedSpan } from '../helpers/receiver';
import { REDIS_URL, requireRedis, serviceEnv } from '../helpers/services';
import {
  childrenOf,
  deleteKeys,
  expectRedisClientSpan,
  IOREDIS6,
  lastJsonLine,
  LEGACY_IOREDIS,
  linkLegacyIoredis,
  REDIS_ADDRESS,
  REDIS_PORT,
  scenarioChildren,
  scenarioSpan,
  unlinkLegacyIoredis,
  OLDEST_IOREDIS,
} from './redis-spans';

const APP = path.join(ROOT, 'test/fixtures/redis/ioredis-app.js');
const PREFIX = `zt:test:ioredis:${process.pid}:`;
const VARIANTS = [
  { name: 'ioredis', version: /^5\.1[1-9]\./, pkg: () => 'ioredis', nodeArgs: ['--require', REGISTER], setinfo: true },
  { name: 'ioredis5-oldest', version: /^5\.0\.0$/, pkg: () => OLDEST_IOREDIS, nodeArgs: ['--preserve-symlinks', '--require', REGISTER], setinfo: false },
  { name: 'ioredis5-legacy', version: /^5\.9\.3$/, pkg: () => LEGACY_IOREDIS, nodeArgs: ['--preserve-symlinks', '--require', REGISTER], setinfo: true },
  { name: 'ioredis6', version: /^6\./, pkg: () => IOREDIS6, nodeArgs: ['--preserve-symlinks', '--require', REGISTER], setinfo: true },
];

describe.each(VARIANTS)('ioredis $name', ({ name, version, pkg, nodeArgs, setinfo: sendsSetinfo }) => {
  let receiver: Receiver;
  let spans: ReceivedSpan[];
  let facts: Record<string, any>;
  const P = `${PREFIX}${name}:`;

  beforeAll(async () => {
    await requireRedis();
    linkLegacyIoredis();
    receiver = await Receiver.start();
    const result = await runApp(APP, { nodeArgs, env: { ...receiver.env(), ...serviceEnv(), REDIS_PKG: pkg(), REDIS_PREFIX: P } });
    expect(result.stderr).not.toMatch(/zerotel error|instrumentation failed/);
    expect(result.code, result.stderr).toBe(0);
    facts = lastJsonLine(result.stdout);
    spans = await receiver.waitFor((s) => s.some((x) => x.name === 'QUIT'));
  });

  afterAll(async () => {
    await receiver?.close();
    unlinkLegacyIoredis();
    await deleteKeys(REDIS_URL, P);
  });

  it('ran the intended version', () => {
    expect(facts.version).toMatch(version);
  });

  it('traces connect() with the handshake commands ioredis sends as its children', () => {
    const [connect] = scenarioChildren(spans, 'connect', ['redis connect']);
    expect(connect.kind).toBe(2);
    expect(connect.attributes['server.address']).toBe(REDIS_ADDRESS);
    expect(connect.attributes['server.port']).toBe(REDIS_PORT);
    expect(connect.status.code).toBe(0);
    const handshake = childrenOf(spans, connect).map((s) => s.name);
    expect(handshake).toContain('INFO');
    // CLIENT SETINFO, which ioredis (5.10+) sends with its refusal ignored: a server before Redis 7.2 refuses
    // it, and that is no failure of the application's (it tripped `zerotel run --fail-on error-spans`).
    // 5.0 sends no CLIENT SETINFO at all (the variant says which do).
    const setinfo = childrenOf(spans, connect).filter((s) => String(s.attributes['db.query.text']).startsWith('CLIENT SETINFO'));
    if (sendsSetinfo) expect(setinfo.length).toBeGreaterThan(0);
    else expect(setinfo).toEqual([]);
    for (const client of setinfo) {
      expect(client.status.code).toBe(0);
      expect(client.attributes['error.type']).toBeUndefined();
      expect(client.events.filter((e) => e.name === 'exception')).toEqual([]);
    }
  });

  it('makes one CLIENT span per command with the key and no other argument', () => {
    const [set, get] = scenarioChildren(spans, 'plain', ['SET', 'GET']);
    expectRedisClientSpan(set, 'SET');
    expectRedisClientSpan(get, 'GET');
    expect(set.attributes['db.query.text']).toBe(`SET ${P}plain ?`);
    expect(get.attributes['db.query.text']).toBe(`GET ${P}plain`);
    expect(JSON.stringify(spans.map((s) => [s.name, s.attributes, s.events.map((e) => e.attributes)]))).not.toContain('secret-value');
    expect(facts.plainGet).toBe('secret-value');
  });

  it('writes Buffer keys readably and never decodes Buffer values', () => {
    const [set, get] = scenarioChildren(spans, 'binary', ['SET', 'GET']);
    expect(set.attributes['db.query.text']).toBe(`SET ${P}bin ?`);
    expect(get.attributes['db.query.text']).toBe(`GET ${P}bin`);
    expect(JSON.stringify(set.attributes)).not.toMatch(/\ufffd|\\u0000/);
  });

  it('records an error reply: status, error.type and db.response.status_code from its prefix, exception event', () => {
    const [hget] = scenarioChildren(spans, 'error', ['HGET']);
    expectRedisClientSpan(hget, 'HGET');
    expect(hget.attributes['db.query.text']).toBe(`HGET ${P}plain ?`);
    expect(hget.status.code).toBe(2);
    expect(hget.attributes['error.type']).toBe('WRONGTYPE');
    expect(hget.attributes['db.response.status_code']).toBe('WRONGTYPE');
    expect(hget.events.map((e) => e.name)).toEqual(['exception']);
    expect(hget.events[0].attributes['exception.message']).toBe(facts.errorMessage);
  });

  it('runs a callback in its caller’s context', () => {
    scenarioChildren(spans, 'callback', ['GET']);
    expect(facts.callbackParent).toBe(scenarioSpan(spans, 'callback').spanId);
  });

  it('makes one span for a MULTI/EXEC, none per queued command', () => {
    const [multi] = scenarioChildren(spans, 'multi', ['MULTI SET']);
    expectRedisClientSpan(multi, 'MULTI SET');
    expect(multi.attributes['db.operation.batch.size']).toBe(2);
    expect(multi.attributes['db.query.text']).toBe(`SET ${P}m1 ?; SET ${P}m2 ?`);
    expect(childrenOf(spans, multi)).toEqual([]);
    expect(facts.multi).toEqual([[null, 'OK'], [null, 'OK']]);
    const [same] = scenarioChildren(spans, 'multi-same', ['MULTI GET']);
    expect(same.attributes['db.query.text']).toBe(`GET ${P}m1; GET ${P}m2`);
  });

  it('makes one span for a pipeline', () => {
    const [pipeline] = scenarioChildren(spans, 'pipeline', ['PIPELINE']);
    expectRedisClientSpan(pipeline, 'PIPELINE');
    expect(pipeline.attributes['db.operation.batch.size']).toBe(2);
    expect(pipeline.attributes['db.query.text']).toBe(`GET ${P}m1; INCR ${P}counter`);
    expect(facts.pipeline).toEqual([[null, 'one'], [null, 1]]);
  });

  it('gives each of two concurrent callers on one client its own children, continuations in their context', () => {
    for (const who of ['a', 'b']) {
      const children = scenarioChildren(spans, 'concurrent-' + who, ['SET', 'GET', 'SET', 'GET', 'SET', 'GET']);
      for (let i = 0; i < 3; i++) expect(children[2 * i].attributes['db.query.text']).toBe(`SET ${P}${who}${i} ?`);
      expect(facts['continuation-' + who]).toBe(scenarioSpan(spans, 'concurrent-' + who).spanId);
    }
  });

  it('keeps one span per command, with its own caller, when the client auto-pipelines', () => {
    for (const who of ['a', 'b']) {
      const [set, get] = scenarioChildren(spans, 'autopipeline-' + who, ['SET', 'GET']);
      expect(set.attributes['db.query.text']).toBe(`SET ${P}ap${who} ?`);
      expect(get.attributes['db.query.text']).toBe(`GET ${P}ap${who}`);
    }
    expect(spans.some((s) => s.name.startsWith('PIPELINE') && s.parentSpanId === scenarioSpan(spans, 'autopipeline').spanId)).toBe(false);
  });

  it('reports the selected database index in db.namespace', () => {
    const children = scenarioChildren(spans, 'database', ['SET', 'SELECT', 'GET', 'SELECT', 'DEL']);
    expect(children.map((s) => s.attributes['db.namespace'])).toEqual(['3', '3', '5', '5', '3']);
  });

  it('traces a command queued offline (lazy connect) as a child of its caller, covering the wait', () => {
    const offline = scenarioSpan(spans, 'offline');
    const children = childrenOf(spans, offline);
    expect(children.map((s) => s.name).sort()).toEqual(['GET', 'redis connect']);
    const get = children.find((s) => s.name === 'GET')!;
    const connect = children.find((s) => s.name === 'redis connect')!;
    expect(get.attributes['db.query.text']).toBe(`GET ${P}plain`);
    expect(get.start <= connect.start).toBe(true);
    expect(get.end >= connect.end).toBe(true);
    expect(facts.offlineValue).toBe('secret-value');
  });

  it('ends the SUBSCRIBE span, and delivers messages outside the subscriber’s trace', () => {
    const subscribe = scenarioSpan(spans, 'subscribe');
    const [sub] = scenarioChildren(spans, 'subscribe', ['SUBSCRIBE']);
    expect(sub.attributes['db.query.text']).toBe(`SUBSCRIBE ${P}channel`);
    expect(sub.end >= sub.start).toBe(true);
    expect(facts.message).toBe('hello');
    expect(facts.messageParent).toBeNull();
    const fromListener = spans.find((s) => s.attributes['db.query.text'] === `GET ${P}from-listener`);
    expect(fromListener).toBeDefined();
    expect(fromListener!.parentSpanId).toBeUndefined();
    expect(fromListener!.traceId).not.toBe(subscribe.traceId);
  });

  it('records a reconnect after the server dropped the connection as a root redis reconnect span', () => {
    expect(facts.afterReconnect).toBe('PONG');
    const reconnects = spans.filter((s) => s.name === 'redis reconnect');
    expect(reconnects).toHaveLength(1);
    const reconnect = reconnects[0];
    expect(reconnect.parentSpanId).toBeUndefined();
    expect(reconnect.kind).toBe(2);
    expect(reconnect.status.code).toBe(0);
    expect(reconnect.attributes['db.system.name']).toBe('redis');
    expect(reconnect.attributes['server.address']).toBe(REDIS_ADDRESS);
    expect(reconnect.start > scenarioSpan(spans, 'kill').start).toBe(true);
    expect(childrenOf(spans, reconnect).map((s) => s.name)).toContain('INFO');
    // the application's command from its 'connect' listener, during the handshake, is its own root span
    expect(childrenOf(spans, reconnect).map((s) => s.name)).not.toContain('SET');
    const onConnect = spans.filter((s) => s.name === 'SET' && String(s.attributes['db.query.text']).includes('on-connect'));
    expect(onConnect).toHaveLength(1);
    expect(onConnect[0].parentSpanId).toBeUndefined();
  });

  it('exports every span it starts (nothing left dangling)', () => {
    const ids = new Set(spans.map((s) => s.spanId));
    for (const s of spans) if (s.parentSpanId !== undefined) expect(ids.has(s.parentSpanId)).toBe(true);
  });
});

describe('ioredis OTEL_INSTRUMENTATION_REDIS_QUERY_TEXT=full', () => {
  it('writes every argument', async () => {
    await requireRedis();
    const receiver = await Receiver.start();
    const P = `${PREFIX}full:`;
    try {
      const result = await runApp(APP, {
        env: { ...receiver.env(), ...serviceEnv(), REDIS_PKG: 'ioredis', REDIS_PREFIX: P, OTEL_INSTRUMENTATION_REDIS_QUERY_TEXT: 'full' },
      });
      expect(result.code, result.stderr).toBe(0);
      const spans = await receiver.waitFor((s) => s.some((x) => x.name === 'QUIT'));
      const [set] = scenarioChildren(spans, 'plain', ['SET', 'GET']);
      expect(set.attributes['db.query.text']).toBe(`SET ${P}plain secret-value`);
      const [multi] = scenarioChildren(spans, 'multi', ['MULTI SET']);
      expect(multi.attributes['db.query.text']).toBe(`SET ${P}m1 one; SET ${P}m2 two`);
    } finally {
      await receiver.close();
      await deleteKeys(REDIS_URL, P);
    }
  });
});
