/**
 * A Jest test suite under `zerotel run`. Jest loads test files and every module they require through a module
 * system of its own (jest-runtime, in a vm context), which Node's require hooks never see: without the agent's
 * hook on jest-runtime the only spans were node:http's and fetch's, no query, no command, no route. The fixture
 * (test/fixtures/jest) uses pg, express, node-redis and ioredis from inside its tests, against the real servers.
 *
 * Jest 29 and 30 are devDependencies under the aliases jest29 and jest30 (30.4 moved the module loading into an
 * object of its own); 29 runs its files in worker processes, 30 in band, so both ways are covered.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/child';
import { requirePostgres, requireRedis, serviceEnv } from '../helpers/services';
import { readTraceDir, runZerotel, type CliResult, type DecodedSpan } from './helpers';

const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'jest');
const CONFIG = JSON.stringify({ rootDir: FIXTURE, transform: {}, testEnvironment: 'node', testMatch: ['**/*.test.js'] });

let tmp: string;
beforeAll(async () => {
  await requirePostgres();
  await requireRedis();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'zerotel-jest-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const RUNS = [
  { alias: 'jest29', mode: ['--maxWorkers=2'], description: 'in worker processes' },
  { alias: 'jest30', mode: ['--runInBand'], description: 'in band' },
] as const;

describe.each(RUNS)('$alias, test files run $description', ({ alias, mode }) => {
  let result: CliResult;
  let spans: DecodedSpan[];
  const byName = (name: string) => spans.filter((s) => s.name === name);

  beforeAll(async () => {
    const version = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', alias, 'package.json'), 'utf8')).version;
    expect(version.split('.')[0]).toBe(alias.slice(4));
    const out = path.join(tmp, alias);
    const jest = path.join(ROOT, 'node_modules', alias, 'bin', 'jest.js');
    result = await runZerotel(['run', '--out', out, '--', process.execPath, jest, '--ci', ...mode, '--config', CONFIG], {
      cwd: FIXTURE,
      env: { ...serviceEnv(), OTEL_SERVICE_NAME: 'jest-suite' },
      timeoutMs: 90_000,
    });
    spans = readTraceDir(out).spans;
  }, 120_000);

  // retention.test.js, one of the nine, checks from inside Jest that the copies of express and pg each module
  // registry loaded are garbage once the registry is gone: the agent keeps no reference to them.
  it('runs the suite as without the agent: every test passes (retention.test.js too), exit code 0', () => {
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/Tests:\s+9 passed, 9 total/);
  });

  it('traces the queries of pg loaded by Jest: text as sent, literals masked, errors with their SQLSTATE', () => {
    const texts = spans.filter((s) => s.attributes['db.system.name'] === 'postgresql').map((s) => s.attributes['db.query.text']);
    expect(texts).toContain('SELECT $1::int AS answer');
    expect(texts).toContain('SELECT ? AS two');
    const failed = spans.find((s) => s.attributes['db.query.text'] === 'SELECT * FROM zerotel_jest_missing_table')!;
    expect(failed.status.code).toBe(2);
    expect(failed.attributes['db.response.status_code']).toBe('42P01');
    expect(byName('pg.connect').length).toBeGreaterThanOrEqual(2);
    expect(byName('pg-pool.connect')).toHaveLength(1);
  });

  it('instruments each module registry: a copy of pg loaded in jest.isolateModules is traced too', () => {
    expect(spans.some((s) => s.attributes['db.query.text'] === 'SELECT ? AS registry')).toBe(true);
  });

  it('names express routes: the server span of a route defined in a test', () => {
    const server = spans.find((s) => s.kind === 2 && s.attributes['url.path'] === '/jest/users/7')!;
    expect(server.name).toBe('GET /jest/users/:id');
    expect(server.attributes['http.route']).toBe('/jest/users/:id');
    const handler = spans.find((s) => s.parentSpanId === server.spanId && s.kind === 1);
    expect(handler?.name).toBe('request handler - /jest/users/:id');
  });

  it('traces node-redis and ioredis commands, and sees errors made in Jest\'s realm (a failed MULTI and pipeline)', () => {
    const incr = spans.filter((s) => s.name === 'INCR');
    expect(incr).toHaveLength(2);
    for (const s of incr) expect(s.attributes['error.type']).toBe('ERR');
    const multi = byName('MULTI');
    expect(multi).toHaveLength(1);
    expect(multi[0].attributes['db.query.text']).toBe('SET zerotel:jest:n ?; INCR zerotel:jest:text');
    expect(multi[0].status.code).toBe(2);
    expect(multi[0].attributes['error.type']).toBe('ERR');
    const pipeline = byName('PIPELINE');
    expect(pipeline).toHaveLength(1);
    expect(pipeline[0].status.code).toBe(2);
    expect(pipeline[0].attributes['error.type']).toBe('ERR');
  });

  it('keeps ioredis auto-pipelined commands one span each, as outside Jest (the copy\'s marker is learned)', () => {
    const texts = spans.filter((s) => s.scope === 'zerotel/instrumentations/ioredis').map((s) => s.attributes['db.query.text']);
    expect(texts).toContain('SET zerotel:jest:ap ?');
    expect(texts).toContain('GET zerotel:jest:ap');
    expect(texts.filter((t) => String(t).includes('zerotel:jest:ap') && String(t).includes(';'))).toEqual([]);
  });

  it('gets spans from every instrumentation the fixture exercises, and from nothing of Jest\'s own', () => {
    const scopes = [...new Set(spans.map((s) => s.scope))].sort();
    expect(scopes).toEqual(['express', 'fetch', 'http', 'ioredis', 'pg', 'redis'].map((name) => `zerotel/instrumentations/${name}`));
  });
});
