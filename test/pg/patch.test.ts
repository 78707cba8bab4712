/**
 * The wrappers themselves, in-process on the real pg and the real server: their shape, idempotence, that the
 * library's own errors and results come back unchanged, and that a failure in our span code leaves the query
 * working (the second safety layer).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readConfig } from '../../src/config';
import { ROOT_CONTEXT, suppressTracing } from '../../src/context/context';
import { contextManager } from '../../src/context/global';
import { diag } from '../../src/diag/logger';
import { getRuntime, setRuntime } from '../../src/instrumentation/runtime';
import { isWrapped, originalOf } from '../../src/instrumentation/wrap';
import { createPropagator } from '../../src/propagators';
import { pgPatcher, pgPoolPatcher } from '../../instrumentations/pg/patch';
import { memoryProvider } from '../helpers/sdk';
import { PG, requirePostgres } from '../helpers/services';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const pg = require('pg');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const PgPool = require('pg-pool');

/** The test server, given explicitly: this process has no PG* environment of its own to rely on. */
const connection = { host: PG.host, port: PG.port, user: PG.user, database: PG.database, password: PG.password };
const info = { name: 'pg', version: '8', basedir: undefined, format: 'commonjs' as const };
const originalQuery = pg.Client.prototype.query;

function useMemoryRuntime() {
  const { provider, exporter } = memoryProvider();
  setRuntime({ config: readConfig({}).config, provider, propagator: createPropagator(['tracecontext']) });
  return exporter;
}

beforeAll(async () => {
  await requirePostgres();
  pgPatcher.patch(pg, info);
  pgPoolPatcher.patch(PgPool, info);
});

afterEach(() => setRuntime(undefined));

afterAll(() => {
  pgPatcher.unpatch(pg, info);
  pgPoolPatcher.unpatch(PgPool, info);
});

/**
 * A PostgreSQL peer that asks for a cleartext password, accepts it and is ready: the test server trusts every
 * connection, so it never runs pg's password step. Speaks the protocol's startup and authentication messages only.
 */
