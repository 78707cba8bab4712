import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_SUMMARY_LENGTH, summarizeSql } from '../../instrumentations/pg/sql-summary';

describe('summarizeSql: the examples of database-spans.md', () => {
  it('one operation', () => {
    expect(summarizeSql('SELECT *\nFROM   wuser_table\nWHERE  username = ?').summary).toBe('SELECT wuser_table');
  });
  it('several operations', () => {
    const text = 'INSERT INTO shipping_details (order_id, address) SELECT order_id, address FROM orders WHERE order_id = ?';
    expect(summarizeSql(text).summary).toBe('INSERT shipping_details SELECT orders');
  });
  it('one operation on several collections', () => {
    expect(summarizeSql('SELECT * FROM songs, artists WHERE songs.artist_id == artists.id').summary).toBe('SELECT songs artists');
  });
  it('an anonymous table', () => {
    const text = 'SELECT order_date FROM (SELECT * FROM orders o JOIN customers c ON o.customer_id = c.customer_id)';
    expect(summarizeSql(text).summary).toBe('SELECT SELECT orders customers');
  });
  it('quoted names, kept as written', () => {
    expect(summarizeSql('SELECT * FROM "song list", public.artists a').summary).toBe('SELECT "song list" public.artists');
  });
});

describe('summarizeSql: operations and targets', () => {
  const cases: Array<[string, string | undefined, string | undefined, string | undefined]> = [
    // text, summary, db.operation.name, db.collection.name
    ['select id from Users where id = $1', 'select Users', 'select', 'Users'],
    ['SELECT 1', 'SELECT', 'SELECT', undefined],
    ['SELECT now()', 'SELECT', 'SELECT', undefined],
    ['UPDATE ONLY users SET name = $1 WHERE id = $2 RETURNING *', 'UPDATE users', 'UPDATE', 'users'],
    ['DELETE FROM sessions s USING users u WHERE s.user_id = u.id', 'DELETE sessions users', 'DELETE', undefined],
    ['INSERT INTO t (a) VALUES ($1) ON CONFLICT (a) DO UPDATE SET a = excluded.a', 'INSERT t', 'INSERT', 't'],
    ['SELECT * FROM t WHERE id = $1 FOR NO KEY UPDATE OF t', 'SELECT t', 'SELECT', 't'],
    ['WITH recent AS (SELECT * FROM orders) SELECT * FROM recent JOIN users ON true', 'SELECT orders SELECT recent users', undefined, undefined],
    ['SELECT a FROM t WHERE b IN (SELECT b FROM u)', 'SELECT t SELECT u', undefined, undefined],
    ['SELECT EXTRACT(YEAR FROM ts), a IS DISTINCT FROM b FROM events', 'SELECT events', 'SELECT', 'events'],
    ['SELECT * FROM generate_series(1, 10) AS g(n)', 'SELECT', 'SELECT', undefined],
    ['select * from Users u left outer join Orders o on o.uid = u.id', 'select Users Orders', 'select', undefined],
    ['MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = s.v WHEN NOT MATCHED THEN INSERT VALUES (s.id)', 'MERGE t s', 'MERGE', undefined],
    ['BEGIN', 'BEGIN', 'BEGIN', undefined],
    ['COMMIT;', 'COMMIT', 'COMMIT', undefined],
    ['BEGIN; INSERT INTO t VALUES (1); COMMIT', 'BEGIN INSERT t COMMIT', undefined, undefined],
    ['SET search_path TO app, public', 'SET', 'SET', undefined],
    ['GRANT SELECT, INSERT ON t TO bob', 'GRANT', 'GRANT', undefined],
    ['CREATE TABLE IF NOT EXISTS t1 (id int REFERENCES u ON DELETE CASCADE)', 'CREATE TABLE t1', 'CREATE TABLE', 't1'],
    ['create temp table t1 as select * from t2', 'create table t1 select t2', undefined, undefined],
    ['DROP TABLE IF EXISTS a, b CASCADE', 'DROP TABLE a b', 'DROP TABLE', undefined],
    ['ALTER TABLE t ADD COLUMN x int REFERENCES u ON UPDATE CASCADE', 'ALTER TABLE t', 'ALTER TABLE', 't'],
    ['CREATE UNIQUE INDEX CONCURRENTLY idx ON t (a)', 'CREATE INDEX', 'CREATE INDEX', undefined],
    ['CREATE OR REPLACE FUNCTION f() RETURNS trigger AS $$ BEGIN UPDATE x SET y = 1; END $$ LANGUAGE plpgsql', 'CREATE FUNCTION', 'CREATE FUNCTION', undefined],
    ['CREATE MATERIALIZED VIEW mv AS SELECT * FROM t', 'CREATE MATERIALIZED VIEW mv SELECT t', undefined, undefined],
    ['TRUNCATE TABLE a, b RESTART IDENTITY', 'TRUNCATE a b', 'TRUNCATE', undefined],
    ['COPY t (a, b) FROM STDIN', 'COPY t', 'COPY', 't'],
    ['COPY (SELECT * FROM t) TO STDOUT', 'COPY SELECT t', undefined, undefined],
    ['EXPLAIN ANALYZE SELECT * FROM t', 'EXPLAIN SELECT t', undefined, undefined],
    ['PREPARE plan1 (int) AS SELECT * FROM t WHERE id = $1', 'PREPARE plan1 SELECT t', undefined, undefined],
    ['EXECUTE plan1(1)', 'EXECUTE plan1', 'EXECUTE', undefined],
    ["SELECT 'FROM x', $$ DELETE FROM y $$ FROM z -- SELECT FROM w", 'SELECT z', 'SELECT', 'z'],
    ['foo bar', undefined, undefined, undefined],
    ['', undefined, undefined, undefined],
  ];
  for (const [text, summary, operation, collection] of cases) {
    it(text === '' ? '(empty)' : text, () => {
      const result = summarizeSql(text);
      expect(result.summary).toBe(summary);
      expect(result.operationName).toBe(operation);
      expect(result.collectionName).toBe(collection);
    });
  }

  it('names the procedure of a lone CALL', () => {
    expect(summarizeSql('CALL app.refresh_totals($1, $2)')).toMatchObject({
      summary: 'CALL app.refresh_totals',
      operationName: 'CALL',
      collectionName: undefined,
      storedProcedureName: 'app.refresh_totals',
    });
  });

  it('reports comments (for sqlcommenter), wherever they are', () => {
    expect(summarizeSql('SELECT 1').hasComment).toBe(false);
    expect(summarizeSql("SELECT '/* no */', '-- no'").hasComment).toBe(false);
    expect(summarizeSql('SELECT 1 /* yes */').hasComment).toBe(true);
    expect(summarizeSql('-- yes\nSELECT 1').hasComment).toBe(true);
    expect(summarizeSql('GRANT SELECT ON t TO u -- after an ignored rest').hasComment).toBe(true);
  });
});

