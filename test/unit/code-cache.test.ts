import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { optionsKeyOf } from '../../src/agent/code-cache';

// The agent's runtime bundle is compiled from a V8 code cache kept beside it (src/agent/code-cache.ts). Each test
// works on its own copy of the package, so that the caches it makes and breaks are its own.
const ROOT = join(__dirname, '..', '..');

// Loads http (the first instrumented module: it brings runtime.js in), makes one traced request to itself, and
// says whether runtime.js is in Node's module cache under its own name, as `require` would have put it.
const APP = `
const http = require('node:http');
const runtimeFile = require('node:path').join(process.env.PACKAGE_DIR, 'dist', 'runtime.js');
const server = http.createServer((req, res) => res.end('ok')).listen(0, '127.0.0.1', () => {
  http.get('http://127.0.0.1:' + server.address().port + '/', (res) => {
    res.resume();
    res.on('end', () => {
      console.log('runtime in module cache: ' + (require.cache[runtimeFile] !== undefined));
      server.close();
    });
  });
});
`;

let packageDir: string;
let cacheDir: string;

beforeEach(() => {
  packageDir = join(mkdtempSync(join(tmpdir(), 'zerotel-code-cache-')), 'zerotel');
  cpSync(join(ROOT, 'register.js'), join(packageDir, 'register.js'));
  cpSync(join(ROOT, 'package.json'), join(packageDir, 'package.json'));
  cpSync(join(ROOT, 'dist'), join(packageDir, 'dist'), { recursive: true, filter: (src) => !src.includes('.code-cache') });
  symlinkSync(join(ROOT, 'node_modules'), join(packageDir, 'node_modules'));
  cacheDir = join(packageDir, 'dist', '.code-cache');
});

afterEach(() => {
  rmSync(join(packageDir, '..'), { recursive: true, force: true });
});

