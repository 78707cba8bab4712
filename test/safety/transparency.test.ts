/**
 * The agent is invisible to the application. The same programs run with and without the preload, always with
 * --unhandled-rejections=strict, and what they observe must be the same:
 * - HTTP as the application and its clients see it (test/fixtures/safety/transparency-app.js): statuses,
 *   messages, headers in order (Date aside), bodies byte for byte, trailers, streaming (content exactly; chunk
 *   boundaries loosely — streamed, not buffered), keep-alive reuse, 100-continue, HEAD, request bodies,
 *   redirects, destroyed responses, a client giving up, express error handling, fetch with streaming bodies — and
 *   the calls, in order, of the application's own listeners on req and res;
 * - the ref'd handles and resources alive while serving and after closing (the agent's own are unref'd);
 * - the shape of http, https, express, pg, redis and ioredis (test/fixtures/safety/shape-app.js): enumerable keys
 *   of every export, prototype and object the application gets, and name/length of every function it reaches;
 * - unhandled rejections: none appear that were not there, and one the application leaves is not swallowed.
 */
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REGISTER, runApp, type RunResult } from '../helpers/child';
import { Receiver } from '../helpers/receiver';
import { requirePostgres, requireRedis, serviceEnv } from '../helpers/services';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'safety');
const STRICT = '--unhandled-rejections=strict';

let receiver: Receiver;

beforeAll(async () => {
  await requirePostgres();
  await requireRedis();
  receiver = await Receiver.start();
});

afterAll(() => receiver?.close());

/** Runs a fixture without and with the agent, both under --unhandled-rejections=strict. */
async function bothWays(fixture: string, env: Record<string, string> = {}): Promise<{ without: RunResult; withAgent: RunResult }> {
  const script = path.join(FIXTURES, fixture);
  const without = await runApp(script, { nodeArgs: [STRICT], env, timeoutMs: 30_000 });
  const withAgent = await runApp(script, { nodeArgs: [STRICT, '--require', REGISTER], env: receiver.env(env), timeoutMs: 30_000 });
  return { without, withAgent };
}

/** What may differ between two runs of the same program: how TCP cut a body into reads. */
function withoutChunkBoundaries(value: any): any {
  if (Array.isArray(value)) return value.map(withoutChunkBoundaries);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (k !== 'chunks') out[k] = withoutChunkBoundaries(v);
  return out;
}

describe('HTTP as the application and its clients see it', () => {
  let without: any;
  let withAgent: any;
  let runs: { without: RunResult; withAgent: RunResult };

  beforeAll(async () => {
    // production mode: express's error pages would otherwise show stack traces, whose frames differ
    runs = await bothWays('transparency-app.js', { NODE_ENV: 'production' });
    without = JSON.parse(runs.without.stdout);
    withAgent = JSON.parse(runs.withAgent.stdout);
  });

  it('ends by itself, both ways, with no unhandled rejection', () => {
    expect(runs.without.code, runs.without.stderr).toBe(0);
    expect(runs.withAgent.code, runs.withAgent.stderr).toBe(0);
    expect(without.crashed).toBeUndefined();
    expect(withAgent.crashed).toBeUndefined();
  });

  it('answers every request the same: status, headers, bodies, trailers, connection reuse, client-side events', () => {
    expect(Object.keys(withAgent.client)).toEqual(Object.keys(without.client));
    for (const name of Object.keys(without.client)) {
      expect(withoutChunkBoundaries(withAgent.client[name]), name).toEqual(withoutChunkBoundaries(without.client[name]));
    }
    // the reference is what it claims to be
    const c = without.client;
    expect(c['keep-alive reuse'].map((r: any) => r.body)).toEqual([1, 2, 3, 4, 5].map((n) => `connection 1 request ${n}`));
    expect(c.trailers.trailers).toEqual(['x-checksum', 'c0ffee']);
    expect(c['100-continue'].events[0]).toBe('continue');
    expect(c['HEAD large'].body).toBe('');
    expect(c['express /express/throw'].status).toBe(500);
    expect(c['express /express/custom'].body).toBe('{"handled":"for the custom handler"}');
    expect(c['fetch redirect'].redirected).toBe(true);
  });

  it('streams as it streams without the agent: same content, still in several chunks', () => {
    for (const name of ['stream', 'fetch stream', 'chunked']) {
      expect(withAgent.client[name].body, name).toBe(without.client[name].body);
      expect(withAgent.client[name].body.length).toBeGreaterThan(0);
    }
    // streamed over ~100 ms in six writes: it arrives in several reads both ways, never as one buffered body
    expect(without.client.stream.chunks.length).toBeGreaterThanOrEqual(3);
    expect(withAgent.client.stream.chunks.length).toBeGreaterThanOrEqual(3);
    expect(withAgent.client['fetch stream'].chunks.length).toBeGreaterThanOrEqual(3);
  });

  it("calls the application's own req/res listeners the same, in the same order", () => {
    expect(without.server.length).toBeGreaterThanOrEqual(15);
    expect(withAgent.server).toEqual(without.server);
  });

  it("leaves the same ref'd handles and resources, while serving and once everything is closed", () => {
    expect(withAgent.handles).toEqual(without.handles);
  });

  it('was traced while doing so, and the agent said nothing', async () => {
    const spans = await receiver.waitFor((all) => all.some((s) => s.kind === 1 && s.attributes['url.path'] === '/express/custom'));
    expect(spans.some((s) => s.kind === 1 && s.attributes['url.path'] === '/stream')).toBe(true);
    // a collector that is up: the agent has nothing to say on stderr (express prints its own errors there)
    expect(runs.withAgent.stderr).not.toMatch(/^zerotel /m);
  });
});

