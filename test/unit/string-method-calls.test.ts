import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The agent's code reads characters with a String.prototype.charCodeAt held in a constant, never `s.charCodeAt(i)`:
 * once an application leaves String.prototype in dictionary mode (node-redis 5 does, on Node 20), the method form is
 * a hash-table lookup on every call in optimised code (see charCodeAt in src/exporters/otlp/protobuf-writer.ts).
 */
const ROOT = join(__dirname, '..', '..');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sources(path));
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** The code of a TypeScript file without its comments (good enough for this check: no `//` inside strings here). */
function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
}

describe('string method calls in the agent', () => {
  const files = [...sources(join(ROOT, 'src')), ...sources(join(ROOT, 'instrumentations'))];

  it('finds the sources it checks', () => {
    expect(files.length).toBeGreaterThan(50);
  });

  it('never calls charCodeAt as a method of a string', () => {
    const offenders: string[] = [];
    for (const file of files) {
      const code = withoutComments(readFileSync(file, 'utf8'));
      const lines = code.split('\n');
      lines.forEach((line, i) => {
        if (/[\w\])]\s*\.\s*charCodeAt\s*\(/.test(line)) offenders.push(`${relative(ROOT, file)}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(offenders).toEqual([]);
  });

  it('declares the constant in every module that uses it', () => {
    const missing: string[] = [];
    for (const file of files) {
      const code = withoutComments(readFileSync(file, 'utf8'));
      if (code.includes('charCodeAt.call(') && !/const charCodeAt\b.*= String\.prototype\.charCodeAt;/.test(code)) {
        missing.push(relative(ROOT, file));
      }
    }
    expect(missing).toEqual([]);
  });
});
