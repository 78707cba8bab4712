/**
 * A WebSocket opened with the global WebSocket (undici built into Node.js): its handshake is a request with a
 * CLIENT span that must end. undici before the fix of nodejs/undici#5761 (September 2026; Node.js 20's and 22's
 * built-in copies among them) publishes nothing once an upgrade is accepted — no response headers, no trailers —
 * so the span never ended and was never exported. Found by the clients sweep.
 */
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REGISTER, runApp } from '../helpers/child';
import { Receiver } from '../helpers/receiver';

const CLIENT = 2;
let receiver: Receiver;

beforeAll(async () => {
  receiver = await Receiver.start();
});

afterAll(async () => {
  await receiver?.close();
});

describe('the global WebSocket', () => {
  it('works as without the agent, and its handshake gets a CLIENT span that ends, with status 101', async () => {
    // Node.js 20 has the global WebSocket behind a flag.
    const flags = typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'undefined' ? ['--experimental-websocket'] : [];
    const script = path.join(__dirname, '..', 'fixtures', 'http', 'websocket-client.js');
    const without = await runApp(script, { nodeArgs: flags });
    const r = await runApp(script, { nodeArgs: [...flags, '--require', REGISTER], env: receiver.env({ OTEL_SERVICE_NAME: 'ws-client' }) });
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/zerotel/);
    const seen = JSON.parse(r.stdout);
    expect({ ...seen, traceparent: null }).toEqual(JSON.parse(without.stdout));
    expect(seen).toMatchObject({ open: true, message: 'hello' });
    const spans = await receiver.waitFor((all) => all.some((s) => s.resource['service.name'] === 'ws-client'), 5000);
    const clients = spans.filter((s) => s.resource['service.name'] === 'ws-client' && s.kind === CLIENT);
    expect(clients).toHaveLength(1);
    const [span] = clients;
    expect(span.name).toBe('GET');
    expect(span.status.code).toBe(0);
    expect(span.attributes).toMatchObject({ 'http.request.method': 'GET', 'http.response.status_code': 101, 'server.address': '127.0.0.1' });
    expect(String(span.attributes['url.full'])).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/socket$/);
    expect(seen.traceparent).toBe(`00-${span.traceId}-${span.spanId}-01`);
  });
});