describe('the shape of the instrumented modules and of the objects they give the application', () => {
  let without: any;
  let withAgent: any;

  beforeAll(async () => {
    const runs = await bothWays('shape-app.js', serviceEnv());
    expect(runs.without.code, runs.without.stdout + runs.without.stderr).toBe(0);
    expect(runs.withAgent.code, runs.withAgent.stdout + runs.withAgent.stderr).toBe(0);
    without = JSON.parse(runs.without.stdout);
    withAgent = JSON.parse(runs.withAgent.stdout);
  });

  it.each(['http', 'https', 'express', 'pg', 'redis', 'ioredis'])(
    '%s: no new enumerable key, and the same name and length for every function, on every export and prototype',
    (name) => {
      const a = without.modules[name];
      const b = withAgent.modules[name];
      expect(Object.keys(a).length).toBeGreaterThan(0);
      for (const label of Object.keys(a)) {
        expect(b[label], `${name} ${label}`).toBeDefined();
        expect(b[label].keys, `${name} ${label}: enumerable keys`).toEqual(a[label].keys);
        // every function the application reaches without the agent looks the same with it
        for (const [key, shape] of Object.entries(a[label].functions)) expect(b[label].functions[key], `${name} ${label}.${key}`).toBe(shape);
      }
    },
  );

  it('no new enumerable key on req, res, ClientRequest, IncomingMessage, Server, express req/res, pg and redis objects', () => {
    expect(Object.keys(without.objects).length).toBeGreaterThanOrEqual(14);
    for (const name of Object.keys(without.objects)) expect(withAgent.objects[name], name).toEqual(without.objects[name]);
  });

  it('the prototypes of the node-redis and ioredis clients and pipelines keep every name and length', () => {
    for (const client of Object.keys(without.chains)) {
      for (const level of Object.keys(without.chains[client])) {
        const a = without.chains[client][level];
        const b = withAgent.chains[client][level];
        expect(b.keys, `${client} ${level}`).toEqual(a.keys);
        for (const [key, shape] of Object.entries(a.functions)) expect(b.functions[key], `${client} ${level}.${key}`).toBe(shape);
      }
    }
  });
});

describe('unhandled rejections', () => {
  it('pg, redis, ioredis and fetch, failures included, raise none under the agent that they do not raise without it', async () => {
    const env = { ...serviceEnv(), FAULT: 'none', REPEAT: '1', KEY_PREFIX: 'zerotel-safety-strict' };
    const { without, withAgent } = await bothWays('fault-app.js', env);
    expect(without.code, without.stderr).toBe(0);
    expect(withAgent.code, withAgent.stderr).toBe(0);
    expect(withAgent.stdout).toBe(without.stdout);
  });

  it.each(['pg', 'pg-pool', 'redis', 'ioredis', 'fetch'])(
    'one the application leaves unhandled (%s) still crashes the process, the same way',
    async (mode) => {
      const { without, withAgent } = await bothWays('unhandled-app.js', { ...serviceEnv(), MODE: mode });
      // Node 20 prints `TypeError: fetch failed`, Node 24 `[TypeError: fetch failed] {` for an error with a cause.
      const firstError = (stderr: string) => /^\[?(\w*(?:Error|error): .*?)\]?(?: \{)?$/m.exec(stderr)?.[1];
      expect(without.code).toBe(1);
      expect(withAgent.code).toBe(without.code);
      expect(withAgent.stdout).toBe('started\n');
      expect(firstError(without.stderr)).toBeDefined();
      expect(firstError(withAgent.stderr)).toBe(firstError(without.stderr));
    },
  );
});
