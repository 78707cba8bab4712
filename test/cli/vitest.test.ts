/**
 * A vitest suite under `zerotel run`. vitest resolves a test file's dependencies itself and imports each by its
 * file path (`import('/…/node_modules/pg/esm/index.mjs')`), which the import hook's package names never match:
 * before the agent matched entry files by path as well, a vitest run had node:http's and fetch's spans only — no
 * query, no command, and server spans named `GET` without their route. The fixture (test/fixtures/vitest, an ES
 * module package of its own, with its own vitest.config.js) uses pg, express, node-redis and ioredis against the
 * real servers, in vitest's default `forks` pool. (The `threads` pool runs tests in worker threads, where the agent
 * does not run: README, Known limits.)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/child';
import { requirePostgres, requireRedis, serviceEnv } from '../helpers/services';
import { readTraceDir, runZerotel, type CliResult, type DecodedSpan } from './helpers';

const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'vitest');
const VITEST = path.join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');

let tmp: string;
beforeAll(async () => {
  await requirePostgres();
  await requireRedis();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'zerotel-vitest-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('a vitest suite (forks pool) under zerotel run', () => {
  let result: CliResult;
  let spans: DecodedSpan[];

  beforeAll(async () => {
    const out = path.join(tmp, 'run');
    // No OTEL_SERVICE_NAME: the service is the fixture's package, found from the working directory because the
    // processes' main script is vitest's own.
    result = await runZerotel(['run', '--out', out, '--', process.execPath, VITEST, 'run', '--root', FIXTURE, '--pool', 'forks'], {
      cwd: FIXTURE,
      env: { ...serviceEnv() },
      timeoutMs: 90_000,
    });
    spans = readTraceDir(out).spans;
  }, 120_000);

  it('runs the suite as without the agent', () => {
    expect(result.code, result.stderr).toBe(0);
    expect((result.stdout + result.stderr).replace(/\x1b\[[0-9;]*m/g, '')).toMatch(/Tests\s+3 passed \(3\)/);
  });

  it('traces pg, express, node-redis and ioredis as imported by vitest', () => {
    expect(spans.find((s) => s.attributes['db.query.text'] === 'SELECT $1::text AS runner')?.scope).toBe('zerotel/instrumentations/pg');
    const server = spans.find((s) => s.kind === 2 && s.attributes['url.path'] === '/vitest/orders/3')!;
    expect(server.name).toBe('GET /vitest/orders/:id');
    expect(spans.some((s) => s.parentSpanId === server.spanId && s.name === 'request handler - /vitest/orders/:id')).toBe(true);
    const redis = spans.filter((s) => s.attributes['db.system.name'] === 'redis');
    expect(redis.find((s) => s.name === 'SET')?.scope).toBe('zerotel/instrumentations/redis');
    expect(redis.find((s) => s.name === 'GET')?.scope).toBe('zerotel/instrumentations/ioredis');
  });

  it('names the service after the project, not after vitest', () => {
    expect(new Set(spans.map((s) => s.service))).toEqual(new Set(['vitest-fixture']));
  });
});