function run(extraEnv: Record<string, string> = {}, nodeArgs: string[] = []): { status: number | null; output: string } {
  const r = spawnSync(process.execPath, [...nodeArgs, '--require', join(packageDir, 'register.js'), '-e', APP], {
    env: {
      PATH: process.env.PATH,
      PACKAGE_DIR: packageDir,
      OTEL_TRACES_EXPORTER: 'console',
      OTEL_LOG_LEVEL: 'debug',
      OTEL_SERVICE_NAME: 'code-cache-check',
      NO_COLOR: '1',
      ...extraEnv,
    },
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { status: r.status, output: r.stdout + r.stderr };
}

/** The run went as it would without any cache: both spans exported, runtime.js registered as `require` would. */
function expectTraced(result: { status: number | null; output: string }): void {
  expect(result.status).toBe(0);
  expect(result.output).toMatch(/trace [0-9a-f]{32} \u00b7 2 spans \u00b7 .* \u00b7 code-cache-check/);
  expect(result.output).toContain('runtime in module cache: true');
}

const cacheFiles = (): string[] => (existsSync(cacheDir) ? readdirSync(cacheDir).filter((f) => f.endsWith('.bin')) : []);

describe('the runtime bundle code cache', () => {
  it('is made by the first process and used by the next, which traces the same', () => {
    const first = run();
    expectTraced(first);
    expect(first.output).toContain('code cache: wrote');
    const files = cacheFiles();
    expect(files).toHaveLength(1);
    expect(files[0]).toContain(`-${process.versions.v8}-${process.arch}.bin`);

    const second = run();
    expectTraced(second);
    expect(second.output).toMatch(/code cache: compiled .*runtime\.js from .*\.code-cache/);
    expect(second.output).not.toContain('code cache: wrote');
  });

  it('that V8 rejects (a damaged file) is compiled around, replaced, and the replacement used', () => {
    expectTraced(run());
    const [name] = cacheFiles();
    const garbage = Buffer.alloc(readFileSync(join(cacheDir, name)).length, 0x5a);
    writeFileSync(join(cacheDir, name), garbage);

    const result = run();
    expectTraced(result);
    expect(result.output).toContain('code cache: V8 rejected');
    expect(result.output).toContain('code cache: wrote');
    expect(readFileSync(join(cacheDir, name)).equals(garbage)).toBe(false);

    const next = run();
    expectTraced(next);
    expect(next.output).toMatch(/code cache: compiled .*runtime\.js from .*\.code-cache/);
    expect(next.output).not.toContain('code cache: wrote');
  });

  it('is kept apart for a process started with other V8 flags, which V8 would reject the other cache for', () => {
    // --stack-trace-limit is a V8 flag (changing v8.cachedDataVersionTag() on Node.js 20, 22 and 24): a cache made
    // under it does not fit a process without it, nor the other way round.
    const withFlag = ['--stack-trace-limit=20'];
    expectTraced(run({}, withFlag));
    const [flagged] = cacheFiles();
    expect(flagged).toMatch(new RegExp(`-${process.versions.v8}-${process.arch}-o[0-9a-f]{8}\\.bin$`));

    const plain = run();
    expectTraced(plain);
    expect(plain.output).not.toContain('code cache: V8 rejected');
    expect(plain.output).toContain('code cache: wrote');
    expect(cacheFiles().sort()).toEqual([flagged, flagged.replace(/-o[0-9a-f]{8}\.bin$/, '.bin')].sort());

    // each kind of process now compiles from its own, with no further writes (the same options, NODE_OPTIONS
    // or the command line, are the same key)
    for (const again of [run(), run({}, withFlag), run({ NODE_OPTIONS: '--stack-trace-limit=20' })]) {
      expectTraced(again);
      expect(again.output).toMatch(/code cache: compiled .*runtime\.js from .*\.code-cache/);
      expect(again.output).not.toContain('code cache: wrote');
    }
    expect(cacheFiles()).toHaveLength(2);
  });

  it('keeps at most eight caches of one build, the least recently written going first', () => {
    expectTraced(run());
    const [plain] = cacheFiles();
    // eight caches of other sets of options, written earlier than the plain one, the first the oldest
    const others = Array.from({ length: 8 }, (_, i) => plain.replace(/\.bin$/, `-o${String(i).padStart(8, '0')}.bin`));
    others.forEach((name, i) => {
      cpSync(join(cacheDir, plain), join(cacheDir, name));
      const when = new Date(Date.now() - (100 - i) * 60_000);
      utimesSync(join(cacheDir, name), when, when);
    });

    const result = run({}, ['--stack-trace-limit=20']);
    expectTraced(result);
    expect(result.output).toContain('code cache: wrote');
    const now = cacheFiles();
    expect(now).toHaveLength(8);
    expect(now).not.toContain(others[0]);
    expect(now).not.toContain(others[1]);
    expect(now).toContain(plain);
    expect(now).toContain(others[7]);
  });

  it('that cannot be written costs nothing but the cache', () => {
    // A file where the directory should be: creating the directory fails (as it would when read-only, which a
    // test running as root cannot make it).
    writeFileSync(cacheDir, 'not a directory');
    const result = run();
    expectTraced(result);
    expect(result.output).toContain('code cache: could not write');
    expect(readFileSync(cacheDir, 'utf8')).toBe('not a directory');
  });

  it('of an earlier build of runtime.js is never used, and goes when the new build writes its own', () => {
    expectTraced(run());
    const [old] = cacheFiles();
    // runtime.js changed in place (as a patch applied after installation would change it): a new stamp.
    const later = new Date(Date.now() + 60_000);
    utimesSync(join(packageDir, 'dist', 'runtime.js'), later, later);

    const result = run();
    expectTraced(result);
    expect(result.output).toContain('code cache: wrote');
    expect(result.output).not.toContain('code cache: compiled');
    const now = cacheFiles();
    expect(now).toHaveLength(1);
    expect(now[0]).not.toBe(old);
  });

  it('is not made or read with OTEL_NODE_CODE_CACHE=false', () => {
    const result = run({ OTEL_NODE_CODE_CACHE: 'false' });
    expectTraced(result);
    expect(result.output).not.toContain('code cache:');
    expect(existsSync(cacheDir)).toBe(false);
  });
});

describe('the code cache options key', () => {
  it('leaves out the options that load or run code, with their values, wherever they are given', () => {
    expect(optionsKeyOf([], undefined)).toBe('');
    expect(optionsKeyOf(['--require', '/a/register.js', '-r', 'x', '--import=y', '-e', '-1', '--print', 'z'], ' --require /b.js  --loader=l ')).toBe('');
  });

  it('is the same for the same other options from the command line or NODE_OPTIONS, and differs with them', () => {
    const key = optionsKeyOf(['--stack-trace-limit=20'], undefined);
    expect(key).toMatch(/^-o[0-9a-f]{8}$/);
    expect(optionsKeyOf(['--require', 'x'], '--stack-trace-limit=20')).toBe(key);
    expect(optionsKeyOf([], '  --stack-trace-limit=20   --require /r.js')).toBe(key);
    expect(optionsKeyOf(['--stack-trace-limit=21'], undefined)).not.toBe(key);
    expect(optionsKeyOf(['--stack-trace-limit=20', '--max-old-space-size=100'], undefined)).not.toBe(key);
  });
});
