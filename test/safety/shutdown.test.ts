/**
 * Process life under the agent, against the same program without it: signals, the application's own handlers,
 * and fatal exceptions end the process exactly as they would have, and the spans get out.
 */
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpRequest, startApp } from '../helpers/child';
import { Receiver } from '../helpers/receiver';

const SERVER = path.join(__dirname, '..', 'fixtures', 'lifecycle', 'server.js');

let receiver: Receiver;
beforeAll(async () => {
  receiver = await Receiver.start();
});
afterAll(() => receiver.close());

/** Env that keeps spans queued (a minute of batch delay), so only a flush at the end can deliver them. */
const queued = (extra: Record<string, string> = {}) => receiver.env({ OTEL_BSP_SCHEDULE_DELAY: '60000', ...extra });

async function serveAndSignal(signal: NodeJS.Signals, withAgent: boolean, env: Record<string, string>) {
  const app = await startApp(SERVER, { env, nodeArgs: withAgent ? undefined : [] });
  for (let i = 0; i < 3; i++) expect((await httpRequest(`http://127.0.0.1:${app.port}/n${i}`)).body).toBe('ok');
  const result = await app.stop(signal);
  return { ...result, stdout: app.stdout(), stderr: app.stderr() };
}

describe.each(['SIGTERM', 'SIGINT'] as const)('on %s', (signal) => {
  it('with no handler of its own, the process flushes and then ends by the signal, as without the agent', async () => {
    const without = await serveAndSignal(signal, false, {});
    expect(without).toMatchObject({ code: null, signal });
    receiver.clear();
    const withAgent = await serveAndSignal(signal, true, queued());
    expect(withAgent.code).toBe(without.code);
    expect(withAgent.signal).toBe(without.signal);
    expect(withAgent.stderr).toBe('');
    expect(receiver.spans.filter((s) => s.kind === 1).map((s) => s.attributes['url.path']).sort()).toEqual(['/n0', '/n1', '/n2']);
  });

  it('with its own handler, the agent flushes and leaves the rest to the application', async () => {
    const without = await serveAndSignal(signal, false, { MODE: 'own-handler' });
    expect(without).toMatchObject({ code: 0, signal: null });
    receiver.clear();
    const withAgent = await serveAndSignal(signal, true, queued({ MODE: 'own-handler' }));
    expect(withAgent.code).toBe(0);
    expect(withAgent.signal).toBeNull();
    expect(withAgent.stdout).toBe(without.stdout.replace(/listening \d+/, withAgent.stdout.match(/listening \d+/)![0]));
    expect(withAgent.stdout.match(/app handler/g)).toHaveLength(1);
    expect(receiver.spans.filter((s) => s.kind === 1)).toHaveLength(3);
  });

  it('when the application cleans up, removes its handler and raises the signal again, it ends by the signal, as without the agent', async () => {
    const without = await serveAndSignal(signal, false, { MODE: 'reraise' });
    expect(without).toMatchObject({ code: null, signal });
    receiver.clear();
    // the default exporter's kept-alive connection would hold the loop open by chance; file and none hold nothing
    for (const exporter of ['otlp', 'none']) {
      const withAgent = await serveAndSignal(signal, true, queued({ MODE: 'reraise', OTEL_TRACES_EXPORTER: exporter }));
      expect(withAgent.code, exporter).toBe(without.code);
      expect(withAgent.signal, exporter).toBe(without.signal);
      expect(withAgent.stdout.match(/app cleanup/g), exporter).toHaveLength(1);
      expect(withAgent.stderr, exporter).toBe('');
    }
    expect(receiver.spans.filter((s) => s.kind === 1).map((s) => s.attributes['url.path']).sort()).toEqual(['/n0', '/n1', '/n2']);
  });

  it.each(['signal-exit-4', 'signal-exit-3'])('with %s listening (npm, execa…), its handlers run and the process ends by the signal, as without the agent', async (mode) => {
    const without = await serveAndSignal(signal, false, { MODE: mode });
    expect(without).toMatchObject({ code: null, signal });
    expect(without.stdout).toContain(`cleanup null ${signal}`);
    receiver.clear();
    const withAgent = await serveAndSignal(signal, true, queued({ MODE: mode }));
    expect(withAgent.code).toBe(without.code);
    expect(withAgent.signal).toBe(without.signal);
    expect(withAgent.stdout.replace(/listening \d+/, '')).toBe(without.stdout.replace(/listening \d+/, ''));
    expect(withAgent.stderr).toBe('');
    expect(receiver.spans.filter((s) => s.kind === 1).map((s) => s.attributes['url.path']).sort()).toEqual(['/n0', '/n1', '/n2']);
  });
});

describe('a fatal uncaught exception', () => {
  /** The server crashed by a request to `route`, with the agent or without it. */
  const crash = async (route: string, withAgent: boolean) => {
    const app = await startApp(SERVER, { env: withAgent ? queued() : {}, nodeArgs: withAgent ? undefined : [] });
    await httpRequest(`http://127.0.0.1:${app.port}${route}`).catch(() => undefined);
    const { code } = await app.exited;
    return { exit: code, stderr: app.stderr() };
  };

  it('crashes the same way, and the failing request\'s span carries the exception', async () => {
    const without = await crash('/crash', false);
    receiver.clear();
    const withAgent = await crash('/crash', true);
    expect(without.exit).toBe(1);
    expect(withAgent.exit).toBe(1);
    const norm = (s: string) => s.replace(/\(node:\d+\)/g, '').replace(/:\d+:\d+/g, ':L:C');
    expect(norm(withAgent.stderr)).toContain('TypeError: handler blew up');
    expect(norm(withAgent.stderr).split('\n')[0]).toBe(norm(without.stderr).split('\n')[0]);
    const server = receiver.spans.find((s) => s.kind === 1 && s.attributes['url.path'] === '/crash');
    expect(server, 'the crashing request\'s server span').toBeDefined();
    expect(server!.status.code).toBe(2);
    const exception = server!.events.find((e) => e.name === 'exception')!;
    expect(exception.attributes['exception.type']).toBe('TypeError');
    expect(exception.attributes['exception.message']).toBe('handler blew up');
  });

  it('thrown by the request handler itself: crashes the same way (same stderr but the agent\'s frames, same code), and the request\'s span carries it', async () => {
    const without = await crash('/crash-sync', false);
    receiver.clear();
    const withAgent = await crash('/crash-sync', true);
    expect(without.exit).toBe(1);
    expect(withAgent.exit).toBe(1);
    // The source line Node prints first, and the error: the same (no catch-and-rethrow moved them).
    const head = (s: string) => s.split('\n').slice(0, 5).join('\n');
    expect(head(withAgent.stderr)).toBe(head(without.stderr));
    expect(head(withAgent.stderr)).toContain('RangeError: handler threw');
    const server = receiver.spans.find((s) => s.kind === 1 && s.attributes['url.path'] === '/crash-sync');
    expect(server, 'the crashing request\'s server span').toBeDefined();
    expect(server!.status.code).toBe(2);
    const exception = server!.events.find((e) => e.name === 'exception')!;
    expect(exception.attributes['exception.type']).toBe('RangeError');
    expect(exception.attributes['exception.message']).toBe('handler threw');
    expect(server!.attributes['error.type']).toBe('RangeError');
  });
});
