/**
 * MULTI and pipelines of @redis/client 1.0–1.1 (redis 4.0–4.1), whose executor is `multiExecutor(commands,
 * chainId)` with a MULTI's commands between a MULTI and an EXEC (1.2+ has `multiExecutor(commands, selectedDB,
 * chainId)`, covered against the real Redis by node-redis.test.ts). In-process, on a stand-in for the client class
 * with that executor, replying as 1.1.0 does (one reply per command sent).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConfig } from '../../src/config';
import { contextManager } from '../../src/context/global';
import { setSpan } from '../../src/context/context';
import { setRuntime } from '../../src/instrumentation/runtime';
import { createPropagator } from '../../src/propagators';
import { clientPatcher } from '../../instrumentations/redis/patch';
import { memoryProvider } from '../helpers/sdk';

class RedisClient {
  options = { socket: { host: 'redis.test', port: 6380 } };
  constructor(private readonly replies: unknown[]) {}
  multiExecutor(commands: Array<{ args: string[] }>, chainId?: symbol): Promise<unknown[]> {
    void commands;
    void chainId;
    return Promise.resolve(this.replies);
  }
}

const module = { default: RedisClient };
const info = { name: '@redis/client/dist/lib/client', version: '1.1.0', basedir: undefined, format: 'commonjs' as const };
const commands = (...list: string[][]) => list.map((args) => ({ args }));

describe('node-redis 4.0–4.1 MULTI (multiExecutor(commands, chainId))', () => {
  const { provider, exporter, tracer } = memoryProvider();

  beforeAll(() => {
    setRuntime({ config: readConfig({}).config, provider, propagator: createPropagator(['tracecontext']) });
    clientPatcher.patch(module, info);
  });

  afterAll(() => {
    clientPatcher.unpatch(module, info);
    setRuntime(undefined);
  });

  async function traced(fn: () => Promise<unknown>) {
    exporter.reset();
    const parent = tracer.startSpan('parent');
    let outcome: unknown;
    try {
      outcome = await contextManager.with(setSpan(contextManager.active(), parent), fn);
    } catch (err) {
      outcome = err;
    }
    parent.end();
    await provider.forceFlush();
    const spans = exporter.getFinishedSpans().filter((s) => s.parentSpanId === parent.spanContext().spanId);
    return { spans, outcome };
  }

  it('names a MULTI by its own commands, without the MULTI and EXEC around them', async () => {
    const replies = ['OK', 'QUEUED', 'QUEUED', ['OK', 'v']];
    const client = new RedisClient(replies);
    const sent = commands(['MULTI'], ['SET', 'k', 'v'], ['GET', 'k'], ['EXEC']);
    const { spans, outcome } = await traced(() => client.multiExecutor(sent, Symbol('chain')));
    expect(outcome).toBe(replies);
    expect(spans.map((s) => s.name)).toEqual(['MULTI']);
    expect(spans[0].attributes['db.operation.name']).toBe('MULTI');
    expect(spans[0].attributes['db.operation.batch.size']).toBe(2);
    expect(spans[0].attributes['db.query.text']).toBe('SET k ?; GET k');
    expect(spans[0].attributes['server.address']).toBe('redis.test');
    expect(spans[0].status.code).toBe(0);
  });

  it('records a MULTI whose EXEC replied null (a WATCHed key changed) as failed', async () => {
    const client = new RedisClient(['OK', 'QUEUED', null]);
    const { spans } = await traced(() => client.multiExecutor(commands(['MULTI'], ['SET', 'k', 'v'], ['EXEC']), Symbol('chain')));
    expect(spans.map((s) => s.name)).toEqual(['MULTI SET']);
    expect(spans[0].attributes['db.operation.batch.size']).toBeUndefined();
    expect(spans[0].attributes['error.type']).toBe('WatchError');
    expect(spans[0].status.code).toBe(2);
  });

  it('still names a pipeline (no chain id) PIPELINE, with every command', async () => {
    const client = new RedisClient(['v', 1]);
    const { spans } = await traced(() => client.multiExecutor(commands(['GET', 'k'], ['INCR', 'n'])));
    expect(spans.map((s) => s.name)).toEqual(['PIPELINE']);
    expect(spans[0].attributes['db.operation.batch.size']).toBe(2);
    expect(spans[0].attributes['db.query.text']).toBe('GET k; INCR n');
  });
});
