/**
 * The channel-based alternative for node-redis 5.12+ (instrumentations/redis/channels.ts), which the agent does
 * not register (see instrumentations/redis/README.md) but which bench/redis-approaches.js measures against the
 * wrapper: tested in-process against the real Redis, so the comparison measures something that works.
 */
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConfig } from '../../src/config';
import { contextManager } from '../../src/context/global';
import { setSpan } from '../../src/context/context';
import { setRuntime } from '../../src/instrumentation/runtime';
import { createPropagator } from '../../src/propagators';
import { subscribeChannels, unsubscribeChannels } from '../../instrumentations/redis/channels';
import { memoryProvider } from '../helpers/sdk';
import { REDIS_URL, requireRedis } from '../helpers/services';
import { deleteKeys, REDIS_PORT } from './redis-spans';

const requireFromHere = createRequire(__filename);
const P = `zt:test:node-redis-channels:${process.pid}:`;

describe('node-redis 5.12 through its tracing channels (channels.ts)', () => {
  const { provider, exporter, tracer } = memoryProvider();
  let client: any;

  beforeAll(async () => {
    await requireRedis();
    setRuntime({ config: readConfig({}).config, provider, propagator: createPropagator(['tracecontext']) });
    subscribeChannels();
    const { createClient } = requireFromHere('redis5');
    client = createClient({ url: REDIS_URL });
    const parent = tracer.startSpan('parent');
    await contextManager.with(setSpan(contextManager.active(), parent), () => client.connect());
    parent.end();
  });

  afterAll(async () => {
    await client?.quit();
    unsubscribeChannels();
    setRuntime(undefined);
    await deleteKeys(REDIS_URL, P);
  });

  async function inParent(fn: () => Promise<unknown>) {
    exporter.reset();
    const parent = tracer.startSpan('parent');
    await contextManager.with(setSpan(contextManager.active(), parent), fn);
    parent.end();
    await provider.forceFlush();
    const spans = exporter.getFinishedSpans();
    const parentId = parent.spanContext().spanId;
    return spans.filter((s) => s.parentSpanId === parentId);
  }

  it('makes a command span, child of the caller, from the library-redacted arguments', async () => {
    const [set, get] = await inParent(async () => {
      await client.set(P + 'k', 'secret-value');
      await client.get(P + 'k');
    });
    expect(set.name).toBe('SET');
    expect(set.kind).toBe(2);
    expect(set.attributes['db.query.text']).toBe(`SET ${P}k ?`);
    expect(set.attributes['db.namespace']).toBe('0');
    expect(set.attributes['server.port']).toBe(REDIS_PORT);
    expect(get.attributes['db.query.text']).toBe(`GET ${P}k`);
  });

  it('ends a failed command with its error reply (spans end on asyncEnd)', async () => {
    const [hget] = await inParent(() => client.hGet(P + 'k', 'f').catch(() => undefined));
    expect(hget.name).toBe('HGET');
    // The library redacts HGET's key before publishing it.
    expect(hget.attributes['db.query.text']).toBe('HGET ? ?');
    expect(hget.attributes['error.type']).toBe('WRONGTYPE');
    expect(hget.status.code).toBe(2);
    expect(hget.ended).toBe(true);
  });

  it('makes one span per pipeline (named from its commands) and per MULTI (named MULTI, no text)', async () => {
    const [pipeline] = await inParent(() => client.multi().get(P + 'k').get(P + 'k').execAsPipeline());
    expect(pipeline.name).toBe('PIPELINE GET');
    expect(pipeline.attributes['db.operation.batch.size']).toBe(2);
    expect(pipeline.attributes['db.query.text']).toBe(`GET ${P}k`);
    const [multi] = await inParent(() => client.multi().set(P + 'a', '1').get(P + 'a').exec());
    expect(multi.name).toBe('MULTI');
    expect(multi.attributes['db.operation.batch.size']).toBe(2);
    expect(multi.attributes['db.query.text']).toBeUndefined();
  });

  it('makes a connect span in the caller, and runs the connection in the root context', async () => {
    const subscriber = client.duplicate();
    let listenerContextHasSpan: boolean | undefined;
    let resolve!: () => void;
    const delivered = new Promise<void>((r) => (resolve = r));
    const spans = await inParent(async () => {
      await subscriber.connect();
      await subscriber.subscribe(P + 'ch', () => {
        listenerContextHasSpan = contextManager.active().getValue(Symbol.for('OpenTelemetry Context Key SPAN')) !== undefined;
        resolve();
      });
    });
    expect(spans.map((s) => s.name)).toEqual(['redis connect']);
    await client.publish(P + 'ch', 'x');
    await delivered;
    expect(listenerContextHasSpan).toBe(false);
    await subscriber.quit();
  });
});
