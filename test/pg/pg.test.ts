/**
 * The pg instrumentation under the real preload, against the real PostgreSQL: every call form, errors, the pool,
 * and where the application's callbacks run. One fixture run (test/fixtures/pg/scenarios.cjs) does all the calls,
 * each scenario under its own parent span; the tests read its spans and its report.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReceivedSpan } from '../helpers/receiver';
import { Receiver } from '../helpers/receiver';
import { PG, requirePostgres } from '../helpers/services';
import { childrenOf, dropTables, everythingRecorded, expectChecks, runFixture, tableName, traceOf, type Report } from './pg-helpers';

const CLIENT = 2;
const INTERNAL = 0;
const table = tableName('forms');

let receiver: Receiver;
let report: Report;
let spans: ReceivedSpan[];

beforeAll(async () => {
  await requirePostgres();
  receiver = await Receiver.start();
  ({ report, spans } = await runFixture(receiver, 'scenarios.cjs', [
    table,
    'text-promise',
    'text-values',
    'config-object',
    'submittables',
    'errors',
    'transaction',
    'pool-exhaustion',
    'concurrent-parents',
    'sanitizing',
    'notifications',
    'outside-any-span',
    'pg-native',
  ]));
}, 60_000);

afterAll(async () => {
  await receiver?.close();
  await dropTables([table]);
});

function scenario(name: string) {
  return traceOf(report, spans, `scenario ${name}`);
}

function queries(trace: ReceivedSpan[]): ReceivedSpan[] {
  return trace.filter((s) => s.kind === CLIENT && s.attributes['db.system.name'] === 'postgresql' && s.name !== 'pg.connect');
}

describe('connection and query spans', () => {
  it('makes a CLIENT span for Client#connect and for each query, children of the caller', () => {
    const { parent, spans: trace } = scenario('text-promise');
    const children = childrenOf(parent, trace);
    expect(children.map((s) => [s.name, s.kind])).toEqual([
      ['pg.connect', CLIENT],
      ['SELECT', CLIENT],
      [`SELECT ${table}`, CLIENT],
    ]);
    for (const span of children) {
      expect(span.attributes).toMatchObject({
        'db.system.name': 'postgresql',
        'db.namespace': PG.database,
        'server.address': PG.host,
        'server.port': PG.port,
      });
      expect(span.status.code).toBe(0);
      expect(span.scope.name).toBe('zerotel/instrumentations/pg');
    }
    expect(children[1].attributes).toMatchObject({
      'db.query.text': 'SELECT ? AS one',
      'db.query.summary': 'SELECT',
      'db.operation.name': 'SELECT',
    });
    expect(children[1].attributes['db.collection.name']).toBeUndefined();
    expect(children[2].attributes).toMatchObject({
      'db.query.text': `SELECT * FROM ${table} WHERE name = ? AND id > ?`,
      'db.query.summary': `SELECT ${table}`,
      'db.operation.name': 'SELECT',
      'db.collection.name': table,
    });
    expect(report.values['text-promise rows']).toEqual([{ one: 1 }]);
    expectChecks(report, ['text-promise after connect', 'text-promise continuation']);
  });

  it('traces text + values, with callbacks, without recording the values', () => {
    const { parent, spans: trace } = scenario('text-values');
    const q = queries(trace);
    expect(q.map((s) => s.attributes['db.query.text'])).toEqual([
      `SELECT id FROM ${table} WHERE name = $1`,
      'SELECT $1::int AS v',
      'SELECT ? AS s',
    ]);
    for (const s of q) expect(s.parentSpanId).toBe(parent.spanId);
    expect(everythingRecorded(trace)).not.toContain('secret-param-value');
    expect(everythingRecorded(trace)).not.toContain('text-callback-literal');
    expect(report.values['text-values callback']).toBe(7);
    expectChecks(report, ['text-values callback', 'text callback']);
  });

  it('traces config objects (values, rowMode, a callback property) and leaves them as they were', () => {
    const { spans: trace } = scenario('config-object');
    const q = queries(trace);
    expect(q[0].attributes['db.query.text']).toBe('SELECT $1::text AS a, $2::int AS b');
    expect(q[1].attributes['db.query.text']).toBe('SELECT ? AS two');
    expect(report.values['config-object rows']).toEqual([['x', 2]]);
    expect(report.values['config-object untouched']).toBe('text,values,rowMode');
    expectChecks(report, ['config callback property']);
  });

  it('names a prepared statement by its name, with what its text says beside it', () => {
    const { spans: trace } = scenario('config-object');
    const named = queries(trace).filter((s) => s.name === 'fixture-get-one');
    expect(named).toHaveLength(2);
    for (const span of named) {
      expect(span.attributes).toMatchObject({
        'db.query.summary': 'fixture-get-one',
        'db.query.text': `SELECT id, name FROM ${table} WHERE id = $1`,
        'db.operation.name': 'SELECT',
        'db.collection.name': table,
      });
    }
    expect(report.values['named rows']).toEqual([1, 1]);
  });

  it('traces Submittables — pg.Query, pg-cursor, pg-query-stream — and runs their events and callbacks in the caller context', () => {
    const { parent, spans: trace } = scenario('submittables');
    const q = queries(trace);
    expect(q.map((s) => s.attributes['db.query.text'])).toEqual([
      'SELECT generate_series(?, ?) AS n',
      'SELECT ? AS three',
      'SELECT generate_series(?, ?) AS n',
      'SELECT generate_series(?, ?) AS n',
    ]);
    for (const s of q) {
      expect(s.parentSpanId).toBe(parent.spanId);
      expect(s.status.code).toBe(0);
    }
    // The cursor's span lasts until it is closed (its portal is open that long).
    expect(q[2].end).toBeLessThanOrEqual(q[3].start);
    expect(report.values['pg.Query rows']).toBe(3);
    expect(report.values['cursor rows']).toEqual([3, 3]);
    expect(report.values['stream rows']).toBe(5);
    expectChecks(report, [
      'pg.Query row event',
      'pg.Query end event',
      'pg.Query callback',
      'cursor read callback',
      'cursor read continuation',
      'query stream data event',
      'query stream end event',
    ]);
  });

  it('traces a query made outside any span as a root span', () => {
    const outside = spans.filter((s) => s.attributes['db.query.text'] === 'SELECT ? AS outside');
    expect(outside).toHaveLength(1);
    expect(outside[0].parentSpanId).toBeUndefined();
  });

  it('runs what a connection receives later (a NOTIFY) outside the span that connected it', () => {
    expectChecks(report, ['notification handler']);
    const notified = spans.filter((s) => s.attributes['db.query.text'] === 'SELECT ? AS notified');
    expect(notified).toHaveLength(1);
    expect(notified[0].parentSpanId).toBeUndefined();
    // the connect spans are still the scenario's children
    const { spans: trace } = scenario('notifications');
    expect(trace.filter((s) => s.name === 'pg.connect')).toHaveLength(2);
  });

  it('does not load pg.native (a lazy getter that requires pg-native) and leaves it working', () => {
    expect(report.values['native getter before']).toBe('function');
    expect(report.values['native value']).toBe('null');
  });
});

describe('errors', () => {
  it('records a syntax error with its SQLSTATE', () => {
    const { spans: trace } = scenario('errors');
    const span = queries(trace).find((s) => s.attributes['db.query.text'] === 'SELEC ?')!;
    expect(span.name).toBe('postgresql');
    expect(span.status).toEqual({ code: 2, message: 'syntax error at or near "SELEC"' });
    expect(span.attributes).toMatchObject({ 'error.type': '42601', 'db.response.status_code': '42601' });
    const exception = span.events.find((e) => e.name === 'exception')!;
    expect(exception.attributes['exception.type']).toBe('DatabaseError');
    expect(exception.attributes['exception.message']).toBe('syntax error at or near "SELEC"');
    expect(report.values['syntax error code']).toBe('42601');
  });

  it('records a unique violation as 23505', () => {
    const { spans: trace } = scenario('errors');
    const failed = queries(trace).filter((s) => s.attributes['db.query.text'] === `INSERT INTO ${table} (id, name) VALUES ($1, $2)`);
    expect(failed).toHaveLength(1);
    expect(failed[0].name).toBe(`INSERT ${table}`);
    expect(failed[0].status.code).toBe(2);
    expect(failed[0].attributes).toMatchObject({ 'error.type': '23505', 'db.response.status_code': '23505' });
    expect(report.values['unique violation code']).toBe('23505');
  });

  it('keeps the parameter value a data exception quotes out of the span', () => {
    const { spans: trace } = scenario('errors');
    const span = queries(trace).find((s) => s.attributes['db.query.text'] === 'SELECT $1::int')!;
    expect(span.attributes['error.type']).toBe('22P02');
    expect(span.status.message).toBe('invalid input syntax for type integer: "?"');
    expect(everythingRecorded(trace)).not.toContain('not-a-number-secret');
    expectChecks(report, ['error callback']);
  });

  it('records a refused connection on the pg.connect span, for promise and callback', () => {
    const { parent, spans: trace } = scenario('errors');
    const refused = childrenOf(parent, trace).filter((s) => s.name === 'pg.connect' && s.status.code === 2);
    expect(refused).toHaveLength(2);
    for (const span of refused) {
      expect(span.kind).toBe(CLIENT);
      expect(span.attributes['error.type']).toBe('ECONNREFUSED');
      expect(span.attributes['db.response.status_code']).toBeUndefined();
      expect(span.events[0].attributes['exception.type']).toBe('ECONNREFUSED');
    }
    expect(report.values['refused code']).toBe('ECONNREFUSED');
    expectChecks(report, ['refused connect continuation', 'refused connect callback']);
  });
});

describe('pool', () => {
  it('traces a transaction on a pooled client: the wait, the connection, BEGIN … COMMIT', () => {
    const { parent, spans: trace } = scenario('transaction');
    const children = childrenOf(parent, trace);
    expect(children.slice(0, 4).map((s) => [s.name, s.kind])).toEqual([
      ['pg-pool.connect', INTERNAL],
      ['BEGIN', CLIENT],
      [`INSERT ${table}`, CLIENT],
      ['COMMIT', CLIENT],
    ]);
    const firstWait = children[0];
    expect(childrenOf(firstWait, trace).map((s) => s.name)).toEqual(['pg.connect']);
    expect(firstWait.attributes).toMatchObject({ 'db.system.name': 'postgresql', 'server.address': PG.host, 'db.namespace': PG.database });
    // Only that first checkout opened a connection: the later ones (connect with a callback, two queries) found
    // the released client idle and have no wait span (OTEL_INSTRUMENTATION_PG_POOL_CONNECT_SPANS=waiting).
    expect(trace.filter((s) => s.name === 'pg-pool.connect')).toEqual([firstWait]);
    expect(report.values['transaction row']).toBe('tx');
    expectChecks(report, ['pool connect continuation', 'pool connect callback', 'pool query continuation', 'pool query callback']);
  });

  it('makes one CLIENT span per Pool#query, with no second span for the same query and no wait span when a client was idle', () => {
    const { parent, spans: trace } = scenario('transaction');
    const text = `SELECT name FROM ${table} WHERE id = $1`;
    const poolQueries = trace.filter((s) => s.attributes['db.query.text'] === text);
    expect(poolQueries).toHaveLength(1);
    const [span] = poolQueries;
    expect(span).toMatchObject({ kind: CLIENT, name: `SELECT ${table}`, parentSpanId: parent.spanId });
    expect(span.attributes).toMatchObject({ 'server.address': PG.host, 'server.port': PG.port, 'db.namespace': PG.database });
    // The pool had an idle client (the transaction's, released): the checkout waited for nothing and has no span.
    expect(childrenOf(span, trace)).toEqual([]);
    const callbackQuery = trace.filter((s) => s.attributes['db.query.text'] === 'SELECT ? AS four');
    expect(callbackQuery).toHaveLength(1);
    expect(callbackQuery[0].parentSpanId).toBe(parent.spanId);
  });

  it('shows the wait for a connection of an exhausted pool (max 1, two queries)', () => {
    const { spans: trace } = scenario('pool-exhaustion');
    const first = trace.find((s) => s.attributes['db.query.text'] === 'SELECT pg_sleep(?) AS first')!;
    const second = trace.find((s) => s.attributes['db.query.text'] === 'SELECT ? AS second')!;
    const [firstWait] = childrenOf(first, trace);
    const [secondWait] = childrenOf(second, trace);
    expect(firstWait.name).toBe('pg-pool.connect');
    expect(secondWait.name).toBe('pg-pool.connect');
    // The first opened the pool's only connection; the second waited for it (pg_sleep(0.3) ran meanwhile).
    expect(childrenOf(firstWait, trace).map((s) => s.name)).toEqual(['pg.connect']);
    expect(childrenOf(secondWait, trace)).toEqual([]);
    expect(secondWait.end).toBeGreaterThan(firstWait.end);
    expect(secondWait.duration).toBeGreaterThanOrEqual(300);
  });

  it('keeps concurrent requests on one pooled connection apart: each span and callback has its own parent', () => {
    for (const name of ['request A', 'request B']) {
      const { parent, spans: trace } = traceOf(report, spans, name);
      const mine = queries(trace);
      expect(mine.map((s) => s.attributes['db.query.text'])).toEqual(['SELECT pg_sleep(?)', 'SELECT ? AS who', 'SELECT ? AS via']);
      for (const s of mine) expect(s.parentSpanId).toBe(parent.spanId);
      expectChecks(report, [`${name} continuation`, `${name} callback`, `${name} checked-out client continuation`]);
    }
    // The connection was opened outside both requests: its span is in neither trace.
    const opening = spans.find((s) => s.attributes['db.query.text'] === 'SELECT ?' && s.parentSpanId === undefined);
    expect(opening).toBeDefined();
  });
});

describe('sanitizing', () => {
  it('replaces every literal of a text without parameters and drops its comments', () => {
    const { spans: trace } = scenario('sanitizing');
    const [span] = queries(trace);
    expect(span.attributes['db.query.text']).toBe('SELECT ? AS a, ? AS b, ? AS c, ? AS d, ? AS e, ? AS f, NULL AS g');
    expect(everythingRecorded(trace)).not.toMatch(/secret|12345|esc|dollar|comment/);
  });
});
