/**
 * `zerotel doctor`: installed modules and versions, the effective configuration, and the problems it finds — on
 * the shop example (the repository's real node_modules) and on small apps laid out in a temporary directory.
 * (The apps' node_modules hold only package.json files: the doctor reads versions, it never loads a module.)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diagnose, entryOfCommand, renderDoctor, type DoctorReport } from '../../src/cli/doctor';
import { REGISTER } from '../helpers/child';
import { runZerotel, SHOP } from './helpers';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'zerotel-doctor-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** An app directory from a map of relative paths to contents (objects become JSON). */
function app(name: string, files: Record<string, string | object>): string {
  const dir = path.join(tmp, name);
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(dir, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  }
  return dir;
}

const problems = (r: DoctorReport) => r.findings.filter((f) => f.level === 'problem').map((f) => f.message);
const notes = (r: DoctorReport) => r.findings.filter((f) => f.level === 'note').map((f) => f.message);
const mod = (r: DoctorReport, name: string, location?: string) => r.modules.find((m) => m.module === name && (location === undefined || m.location === location));

describe('zerotel doctor on the shop example', () => {
  it('finds the installed express, pg and redis with their versions, and says each will be instrumented', () => {
    const r = diagnose(SHOP, {});
    const expressVersion = JSON.parse(fs.readFileSync(path.join(SHOP, '../../node_modules/express/package.json'), 'utf8')).version;
    expect(mod(r, 'express', '../../node_modules/express')).toMatchObject({ version: expressVersion, status: 'instrumented', requiredAs: 'express' });
    expect(mod(r, 'pg')).toMatchObject({ status: 'instrumented', location: '../../node_modules/pg' });
    expect(mod(r, 'pg-pool')).toMatchObject({ status: 'instrumented' });
    // The @redis/client that redis 4 brings along, nested inside the alias package, is hooked under its own name.
    expect(mod(r, '@redis/client', '../../node_modules/redis4/node_modules/@redis/client')).toMatchObject({ version: expect.stringMatching(/^1\./), status: 'instrumented' });
    expect(mod(r, 'node:http')).toMatchObject({ location: 'built in', status: 'instrumented', version: process.versions.node });
    // An npm alias is reached as require('express4'), which no hook matches.
    expect(mod(r, 'express', '../../node_modules/express4')).toMatchObject({ requiredAs: 'express4', status: 'alias' });
    expect(r.app).toMatchObject({ name: 'zerotel-example-shop', entry: 'app.js', entrySource: 'the start script', esm: false, startScript: 'node app.js' });
  });

  it('says the start script runs without the agent, unless NODE_OPTIONS preloads it', () => {
    const bare = diagnose(SHOP, {});
    expect(problems(bare)).toEqual([
      'The agent is not preloaded: `npm start` runs "node app.js" and NODE_OPTIONS has no --require zerotel/register. ' +
        'Start the app with `node --require zerotel/register app.js` (or NODE_OPTIONS="--require zerotel/register", or `zerotel run npm start`).',
    ]);
    const preloaded = diagnose(SHOP, { NODE_OPTIONS: `--require ${REGISTER}` });
    expect(problems(preloaded)).toEqual([]);
    expect(notes(preloaded)[0]).toMatch(/^NODE_OPTIONS preloads the agent/);
  });

  it('shows the effective configuration and its warnings, and instrumentations turned off', () => {
    const r = diagnose(SHOP, {
      OTEL_TRACES_EXPORTER: 'otlp,file',
      OTEL_EXPORTER_FILE_PATH: 'traces/',
      OTEL_TRACES_SAMPLER: 'sometimes',
      OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'pg,nosuch',
      OTEL_SERVICE_NAME: 'shop',
    });
    const config = Object.fromEntries(r.config);
    expect(config['service.name']).toBe('shop (OTEL_SERVICE_NAME)');
    expect(config.exporters).toBe(`otlp (http/protobuf → http://localhost:4318/v1/traces), file (${path.join(SHOP, 'traces')}/traces-<pid>-<time>.jsonl)`);
    expect(config.instrumentations).not.toContain('pg');
    // The settings of the instrumentations that are on; pg's are left out with pg.
    expect(config.express).toBe('middleware spans off (OTEL_INSTRUMENTATION_EXPRESS_MIDDLEWARE_SPANS)');
    expect(config.redis).toBe('query text sanitized');
    expect(config.pg).toBeUndefined();
    expect(r.warnings).toContain('OTEL_TRACES_SAMPLER="sometimes" is not one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio; using "parentbased_always_on" instead');
    expect(r.warnings.some((w) => w.startsWith('OTEL_NODE_DISABLED_INSTRUMENTATIONS names "nosuch"'))).toBe(true);
    expect(mod(r, 'pg')!.status).toBe('disabled');
    expect(notes(r)).toContain('pg is installed, but the pg instrumentation is turned off (OTEL_NODE_ENABLED/DISABLED_INSTRUMENTATIONS).');
    expect(problems(r).filter((p) => p.startsWith('Configuration: '))).toHaveLength(2);
  });

  it('shows the instrumentations’ own settings as this environment sets them', () => {
    const r = diagnose(SHOP, {
      OTEL_INSTRUMENTATION_EXPRESS_MIDDLEWARE_SPANS: 'true',
      OTEL_INSTRUMENTATION_PG_POOL_CONNECT_SPANS: 'always',
      OTEL_INSTRUMENTATION_PG_SQLCOMMENTER_ENABLED: 'true',
      OTEL_INSTRUMENTATION_PG_REQUIRE_PARENT_SPAN: 'true',
      OTEL_INSTRUMENTATION_COMMON_DB_STATEMENT_SANITIZER_ENABLED: 'false',
    });
    const config = Object.fromEntries(r.config);
    expect(config.express).toBe('middleware spans on (OTEL_INSTRUMENTATION_EXPRESS_MIDDLEWARE_SPANS)');
    expect(config.pg).toBe('pool checkout spans always; query text as written; sqlcommenter on; no root spans');
    expect(config.redis).toBe('query text full');
    expect(Object.fromEntries(diagnose(SHOP, {}).config).pg).toBe('pool checkout spans waiting; query text sanitized; sqlcommenter off; root spans too');
  });

  it('OTEL_SDK_DISABLED turns everything off, and says so', () => {
    const r = diagnose(SHOP, { OTEL_SDK_DISABLED: 'true' });
    expect(problems(r)).toContain('OTEL_SDK_DISABLED=true: the agent does nothing.');
    expect(r.modules.every((m) => m.status === 'sdk-disabled')).toBe(true);
  });
});

