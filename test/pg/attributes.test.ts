import { describe, expect, it } from 'vitest';
import {
  connectionInfo,
  describeQuery,
  describeSubmittable,
  errorType,
  exceptionEventAttributes,
  querySpanStart,
  safeErrorMessage,
  spanName,
  sqlCommenterComment,
  sqlState,
  UNKNOWN_CONNECTION,
} from '../../instrumentations/pg/attributes';
import {
  clearQueryInfoCache,
  MAX_ENTRIES,
  MAX_LARGE_ENTRIES,
  MAX_LARGE_TEXT,
  MAX_SMALL_TEXT,
  queryInfo,
  queryInfoCacheSize,
} from '../../instrumentations/pg/query-info-cache';

const connection = { address: 'db.internal', port: 5433, namespace: 'shop' };

/** A server error as pg-protocol builds it (DatabaseError: name 'error', code = SQLSTATE, severity). */
class DatabaseError extends Error {
  severity = 'ERROR';
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'error';
  }
}

describe('connection attributes', () => {
  it('reads pg connectionParameters', () => {
    expect(connectionInfo({ connectionParameters: { host: '127.0.0.1', port: 5432, database: 'test', user: 'u' } })).toEqual({
      address: '127.0.0.1',
      port: 5432,
      namespace: 'test',
    });
    expect(connectionInfo({ connectionParameters: { host: '/var/run/postgresql', port: '5433', database: '' } })).toEqual({
      address: '/var/run/postgresql',
      port: 5433,
      namespace: undefined,
    });
    expect(connectionInfo({ connectionParameters: { port: NaN } })).toEqual({ address: undefined, port: undefined, namespace: undefined });
    expect(connectionInfo(undefined)).toBe(UNKNOWN_CONNECTION);
  });
});

describe('describing a query call', () => {
  it('reads every form pg accepts', () => {
    expect(describeQuery('SELECT 1', undefined)).toEqual({ text: 'SELECT 1', name: undefined, parameterized: false });
    expect(describeQuery('SELECT $1', [1])).toEqual({ text: 'SELECT $1', name: undefined, parameterized: true });
    expect(describeQuery('SELECT 1', () => {})).toEqual({ text: 'SELECT 1', name: undefined, parameterized: false });
    expect(describeQuery({ text: 'SELECT $1', values: [1], name: 'one' }, undefined)).toEqual({ text: 'SELECT $1', name: 'one', parameterized: true });
    // Values beside the config win, as in pg's normalizeQueryConfig.
    expect(describeQuery({ text: 'SELECT $1', values: [] }, [1]).parameterized).toBe(true);
    expect(describeQuery({ name: 'by-name-only' }, undefined)).toEqual({ text: undefined, name: 'by-name-only', parameterized: false });
    expect(describeQuery(42, undefined)).toEqual({ text: undefined, name: undefined, parameterized: false });
  });
  it('reads Submittables, pg-query-stream through its cursor', () => {
    expect(describeSubmittable({ text: 'SELECT 1', values: [] })).toEqual({ text: 'SELECT 1', name: undefined, parameterized: false });
    expect(describeSubmittable({ cursor: { text: 'SELECT $1', values: [2] } })).toEqual({ text: 'SELECT $1', name: undefined, parameterized: true });
  });
});

