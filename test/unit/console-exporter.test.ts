/**
 * The console exporter (src/exporters/console-exporter.ts) colours its trees only when stdout is a terminal. The
 * exporter decides that itself from process.stdout when the agent builds it, so the decision is checked on the
 * demo as users run it: once with stdout a pipe, once on a terminal (`script` from util-linux gives the app a
 * pseudo-terminal). The colour itself is checked in process, through the exporter's constructor.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { SpanKind } from '../../src/api/types';
import { ROOT_CONTEXT, setSpan } from '../../src/context/context';
import { ConsoleSpanExporter } from '../../src/exporters/console-exporter';
import { childEnv, ROOT, runApp, TEST_NODE_FLAGS } from '../helpers/child';
import { DEMO_OUTPUT, demoCommand, normalizeDemoOutput } from '../helpers/demo';
import { finished, memoryProvider } from '../helpers/sdk';

/** Any ANSI escape sequence (ESC [ …): the exporter's colours are SGR sequences. */
const ANSI_ESCAPE = /\u001b\[[0-9;]*[A-Za-z]/;
const stripAnsi = (text: string) => text.replace(/\u001b\[[0-9;]*[A-Za-z]/g, '');

const shellQuote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

/** Runs the demo with stdout (and stderr) on a pseudo-terminal: `script -qec <command> /dev/null`. */
function runDemoOnTerminal(): Promise<{ code: number | null; output: string }> {
  const { env, nodeArgs, app } = demoCommand();
  const command = [process.execPath, ...TEST_NODE_FLAGS, ...nodeArgs, app].map(shellQuote).join(' ');
  const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c) => (output += c));
  child.stderr.on('data', (c) => (output += c));
  const timeout = setTimeout(() => child.kill('SIGKILL'), 20_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject); // no `script` on this machine: the test cannot check a terminal, and says so
    child.on('close', (code) => {
      clearTimeout(timeout);
      // The terminal turns each \n into \r\n.
      resolve({ code, output: output.replace(/\r\n/g, '\n') });
    });
  });
}

describe('console exporter', () => {
  it('writes no ANSI escape sequences when stdout is not a terminal (the demo, piped)', async () => {
    const { env, nodeArgs, app } = demoCommand();
    const r = await runApp(app, { env, nodeArgs, cwd: ROOT });
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(ANSI_ESCAPE);
    expect(r.stdout).toMatch(/^trace [0-9a-f]{32} · 4 spans/);
  });

  it('colours the same trees when stdout is a terminal (the demo under `script`)', async () => {
    const r = await runDemoOnTerminal();
    expect(r.code).toBe(0);
    // Bold headers and names, the duration in cyan, the 404's ERROR in red.
    expect(r.output).toMatch(/\u001b\[1mtrace [0-9a-f]{32} · 4 spans · [^\u001b]+\u001b\[0m/);
    expect(r.output).toMatch(/\u001b\[36m[\d.]+ (µs|ms|s)\u001b\[0m/);
    expect(r.output).toContain('\u001b[31mERROR\u001b[0m');
    // Nothing but the colour differs: without the escapes it is what a pipe gets.
    expect(normalizeDemoOutput(stripAnsi(r.output))).toBe(DEMO_OUTPUT);
  });

  it('renders the same text with and without colour, the escapes only around its parts', async () => {
    const { provider, exporter, tracer } = memoryProvider();
    const parent = tracer.startSpan('GET', { kind: SpanKind.SERVER, attributes: { 'url.path': '/x' } });
    const child = tracer.startSpan('query', { kind: SpanKind.CLIENT }, setSpan(ROOT_CONTEXT, parent));
    child.setStatus({ code: 2, message: 'boom' });
    child.end();
    parent.end();
    const spans = await finished(provider, exporter);
    const plain: string[] = [];
    const coloured: string[] = [];
    new ConsoleSpanExporter((text) => plain.push(text), false).exportSync(spans);
    new ConsoleSpanExporter((text) => coloured.push(text), true).exportSync(spans);
    expect(plain).toHaveLength(1);
    expect(plain[0]).not.toMatch(ANSI_ESCAPE);
    expect(plain[0]).toMatch(/^trace [0-9a-f]{32} · 2 spans · .+\n  GET server .+ url\.path=\/x\n  └─ query client .+ ERROR: boom\n\n$/);
    expect(coloured[0]).toContain('\u001b[31;1mquery\u001b[0m');
    expect(coloured[0]).toContain('\u001b[31mERROR: boom\u001b[0m');
    expect(stripAnsi(coloured[0])).toBe(plain[0]);
  });
});