describe('zerotel doctor on other apps', () => {
  it('flags versions outside the supported ranges', () => {
    const dir = app('old-pg', {
      'package.json': { name: 'old', scripts: { start: 'node -r zerotel/register server.js' } },
      'node_modules/pg/package.json': { name: 'pg', version: '7.18.2' },
      'node_modules/express/package.json': { name: 'express', version: '4.17.1' },
    });
    const r = diagnose(dir, {});
    expect(mod(r, 'pg')).toMatchObject({ version: '7.18.2', status: 'unsupported-version', supportedVersions: ['>=8.0.3 <9'], location: 'node_modules/pg' });
    expect(mod(r, 'express')).toMatchObject({ version: '4.17.1', status: 'instrumented' });
    expect(problems(r)).toEqual(['pg 7.18.2 (node_modules/pg) is outside the supported versions (>=8.0.3 <9): it will not be traced.']);
    expect(notes(r)).toContain('The start script preloads the agent: "node -r zerotel/register server.js".');
    expect(r.notInstalled).toEqual(expect.arrayContaining(['ioredis']));
  });

  it('finds an agent required in code after the modules it should hook: loaded too late', () => {
    const dir = app('late', {
      'package.json': { name: 'late', main: 'index.js' },
      'index.js': "const express = require('express');\nconst { Pool } = require('pg');\nrequire('zerotel/register');\n",
    });
    const r = diagnose(dir, {});
    expect(r.app).toMatchObject({ entry: 'index.js', entrySource: 'package.json "main"' });
    expect(problems(r)).toContain(
      'The agent is loaded too late: index.js requires express, pg before it requires zerotel; the agent instruments them when it starts, ' +
        'but what they did or copied before is not traced. Require zerotel/register first, or better, preload it with --require.',
    );
    const early = app('early', { 'package.json': { name: 'early' }, 'server.js': "require('zerotel/register');\nconst express = require('express');\n" });
    const e = diagnose(early, {});
    expect(e.app).toMatchObject({ entry: 'server.js', startScript: 'node server.js' });
    expect(notes(e)).toContain('server.js requires the agent before any instrumented module: that works, though --require is safer.');
  });

  it('explains ES module apps: --require covers them, and what --import would change', () => {
    const dir = app('esm', {
      'package.json': { name: 'esm-app', type: 'module', scripts: { start: 'node --import zerotel/register src/main.js', test: 'vitest run' } },
      'src/main.js': "import express from 'express';\n",
    });
    const r = diagnose(dir, {});
    expect(r.app).toMatchObject({ type: 'module', esm: true, entry: 'src/main.js' });
    expect(problems(r)).toEqual([]);
    const esmNote = notes(r).find((n) => n.startsWith('src/main.js is an ES module.'))!;
    expect(esmNote).toContain('`--require zerotel/register` covers it');
    expect(esmNote).toContain('with no loader thread');
    expect(esmNote).toContain('with --import the hook is always registered, even for a CommonJS entry');
    expect(notes(r)).toContain('To trace the test suite ("vitest run"), run it as `zerotel run npm test`.');
    expect(Object.fromEntries(r.config)['ES module hook']).toBe('decided per process (for this app: on)');

    const off = diagnose(dir, { OTEL_NODE_ESM_HOOK: 'false' });
    expect(problems(off)).toEqual(['src/main.js is an ES module, but OTEL_NODE_ESM_HOOK=false: imports will not be instrumented.']);

    const inCode = app('esm-in-code', { 'package.json': { name: 'x', scripts: { start: 'node main.mjs' } }, 'main.mjs': "import 'zerotel/register';\nimport pg from 'pg';\n" });
    expect(problems(diagnose(inCode, { NODE_OPTIONS: '--max-old-space-size=100' })).some((p) => p.startsWith('main.mjs imports the agent in code. Imports are evaluated in order, and every module imported before the agent is loaded before it starts'))).toBe(true);
  });

  it('says that the agent given as a module loader (--loader) traces nothing, in the start script or NODE_OPTIONS', () => {
    const loaderProblem = /^(The start script|NODE_OPTIONS) gives the agent to Node\.js as a module loader \(--loader\): Node\.js runs loaders in a thread of their own/;
    const byScript = diagnose(app('as-loader', { 'package.json': { name: 'a', type: 'module', scripts: { start: 'node --loader zerotel/register main.js' } }, 'main.js': '' }), {});
    expect(problems(byScript)).toHaveLength(1);
    expect(problems(byScript)[0]).toMatch(loaderProblem);
    expect(problems(byScript)[0]).toMatch(/^The start script/);
    const byOptions = diagnose(app('as-loader-env', { 'package.json': { name: 'a', scripts: { start: 'node main.mjs' } }, 'main.mjs': '' }), {
      NODE_OPTIONS: '--experimental-loader=zerotel/register',
    });
    expect(problems(byOptions)).toHaveLength(1);
    expect(problems(byOptions)[0]).toMatch(/^NODE_OPTIONS gives the agent to Node\.js as a module loader/);
    // another loader beside the agent's preload is no problem
    const beside = diagnose(app('loader-beside', { 'package.json': { name: 'a', scripts: { start: 'node --loader ts-node/esm --import zerotel/register main.ts' } }, 'main.ts': '' }), {});
    expect(problems(beside)).toEqual([]);
  });

  it('says that a CommonJS entry loading ES modules gets node:http instrumented for them only once something requires it', () => {
    const note = /^launcher\.js is CommonJS and loads ES modules .* set OTEL_NODE_ESM_HOOK=true\.$/;
    const start = { start: 'node --require zerotel/register launcher.js' };
    const byImport = diagnose(app('launcher-import', { 'package.json': { name: 'a', scripts: start }, 'launcher.js': "import('./server.mjs');\n" }), {});
    expect(notes(byImport).filter((n) => note.test(n))).toHaveLength(1);
    const byRequire = diagnose(app('launcher-require', { 'package.json': { name: 'a', scripts: start }, 'launcher.js': "require('./server.mjs');\n" }), {});
    expect(notes(byRequire).filter((n) => note.test(n))).toHaveLength(1);
    const plain = diagnose(app('launcher-none', { 'package.json': { name: 'a', scripts: start }, 'launcher.js': "require('./server.js');\n" }), {});
    expect(notes(plain).filter((n) => note.test(n))).toHaveLength(0);
    const forced = diagnose(app('launcher-forced', { 'package.json': { name: 'a', scripts: start }, 'launcher.js': "import('./server.mjs');\n" }), { OTEL_NODE_ESM_HOOK: 'true' });
    expect(notes(forced).filter((n) => note.test(n))).toHaveLength(0);
  });

  it('says which test runner setups the agent cannot trace: vitest\'s thread pools, Jest\'s ES module mode', () => {
    const threadsNote = /^vitest runs the tests in worker threads \(pool (threads|vmThreads)\), where the agent does not run/;
    const byFlag = diagnose(app('vitest-flag', { 'package.json': { name: 'a', scripts: { test: 'vitest run --pool=threads' } } }), {});
    expect(notes(byFlag).filter((n) => threadsNote.test(n))).toHaveLength(1);
    const byConfig = diagnose(
      app('vitest-config', {
        'package.json': { name: 'b', scripts: { test: 'vitest run' } },
        'vitest.config.ts': "export default { test: { pool: 'vmThreads' } };",
      }),
      {},
    );
    expect(notes(byConfig).find((n) => threadsNote.test(n))).toContain('(pool vmThreads)');
    const forks = diagnose(
      app('vitest-forks', { 'package.json': { name: 'c', scripts: { test: 'vitest run' } }, 'vitest.config.mjs': "export default { test: { pool: 'forks' } };" }),
      {},
    );
    expect(notes(forks).filter((n) => threadsNote.test(n))).toEqual([]);
    const jestEsm = diagnose(app('jest-esm', { 'package.json': { name: 'd', scripts: { test: 'NODE_OPTIONS=--experimental-vm-modules jest' } } }), {});
    expect(notes(jestEsm).filter((n) => n.startsWith('Jest runs in its ES module mode'))).toHaveLength(1);
    const jest = diagnose(app('jest-cjs', { 'package.json': { name: 'e', scripts: { test: 'jest --ci' } } }), {});
    expect(notes(jest).filter((n) => n.startsWith('Jest runs in its ES module mode') || threadsNote.test(n))).toEqual([]);
  });

  it('reads the script out of a node command line', () => {
    expect(entryOfCommand('node app.js')).toBe('app.js');
    expect(entryOfCommand('NODE_ENV=production node --require zerotel/register -r dotenv/config dist/server.js --port 3000')).toBe('dist/server.js');
    expect(entryOfCommand('node --import=tsx ./src/index.ts')).toBe('./src/index.ts');
    expect(entryOfCommand('next start')).toBeUndefined();
  });

  it('renders for people, with one row per module', () => {
    const text = renderDoctor(diagnose(SHOP, {}), false);
    expect(text).toContain(`zerotel doctor — ${SHOP}`);
    expect(text).toMatch(/✓ pg +pg +8\.\d+\.\d+ +\.\.\/\.\.\/node_modules\/pg +instrumented \(supports >=8\.0\.3 <9\)/);
    expect(text).toMatch(/✗ express +express4 → express +4\.\d+\.\d+ +\.\.\/\.\.\/node_modules\/express4 +not instrumented: npm alias/);
    expect(text).toContain('Configuration (from this environment)');
    expect(text).toContain('Problems (1)');
  });
});

describe('zerotel doctor (the command)', () => {
  it('exits 1 when it finds a problem, 0 when none, and prints JSON on request', async () => {
    const bad = await runZerotel(['doctor', SHOP]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('The agent is not preloaded');
    const good = await runZerotel(['doctor', '--json', SHOP], { env: { NODE_OPTIONS: `--require ${REGISTER}` } });
    expect(good.code).toBe(0);
    const parsed = JSON.parse(good.stdout);
    expect(parsed.directory).toBe(SHOP);
    expect(parsed.modules.find((m: any) => m.module === 'pg').status).toBe('instrumented');
  });

  it('exits 2 for a directory that does not exist', async () => {
    const r = await runZerotel(['doctor', path.join(tmp, 'nowhere')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('is not a directory');
  });
});