describe('query span: name and attributes', () => {
  it('sanitizes a text written with literals', () => {
    const start = querySpanStart(connection, describeQuery("SELECT * FROM users WHERE email = 'a@b.c'", undefined), true, Infinity);
    expect(start.name).toBe('SELECT users');
    expect(start.attributes).toEqual({
      'db.system.name': 'postgresql',
      'db.namespace': 'shop',
      'server.address': 'db.internal',
      'server.port': 5433,
      'db.query.text': 'SELECT * FROM users WHERE email = ?',
      'db.query.summary': 'SELECT users',
      'db.operation.name': 'SELECT',
      'db.collection.name': 'users',
    });
  });

  it('keeps a parameterized text as written, and never its values', () => {
    const start = querySpanStart(connection, describeQuery("SELECT * FROM users WHERE email = $1 AND kind = 'x'", ['secret']), true, Infinity);
    expect(start.attributes['db.query.text']).toBe("SELECT * FROM users WHERE email = $1 AND kind = 'x'");
    expect(JSON.stringify(start.attributes)).not.toContain('secret');
  });

  it('records the raw text when sanitizing is switched off', () => {
    const start = querySpanStart(connection, describeQuery("SELECT 'x'", undefined), false, Infinity);
    expect(start.attributes['db.query.text']).toBe("SELECT 'x'");
  });

  it('cuts the text to the attribute length limit', () => {
    expect(querySpanStart(connection, describeQuery("SELECT 'abc' FROM tablename", undefined), true, 10).attributes['db.query.text']).toBe('SELECT ? F');
    expect(querySpanStart(connection, describeQuery('SELECT $1 FROM tablename', [1]), true, 10).attributes['db.query.text']).toBe('SELECT $1 ');
  });

  it('names a prepared statement by its name, and keeps what the text says', () => {
    const start = querySpanStart(connection, describeQuery({ name: 'get-user', text: 'SELECT * FROM users WHERE id = $1', values: [1] }, undefined), true, Infinity);
    expect(start.name).toBe('get-user');
    expect(start.attributes['db.query.summary']).toBe('get-user');
    expect(start.attributes['db.operation.name']).toBe('SELECT');
    expect(start.attributes['db.collection.name']).toBe('users');
    const byNameOnly = querySpanStart(connection, describeQuery({ name: 'get-user' }, undefined), true, Infinity);
    expect(byNameOnly.name).toBe('get-user');
    expect(byNameOnly.attributes['db.query.text']).toBeUndefined();
  });

  it('sets the procedure of a CALL', () => {
    const start = querySpanStart(connection, describeQuery('CALL refresh($1)', [1]), true, Infinity);
    expect(start.name).toBe('CALL refresh');
    expect(start.attributes['db.stored_procedure.name']).toBe('refresh');
    expect(start.attributes['db.collection.name']).toBeUndefined();
  });

  it('falls back to postgresql when nothing is recognised', () => {
    expect(querySpanStart(UNKNOWN_CONNECTION, describeQuery('SELEC 1', undefined), true, Infinity).name).toBe('postgresql');
    expect(querySpanStart(UNKNOWN_CONNECTION, describeQuery(undefined, undefined), true, Infinity)).toMatchObject({
      name: 'postgresql',
      attributes: { 'db.system.name': 'postgresql' },
    });
  });

  it('follows the convention order for names', () => {
    expect(spanName('SELECT a SELECT b', 'SELECT', 'a')).toBe('SELECT a SELECT b');
    expect(spanName(undefined, 'SELECT', 'a')).toBe('SELECT a');
    expect(spanName(undefined, 'BEGIN', undefined)).toBe('BEGIN');
    expect(spanName(undefined, undefined, undefined)).toBe('postgresql');
  });
});

