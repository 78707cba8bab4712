/**
 * The README's demo (`npm run demo`), as package.json's "demo" script says to run it, for the tests that run it
 * without npm in between: test/integration/demo.test.ts and the console exporter's terminal test.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from './child';

export interface DemoCommand {
  env: Record<string, string>;
  /** Node flags before the app (the preload). */
  nodeArgs: string[];
  /** The app, relative to the package root, where the script runs. */
  app: string;
}

/** package.json's "demo" script as environment, node arguments and the app: `VAR=value … node <flags…> <app>`. */
export function demoCommand(): DemoCommand {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const script: string = pkg.scripts.demo;
  const words = script.split(/\s+/);
  const env: Record<string, string> = {};
  while (words.length > 0 && /^[A-Z_][A-Z0-9_]*=/.test(words[0])) {
    const word = words.shift()!;
    const eq = word.indexOf('=');
    env[word.slice(0, eq)] = word.slice(eq + 1);
  }
  // Anything else (another runner, a shell pipeline…) is not what the tests know how to run: they must change with it.
  if (words[0] !== 'node' || words.length < 2) throw new Error(`the demo script is not \`VAR=value … node … app\`: ${script}`);
  return { env, nodeArgs: words.slice(1, -1), app: words[words.length - 1] };
}

/** The demo's stdout with what changes from run to run (trace ids, durations, the port) made fixed. */
export function normalizeDemoOutput(stdout: string): string {
  return stdout
    .replace(/^trace [0-9a-f]{32} /gm, 'trace <id> ')
    .replace(/\b\d+(\.\d+)? (µs|ms|s)\b/g, '<t>')
    .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:<port>');
}

/** What the demo prints, after normalizeDemoOutput: the /hello trace (which calls /world), then the 404 one. */
export const DEMO_OUTPUT = [
  'trace <id> · 4 spans · <t> · hello-demo',
  '  GET client <t> url.full=http://127.0.0.1:<port>/hello http.response.status_code=200',
  '  └─ GET server <t> url.path=/hello http.response.status_code=200',
  '     └─ GET client <t> url.full=http://127.0.0.1:<port>/world?from=hello http.response.status_code=200',
  '        └─ GET server <t> url.path=/world http.response.status_code=200',
  '',
  'trace <id> · 2 spans · <t> · hello-demo',
  '  GET client <t> ERROR url.full=http://127.0.0.1:<port>/missing http.response.status_code=404 error.type=404',
  '  └─ GET server <t> url.path=/missing http.response.status_code=404',
  '',
  '',
].join('\n');
