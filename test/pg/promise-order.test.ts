/**
 * pg's and pg-pool's promises settle in the same microtask under the agent as without it, so an application's
 * continuations interleave with the library's events ('drain', 'acquire', 'connect') exactly as they would.
 * Following the library's promise with `then` and returning that settled it one microtask later; found by running
 * pg's and pg-pool's own tests side by side with and without the agent.
 */
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runApp } from '../helpers/child';
import { Receiver } from '../helpers/receiver';
import { requirePostgres, serviceEnv } from '../helpers/services';

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'pg', 'promise-order.cjs');
let receiver: Receiver;

beforeAll(async () => {
  await requirePostgres();
  receiver = await Receiver.start();
});

afterAll(() => receiver?.close());

describe('pg promises under the agent', () => {
  // The pool's connect() opens its only connection and has a wait span; its two queries find that client idle and
  // have one only with OTEL_INSTRUMENTATION_PG_POOL_CONNECT_SPANS=always. Either way the order is the same.
  it.each([
    ['waiting', 1],
    ['always', 3],
  ])('settle in the same microtask as without it, and are still traced (pool connect spans: %s)', async (mode, poolConnects) => {
    receiver.clear();
    const env = receiver.env({ ...serviceEnv(), OTEL_SERVICE_NAME: 'pg-order', OTEL_INSTRUMENTATION_PG_POOL_CONNECT_SPANS: mode });
    const without = await runApp(FIXTURE, { nodeArgs: [], env });
    expect(without.stderr).toBe('');
    expect(without.stdout).toContain('pool query rejected (42703)');
    const under = await runApp(FIXTURE, { env });
    expect(under.stderr).toBe('');
    expect(under.stdout).toBe(without.stdout);
    const spans = await receiver.waitFor((all) => all.filter((s) => s.resource['service.name'] === 'pg-order').length >= 6 + poolConnects);
    const names = spans.filter((s) => s.resource['service.name'] === 'pg-order').map((s) => s.name);
    expect(names.filter((n) => n === 'pg.connect').length).toBe(2);
    expect(names.filter((n) => n === 'pg-pool.connect').length).toBe(poolConnects);
    expect(names.filter((n) => n === 'SELECT').length).toBeGreaterThanOrEqual(2);
    const failed = spans.filter((s) => s.attributes['db.response.status_code'] === '42703');
    expect(failed).toHaveLength(2);
    for (const span of failed) expect(span.status.code).toBe(2);
  });
});
