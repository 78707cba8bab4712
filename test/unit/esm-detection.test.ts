/**
 * How the agent decides that an application uses ES modules (src/agent/esm-loader.ts): on a wrong "no", an ES
 * module application's imports of node:http and node:https are not instrumented on any Node.js version.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { applicationUsesEsm } from '../../src/agent/esm-loader';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zerotel-esm-detection-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/**
 * applicationUsesEsm for a process whose main script is `entry` (or, for `node -e`, that runs `script`), with no
 * flags saying either way.
 */
function decide(entry: string | undefined, script?: string): boolean {
  const argv = process.argv;
  const execArgv = process.execArgv;
  const proc = process as { _eval?: string };
  const evalScript = proc._eval;
  process.argv = entry === undefined ? [argv[0]] : [argv[0], entry];
  process.execArgv = [];
  proc._eval = script;
  try {
    return applicationUsesEsm(undefined, undefined);
  } finally {
    process.argv = argv;
    process.execArgv = execArgv;
    proc._eval = evalScript;
  }
}

function write(rel: string, text: string): string {
  const file = path.join(dir, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}

describe('ES module detection', () => {
  // A package.json without "type": Node.js decides from the file's syntax.
  write('typeless/package.json', '{"name":"typeless"}');

  it('a .js entry with module syntax, in a package without "type"', () => {
    expect(decide(write('typeless/app.js', "import http from 'node:http';\n"))).toBe(true);
    expect(decide(write('typeless/app-cjs.js', "const http = require('node:http');\n"))).toBe(false);
  });

  it('a .ts entry with module syntax, in a package without "type" (Node.js type stripping runs it as an ES module)', () => {
    expect(decide(write('typeless/app.ts', "import { request } from 'node:http';\nconst n: number = 1;\n"))).toBe(true);
    expect(decide(write('typeless/app-cjs.ts', "const http = require('node:http');\nconst n: number = 1;\n"))).toBe(false);
    // TypeScript's CommonJS import (tsx, ts-node) is no module syntax
    expect(decide(write('typeless/app-import-require.ts', "import http = require('node:http');\n"))).toBe(false);
  });

  it('a .ts entry follows its package\'s "type"', () => {
    write('typed/package.json', '{"type":"module"}');
    expect(decide(write('typed/app.ts', "const n: number = 1;\n"))).toBe(true);
    write('commonjs/package.json', '{"type":"commonjs"}');
    expect(decide(write('commonjs/app.ts', "import http = require('node:http');\n"))).toBe(false);
  });

  it('a -e script with module syntax (Node.js 22.7+ runs it as an ES module)', () => {
    expect(decide(undefined, "import { get } from 'node:http'; get('http://127.0.0.1:1/');")).toBe(true);
    expect(decide(undefined, "require('node:http').get('http://127.0.0.1:1/');")).toBe(false);
    expect(decide(undefined, "import('node:http').then((http) => http.get('http://127.0.0.1:1/'));")).toBe(false);
    expect(decide(undefined, undefined)).toBe(false);
  });
});