async function passwordAskingServer(): Promise<{ port: number; passwords: string[]; close(): Promise<void> }> {
  const net = await import('node:net');
  const passwords: string[] = [];
  const message = (type: string, body: Buffer) => {
    const head = Buffer.alloc(5);
    head.write(type, 0, 'latin1');
    head.writeInt32BE(body.length + 4, 1);
    return Buffer.concat([head, body]);
  };
  const int32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeInt32BE(n);
    return b;
  };
  const server = net.createServer((socket) => {
    let buffered = Buffer.alloc(0);
    let started = false;
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        if (!started) {
          if (buffered.length < 4 || buffered.length < buffered.readInt32BE(0)) return;
          buffered = buffered.subarray(buffered.readInt32BE(0));
          started = true;
          socket.write(message('R', int32(3))); // AuthenticationCleartextPassword
          continue;
        }
        if (buffered.length < 5 || buffered.length < 1 + buffered.readInt32BE(1)) return;
        const type = String.fromCharCode(buffered[0]);
        const body = buffered.subarray(5, 1 + buffered.readInt32BE(1));
        buffered = buffered.subarray(1 + buffered.readInt32BE(1));
        if (type === 'p') {
          passwords.push(body.subarray(0, body.length - 1).toString());
          socket.write(Buffer.concat([message('R', int32(0)), message('Z', Buffer.from('I'))])); // AuthenticationOk, ReadyForQuery
        } else if (type === 'X') socket.end();
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    passwords,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('the password step', () => {
  it('runs an async password function in the connect span (what the connection receives later does not: pg.test.ts)', async () => {
    const exporter = useMemoryRuntime();
    const peer = await passwordAskingServer();
    const { getSpan } = await import('../../src/context/context');
    let activeInPassword: unknown;
    const client = new pg.Client({ host: '127.0.0.1', port: peer.port, user: 'u', database: 'd', password: async () => {
      activeInPassword = getSpan(contextManager.active());
      return 'token-1';
    } });
    try {
      await client.connect();
    } finally {
      await client.end();
      await peer.close();
    }
    expect(peer.passwords).toEqual(['token-1']);
    const [connect] = exporter.getFinishedSpans();
    expect(connect.name).toBe('pg.connect');
    expect((activeInPassword as { spanContext(): { spanId: string } } | undefined)?.spanContext().spanId).toBe(connect.spanContext().spanId);
  });
});

describe('wrapper shape', () => {
  it('keeps name and length, and patches once', () => {
    const wrapped = pg.Client.prototype.query;
    expect(isWrapped(wrapped)).toBe(true);
    expect(originalOf(wrapped)).toBe(originalQuery);
    expect(wrapped.name).toBe('query');
    expect(wrapped.length).toBe(originalQuery.length);
    pgPatcher.patch(pg, info);
    expect(pg.Client.prototype.query).toBe(wrapped);
    expect(isWrapped(PgPool.prototype.connect)).toBe(true);
    // pg.Pool is built on the same pg-pool class.
    expect(Object.getPrototypeOf(pg.Pool.prototype).connect).toBe(PgPool.prototype.connect);
  });

  it('never reads pg.native', () => {
    expect(typeof Object.getOwnPropertyDescriptor(pg, 'native')!.get).toBe('function');
  });
});

describe('the library behaves as without the agent', () => {
  it('throws pg’s own TypeError for a missing query, synchronously', () => {
    useMemoryRuntime();
    const client = new pg.Client(connection);
    expect(() => client.query(null)).toThrow('Client was passed a null or undefined query');
    expect(() => client.query(undefined, () => {})).toThrow(TypeError);
  });

  it('returns pg’s results and rejections unchanged, and ends the spans', async () => {
    const exporter = useMemoryRuntime();
    const client = new pg.Client(connection);
    await client.connect();
    try {
      const result = await client.query('SELECT $1::int AS n', [5]);
      expect(result.rows).toEqual([{ n: 5 }]);
      const error = await client.query('SELECT * FROM zerotel_no_such_table').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(pg.DatabaseError);
      expect((error as { code: string }).code).toBe('42P01');
      const viaCallback = await new Promise((resolve) => client.query('SELECT 1 AS one', (err: unknown, r: { rows: unknown }) => resolve([err, r.rows])));
      expect(viaCallback).toEqual([null, [{ one: 1 }]]);
    } finally {
      await client.end();
    }
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name)).toEqual(['pg.connect', 'SELECT', 'SELECT zerotel_no_such_table', 'SELECT']);
    expect(spans[2].attributes['error.type']).toBe('42P01');
    expect(spans[2].status.code).toBe(2);
  });

  it('makes no span when tracing is suppressed or the agent is off, and the query still runs', async () => {
    const exporter = useMemoryRuntime();
    const client = new pg.Client(connection);
    await contextManager.run(suppressTracing(ROOT_CONTEXT), () => client.connect(), undefined, []);
    const suppressed = await contextManager.run(suppressTracing(ROOT_CONTEXT), () => client.query('SELECT 1 AS a'), undefined, []);
    expect((suppressed as { rows: unknown }).rows).toEqual([{ a: 1 }]);
    setRuntime(undefined);
    expect((await client.query('SELECT 2 AS b')).rows).toEqual([{ b: 2 }]);
    await client.end();
    expect(exporter.getFinishedSpans()).toEqual([]);
  });
});

describe('a failure in our own code', () => {
  it('is reported once and leaves the query untraced but working', async () => {
    const lines: string[] = [];
    diag.setSink((line) => lines.push(line));
    const previousLevel = diag.level;
    diag.level = 30;
    const { provider } = memoryProvider();
    (provider as any).getTracer = () => {
      throw new Error('tracer exploded');
    };
    setRuntime({ config: readConfig({}).config, provider, propagator: createPropagator(['tracecontext']) });
    expect(getRuntime()).toBeDefined();
    const pool = new pg.Pool({ ...connection, max: 1 });
    try {
      expect((await pool.query('SELECT 3 AS c')).rows).toEqual([{ c: 3 }]);
      const client = await pool.connect();
      expect((await client.query('SELECT 4 AS d')).rows).toEqual([{ d: 4 }]);
      client.release();
    } finally {
      await pool.end();
      diag.setSink(undefined);
      diag.level = previousLevel;
    }
    const reports = lines.filter((l) => l.includes('the pg instrumentation failed'));
    expect(reports.length).toBeGreaterThan(0);
    expect(new Set(reports).size).toBe(reports.length);
  });
});
