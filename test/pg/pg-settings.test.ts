/**
 * The pg instrumentation's settings, each in its own run of the fixture: sqlcommenter, parent-only spans,
 * sanitizing switched off, the attribute length limit, and which pool checkouts get a span.
 */
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runApp } from '../helpers/child';
import { Receiver } from '../helpers/receiver';
import { requirePostgres, serviceEnv } from '../helpers/services';
import { childrenOf, dropTables, FIXTURES, runFixture, tableName, traceOf } from './pg-helpers';

let receiver: Receiver;

beforeAll(async () => {
  await requirePostgres();
  receiver = await Receiver.start();
});

afterAll(async () => {
  await receiver?.close();
  await dropTables(['commenter', 'nocommenter', 'parent', 'raw', 'limit', 'poolalways', 'poolnever'].map(tableName));
});

describe('OTEL_INSTRUMENTATION_PG_SQLCOMMENTER_ENABLED=true', () => {
  it('appends the query span’s traceparent to unnamed statements without a comment, as the server sees them', async () => {
    const { report, spans } = await runFixture(receiver, 'scenarios.cjs', [tableName('commenter'), 'sqlcommenter'], {
      OTEL_INSTRUMENTATION_PG_SQLCOMMENTER_ENABLED: 'true',
    });
    const { spans: trace } = traceOf(report, spans, 'scenario sqlcommenter');
    const activity = trace.filter((s) => s.attributes['db.query.summary'] === 'SELECT pg_stat_activity');
    expect(activity).toHaveLength(3); // plain, parameterized, already commented; the named one is named so
    const [plain, parameterized] = activity;
    const traceparent = (spanId: string) => `/*traceparent='00-${plain.traceId}-${spanId}-01'*/`;
    expect(report.values['server saw']).toBe(`SELECT query FROM pg_stat_activity WHERE pid = pg_backend_pid() ${traceparent(plain.spanId)}`);
    expect(report.values['server saw parameterized']).toBe(`SELECT query FROM pg_stat_activity WHERE pid = $1 ${traceparent(parameterized.spanId)}`);
    // A named statement keeps its text (pg refuses a name with a changed text), a commented one is left alone.
    expect(report.values['server saw named']).toBe('SELECT query FROM pg_stat_activity WHERE pid = pg_backend_pid()');
    expect(report.values['server saw commented']).toBe('SELECT query FROM pg_stat_activity WHERE pid = pg_backend_pid() /* mine */');
    // db.query.text never carries the comment.
    for (const span of spans) expect(String(span.attributes['db.query.text'] ?? '')).not.toContain('traceparent');
  });

  it('is off by default', async () => {
    const { report } = await runFixture(receiver, 'scenarios.cjs', [tableName('nocommenter'), 'sqlcommenter']);
    expect(report.values['server saw']).toBe('SELECT query FROM pg_stat_activity WHERE pid = pg_backend_pid()');
  });
});

describe('OTEL_INSTRUMENTATION_PG_REQUIRE_PARENT_SPAN=true', () => {
  it('traces queries inside a span and none outside', async () => {
    const { report, spans } = await runFixture(receiver, 'scenarios.cjs', [tableName('parent'), 'outside-any-span', 'text-promise'], {
      OTEL_INSTRUMENTATION_PG_REQUIRE_PARENT_SPAN: 'true',
    }, (s) => s.name === 'scenario text-promise');
    expect(spans.filter((s) => s.attributes['db.query.text'] === 'SELECT ? AS outside')).toEqual([]);
    // Nothing of pg outside a span: the setup and clean-up statements made none either.
    expect(spans.filter((s) => s.attributes['db.system.name'] === 'postgresql' && s.parentSpanId === undefined)).toEqual([]);
    const { parent, spans: trace } = traceOf(report, spans, 'scenario text-promise');
    expect(trace.filter((s) => s.parentSpanId === parent.spanId).map((s) => s.name)).toEqual(['pg.connect', 'SELECT', `SELECT ${tableName('parent')}`]);
  });
});