describe('summarizeSql: bounds', () => {
  it('stops at 255 characters, never inside an operation or a target', () => {
    const tables = Array.from({ length: 100 }, (_, i) => `table_number_${i}`);
    const summary = summarizeSql(`SELECT * FROM ${tables.join(', ')}`).summary!;
    expect(summary.length).toBeLessThanOrEqual(MAX_SUMMARY_LENGTH);
    const words = summary.split(' ');
    expect(words[0]).toBe('SELECT');
    expect(words.slice(1)).toEqual(tables.slice(0, words.length - 1));
  });

  it('never throws, stays short, and only names words of the text', () => {
    const word = fc.constantFrom('SELECT', 'FROM', 'INSERT', 'INTO', 'UPDATE', 'DELETE', 'JOIN', 'CREATE', 'TABLE', 'WITH', 'AS', 'CALL', 't1', 'x.y', '"q"');
    const token = fc.oneof(word, fc.constantFrom('(', ')', ',', ';', '.', "'s'", '$1', '--c\n', '/*c*/'), fc.string({ maxLength: 6 }));
    fc.assert(
      fc.property(fc.array(token, { maxLength: 40 }).map((t) => t.join(' ')), (text) => {
        const result = summarizeSql(text);
        if (result.summary !== undefined) {
          expect(result.summary.length).toBeLessThanOrEqual(MAX_SUMMARY_LENGTH);
          for (const part of result.summary.split(' ')) expect(text).toContain(part);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
