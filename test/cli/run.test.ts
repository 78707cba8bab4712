/**
 * `zerotel run` on real commands: the shop example's own test suite (express + PostgreSQL + Redis, `node --test`
 * starting the app as a second process), exit codes, gates, NODE_OPTIONS, ESM, and signals.
 *
 * The shop's run must hold HTTP server spans with their express routes, PostgreSQL query spans and Redis command
 * spans, and the report must list them.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REGISTER } from '../helpers/child';
import { requirePostgres, requireRedis, serviceEnv } from '../helpers/services';
import { withFileExporter, withPreload, runDirectoryName } from '../../src/cli/run-command';
import { CLI_FIXTURES, readTraceDir, runZerotel, SHOP, type DecodedSpan } from './helpers';

let tmp: string;
beforeAll(async () => {
  await requirePostgres();
  await requireRedis();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'zerotel-run-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function serverSpans(spans: DecodedSpan[]): DecodedSpan[] {
  return spans.filter((s) => s.kind === 2);
}

describe('zerotel run on the shop example and its own test suite', () => {
  let out: string;
  let result: Awaited<ReturnType<typeof runZerotel>>;
  let junit: string;

  beforeAll(async () => {
    out = path.join(tmp, 'clean');
    junit = path.join(tmp, 'clean-junit.xml');
    result = await runZerotel(['run', '--out', out, '--junit', junit, '--fail-on', 'error-spans', '--', process.execPath, '--test', '--test-reporter=tap', 'test/shop.test.js'], {
      cwd: SHOP,
      env: { ...serviceEnv() },
    });
  }, 60_000);

  it('exits with the command\'s code (0) when the tests pass and no rule trips', () => {
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/# pass 6\n# fail 0/);
  });

  it('keeps stdout the command\'s own: the report goes to stderr', () => {
    expect(result.stdout).not.toContain('zerotel report');
    expect(result.stderr).toContain('zerotel report — ');
    expect(result.stderr).toContain(`pass  error-spans — no error spans`);
  });

  it('writes one file per traced process — the test file and the app it started — every line a valid request', () => {
    const { files, spans } = readTraceDir(out);
    expect(files.length).toBeGreaterThanOrEqual(2);
    for (const f of files) expect(f).toMatch(/^traces-\d+-\d{8}T\d{9}Z\.jsonl$/);
    const pids = new Set(files.map((f) => f.split('-')[1]));
    expect(pids.size).toBe(files.length);
    // The app's server spans and the tests' client spans, each from its own process file.
    const server = serverSpans(spans);
    const client = spans.filter((s) => s.kind === 3 && s.attributes['http.request.method'] !== undefined);
    expect(new Set(server.map((s) => s.file)).size).toBe(1);
    expect(new Set(client.map((s) => s.file)).size).toBe(1);
    expect(server[0].file).not.toBe(client[0].file);
    const paths = server.map((s) => String(s.attributes['url.path']).replace(/^\/orders\/\d+$/, '/orders/<id>'));
    expect(paths.sort()).toEqual(['/health', '/orders', '/orders/<id>', '/products', '/products/2', '/products/2', '/products/999', '/stats']);
    // Each server span is the child of a client span of the tests: one trace across two processes.
    for (const s of server) expect(client.some((c) => c.spanId === s.parentSpanId && c.traceId === s.traceId)).toBe(true);
    expect(server.find((s) => s.attributes['url.path'] === '/products/999')!.attributes['http.response.status_code']).toBe(404);
  });

  it('records the queries and Redis commands the app ran', () => {
    const { spans } = readTraceDir(out);
    const pg = spans.filter((s) => s.attributes['db.system.name'] === 'postgresql');
    const redis = spans.filter((s) => s.attributes['db.system.name'] === 'redis');
    expect(pg.length, 'postgresql spans in the trace files').toBeGreaterThan(0);
    expect(pg.map((s) => s.attributes['db.query.text'])).toContain('SELECT id, name, price_cents FROM shop_products ORDER BY id');
    expect(result.stderr).toMatch(/postgresql +SELECT shop_products +\d+ +0 /);
    expect(redis.length, 'redis spans in the trace files').toBeGreaterThan(0);
    expect(redis.map((s) => s.attributes['db.operation.name'])).toContain('INCR');
    expect(result.stderr).toMatch(/redis +INCR +\d+ +0 /);
  });

  it('prints the report: summary, waterfalls, operations with the app\'s routes', () => {
    const { spans } = readTraceDir(out);
    expect(result.stderr).toContain(`${spans.length} spans in `);
    expect(result.stderr).toMatch(/Slowest 5 traces\ntrace [0-9a-f]{32} · \d+ spans · /);
    expect(result.stderr).toContain('HTTP 4xx answer to clients (not counted as errors)');
    // Every server span has its express route, and the report lists each route.
    const routes = serverSpans(spans).map((s) => s.attributes['http.route']);
    expect(routes.sort()).toEqual(['/health', '/orders', '/orders/:id', '/products', '/products/:id', '/products/:id', '/products/:id', '/stats']);
    for (const route of ['/health', '/products', '/products/:id', '/orders', '/orders/:id', '/stats']) {
      expect(result.stderr).toMatch(new RegExp(`http server +(GET|POST) ${route.replace(/[/]/g, '\\/')} +\\d+ +0 `));
    }
    expect(result.stderr).toMatch(new RegExp(`see this report again with: zerotel report ${out.replace(/[/]/g, '\\/')}`));
  });

  it('writes the JUnit file: one passing test case per route', () => {
    const xml = fs.readFileSync(junit, 'utf8');
    expect(xml).toMatch(/<testsuite name="HTTP routes \(zerotel-example-shop\)" tests="\d+" failures="0"/);
    expect(xml).toContain('<testcase classname="zerotel.fail-on" name="error-spans" time="0"><system-out>no error spans</system-out>');
  });
});

describe('gates on a run where the app fails on purpose', () => {
  let out: string;
  let result: Awaited<ReturnType<typeof runZerotel>>;
  let junit: string;

  beforeAll(async () => {
    out = path.join(tmp, 'failing');
    junit = path.join(tmp, 'failing-junit.xml');
    result = await runZerotel(
      ['run', '--out', out, '--junit', junit, '--fail-on', 'error-spans', '--fail-on', 'max>60s', '--', process.execPath, '--test', '--test-reporter=tap', 'test/shop.test.js'],
      { cwd: SHOP, env: { ...serviceEnv(), SHOP_FAIL_ON_PURPOSE: '1' } },
    );
  }, 60_000);

  it('exits 3 when a rule trips, though the tests themselves passed', () => {
    expect(result.stdout).toMatch(/# pass 7\n# fail 0/);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('zerotel: the command exited with code 0;');
    expect(result.stderr).toContain('zerotel: a --fail-on rule tripped: exiting with code 3');
    expect(result.stderr).toMatch(/FAIL {2}error-spans — \d+ error spans \(/);
    expect(result.stderr).toMatch(/pass {2}max>60s — worst of \d+: /);
  });

  it('lists the error with its message, and the failing route in the JUnit file', () => {
    const { spans } = readTraceDir(out);
    const failed = serverSpans(spans).find((s) => s.attributes['url.path'] === '/stats' && s.attributes['http.response.status_code'] === 500)!;
    expect(failed.status.code).toBe(2);
    expect(failed.attributes['http.route']).toBe('/stats');
    const route = 'GET /stats';
    expect(result.stderr).toContain(`· ${route}: HTTP 500 · trace ${failed.traceId}`);
    expect(result.stderr).toContain('SELECT shop_missing_table: relation "shop_missing_table" does not exist');
    const xml = fs.readFileSync(junit, 'utf8');
    expect(xml).toMatch(new RegExp(`name="${route}" time="[\\d.]+"><failure message="1 of \\d+ requests failed" type="error-spans">`));
    expect(xml).toContain('<testcase classname="zerotel.fail-on" name="error-spans" time="0"><failure message=');
  });

  it('a rule on another route does not trip; one on the failing route does', async () => {
    const report = JSON.parse((await runZerotel(['report', '--json', out])).stdout);
    const stats = report.operations.find((o: any) => o.type === 'http server' && o.errors > 0);
    const other = report.operations.find((o: any) => o.type === 'http server' && o.errors === 0 && o.name !== stats.name);
    expect(other, 'another route, with no errors, in the same run').toBeDefined();
    const pass = await runZerotel(['report', '--fail-on', `${other.name}:error-spans`, out]);
    expect(pass.code).toBe(0);
    const trip = await runZerotel(['report', '--fail-on', `${stats.name}:error-spans`, out]);
    expect(trip.code).toBe(3);
  });
});

describe('zerotel run with other commands', () => {
  it('passes on the command\'s exit code, and hands the preload and the exporter over in the environment', async () => {
    const out = path.join(tmp, 'env');
    const r = await runZerotel(['run', '--out', out, process.execPath, path.join(CLI_FIXTURES, 'print-env.js')], {
      env: { NODE_OPTIONS: '--max-old-space-size=200', OTEL_TRACES_EXPORTER: 'console' },
    });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      NODE_OPTIONS: `--max-old-space-size=200 --require ${REGISTER}`,
      OTEL_TRACES_EXPORTER: 'console,file',
      OTEL_EXPORTER_FILE_PATH: out + path.sep,
    });
    const exit = await runZerotel(['run', '--quiet', '--out', path.join(tmp, 'exit7'), '--', process.execPath, '-e', 'process.exit(7)']);
    expect(exit.code).toBe(7);
    expect(exit.stderr).toContain('zerotel: no spans were recorded.');
    // No trace file: no empty directory left behind, and no hint pointing at one.
    expect(fs.existsSync(path.join(tmp, 'exit7'))).toBe(false);
    const loud = await runZerotel(['run', '--out', path.join(tmp, 'exit8'), '--', process.execPath, '-e', 'process.exit(8)']);
    expect(loud.code).toBe(8);
    expect(loud.stderr).toContain('zerotel: the command exited with code 8\n');
    expect(loud.stderr).not.toContain('see this report again');
    // Quiet, a tripped rule still says what the command's own exit code was.
    const gated = await runZerotel(['run', '--quiet', '--fail-on', 'GET /never:error-spans', '--out', path.join(tmp, 'exit9'), '--', process.execPath, '-e', 'process.exit(9)']);
    expect(gated.code).toBe(3);
    expect(gated.stderr).toContain('zerotel: the command exited with code 9; exiting with code 3');
  });

  it('runs a single quoted command line through the shell', async () => {
    const r = await runZerotel(['run', '--quiet', '--out', path.join(tmp, 'shell'), `"${process.execPath}" -e "process.exit(5)"`]);
    expect(r.code).toBe(5);
  });

  it('exits 127 when the command does not exist, 2 without a command', async () => {
    const missing = await runZerotel(['run', '--out', path.join(tmp, 'missing'), 'no-such-command-zerotel']);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toContain('zerotel run: cannot run no-such-command-zerotel');
    expect(fs.existsSync(path.join(tmp, 'missing'))).toBe(false);
    const none = await runZerotel(['run', '--fail-on', 'error-spans']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('name the command to run');
  });

  it('traces an ES module app with the same single --require flag', async () => {
    const out = path.join(tmp, 'esm');
    const r = await runZerotel(['run', '--out', out, process.execPath, path.join(CLI_FIXTURES, 'esm-app.mjs')]);
    expect(r.code, r.stderr).toBe(0);
    const server = serverSpans(readTraceDir(out).spans);
    expect(server.map((s) => s.attributes['url.path'])).toEqual(['/esm-path']);
  });

  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    it(`forwards ${signal} to the command, still reports, and exits as the command did (${code})`, async () => {
      const out = path.join(tmp, `signal-${signal}`);
      let sent = false;
      const r = await runZerotel(['run', '--out', out, process.execPath, path.join(CLI_FIXTURES, 'wait-for-signal.js')], {
        onStdout: (text, child) => {
          if (!sent && text.includes('ready')) {
            sent = true;
            child.kill(signal);
          }
        },
      });
      expect(sent).toBe(true);
      expect(r.code).toBe(code);
      expect(r.stderr).toContain(`zerotel: the command was ended by ${signal};`);
      // The agent in the command flushed on the signal: the request made before it is in the report.
      expect(serverSpans(readTraceDir(out).spans).map((s) => s.attributes['url.path'])).toEqual(['/before-signal']);
      expect(r.stderr).toContain('2 spans in 1 trace');
    });
  }
});

describe('run helpers', () => {
  it('adds the preload to NODE_OPTIONS once, quoted when the path has spaces', () => {
    expect(withPreload(undefined, '/a/register.js')).toBe('--require /a/register.js');
    expect(withPreload('  --inspect ', '/a/register.js')).toBe('--inspect --require /a/register.js');
    expect(withPreload('--require /a/register.js', '/a/register.js')).toBe('--require /a/register.js');
    expect(withPreload('', '/my dir/"x"/register.js')).toBe('--require "/my dir/\\"x\\"/register.js"');
  });

  it('puts the file exporter beside whatever exporters were chosen', () => {
    expect(withFileExporter(undefined)).toBe('file');
    expect(withFileExporter('none')).toBe('file');
    expect(withFileExporter('otlp, console')).toBe('otlp,console,file');
    expect(withFileExporter('FILE,otlp')).toBe('FILE,otlp');
  });

  it('names run directories by their UTC start time', () => {
    expect(runDirectoryName(new Date(Date.UTC(2025, 1, 3, 4, 5, 6, 7)))).toBe('run-2025-02-03T04-05-06-007Z');
  });
});
