/**
 * The preload as users run it: `node --require register.js …` on real child processes, exporting to a real
 * OTLP receiver.
 */
import * as fs from 'node:fs';
import module from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REGISTER, ROOT, runApp } from '../helpers/child';
import { Receiver } from '../helpers/receiver';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'preload');
const script = path.join(FIXTURES, 'script.js');

let receiver: Receiver;
beforeAll(async () => {
  receiver = await Receiver.start();
});
afterAll(() => receiver.close());

describe('the preload', () => {
  it('traces a script and flushes its spans before it exits, printing nothing when healthy', async () => {
    receiver.clear();
    const r = await runApp(script, { env: receiver.env({ OTEL_SERVICE_NAME: 'script', OTEL_BSP_SCHEDULE_DELAY: '60000' }) });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('done patched=true\n');
    expect(r.stderr).toBe('');
    // the batch delay is a minute: these arrived through the flush at the end of the program
    const spans = receiver.spans;
    expect(spans.filter((s) => s.kind === 1)).toHaveLength(2);
    expect(spans.filter((s) => s.kind === 2)).toHaveLength(2);
    expect(spans[0].resource['service.name']).toBe('script');
    expect(spans[0].resource['telemetry.sdk.name']).toBe('zerotel');
  });

  it('instruments an ES module application with the same single flag', async () => {
    receiver.clear();
    const r = await runApp(path.join(FIXTURES, 'esm-script.mjs'), { env: receiver.env({ OTEL_SERVICE_NAME: 'esm' }) });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(receiver.spans.map((s) => `${s.kind}:${s.name}`).sort()).toEqual(['1:GET', '2:GET']);
    const server = receiver.spans.find((s) => s.kind === 1)!;
    const client = receiver.spans.find((s) => s.kind === 2)!;
    expect(server.parentSpanId).toBe(client.spanId);
    expect(server.attributes['url.path']).toBe('/esm');
  });

  it('an ES module app starts no loader thread: the import hook runs in its own thread where Node.js can run it there, else the CommonJS loader serves', async () => {
    // import-in-the-middle knows which Node.js versions run module.registerHooks hooks correctly.
    const { supportsSyncHooks } = (await import('import-in-the-middle/supports-sync-hooks.mjs')) as { supportsSyncHooks(): boolean };
    const inThread = typeof (module as { registerHooks?: unknown }).registerHooks === 'function' && supportsSyncHooks();
    const app = path.join(FIXTURES, 'esm-threads.mjs');
    const threads = (r: { stdout: string }) => Number(/threads=(\d+)/.exec(r.stdout)?.[1]);
    const without = await runApp(app, { nodeArgs: [] });
    receiver.clear();
    const under = await runApp(app, { env: receiver.env({ OTEL_LOG_LEVEL: 'debug' }) });
    expect(under.code).toBe(0);
    // A loader thread (module.register) would be one thread more than the same app without the agent. (Not an
    // exact 0: on a loaded machine Node.js 22 was once seen with one thread fewer under the agent than without,
    // a thread of its own not yet started or already gone when the app counted.)
    expect(threads(under) - threads(without)).toBeLessThanOrEqual(0);
    expect(under.stderr.includes('ES module hook: in-thread (module.registerHooks)')).toBe(inThread);
    expect(under.stderr.includes('ES module imports: instrumented through the CommonJS loader (no loader thread)')).toBe(!inThread);
    // and the import was instrumented either way
    expect(receiver.spans.map((s) => `${s.kind}:${s.name}`).sort()).toEqual(['1:GET', '2:GET']);
  });

  it("instruments a package a CommonJS program loads with import()", async () => {
    receiver.clear();
    const r = await runApp(path.join(FIXTURES, 'cjs-dynamic-import.js'), { env: receiver.env() });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const server = receiver.spans.find((s) => s.kind === 1);
    expect(server?.name).toBe('GET /items/:id');
    expect(server?.attributes['http.route']).toBe('/items/:id');
  });

  it("traces an ES module's named imports of node:http bound before the agent patched it (a CommonJS entry that import()s the app)", async () => {
    receiver.clear();
    const r = await runApp(path.join(FIXTURES, 'cjs-imports-esm-app.js'), { env: receiver.env() });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('done\n');
    expect(r.stderr).toBe('');
    const clients = receiver.spans.filter((s) => s.kind === 2);
    const servers = receiver.spans.filter((s) => s.kind === 1);
    expect(servers.map((s) => s.attributes['url.path']).sort()).toEqual(['/named-get', '/named-request', '/namespace-get']);
    expect(clients).toHaveLength(3);
    for (const server of servers) expect(clients.map((c) => c.spanId)).toContain(server.parentSpanId);
  });

  it('an ES module application requiring built-ins from a module without a file name runs as without the agent', async () => {
    const app = path.join(FIXTURES, 'esm-parentless-require.mjs');
    const without = await runApp(app, { nodeArgs: [] });
    expect(without.stdout).toBe('function function function function\n');
    receiver.clear();
    for (const nodeArgs of [['--require', REGISTER], ['--import', REGISTER]]) {
      const r = await runApp(app, { nodeArgs, env: receiver.env() });
      expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 0, stdout: without.stdout, stderr: '' });
    }
  });

  it('instruments an ES module application alongside another copy of import-in-the-middle with its loader (@sentry/node registers one)', async () => {
    // Another library's own copy of import-in-the-middle (another version, so not deduplicated), whose loader
    // hook it registers itself, as @sentry/node and the OpenTelemetry auto-instrumentation's `register` do.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zerotel-other-iitm-'));
    try {
      const modules = path.join(dir, 'node_modules');
      fs.cpSync(path.join(ROOT, 'node_modules', 'import-in-the-middle'), path.join(modules, 'import-in-the-middle'), { recursive: true });
      for (const dep of ['cjs-module-lexer', 'es-module-lexer', 'module-details-from-path']) {
        fs.symlinkSync(path.join(ROOT, 'node_modules', dep), path.join(modules, dep), 'dir');
      }
      const other = path.join(dir, 'other-loader.mjs');
      fs.writeFileSync(other, "import { register } from 'node:module';\nregister('import-in-the-middle/hook.mjs', import.meta.url);\n");
      const app = path.join(FIXTURES, 'esm-express.mjs');
      for (const nodeArgs of [
        ['--require', REGISTER, '--import', other],
        ['--import', other, '--import', REGISTER],
      ]) {
        receiver.clear();
        const r = await runApp(app, { nodeArgs, env: receiver.env() });
        expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 0, stdout: 'item 7\n', stderr: '' });
        const server = receiver.spans.find((s) => s.kind === 1);
        expect(server?.name).toBe('GET /items/:id');
        expect(receiver.spans.filter((s) => s.name === 'request handler - /items/:id')).toHaveLength(1);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('given as a module loader (--experimental-loader), which runs it in a thread of its own, it says the app is not traced', async () => {
    const warning = 'zerotel warn: zerotel was given to Node.js as a module loader (--loader/--experimental-loader)';
    receiver.clear();
    const r = await runApp(path.join(FIXTURES, 'esm-script.mjs'), { nodeArgs: ['--no-warnings', '--experimental-loader', REGISTER], env: receiver.env() });
    expect(r.code).toBe(0);
    expect(r.stderr.split('\n').filter((line) => line.startsWith(warning))).toHaveLength(1);
    // a preload runs in the loader thread too: beside another loader there is nothing to say
    receiver.clear();
    const beside = await runApp(path.join(FIXTURES, 'esm-script.mjs'), {
      nodeArgs: ['--no-warnings', '--require', REGISTER, '--experimental-loader', 'data:text/javascript,export {}'],
      env: receiver.env(),
    });
    expect({ code: beside.code, stderr: beside.stderr }).toEqual({ code: 0, stderr: '' });
    expect(receiver.spans).toHaveLength(2);
  });

  it('works with --import as well', async () => {
    receiver.clear();
    const r = await runApp(script, { nodeArgs: ['--import', REGISTER], env: receiver.env() });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('done patched=true\n');
    expect(receiver.spans).toHaveLength(4);
  });

  it('OTEL_SDK_DISABLED=true: nothing patched, nothing exported', async () => {
    receiver.clear();
    const r = await runApp(script, { env: receiver.env({ OTEL_SDK_DISABLED: 'true' }) });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('done patched=false\n');
    expect(receiver.requests).toHaveLength(0);
  });

  it('OTEL_SDK_DISABLED=true leaves OTEL_PROPAGATORS in force for an application propagating through @opentelemetry/api', async () => {
    const app = path.join(FIXTURES, 'api-user', 'app.js');
    const without = await runApp(app, { nodeArgs: [], env: receiver.env({}) });
    expect(JSON.parse(without.stdout)).toEqual({ carrier: {}, extracted: null, recording: false });
    receiver.clear();
    const r = await runApp(app, { env: receiver.env({ OTEL_SDK_DISABLED: 'true', OTEL_PROPAGATORS: 'b3,baggage' }) });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({
      carrier: { b3: '0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1', baggage: 'tenant=a%20b' },
      extracted: '0af7651916cd43dd8448eb211c80319c',
      recording: false, // still no tracing
    });
    expect(receiver.requests).toHaveLength(0);
  });

  it('warns, once per package and naming it, about an instrumented package loaded before the agent', async () => {
    const late = path.join(os.tmpdir(), `zerotel-late-${process.pid}.js`);
    fs.writeFileSync(
      late,
      `require(${JSON.stringify(require.resolve('pg'))});\nrequire(${JSON.stringify(require.resolve('pg'))});\n` +
        `require(${JSON.stringify(require.resolve('express'))});\nrequire(${JSON.stringify(REGISTER)});\nconsole.log('ran');\n`,
    );
    try {
      const r = await runApp(late, { nodeArgs: [], env: receiver.env() });
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('ran\n');
      const warnings = r.stderr.split('\n').filter((line) => line.includes('was loaded before zerotel'));
      expect(warnings.map((line) => line.split(' was loaded')[0].replace(/^zerotel warn: /, '')).sort()).toEqual(['express', 'pg', 'pg-pool']);
      expect(warnings[0]).toContain('Start the agent first: node --require zerotel/register app.js');
    } finally {
      fs.rmSync(late, { force: true });
    }
  });

  it('instruments a package another preload loaded before the agent, and says what may escape', async () => {
    // On Node.js 20 an ES module's import of a CommonJS package already in the cache passes no hook at all.
    receiver.clear();
    const r = await runApp(path.join(FIXTURES, 'esm-express.mjs'), {
      nodeArgs: ['--require', require.resolve('express'), '--require', REGISTER],
      env: receiver.env(),
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('item 7\n');
    expect(r.stderr.split('\n').filter((line) => line !== '')).toEqual([
      'zerotel warn: express was loaded before zerotel: it is instrumented from now on, but what the application made with it ' +
        'before may not be traced. Start the agent first: node --require zerotel/register app.js (or put it first in NODE_OPTIONS)',
    ]);
    expect(receiver.spans.find((s) => s.kind === 1)?.name).toBe('GET /items/:id');
  });

  it('an ES module app that imports the agent in code after express and node:http is traced (the built-in too, on every Node.js)', async () => {
    receiver.clear();
    const r = await runApp(path.join(FIXTURES, 'esm-agent-imported-last.mjs'), { nodeArgs: [], env: receiver.env() });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('item 7\n');
    expect(r.stderr).toMatch(/^zerotel warn: express was loaded before zerotel: it is instrumented from now on/);
    const spans = await receiver.waitFor((all) => all.length >= 2);
    const server = spans.find((s) => s.kind === 1);
    const client = spans.find((s) => s.kind === 2);
    expect(server?.name).toBe('GET /items/:id');
    // the named import `get`, bound before the agent started, makes the client span, parent of the server span
    expect(client?.name).toBe('GET');
    expect(server?.parentSpanId).toBe(client?.spanId);
  });

  it('loaded twice (two copies, or --require and --import): one agent, no double spans', async () => {
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'zerotel-copy-'));
    fs.cpSync(path.join(ROOT, 'dist'), path.join(copy, 'dist'), { recursive: true });
    fs.copyFileSync(REGISTER, path.join(copy, 'register.js'));
    fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(copy, 'package.json'));
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'));
    for (const nodeArgs of [
      ['--require', REGISTER, '--require', path.join(copy, 'register.js')],
      ['--require', REGISTER, '--import', REGISTER],
    ]) {
      receiver.clear();
      const r = await runApp(script, { nodeArgs, env: receiver.env({ OTEL_LOG_LEVEL: 'debug' }) });
      expect(r.code).toBe(0);
      expect(receiver.spans).toHaveLength(4);
      if (nodeArgs.includes(path.join(copy, 'register.js'))) expect(r.stderr).toMatch(/already running in this process; this copy .* steps aside/);
    }
    fs.rmSync(copy, { recursive: true, force: true });
  });

  it('prints nothing at the default level (warn), and the effective configuration in one line at info', async () => {
    const quiet = await runApp(script, { env: receiver.env({}) });
    expect(quiet.stderr).toBe('');
    const r = await runApp(script, {
      env: receiver.env({
        OTEL_LOG_LEVEL: 'info',
        OTEL_SERVICE_NAME: 'checkout',
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.5',
        OTEL_PROPAGATORS: 'tracecontext,b3',
        OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'fetch',
      }),
    });
    const lines = r.stderr.split('\n').filter((l) => l.includes('started'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^zerotel info: zerotel \d+\.\d+\.\d+ started: /);
    // info is the configuration line only: the modules patched are debug's
    expect(r.stderr.split('\n').filter(Boolean)).toEqual(lines);
    expect(lines[0]).toContain('service checkout');
    expect(lines[0]).toContain(`otlp (http/json → ${receiver.url})`);
    expect(lines[0]).toContain('sampler ParentBased{root=TraceIdRatioBased{0.5}}');
    expect(lines[0]).toContain('propagators tracecontext,b3');
    expect(lines[0]).toMatch(/instrumentations http(,|;)/);
    expect(lines[0]).not.toMatch(/instrumentations[^;]*fetch/);
  });

  it('warns about bad values, naming the variable and the fallback, and the app runs', async () => {
    receiver.clear();
    const r = await runApp(script, { env: receiver.env({ OTEL_BSP_MAX_QUEUE_SIZE: 'lots', OTEL_TRACES_SAMPLER: 'sometimes' }) });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('done patched=true\n');
    expect(r.stderr).toContain('zerotel warn: OTEL_BSP_MAX_QUEUE_SIZE="lots" is not an integer; using 2048 instead');
    expect(r.stderr).toContain('OTEL_TRACES_SAMPLER="sometimes"');
    expect(receiver.spans).toHaveLength(4);
  });

  it('runs and serves with every kind of variable set to garbage at once, one warning each, the valid parts applied', async () => {
    receiver.clear();
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'zerotel-garbage-'));
    try {
      // Each of these is wrong in whole or in part; what is valid in a list must still apply.
      const garbage: Record<string, string> = {
        OTEL_SDK_DISABLED: 'yes please',
        OTEL_LOG_LEVEL: 'loud',
        OTEL_TRACES_EXPORTER: 'otlp,zipkin,file',
        OTEL_TRACES_SAMPLER: 'sometimes',
        OTEL_PROPAGATORS: 'xray,tracecontext',
        OTEL_RESOURCE_ATTRIBUTES: 'team=a,broken',
        OTEL_NODE_RESOURCE_DETECTORS: 'gcp,env',
        OTEL_NODE_RESOURCE_PROCESS_COMMAND_ARGS: '1',
        OTEL_BSP_MAX_QUEUE_SIZE: 'lots',
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '2.5',
        OTEL_BSP_EXPORT_TIMEOUT: '-1',
        OTEL_ATTRIBUTE_COUNT_LIMIT: '-1',
        OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: 'long',
        OTEL_SPAN_EVENT_COUNT_LIMIT: 'NaN',
        OTEL_SPAN_LINK_COUNT_LIMIT: '1.5',
        // The TRACES endpoint and protocol (the receiver's) are valid; the general settings are not.
        OTEL_EXPORTER_OTLP_TIMEOUT: 'soon',
        OTEL_EXPORTER_OTLP_COMPRESSION: 'brotli',
        OTEL_EXPORTER_OTLP_HEADERS: 'no-equals-sign,x-ok=1',
        OTEL_EXPORTER_OTLP_INSECURE: 'maybe',
        OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,htp',
        OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'fech',
        OTEL_INSTRUMENTATION_HTTP_SERVER_CAPTURE_REQUEST_HEADERS: 'bad header,x:y,Host',
        OTEL_INSTRUMENTATION_HTTP_CLIENT_CAPTURE_RESPONSE_HEADERS: '(none)',
        OTEL_INSTRUMENTATION_HTTP_SERVER_EXCLUDED_PATHS: 'n1,/n1,/api/*/x',
        OTEL_INSTRUMENTATION_EXPRESS_MIDDLEWARE_SPANS: 'some',
        OTEL_INSTRUMENTATION_COMMON_DB_STATEMENT_SANITIZER_ENABLED: 'nah',
        OTEL_INSTRUMENTATION_PG_POOL_CONNECT_SPANS: 'sometimes',
        OTEL_INSTRUMENTATION_REDIS_QUERY_TEXT: 'everything',
        OTEL_NODE_EXIT_FLUSH_TIMEOUT: '-1',
        OTEL_NODE_SHUTDOWN_TIMEOUT: 'forever',
        OTEL_NODE_ESM_HOOK: 'auto-ish',
        OTEL_NODE_CODE_CACHE: '0',
      };
      // A path under directories that do not exist yet: the README says they are made as needed.
      const file = path.join(out, 'a', 'b', 'traces.jsonl');
      const r = await runApp(script, { env: receiver.env({ ...garbage, OTEL_EXPORTER_FILE_PATH: file, OTEL_EXPORTER_OTLP_CERTIFICATE: path.join(out, 'no-such-ca.pem') }) });
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('done patched=true\n');
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      // Nothing but warnings: no error, no stack.
      for (const line of lines) expect(line).toMatch(/^zerotel warn: /);
      for (const name of Object.keys(garbage)) {
        const about = lines.filter((l) => new RegExp(`^zerotel warn: ${name}[=: ]`).test(l));
        expect(about.length, `${name}: ${about.join(' | ')}`).toBe(1);
      }
      expect(lines.filter((l) => l.includes('no-such-ca.pem'))).toHaveLength(1);
      expect(lines).toHaveLength(Object.keys(garbage).length + 1);

      // Served and traced: http on (the known name in the enabled list), /n1 excluded (the valid entry), the Host
      // header captured (the valid name), the resource attribute list ignored whole (resource/sdk.md).
      const spans = receiver.spans;
      expect(spans.filter((s) => s.kind === 2).map((s) => s.attributes['url.full'].replace(/:\d+/, ''))).toEqual([
        'http://127.0.0.1/n0',
        'http://127.0.0.1/n1',
      ]);
      const servers = spans.filter((s) => s.kind === 1);
      expect(servers.map((s) => s.attributes['url.path'])).toEqual(['/n0']);
      expect(servers[0].attributes['http.request.header.host']).toEqual([expect.stringMatching(/^127\.0\.0\.1:\d+$/)]);
      expect(servers[0].resource.team).toBeUndefined();
      // The same spans went to the file, under the directories it made.
      const fileSpans = fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .flatMap((l) => JSON.parse(l).resourceSpans.flatMap((rs: any) => rs.scopeSpans.flatMap((ss: any) => ss.spans)));
      expect(fileSpans).toHaveLength(3);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  it('keeps the exit code the program chose', async () => {
    const r = await runApp(script, { env: receiver.env({ EXIT_CODE: '3' }) });
    expect(r.code).toBe(3);
  });

  it('the console exporter prints each trace as a tree', async () => {
    const r = await runApp(script, { env: { OTEL_TRACES_EXPORTER: 'console', OTEL_SERVICE_NAME: 'tree', REQUESTS: '1' } });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/trace [0-9a-f]{32} · 2 spans · [\d.]+ (ms|µs) · tree\n  GET client .*url\.full=http:\/\/127\.0\.0\.1:\d+\/n0 http\.response\.status_code=200\n  └─ GET server .*url\.path=\/n0/);
  });

  it('OTEL_TRACES_EXPORTER=none exports nothing and still propagates context', async () => {
    receiver.clear();
    const r = await runApp(script, { env: receiver.env({ OTEL_TRACES_EXPORTER: 'none' }) });
    expect(r.code).toBe(0);
    expect(receiver.requests).toHaveLength(0);
  });
});