describe('errors', () => {
  it('uses the SQLSTATE for server errors, the error type otherwise', () => {
    const unique = new DatabaseError('duplicate key value violates unique constraint "users_pkey"', '23505');
    expect(sqlState(unique)).toBe('23505');
    expect(errorType(unique)).toBe('23505');
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    expect(sqlState(refused)).toBeUndefined();
    expect(errorType(refused)).toBe('ECONNREFUSED');
    // EPIPE is five capital letters, but no server sent it.
    expect(sqlState(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }))).toBeUndefined();
    expect(errorType(new TypeError('x'))).toBe('TypeError');
    expect(errorType('a string')).toBe('_OTHER');
  });

  it('keeps data out of error messages', () => {
    expect(safeErrorMessage(new DatabaseError('invalid input syntax for type integer: "alice@example.com"', '22P02'))).toBe(
      'invalid input syntax for type integer: "?"',
    );
    expect(safeErrorMessage(new DatabaseError(`syntax error at or near "'secret'"`, '42601'))).toBe('syntax error at or near "?"');
    expect(safeErrorMessage(new DatabaseError('syntax error at or near "SELEC"', '42601'))).toBe('syntax error at or near "SELEC"');
    expect(safeErrorMessage(new DatabaseError('relation "missing" does not exist', '42P01'))).toBe('relation "missing" does not exist');
    expect(safeErrorMessage(new Error('Connection terminated unexpectedly'))).toBe('Connection terminated unexpectedly');
  });

  it('builds the exception event with the safe message, in the stack too', () => {
    const error = new DatabaseError('invalid input value for enum mood: "secret"', '22P02');
    const attributes = exceptionEventAttributes(error, safeErrorMessage(error));
    expect(attributes['exception.type']).toBe('DatabaseError');
    expect(attributes['exception.message']).toBe('invalid input value for enum mood: "?"');
    expect(String(attributes['exception.stacktrace'])).not.toContain('secret');
    expect(exceptionEventAttributes(new RangeError('r'), 'r')['exception.type']).toBe('RangeError');
  });
});

describe('sqlcommenter comment', () => {
  it('carries traceparent, then tracestate, URL-encoded and quoted', () => {
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const spanId = 'b7ad6b7169203331';
    expect(sqlCommenterComment({ traceId, spanId, traceFlags: 1 })).toBe(` /*traceparent='00-${traceId}-${spanId}-01'*/`);
    const traceState = { serialize: () => "congo=t61rcWkgMzE,rojo=00f0'67" } as any;
    expect(sqlCommenterComment({ traceId, spanId, traceFlags: 1, traceState })).toBe(
      ` /*traceparent='00-${traceId}-${spanId}-01',tracestate='congo%3Dt61rcWkgMzE%2Crojo%3D00f0\\'67'*/`,
    );
  });
});

describe('query info cache', () => {
  it('parses a text once, and stays bounded', () => {
    clearQueryInfoCache();
    const first = queryInfo('SELECT * FROM cached_table');
    expect(queryInfo('SELECT * FROM cached_table')).toBe(first);
    for (let i = 0; i < MAX_ENTRIES + 50; i++) queryInfo(`SELECT * FROM t${i}`);
    expect(queryInfoCacheSize().entries).toBe(MAX_ENTRIES);
    expect(queryInfo('SELECT * FROM cached_table')).not.toBe(first); // the oldest went first
    clearQueryInfoCache();
  });

  it('keeps large texts apart from the small ones, and never the huge ones', () => {
    clearQueryInfoCache();
    const hot = queryInfo('SELECT * FROM hot_table');
    const bulk = (n: number) => 'INSERT INTO t (a) VALUES ' + Array.from({ length: 2000 }, (_, i) => `($${i + 1})`).join(', ') + ` -- ${n}`;
    const large = bulk(0);
    expect(large.length).toBeGreaterThan(MAX_SMALL_TEXT);
    const parsed = queryInfo(large);
    expect(parsed.summary).toBe('INSERT t');
    expect(queryInfo(large)).toBe(parsed);
    for (let i = 1; i <= MAX_LARGE_ENTRIES + 5; i++) queryInfo(bulk(i));
    expect(queryInfoCacheSize()).toMatchObject({ entries: 1, largeEntries: MAX_LARGE_ENTRIES });
    expect(queryInfo('SELECT * FROM hot_table')).toBe(hot);
    const huge = 'SELECT ' + 'x, '.repeat(MAX_LARGE_TEXT) + '1';
    expect(queryInfo(huge).summary).toBe('SELECT');
    expect(queryInfo(huge)).not.toBe(queryInfo(huge));
    clearQueryInfoCache();
  });
});
