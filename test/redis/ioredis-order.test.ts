/**
 * ioredis's connect() promise under the agent: the application gets ioredis's own promise, settled in the same
 * microtask as without the agent (awaiting it and returning another settled it later, which reordered
 * continuations around the 'ready' event; found running ioredis's suite side by side), still an unhandled
 * rejection when nobody handles it — and the connect spans still end, with the error of a refused connection.
 */
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REGISTER, runApp } from '../helpers/child';
import { Receiver } from '../helpers/receiver';
import { requireRedis, serviceEnv } from '../helpers/services';
import { IOREDIS6, linkLegacyIoredis, unlinkLegacyIoredis } from './redis-spans';

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'redis', 'ioredis-order.js');
let receiver: Receiver;

beforeAll(async () => {
  await requireRedis();
  linkLegacyIoredis();
  receiver = await Receiver.start();
});

afterAll(async () => {
  unlinkLegacyIoredis();
  await receiver?.close();
});

const VARIANTS = [
  { name: 'ioredis', pkg: 'ioredis', without: [] as string[], under: ['--require', REGISTER] },
  { name: 'ioredis6', pkg: IOREDIS6, without: ['--preserve-symlinks'], under: ['--preserve-symlinks', '--require', REGISTER] },
];

describe.each(VARIANTS)('$name connect() under the agent', ({ name, pkg, without: withoutArgs, under: underArgs }) => {
  it('settles when it would without the agent, and its spans end with the outcome', async () => {
    const service = `ioredis-order-${name}`;
    const env = receiver.env({ ...serviceEnv(), OTEL_SERVICE_NAME: service, REDIS_PKG: pkg });
    const without = await runApp(FIXTURE, { nodeArgs: withoutArgs, env });
    expect(without.stdout).toContain('error event | connect rejected (Connection is closed.)');
    const under = await runApp(FIXTURE, { nodeArgs: underArgs, env });
    expect(under.stderr).toBe(without.stderr);
    expect(under.stdout).toBe(without.stdout);
    const spans = await receiver.waitFor((all) => all.filter((s) => s.resource['service.name'] === service).length >= 4);
    const connects = spans.filter((s) => s.resource['service.name'] === service && s.name === 'redis connect');
    expect(connects).toHaveLength(2);
    const [ok, refused] = connects.sort((a, b) => (a.start < b.start ? -1 : 1));
    expect(ok.status.code).toBe(0);
    expect(refused.status.code).toBe(2);
    // The cause ioredis reported ('error' event), not the "Connection is closed." the promise rejects with.
    expect(refused.attributes['error.type']).toBe('ECONNREFUSED');
  });

  it('a refused connect() nobody handles still ends the process by the unhandled rejection', async () => {
    const env = receiver.env({ ...serviceEnv(), OTEL_TRACES_EXPORTER: 'none', REDIS_PKG: pkg });
    const without = await runApp(FIXTURE, { nodeArgs: withoutArgs, env, args: ['unhandled'] });
    const under = await runApp(FIXTURE, { nodeArgs: underArgs, env, args: ['unhandled'] });
    expect(without.code).toBe(1);
    expect(under.code).toBe(without.code);
    expect(under.stderr).toContain('ECONNREFUSED');
    expect(under.stderr.split('\n').filter((l) => /Error|ECONNREFUSED/.test(l)).length).toBeGreaterThan(0);
  });
});
