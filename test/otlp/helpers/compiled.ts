/**
 * Child-process tests run the agent's code as plain Node would: the sources under src/ are transpiled (no type
 * check, TypeScript's transpileModule) into a temporary directory once per test file.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import ts from 'typescript';

const REPO = path.join(__dirname, '..', '..', '..');

function transpileDir(from: string, to: string): void {
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const src = path.join(from, entry.name);
    if (entry.isDirectory()) transpileDir(src, path.join(to, entry.name));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
      const out = ts.transpileModule(fs.readFileSync(src, 'utf8'), {
        compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
        fileName: src,
      });
      fs.mkdirSync(to, { recursive: true });
      fs.writeFileSync(path.join(to, entry.name.replace(/\.ts$/, '.js')), out.outputText);
    }
  }
}

/** Compiles src/ into a fresh directory; returns that directory (its src/ holds the .js files). */
export function compileAgent(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zerotel-otlp-'));
  transpileDir(path.join(REPO, 'src'), path.join(dir, 'src'));
  // version.ts reads the package.json next to the compiled tree.
  fs.copyFileSync(path.join(REPO, 'package.json'), path.join(dir, 'package.json'));
  return dir;
}

export interface ChildRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `script` (CommonJS source) with `node`; AGENT is the compiled src/ directory. Killed after `limitMs`. */
export function runNode(dir: string, script: string, env: Record<string, string> = {}, limitMs = 15_000): Promise<ChildRun> {
  const file = path.join(dir, `script-${Math.random().toString(36).slice(2)}.js`);
  fs.writeFileSync(file, `const AGENT = ${JSON.stringify(path.join(dir, 'src'))};\n${script}`);
  return new Promise((resolve) => {
    const start = Date.now();
    const child = spawn(process.execPath, [file], {
      env: { ...process.env, NODE_PATH: path.join(REPO, 'node_modules'), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr, ms: Date.now() - start });
    });
  });
}
