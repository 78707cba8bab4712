/**
 * A collector that is down, hangs, fails or is slow changes nothing for the application: the same keep-alive load
 * (test/fixtures/safety/outage-app.js, three spans a request) is served in full, without an error, in a time
 * comparable to the run against a healthy collector (a generous bound: precise figures are bench/outage.js's);
 * what cannot be exported is dropped and reported in a warning or two with counts, not a line per batch; and a
 * collector that comes back on the same port gets the spans made after it did, with nothing restarted.
 */
import * as http from 'node:http';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../helpers/child';
import { Receiver } from '../helpers/receiver';
import { freePort, ReceiverAt, startCollector, type Collector, type CollectorFault } from './collectors';

const APP = path.join(__dirname, '..', 'fixtures', 'safety', 'outage-app.js');
const REQUESTS = 3000;
const CONNECTIONS = 8;

interface LoadResult {
  ok: number;
  failures: string[];
  elapsedMs: number;
}

/** `total` GETs of /<tag>/<i> over CONNECTIONS kept-alive connections; every answer is checked. */
async function load(port: number, total = REQUESTS, tag = 'work'): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const failures: string[] = [];
  let ok = 0;
  let next = 0;
  const one = (i: number) =>
    new Promise<void>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: `/${tag}/${i}`, agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => {
          if (res.statusCode === 200 && body === JSON.stringify({ ok: true, path: `/${tag}/${i}` })) ok++;
          else failures.push(`${res.statusCode} ${body.slice(0, 100)}`);
          resolve();
        });
      });
      req.on('error', (err) => {
        failures.push(String(err));
        resolve();
      });
    });
  const started = Date.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (next < total) await one(next++);
    }),
  );
  const elapsedMs = Date.now() - started;
  agent.destroy();
  return { ok, failures, elapsedMs };
}

/** The agent's lines on stderr; anything else there fails the test. */
function agentWarnings(stderr: string): string[] {
  const lines = stderr.split('\n').filter(Boolean);
  for (const line of lines) expect(line).toMatch(/^zerotel warn: /);
  return lines;
}

const env = (url: string, extra: Record<string, string> = {}) => ({
  OTEL_TRACES_EXPORTER: 'otlp',
  OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: url,
  // exports start during the load, not after it
  OTEL_BSP_SCHEDULE_DELAY: '50',
  // the flush when the test stops the app, against a collector that never answers, is bounded by this
  OTEL_NODE_SHUTDOWN_TIMEOUT: '1000',
  ...extra,
});

describe('the application under load while the collector misbehaves', () => {
  let receiver: Receiver;
  let healthy: LoadResult;

  beforeAll(async () => {
    receiver = await Receiver.start();
    const app = await startApp(APP, { env: env(receiver.url) });
    try {
      await load(app.port, 300); // warm-up: JIT, connections
      healthy = await load(app.port);
      expect(healthy.failures).toEqual([]);
      expect(healthy.ok).toBe(REQUESTS);
      // the healthy run was traced in full: three spans a request
      await receiver.waitFor((spans) => spans.length >= 3 * (REQUESTS + 300), 15_000);
      expect(app.stderr()).toBe('');
    } finally {
      await app.stop();
    }
  });

  afterAll(() => receiver?.close());

  const FAULTS: Array<[CollectorFault, string]> = [
    ['refused', 'refuses connections'],
    ['hanging', 'accepts connections and never answers'],
    ['500', 'answers 500'],
    ['503', 'answers 503 (retryable)'],
    ['429', 'answers 429 (retryable)'],
    ['slow', 'answers after 2 s'],
  ];

  describe.each(FAULTS)('a collector that %s', (fault) => {
    let collector: Collector;
    let app: RunningApp;
    let result: LoadResult;

    beforeAll(async () => {
      collector = await startCollector(fault);
      app = await startApp(APP, { env: env(collector.url) });
      await load(app.port, 300);
      result = await load(app.port);
    });

    afterAll(async () => {
      await app?.stop();
      await collector?.close();
    });

    it('does not cost the application a single request, nor much time', () => {
      expect(result.failures).toEqual([]);
      expect(result.ok).toBe(REQUESTS);
      // Generous: the point is that nothing waits on the collector (which would take seconds per batch).
      expect(result.elapsedMs).toBeLessThan(healthy.elapsedMs * 3 + 2000);
    });

    it('was really tried, and what was lost is reported with a count, in a line or two', async () => {
      if (fault !== 'refused') expect(collector.received()).toBeGreaterThan(0);
      const warnings = agentWarnings(app.stderr());
      expect(warnings.length).toBeGreaterThan(0);
      expect(warnings.length).toBeLessThanOrEqual(4);
      expect(warnings.some((w) => /\b\d+ span\(s\) dropped/.test(w)), warnings.join('\n')).toBe(true);
      // one line per kind of failure, not one per batch
      const kinds = warnings.map((w) => w.replace(/\d+/g, 'N'));
      expect(new Set(kinds).size).toBe(kinds.length);
    });
  });
});

describe('a collector that comes back', () => {
  it('gets the spans made after it is up again, without a restart of anything', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/v1/traces`;
    // a short export timeout: a batch tried while the collector is down is given up quickly
    const app = await startApp(APP, { env: env(url, { OTEL_EXPORTER_OTLP_TIMEOUT: '2000' }) });
    let receiver: ReceiverAt | undefined;
    try {
      const down = await load(app.port, 200, 'down');
      expect(down.failures).toEqual([]);
      receiver = await ReceiverAt.start(port);
      // requests made once the collector is back: their spans must arrive (the retry of an older batch may too)
      const up = await load(app.port, 50, 'up');
      expect(up.failures).toEqual([]);
      await receiver.waitFor((spans) => spans.filter((s) => s.kind === 1 && /^\/up\/\d+$/.test(s.attributes['url.path'])).length >= 50, 20_000);
      expect(receiver.spans.every((s) => /^[0-9a-f]{32}$/.test(s.traceId))).toBe(true);
    } finally {
      await app.stop();
      await receiver?.close();
    }
  });
});