describe('OTEL_INSTRUMENTATION_PG_POOL_CONNECT_SPANS', () => {
  const poolQueryText = (table: string) => `SELECT name FROM ${table} WHERE id = $1`;

  it('always: every checkout has a pg-pool.connect span, an idle client’s too', async () => {
    const table = tableName('poolalways');
    const { report, spans } = await runFixture(receiver, 'scenarios.cjs', [table, 'transaction'], {
      OTEL_INSTRUMENTATION_PG_POOL_CONNECT_SPANS: 'always',
    });
    const { parent, spans: trace } = traceOf(report, spans, 'scenario transaction');
    // connect() (a new connection), connect(callback) and the two queries' checkouts (an idle client each time).
    expect(trace.filter((s) => s.name === 'pg-pool.connect')).toHaveLength(4);
    const query = trace.find((s) => s.attributes['db.query.text'] === poolQueryText(table))!;
    const [wait] = childrenOf(query, trace);
    expect([wait.name, wait.kind]).toEqual(['pg-pool.connect', 0]);
    expect(childrenOf(wait, trace)).toEqual([]);
    expect(childrenOf(parent, trace).filter((s) => s.name === 'pg-pool.connect')).toHaveLength(2);
  });

  it('never: no checkout has one; a new connection’s pg.connect is the query’s child', async () => {
    const table = tableName('poolnever');
    const { report, spans } = await runFixture(receiver, 'scenarios.cjs', [table, 'transaction', 'pool-exhaustion'], {
      OTEL_INSTRUMENTATION_PG_POOL_CONNECT_SPANS: 'never',
    });
    expect(spans.filter((s) => s.name === 'pg-pool.connect')).toEqual([]);
    const { parent, spans: trace } = traceOf(report, spans, 'scenario transaction');
    expect(childrenOf(parent, trace).map((s) => s.name).slice(0, 4)).toEqual(['pg.connect', 'BEGIN', `INSERT ${table}`, 'COMMIT']);
    const first = spans.find((s) => s.attributes['db.query.text'] === 'SELECT pg_sleep(?) AS first')!;
    const second = spans.find((s) => s.attributes['db.query.text'] === 'SELECT ? AS second')!;
    expect(childrenOf(first, spans).map((s) => s.name)).toEqual(['pg.connect']);
    expect(childrenOf(second, spans)).toEqual([]);
  });
});

describe('OTEL_INSTRUMENTATION_COMMON_DB_STATEMENT_SANITIZER_ENABLED=false', () => {
  it('records query texts as written', async () => {
    const { report, spans } = await runFixture(receiver, 'scenarios.cjs', [tableName('raw'), 'sanitizing'], {
      OTEL_INSTRUMENTATION_COMMON_DB_STATEMENT_SANITIZER_ENABLED: 'false',
    });
    const { spans: trace } = traceOf(report, spans, 'scenario sanitizing');
    const query = trace.find((s) => s.name === 'SELECT')!;
    expect(query.attributes['db.query.text']).toBe(
      "SELECT 'secret-literal' AS a, 12345 AS b, E'esc\\'aped' AS c, $q$dollar-secret$q$ AS d, x'1F' AS e, TRUE AS f, NULL AS g /* a comment */",
    );
  });
});

describe('OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT', () => {
  it('cuts db.query.text to the limit', async () => {
    const { report, spans } = await runFixture(receiver, 'scenarios.cjs', [tableName('limit'), 'sanitizing'], {
      OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: '16',
    });
    const { spans: trace } = traceOf(report, spans, 'scenario sanitizing');
    expect(trace.find((s) => s.name === 'SELECT')!.attributes['db.query.text']).toBe('SELECT ? AS a, ?');
  });
});

describe('unhandled rejections', () => {
  it('are the same with the agent as without it', async () => {
    const script = path.join(FIXTURES, 'unhandled.cjs');
    const withAgent = await runApp(script, { env: { ...receiver.env(), ...serviceEnv() } });
    const without = await runApp(script, { env: serviceEnv(), nodeArgs: [] });
    expect(without.stdout.trim()).toBe(JSON.stringify({ unhandled: ['42601', '42601'] }));
    expect(withAgent.stdout.trim()).toBe(without.stdout.trim());
    expect(withAgent.stderr).toBe('');
  });
});
