/** pg imported as an ES module (`import pg from 'pg'`, `import { Client, Pool } from 'pg'`) under the preload. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Receiver } from '../helpers/receiver';
import { requirePostgres } from '../helpers/services';
import { childrenOf, dropTables, expectChecks, runFixture, tableName, traceOf } from './pg-helpers';

let receiver: Receiver;

beforeAll(async () => {
  await requirePostgres();
  receiver = await Receiver.start();
});

afterAll(async () => {
  await receiver?.close();
  await dropTables([tableName('esm')]);
});

describe('ESM', () => {
  it('traces the default export and the named Client and Pool, once each', async () => {
    const table = tableName('esm');
    const { report, spans } = await runFixture(receiver, 'esm.mjs', [table]);
    const byDefault = traceOf(report, spans, 'scenario default import');
    expect(childrenOf(byDefault.parent, byDefault.spans).map((s) => s.name)).toEqual(['pg.connect', `CREATE TABLE ${table}`, 'SELECT']);
    const named = traceOf(report, spans, 'scenario named imports');
    const children = childrenOf(named.parent, named.spans);
    expect(children.map((s) => [s.name, s.attributes['db.query.text']])).toEqual([
      ['pg.connect', undefined],
      ['SELECT', 'SELECT ? AS via_named'],
      ['SELECT', 'SELECT ? AS via_pool'],
    ]);
    expect(childrenOf(children[2], named.spans).map((s) => s.name)).toEqual(['pg-pool.connect']);
    // Patched once: one span per query, whichever way pg was reached.
    expect(spans.filter((s) => s.attributes['db.query.text'] === 'SELECT ? AS via_default')).toHaveLength(1);
    expect(report.values['same Client']).toBe(true);
    // pg.native stays what it was: a lazy getter — except on Node.js 24, whose ESM import of a CommonJS module
    // reads every export it detects, so pg has already replaced its getter by the value when the app sees it.
    const nodeMajor = Number(process.versions.node.split('.')[0]);
    expect(report.values['native getter before']).toBe(nodeMajor >= 24 ? 'undefined' : 'function');
    expect(report.values['native getter after']).toBe(report.values['native getter before']);
    expectChecks(report, ['default import continuation', 'named pool continuation']);
  });
});
