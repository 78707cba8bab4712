/**
 * node-redis against the real Redis, under the preload: redis 4 (`@redis/client` 1.x), redis 5.8.3 (before the
 * library's own tracing channels), redis 5.12 (with them, which the agent does not use: see
 * instrumentations/redis/README.md) and redis 6. Each package runs the scenarios of test/fixtures/redis/node-redis-app.js
 * once; the tests assert on the spans the receiver got.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runApp, ROOT } from '../helpers/child';
import { Receiver, type ReceivedSpan } from '../helpers/receiver';
import { REDIS_URL, requireRedis, serviceEnv } from '../helpers/services';
import {
  childrenOf,
  deleteKeys,
  expectRedisClientSpan,
  lastJsonLine,
  REDIS_ADDRESS,
  REDIS_PORT,
  scenarioChildren,
  scenarioSpan,
} from './redis-spans';

const APP = path.join(ROOT, 'test/fixtures/redis/node-redis-app.js');
const PREFIX = `zt:test:node-redis:${process.pid}:`;

// redis4-oldest: redis 4.1.0 (@redis/client 1.1.0), the first release on @redis/client, the declared range's lower bound.
const VARIANTS = [
  { pkg: 'redis4-oldest', major: 4 },
  { pkg: 'redis4', major: 4 },
  { pkg: 'redis5-legacy', major: 5 },
  { pkg: 'redis5', major: 5 },
  { pkg: 'redis6', major: 6 },
];

describe.each(VARIANTS)('node-redis $pkg', ({ pkg, major }) => {
  let receiver: Receiver;
  let spans: ReceivedSpan[];
  let facts: Record<string, any>;
  const P = `${PREFIX}${pkg}:`;

  beforeAll(async () => {
    await requireRedis();
    receiver = await Receiver.start();
    const result = await runApp(APP, { env: { ...receiver.env(), ...serviceEnv(), REDIS_PKG: pkg, REDIS_PREFIX: P } });
    expect(result.stderr).not.toMatch(/zerotel error|instrumentation failed/);
    expect(result.code, result.stderr).toBe(0);
    facts = lastJsonLine(result.stdout);
    spans = await receiver.waitFor((s) => s.some((x) => x.name === 'scenario:cleanup'));
  });

  afterAll(async () => {
    await receiver?.close();
    await deleteKeys(REDIS_URL, P);
  });

  it('traces connect() as a child of its caller', () => {
    const [connect] = scenarioChildren(spans, 'connect', ['redis connect']);
    expect(connect.kind).toBe(2);
    expect(connect.attributes['db.system.name']).toBe('redis');
    expect(connect.attributes['server.address']).toBe(REDIS_ADDRESS);
    expect(connect.attributes['server.port']).toBe(REDIS_PORT);
    expect(connect.status.code).toBe(0);
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
    expect(hget.status.code).toBe(2);
    expect(hget.status.message).toMatch(/^WRONGTYPE/);
    expect(hget.attributes['error.type']).toBe('WRONGTYPE');
    expect(hget.attributes['db.response.status_code']).toBe('WRONGTYPE');
    expect(hget.events.map((e) => e.name)).toEqual(['exception']);
    expect(hget.events[0].attributes['exception.message']).toBe(facts.errorMessage);
    expect(hget.attributes['db.query.text']).toBe(`HGET ${P}plain ?`);
  });

  it('traces a script call as EVALSHA with its number of keys, key and argument', () => {
    // The script is new to the server: its first EVALSHA gets NOSCRIPT and node-redis sends EVAL. redis 5 sends
    // both through sendCommand (two spans); redis 4's executeScript retries inside the one EVALSHA span.
    const names = major === 4 ? ['EVALSHA', 'EVALSHA'] : ['EVALSHA', 'EVAL', 'EVALSHA'];
    const children = scenarioChildren(spans, 'script', names);
    for (const s of children) expect(s.attributes['db.query.text']).toBe(`${s.name} ? ? ? ?`);
    expect(facts.script).toEqual([2, 5]);
  });

  it('traces a Redis function call as FCALL with its number of keys, key and argument', () => {
    const [fcall] = scenarioChildren(spans, 'function', ['FCALL']);
    expectRedisClientSpan(fcall, 'FCALL');
    expect(fcall.attributes['db.query.text']).toBe('FCALL ? ? ? ?');
    expect(facts.function).toBe(4);
  });

  it('makes one span for a MULTI/EXEC, none per queued command', () => {
    const [multi] = scenarioChildren(spans, 'multi', ['MULTI SET']);
    expectRedisClientSpan(multi, 'MULTI SET');
    expect(multi.attributes['db.operation.batch.size']).toBe(2);
    expect(childrenOf(spans, multi)).toEqual([]);
    expect(multi.attributes['db.query.text']).toBe(`SET ${P}m1 ?; SET ${P}m2 ?`);
    expect(facts.multi).toEqual(['OK', 'OK']);
    const [same] = scenarioChildren(spans, 'multi-same', ['MULTI GET']);
    expect(same.attributes['db.operation.batch.size']).toBe(2);
    expect(same.attributes['db.query.text']).toBe(`GET ${P}m1; GET ${P}m2`);
  });

  it('records a MULTI that a WATCHed key aborted as failed, as the caller sees it', () => {
    const [, , multi] = scenarioChildren(spans, 'watch', ['WATCH', 'SET', 'MULTI SET']);
    expect(facts.watchResult).toBeUndefined();
    expect(facts.watchError).toBe('WatchError: One (or more) of the watched keys has been changed');
    expect(multi.status).toEqual({ code: 2, message: 'One (or more) of the watched keys has been changed' });
    expect(multi.attributes['error.type']).toBe('WatchError');
    expect(multi.attributes['db.response.status_code']).toBeUndefined();
    expect(multi.events.map((e) => e.name)).toEqual(['exception']);
  });

  it('makes one span for a pipeline', () => {
    const [pipeline] = scenarioChildren(spans, 'pipeline', ['PIPELINE']);
    expectRedisClientSpan(pipeline, 'PIPELINE');
    expect(pipeline.attributes['db.operation.batch.size']).toBe(2);
    expect(pipeline.attributes['db.query.text']).toBe(`GET ${P}m1; INCR ${P}counter`);
    expect(facts.pipeline).toEqual(['one', 1]);
  });

  it('gives each of two concurrent callers on one client its own children, continuations in their context', () => {
    for (const who of ['a', 'b']) {
      const children = scenarioChildren(spans, 'concurrent-' + who, ['SET', 'GET', 'SET', 'GET', 'SET', 'GET']);
      for (let i = 0; i < 3; i++) expect(children[2 * i].attributes['db.query.text']).toBe(`SET ${P}${who}${i} ?`);
      expect(facts['continuation-' + who]).toBe(scenarioSpan(spans, 'concurrent-' + who).spanId);
    }
  });

  // Version-specific cases are registered only for the versions they are about (no skipped tests in the count).
  if (major === 4) it('makes one span for a command sent on an isolated client (redis 4)', () => {
    // The first isolated command makes the pool connect its first client.
    const [connect, blpop, get, getExecuted, refused] = scenarioChildren(spans, 'isolated', ['redis connect', 'BLPOP', 'GET', 'GET', 'BLPOP']);
    expect(connect.status.code).toBe(0);
    expectRedisClientSpan(blpop, 'BLPOP');
    expect(blpop.attributes['db.query.text']).toBe(`BLPOP ${P}isolated ?`);
    expect(get.attributes['db.query.text']).toBe(`GET ${P}plain`);
    expect(getExecuted.attributes['db.query.text']).toBe(`GET ${P}plain`);
    expect([facts.isolatedPop, facts.isolatedGet, facts.isolatedExec]).toEqual([null, 'secret-value', 'secret-value']);
    // The refusal of a closed client is still traced, by the client it was asked of.
    expect(facts.isolatedClosed).toBe('ClientClosedError');
    expect(refused.attributes['error.type']).toBe('ClientClosedError');
  });

  if (major !== 4) it('parents a pool command that waited for a client to its own caller (redis 5 and 6)', () => {
    const [blpop] = scenarioChildren(spans, 'pool-first', ['BLPOP']);
    const [get] = scenarioChildren(spans, 'pool-second', ['GET']);
    expectRedisClientSpan(get, 'GET');
    expect(get.attributes['db.query.text']).toBe(`GET ${P}plain`);
    // The GET was queued until the BLPOP gave the client back.
    expect(get.start >= blpop.end).toBe(true);
    expect(facts.poolFirst).toBeNull();
    expect(facts.poolSecond).toBe('secret-value');
    expect(facts.poolSecondContinuation).toBe(scenarioSpan(spans, 'pool-second').spanId);
  });

  it('reports the selected database index in db.namespace', () => {
    const children = scenarioChildren(spans, 'database', ['SET', 'SELECT', 'GET', 'SELECT', 'DEL']);
    expect(children.map((s) => s.attributes['db.namespace'])).toEqual(['3', '3', '5', '5', '3']);
    expect(children[1].attributes['db.query.text']).toBe('SELECT ?');
  });

  it('traces a command queued while the client connects as a child of its caller', () => {
    const children = childrenOf(spans, scenarioSpan(spans, 'offline'));
    expect(children.map((s) => s.name).sort()).toEqual(['GET', 'redis connect']);
    expect(children.find((s) => s.name === 'GET')!.attributes['db.query.text']).toBe(`GET ${P}plain`);
    expect(facts.offlineValue).toBe('secret-value');
  });

  it('leaves no span open for a subscription, and delivers messages outside the subscriber’s trace', () => {
    const subscribe = scenarioSpan(spans, 'subscribe');
    expect(childrenOf(spans, subscribe)).toEqual([]);
    const [publish] = scenarioChildren(spans, 'publish', ['PUBLISH']);
    expect(publish.attributes['db.query.text']).toBe(`PUBLISH ${P}channel ?`);
    expect(facts.message).toBe('hello');
    // The listener's own command is a trace of its own: no parent, not the subscriber's trace.
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
  });

  it('exports every span it starts (nothing left dangling)', () => {
    const ids = new Set(spans.map((s) => s.spanId));
    for (const s of spans) if (s.parentSpanId !== undefined) expect(ids.has(s.parentSpanId)).toBe(true);
  });
});

describe('node-redis OTEL_INSTRUMENTATION_REDIS_QUERY_TEXT', () => {
  let receiver: Receiver;
  beforeAll(async () => {
    await requireRedis();
    receiver = await Receiver.start();
  });
  afterAll(async () => {
    await receiver?.close();
    await deleteKeys(REDIS_URL, PREFIX);
  });

  // The common sanitizer switch, set to false, records Redis arguments too, unless the Redis variable says otherwise.
  const COMMON_OFF = { OTEL_INSTRUMENTATION_COMMON_DB_STATEMENT_SANITIZER_ENABLED: 'false' };
  for (const [mode, pkg, settings] of [
    ['full', 'redis5', { OTEL_INSTRUMENTATION_REDIS_QUERY_TEXT: 'full' }],
    ['full', 'redis4', { OTEL_INSTRUMENTATION_REDIS_QUERY_TEXT: 'full' }],
    ['none', 'redis4', { OTEL_INSTRUMENTATION_REDIS_QUERY_TEXT: 'none' }],
    ['full', 'redis5', COMMON_OFF],
    ['none', 'redis5', { ...COMMON_OFF, OTEL_INSTRUMENTATION_REDIS_QUERY_TEXT: 'none' }],
  ] as const) {
    it(`${mode}: ${mode === 'full' ? 'every argument' : 'no query text'} (${pkg}, ${Object.keys(settings).join(' and ')})`, async () => {
      receiver.clear();
      const P = `${PREFIX}${mode}:`;
      const result = await runApp(APP, {
        env: { ...receiver.env(), ...serviceEnv(), REDIS_PKG: pkg, REDIS_PREFIX: P, ...settings },
      });
      expect(result.code, result.stderr).toBe(0);
      const spans = await receiver.waitFor((s) => s.some((x) => x.name === 'scenario:cleanup'));
      const [set] = scenarioChildren(spans, 'plain', ['SET', 'GET']);
      expect(set.attributes['db.query.text']).toBe(mode === 'full' ? `SET ${P}plain secret-value` : undefined);
      expect(set.attributes['db.operation.name']).toBe('SET');
      const scriptCall = childrenOf(spans, scenarioSpan(spans, 'script')).at(-1)!;
      const sha = createHash('sha1').update(`-- ${P}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])`).digest('hex');
      expect(scriptCall.attributes['db.query.text']).toBe(mode === 'full' ? `EVALSHA ${sha} 1 ${P}script 3` : undefined);
      const [fcall] = scenarioChildren(spans, 'function', ['FCALL']);
      expect(fcall.attributes['db.query.text']).toBe(mode === 'full' ? `FCALL incrBy 1 ${P}function 4` : undefined);
    });
  }
});
