/**
 * ioredis's connect() promise under the agent: the application gets ioredis's own promise, settled in the same
 * microtask as without the agent (awaiting it and returning another settled it later, which reordered
 * continuations around the 'ready' event; found running ioredis's suite side by side), still an unhandled
 * rejection when nobody handles it — and the connect spans still end, with the error of a refused connection.
 */
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runApp } from '../helpers/child';
import { Receiver } from '../helpers/receiver';
import { requireRedis, serviceEnv } from '../helpers/services';

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'redis', 'ioredis-order.js');
let receiver: Receiver;

beforeAll(async () => {
  await requireRedis();
  receiver = await Receiver.start();
});

afterAll(() => receiver?.close());

describe('ioredis connect() under the agent', () => {
  it('settles when it would without the agent, and its spans end with the outcome', async () => {
    const env = receiver.env({ ...serviceEnv(), OTEL_SERVICE_NAME: 'ioredis-order' });
    const without = await runApp(FIXTURE, { nodeArgs: [], env });
    expect(without.stdout).toContain('error event | connect rejected (Connection is closed.)');
    const under = await runApp(FIXTURE, { env });
    expect(under.stderr).toBe(without.stderr);
    expect(under.stdout).toBe(without.stdout);
    const spans = await receiver.waitFor((all) => all.filter((s) => s.resource['service.name'] === 'ioredis-order').length >= 4);
    const connects = spans.filter((s) => s.resource['service.name'] === 'ioredis-order' && s.name === 'redis connect');
    expect(connects).toHaveLength(2);
    const [ok, refused] = connects.sort((a, b) => (a.start < b.start ? -1 : 1));
    expect(ok.status.code).toBe(0);
    expect(refused.status.code).toBe(2);
    // The cause ioredis reported ('error' event), not the "Connection is closed." the promise rejects with.
    expect(refused.attributes['error.type']).toBe('ECONNREFUSED');
  });

  it('a refused connect() nobody handles still ends the process by the unhandled rejection', async () => {
    const env = receiver.env({ ...serviceEnv(), OTEL_TRACES_EXPORTER: 'none' });
    const without = await runApp(FIXTURE, { nodeArgs: [], env, args: ['unhandled'] });
    const under = await runApp(FIXTURE, { env, args: ['unhandled'] });
    expect(without.code).toBe(1);
    expect(under.code).toBe(without.code);
    expect(under.stderr).toContain('ECONNREFUSED');
    expect(under.stderr.split('\n').filter((l) => /Error|ECONNREFUSED/.test(l)).length).toBeGreaterThan(0);
  });
});
