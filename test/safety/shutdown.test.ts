/**
 * Process life under the agent, against the same program without it: signals, the application's own handlers,
 * and fatal exceptions end the process exactly as they would have, and the spans get out.
 */
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpRequest, startApp, type RunningApp } from '../helpers/child';
import { Receiver } from '../helpers/receiver';
import { startCollector } from './collectors';

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

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Sends a request to /slow (answered 300 ms after its handler starts) and SIGTERM once the handler has started:
 * what the client got (the body, or how the request failed), how the process ended, and how long after the signal.
 */
async function signalDuringSlowRequest(app: RunningApp) {
  const response = httpRequest(`http://127.0.0.1:${app.port}/slow`).then(
    (r) => r.body,
    (err) => `failed: ${err.cause?.code ?? err}`,
  );
  await until(() => app.stdout().includes('slow started'), 'the slow request to reach its handler');
  const signalled = Date.now();
  const ended = await app.stop('SIGTERM');
  return { ...ended, afterSignalMs: Date.now() - signalled, response: await response };
}

describe('a request in flight at SIGTERM, with no handler of its own', () => {
  it('that ends before the flush finishes (a collector slow to take the queued spans) is answered and its span exported; then the process ends by the signal', async () => {
    const slow = await Receiver.start();
    // The flush lasts as long as the export of what was queued at the signal: a second, well past the 300 ms the
    // request still needs.
    slow.delayMillis = 1000;
    try {
      const app = await startApp(SERVER, { env: slow.env({ OTEL_BSP_SCHEDULE_DELAY: '60000' }) });
      expect((await httpRequest(`http://127.0.0.1:${app.port}/queued`)).body).toBe('ok');
      const result = await signalDuringSlowRequest(app);
      expect(result).toMatchObject({ code: null, signal: 'SIGTERM', response: 'slow' });
      expect(app.stderr()).toBe('');
      expect(slow.spans.filter((s) => s.kind === 1).map((s) => s.attributes['url.path']).sort()).toEqual(['/queued', '/slow']);
    } finally {
      await slow.close();
    }
  });

  it('when the flush has nothing to wait for, is cut off as without the agent (the agent does not hold the process for it) and its span is lost', async () => {
    const without = await signalDuringSlowRequest(await startApp(SERVER, { nodeArgs: [] }));
    expect(without).toMatchObject({ code: null, signal: 'SIGTERM' });
    expect(without.response).toMatch(/^failed: /);
    receiver.clear();
    const app = await startApp(SERVER, { env: queued() });
    const withAgent = await signalDuringSlowRequest(app);
    expect(withAgent.code).toBe(without.code);
    expect(withAgent.signal).toBe(without.signal);
    expect(withAgent.response).toBe(without.response);
    expect(app.stderr()).toBe('');
    expect(receiver.spans.filter((s) => s.attributes['url.path'] === '/slow')).toEqual([]);
  });
});

describe('a collector that accepts connections and never answers', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)(
    'on %s the flush gives up after OTEL_NODE_SHUTDOWN_TIMEOUT (500 ms here, well under 2500 ms), and the process ends by the signal',
    async (signal) => {
      const collector = await startCollector('hanging');
      try {
        const env = queued({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: collector.url, OTEL_NODE_SHUTDOWN_TIMEOUT: '500' });
        const app = await startApp(SERVER, { env });
        for (let i = 0; i < 3; i++) expect((await httpRequest(`http://127.0.0.1:${app.port}/n${i}`)).body).toBe('ok');
        const signalled = Date.now();
        const ended = await app.stop(signal);
        const afterSignalMs = Date.now() - signalled;
        expect(ended).toEqual({ code: null, signal });
        expect(collector.received(), 'the flush reached the collector').toBeGreaterThanOrEqual(1);
        // The default (5000 ms) would fail this: it is the variable that bounds the flush.
        expect(afterSignalMs).toBeLessThan(2500);
        expect(app.stderr()).toBe('');
      } finally {
        await collector.close();
      }
    },
  );
});

describe('a fatal uncaught exception', () => {
  /** The server crashed by a request to `route`, with the agent or without it; how long from the request to the end. */
  const crash = async (route: string, withAgent: boolean, env = queued()) => {
    const app = await startApp(SERVER, { env: withAgent ? env : {}, nodeArgs: withAgent ? undefined : [] });
    const sent = Date.now();
    await httpRequest(`http://127.0.0.1:${app.port}${route}`).catch(() => undefined);
    const { code } = await app.exited;
    return { exit: code, stderr: app.stderr(), elapsedMs: Date.now() - sent };
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

  it('with a collector that accepts connections and never answers, crashes the same way within OTEL_NODE_EXIT_FLUSH_TIMEOUT (1000 ms by default, well under 2500 ms), not the signal flush\'s 5000', async () => {
    const without = await crash('/crash', false);
    const collector = await startCollector('hanging');
    try {
      const withAgent = await crash('/crash', true, queued({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: collector.url }));
      expect(without.exit).toBe(1);
      expect(withAgent.exit).toBe(without.exit);
      const norm = (s: string) => s.replace(/\(node:\d+\)/g, '').replace(/:\d+:\d+/g, ':L:C');
      expect(norm(withAgent.stderr).split('\n')[0]).toBe(norm(without.stderr).split('\n')[0]);
      expect(withAgent.stderr).toContain('TypeError: handler blew up');
      expect(collector.received(), 'the exit hand-off reached the collector').toBeGreaterThanOrEqual(1);
      expect(withAgent.elapsedMs).toBeLessThan(2500);
    } finally {
      await collector.close();
    }
  });
});