describe('the bridge to @opentelemetry/api', () => {
  it('joins hand-made spans to the agent\'s traces, parent and child both ways', async () => {
    receiver.clear();
    const r = await runApp(path.join(FIXTURES, 'api-bridge.js'), { env: receiver.env({ OTEL_SERVICE_NAME: 'bridge' }) });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const spans = await receiver.waitForCount(4);
    const root = spans.find((s) => s.name === 'manual-root')!;
    const client = spans.find((s) => s.kind === 2)!;
    const server = spans.find((s) => s.kind === 1)!;
    const inHandler = spans.find((s) => s.name === 'manual-in-handler')!;
    expect(root.parentSpanId).toBeUndefined();
    expect(root.attributes['app.kind']).toBe('root');
    expect(root.scope).toEqual({ name: 'my-app', version: '1.2.3' });
    expect(client.parentSpanId).toBe(root.spanId);
    expect(server.parentSpanId).toBe(client.spanId);
    expect(inHandler.parentSpanId).toBe(server.spanId);
    expect(inHandler.attributes['app.step']).toBe('handler');
    for (const s of spans) expect(s.traceId).toBe(root.traceId);
    // the API's propagator is the agent's
    expect(r.stdout).toContain(`injected 00-${root.traceId}-${root.spanId}-01`);
  });
});
