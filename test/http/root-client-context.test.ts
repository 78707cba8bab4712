/**
 * An outgoing request made outside any span that carries a trace context the application wrote itself (by hand,
 * or passed on from a job): the client span continues that trace, and the peer receives it with the client span as
 * parent, for node:http and for fetch. Found by running express's own tests side by side with and without the
 * agent: the agent replaced such a traceparent with a new trace's.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runApp } from '../helpers/child';
import { Receiver } from '../helpers/receiver';

const CLIENT = 2;
let receiver: Receiver;
let peer: http.Server;

beforeAll(async () => {
  receiver = await Receiver.start();
  // The peer runs in the test process, without the agent: it answers with the headers it received.
  peer = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ url: req.url, traceparent: req.headers.traceparent ?? null, baggage: req.headers.baggage ?? null }));
  });
  await new Promise<void>((resolve) => peer.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  peer?.close();
  await receiver?.close();
});

describe('a root client request with a trace context of its own', () => {
  it('continues that trace (node:http and fetch); without one, a new trace starts', async () => {
    const peerUrl = `http://127.0.0.1:${(peer.address() as AddressInfo).port}`;
    const r = await runApp(path.join(__dirname, '..', 'fixtures', 'http', 'root-client.js'), {
      env: receiver.env({ PEER_URL: peerUrl, OTEL_SERVICE_NAME: 'root-client' }),
    });
    expect(r.stderr).toBe('');
    const received = JSON.parse(r.stdout) as Array<{ url: string; traceparent: string; baggage: string | null }>;
    const spans = await receiver.waitFor((all) => all.filter((s) => s.resource['service.name'] === 'root-client').length >= 3);
    const client = (c: string) => spans.find((s) => s.kind === CLIENT && String(s.attributes['url.full']).endsWith(`case=${c}`))!;

    for (const [i, c, traceId, parentId, baggage] of [
      [0, 'http-own', '1'.repeat(32), '2'.repeat(16), 'job=42'],
      [1, 'fetch-own', '3'.repeat(32), '4'.repeat(16), 'job=43'],
    ] as const) {
      const span = client(c);
      expect(span.traceId, c).toBe(traceId);
      expect(span.parentSpanId, c).toBe(parentId);
      expect(received[i].traceparent, c).toBe(`00-${traceId}-${span.spanId}-01`);
      expect(received[i].baggage, c).toBe(baggage);
    }
    const fresh = client('http-none');
    expect(fresh.parentSpanId ?? '').toBe('');
    expect(fresh.traceId).not.toMatch(/^(1+|3+)$/);
    expect(received[2].traceparent).toBe(`00-${fresh.traceId}-${fresh.spanId}-01`);
  });
});
