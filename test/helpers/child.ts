/**
 * Runs applications as child processes with the real preload, the way users run them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const REGISTER = path.join(ROOT, 'register.js');

export interface RunOptions {
  env?: Record<string, string | undefined>;
  /** Node flags before the script; default: --require <register.js>. Pass [] to run without the agent. */
  nodeArgs?: string[];
  args?: string[];
  cwd?: string;
  timeoutMs?: number;
  input?: string;
  /** startApp: what the app prints once it listens (group 1: the port), and where; default /listening (\d+)/ on stdout. */
  listening?: { pattern: RegExp; stream: 'stdout' | 'stderr' };
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall-clock milliseconds from spawn to exit. */
  elapsedMs: number;
}

/** A clean environment: the parent's, minus anything OTEL_* or NODE_OPTIONS, plus `env`. */
export function childEnv(env: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('OTEL_') || k === 'NODE_OPTIONS' || k.startsWith('VITEST') || k === 'NODE_ENV') continue;
    out[k] = v;
  }
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}

/**
 * Node.js flags that the apps the tests run under the agent get before their own (TEST_NODE_FLAGS, space-separated;
 * none by default), so that the suite can run under another runtime mode, e.g.
 * `TEST_NODE_FLAGS=--experimental-async-context-frame` on Node.js 22, where it changes how AsyncLocalStorage (and so
 * the agent's context) works. Used by spawnApp (runApp, startApp) and by the tests that start `node -e` under the
 * preload themselves; not by the code-cache tests, which choose their processes' flags on purpose, nor for the apps
 * `zerotel run` starts in the CLI tests (their NODE_OPTIONS is what those tests check).
 */
export const TEST_NODE_FLAGS: readonly string[] = (process.env.TEST_NODE_FLAGS ?? '').split(' ').filter((flag) => flag !== '');

export function spawnApp(script: string, options: RunOptions = {}): ChildProcess {
  const nodeArgs = options.nodeArgs ?? ['--require', REGISTER];
  return spawn(process.execPath, [...TEST_NODE_FLAGS, ...nodeArgs, script, ...(options.args ?? [])], {
    cwd: options.cwd ?? ROOT,
    env: childEnv(options.env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

export function runApp(script: string, options: RunOptions = {}): Promise<RunResult> {
  const started = Date.now();
  const child = spawnApp(script, options);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c) => (stdout += c));
  child.stderr!.on('data', (c) => (stderr += c));
  if (options.input !== undefined) child.stdin!.end(options.input);
  else child.stdin!.end();
  const timeout = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timeout);
      resolve({ code, signal, stdout, stderr, elapsedMs: Date.now() - started });
    });
  });
}

export interface RunningApp {
  child: ChildProcess;
  port: number;
  stdout: () => string;
  stderr: () => string;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when the process ends on its own. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts a server app and waits for it to print `listening <port>` on stdout (or what `options.listening` says).
 */
export function startApp(script: string, options: RunOptions = {}): Promise<RunningApp> {
  const child = spawnApp(script, options);
  let stdout = '';
  let stderr = '';
  child.stdin!.end();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`app did not start listening in time\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, options.timeoutMs ?? 15_000);
    const { pattern, stream } = options.listening ?? { pattern: /listening (\d+)/, stream: 'stdout' };
    let resolved = false;
    const check = () => {
      const m = resolved ? null : pattern.exec(stream === 'stdout' ? stdout : stderr);
      if (m !== null) {
        resolved = true;
        clearTimeout(timer);
        resolve({
          child,
          port: Number(m[1]),
          stdout: () => stdout,
          stderr: () => stderr,
          exited,
          stop: (signal = 'SIGTERM') => {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            return exited;
          },
        });
      }
    };
    child.stderr!.on('data', (c) => {
      stderr += c;
      check();
    });
    child.stdout!.on('data', (c) => {
      stdout += c;
      check();
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`app exited before listening (code ${code}, signal ${signal})\nstdout: ${stdout}\nstderr: ${stderr}`));
    });
  });
}

/** A plain HTTP request from the test process (not traced: the test process has no agent). */
export async function httpRequest(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const res = await fetch(url, { method: init.method ?? 'GET', headers: init.headers, body: init.body });
  const body = await res.text();
  const headers: Record<string, string> = {};
  res.headers.forEach((v, k) => (headers[k] = v));
  return { status: res.status, headers, body };
}
