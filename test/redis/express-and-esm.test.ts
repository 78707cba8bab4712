/**
 * Redis commands made where applications make them: in an express handler under the preload (the span's
 * parent is the handler's span — express's request_handler span when the express instrumentation makes one,
 * else the HTTP server span), and from an ES module application.
 */
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpRequest, REGISTER, ROOT, runApp, startApp } from '../helpers/child';
import { Receiver } from '../helpers/receiver';
import { REDIS_URL, requireRedis, serviceEnv } from '../helpers/services';
import { deleteKeys, IOREDIS6, LEGACY_IOREDIS, linkLegacyIoredis, scenarioChildren, unlinkLegacyIoredis } from './redis-spans';

const EXPRESS_APP = path.join(ROOT, 'test/fixtures/redis/express-app.js');
const ESM_APP = path.join(ROOT, 'test/fixtures/redis/esm-app.mjs');
const PREFIX = `zt:test:redis-express:${process.pid}:`;

const CLIENTS = [
  { name: 'redis4', client: 'node-redis', pkg: () => 'redis4', preserveSymlinks: false },
  { name: 'redis5-legacy', client: 'node-redis', pkg: () => 'redis5-legacy', preserveSymlinks: false },
  { name: 'redis5', client: 'node-redis', pkg: () => 'redis5', preserveSymlinks: false },
  { name: 'redis6', client: 'node-redis', pkg: () => 'redis6', preserveSymlinks: false },
  { name: 'ioredis', client: 'ioredis', pkg: () => 'ioredis', preserveSymlinks: false },
  { name: 'ioredis5-legacy', client: 'ioredis', pkg: () => LEGACY_IOREDIS, preserveSymlinks: true },
  { name: 'ioredis6', client: 'ioredis', pkg: () => IOREDIS6, preserveSymlinks: true },
];

/** What the test saw as the redis span's parent, per client (reported by the last test). */
const parents: Record<string, string> = {};

describe('a Redis command in an express handler', () => {
  beforeAll(async () => {
    await requireRedis();
    linkLegacyIoredis();
  });
  afterAll(async () => {
    unlinkLegacyIoredis();
    await deleteKeys(REDIS_URL, PREFIX);
  });

  it.each(CLIENTS)('$name: the GET span is a child of the handler', async ({ name, client, pkg, preserveSymlinks }) => {
    const receiver = await Receiver.start();
    const P = `${PREFIX}${name}:`;
    const app = await startApp(EXPRESS_APP, {
      nodeArgs: preserveSymlinks ? ['--preserve-symlinks', '--require', REGISTER] : ['--require', REGISTER],
      env: { ...receiver.env(), ...serviceEnv(), REDIS_CLIENT: client, REDIS_PKG: pkg(), REDIS_PREFIX: P },
    });
    try {
      const res = await httpRequest(`http://127.0.0.1:${app.port}/item`);
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body)).toEqual({ value: 'widget' });
      const spans = await receiver.waitFor((s) => s.some((x) => x.kind === 1) && s.some((x) => x.name === 'GET'));
      const server = spans.find((s) => s.kind === 1)!;
      const get = spans.find((s) => s.name === 'GET' && s.traceId === server.traceId);
      expect(get, 'the GET span is in the request trace').toBeDefined();
      expect(get!.attributes['db.query.text']).toBe(`GET ${P}item`);
      const handler = spans.find((s) => s.traceId === server.traceId && s.kind === 0 && s.attributes['express.type'] === 'request_handler');
      const expectedParent = handler ?? server;
      expect(get!.parentSpanId).toBe(expectedParent.spanId);
      parents[name] = handler !== undefined ? `express request_handler span "${handler.name}"` : `HTTP SERVER span "${server.name}"`;
    } finally {
      await app.stop();
      await receiver.close();
    }
  });

  it('saw these parents', () => {
    // Printed for the report: which parent the express instrumentation gave the redis spans.
    console.log('redis span parents in express handlers:', JSON.stringify(parents));
    expect(Object.keys(parents).sort()).toEqual(CLIENTS.map((c) => c.name).sort());
  });
});

describe('ES module applications', () => {
  beforeAll(requireRedis);
  afterAll(() => deleteKeys(REDIS_URL, PREFIX));

  const ESM_CLIENTS = [
    { name: 'node-redis (redis 5.12)', id: 'node-redis', client: 'node-redis', pkg: 'redis' },
    { name: 'node-redis 4 (redis4)', id: 'redis4', client: 'node-redis', pkg: 'redis4' },
    { name: 'ioredis', id: 'ioredis', client: 'ioredis', pkg: 'ioredis' },
  ];

  it.each(ESM_CLIENTS)('$name imported with `import` is traced', async ({ id, client, pkg }) => {
    const receiver = await Receiver.start();
    const P = `${PREFIX}esm:${id}:`;
    try {
      const result = await runApp(ESM_APP, { env: { ...receiver.env(), ...serviceEnv(), REDIS_CLIENT: client, REDIS_PKG: pkg, REDIS_PREFIX: P } });
      expect(result.code, result.stderr).toBe(0);
      const spans = await receiver.waitFor((s) => s.some((x) => x.name === 'scenario:esm') && s.some((x) => x.name.startsWith('MULTI')));
      const [set, multi] = scenarioChildren(spans, 'esm', ['SET', 'MULTI']);
      expect(set.attributes['db.query.text']).toBe(`SET ${P}esm ?`);
      expect(multi.attributes['db.operation.batch.size']).toBe(2);
    } finally {
      await receiver.close();
    }
  });
});
