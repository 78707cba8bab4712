/**
 * The lower bound of the pg range the instrumentation declares (instrumentations/pg/index.ts, `>=8.0.3 <9`):
 * node-postgres 8.0.3 itself, installed as the alias `pg8-oldest` and seen by the app as `pg` (a two-file package
 * in its fixture directory, as test/express/express-fixtures.ts explains for express: a hook knows a package by
 * its directory name), under the preload against the real PostgreSQL. pg.test.ts covers the newest 8.x in full.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runApp } from '../helpers/child';
import { Receiver } from '../helpers/receiver';
import { PG, requirePostgres, serviceEnv } from '../helpers/services';
import { pgInstrumentation } from '../../instrumentations/pg';
import { FIXTURES } from './pg-helpers';

const ALIAS = 'pg8-oldest';
const CLIENT = 2;
const version: string = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', ALIAS, 'package.json'), 'utf8')).version;
const APP_DIR = path.join(FIXTURES, 'oldest');

/** ./node_modules/pg in the fixture directory: a package named pg whose entry is the aliased node-postgres. */
function writeAliasedPgPackage(): void {
  const dir = path.join(APP_DIR, 'node_modules', 'pg');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'pg', version, main: 'index.js', private: true }, null, 2) + '\n');
  fs.writeFileSync(path.join(dir, 'index.js'), `'use strict';\nmodule.exports = require(${JSON.stringify(ALIAS)});\n`);
}

let receiver: Receiver;
beforeAll(async () => {
  await requirePostgres();
  writeAliasedPgPackage();
  receiver = await Receiver.start();
});
afterAll(() => receiver?.close());

describe(`node-postgres ${version}, the oldest the declared range admits`, () => {
  it('is the lower bound of the declared range', () => {
    const range = pgInstrumentation.modules.find((m) => m.name === 'pg')!.versions;
    expect(range).toBe(`>=${version} <9`);
  });

  it('traces connect, a query with values, a failing query and a pool query, by the conventions', async () => {
    const run = await runApp(path.join(APP_DIR, 'app.cjs'), { env: { ...receiver.env(), ...serviceEnv() } });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('n=41 failed=42P01 two=2\n');
    const spans = await receiver.waitFor((all) => all.filter((s) => s.attributes['db.query.text'] !== undefined).length >= 3);
    const queries = spans.filter((s) => s.kind === CLIENT && s.attributes['db.query.text'] !== undefined);
    const byText = (text: string) => {
      const found = queries.filter((s) => s.attributes['db.query.text'] === text);
      expect(found, text).toHaveLength(1);
      return found[0];
    };
    const withValues = byText('SELECT $1::int AS n');
    expect(withValues.name).toBe('SELECT');
    expect(withValues.attributes).toMatchObject({
      'db.system.name': 'postgresql',
      'db.namespace': PG.database,
      'db.operation.name': 'SELECT',
      'server.address': PG.host,
      'server.port': PG.port,
    });
    expect(JSON.stringify(withValues.attributes)).not.toContain('41');
    const failing = byText('SELECT * FROM zerotel_no_such_table_oldest');
    expect(failing.name).toBe('SELECT zerotel_no_such_table_oldest');
    expect(failing.status.code).toBe(2);
    expect(failing.attributes).toMatchObject({ 'error.type': '42P01', 'db.response.status_code': '42P01' });
    // The pool's query, written with a literal: recorded with the literal replaced.
    expect(byText('SELECT ? AS two').name).toBe('SELECT');
    expect(spans.filter((s) => s.name === 'pg.connect' && s.kind === CLIENT).length).toBeGreaterThanOrEqual(1);
  });
});
