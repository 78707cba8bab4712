/**
 * The agent under Node.js runtime modes its other tests do not use (found by the runtime sweep): the application
 * behaves as without it, and spans get out wherever Node.js lets them.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childEnv, httpRequest, REGISTER, runApp, startApp } from '../helpers/child';
import { Receiver } from '../helpers/receiver';
import { GrpcReceiver } from '../otlp/helpers/receivers';

const SERVER = path.join(__dirname, '..', 'fixtures', 'lifecycle', 'server.js');
const SELF_REQUEST = path.join(__dirname, '..', 'fixtures', 'runtime', 'self-request.js');
const FROZEN_PROCESS = path.join(__dirname, '..', 'fixtures', 'runtime', 'frozen-process.js');
const PROCESS_LISTENERS = path.join(__dirname, '..', 'fixtures', 'runtime', 'process-listeners.js');
/** Node.js 20 has the permission model behind --experimental-permission; 22 and later call it --permission. */
const PERMISSION = Number(process.versions.node.split('.')[0]) >= 22 ? '--permission' : '--experimental-permission';

async function until(condition: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!condition() && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 25));
  return condition();
}

describe('the permission model', () => {
  let grpc: GrpcReceiver;
  beforeAll(async () => {
    grpc = new GrpcReceiver();
    await grpc.start();
  });
  afterAll(() => grpc.close());

  it('gRPC without --allow-worker: a running service\'s batches go out directly over HTTP/2, with nothing printed', async () => {
    const app = await startApp(SERVER, {
      nodeArgs: [PERMISSION, '--allow-fs-read=*', '--require', REGISTER],
      env: { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_ENDPOINT: grpc.endpoint, OTEL_BSP_SCHEDULE_DELAY: '50' },
    });
    try {
      expect((await httpRequest(`http://127.0.0.1:${app.port}/n1`)).body).toBe('ok');
      // While the service runs: the scheduled export, not the one at exit (which went direct already).
      expect(await until(() => grpc.calls.length > 0, 5000), `no export arrived; stderr: ${app.stderr()}`).toBe(true);
      expect(grpc.calls[0].body.includes('GET')).toBe(true);
      expect(app.stderr()).not.toMatch(/zerotel/);
    } finally {
      await app.stop();
    }
  });
});

/** Runs `node [agent] script` from a working directory that is removed just before Node.js starts. */
function runInRemovedDirectory(withAgent: boolean, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zerotel-removed-cwd-'));
  const nodeArgs = withAgent ? ['--require', REGISTER] : [];
  const child = spawn('sh', ['-c', 'cd "$1" && rmdir "$1" && shift && exec "$@"', 'sh', dir, process.execPath, ...nodeArgs, SELF_REQUEST], {
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

describe('the environment', () => {
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await Receiver.start();
  });
  afterAll(() => receiver.close());

  it('a working directory removed before the start (process.cwd() throws): the agent starts, names the service from the script\'s package.json, and its spans arrive', async () => {
    const without = await runInRemovedDirectory(false, {});
    const withAgent = await runInRemovedDirectory(true, receiver.env());
    expect(without).toEqual({ code: 0, stdout: '200 hello /self\n', stderr: '' });
    expect(withAgent).toEqual(without);
    const spans = await receiver.waitForCount(2, 5000);
    expect(spans.map((s) => s.kind).sort()).toEqual([1, 2]);
    expect(spans[0].resource['service.name']).toBe('runtime-modes-fixture');
    expect(spans[0].resource['service.version']).toBe('1.2.3');
  });

  it.each(['max-one', 'remove-all'])('an application strict about process listeners (%s): no warning, the same exit, and the spans of its process.exit() arrive', async (mode) => {
    const without = await runApp(PROCESS_LISTENERS, { nodeArgs: [], env: { MODE: mode } });
    receiver.clear();
    const withAgent = await runApp(PROCESS_LISTENERS, { env: receiver.env({ MODE: mode, OTEL_BSP_SCHEDULE_DELAY: '60000' }) });
    expect(without).toMatchObject({ code: 3, stdout: 'exit listener 3\n', stderr: '' });
    expect({ code: withAgent.code, stdout: withAgent.stdout, stderr: withAgent.stderr }).toEqual({ code: 3, stdout: without.stdout, stderr: '' });
    const spans = await receiver.waitForCount(2, 5000);
    expect(spans.map((s) => s.kind).sort()).toEqual([1, 2]);
  });

  it('an application that freezes `process` and then loads node:http runs as without the agent, with one warning', async () => {
    const without = await runApp(FROZEN_PROCESS, { nodeArgs: [] });
    const withAgent = await runApp(FROZEN_PROCESS, { env: receiver.env() });
    expect(without).toMatchObject({ code: 0, stdout: '200 hello /frozen function\n', stderr: '' });
    expect({ code: withAgent.code, stdout: withAgent.stdout }).toEqual({ code: without.code, stdout: without.stdout });
    const hasGetBuiltin = typeof (process as { getBuiltinModule?: unknown }).getBuiltinModule === 'function';
    expect(withAgent.stderr).toBe(hasGetBuiltin ? 'zerotel warn: process is frozen: modules loaded through process.getBuiltinModule are not instrumented (require is)\n' : '');
  });
});
