/**
 * requestHeader (instrumentations/http/attributes.ts) reads a request's headers from `rawHeaders` so that
 * `req.headers` is never built for the server span. It must give what `req.headers` gives: checked here against
 * Node's own IncomingMessage, for headers sent raw over a socket (repeated, mixed-case, first-only, cookies).
 */
import net from 'node:net';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestHeader, serverRequestAttributes } from '../../instrumentations/http/attributes';

let server: http.Server;
let port: number;
/** What the server saw: the request as received, and what Node's req.headers says afterwards. */
let received: Array<{ raw: string[]; fromRaw: Record<string, string | undefined>; headers: http.IncomingHttpHeaders; attrs: Record<string, unknown> }> = [];
const NAMES = ['host', 'user-agent', 'content-length', 'traceparent', 'tracestate', 'baggage', 'cookie', 'x-forwarded-for', 'forwarded', 'x-absent', 'authorization'];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    // Read through requestHeader first: req.headers is not built yet.
    const fromRaw: Record<string, string | undefined> = {};
    for (const name of NAMES) fromRaw[name] = requestHeader(req, name);
    const attrs = serverRequestAttributes(req, 'http');
    received.push({ raw: [...req.rawHeaders], fromRaw, headers: req.headers, attrs });
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function sendRaw(head: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(head));
    let answer = '';
    socket.on('data', (c) => {
      answer += c;
      if (answer.includes('\r\n\r\n')) socket.end();
    });
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
}

describe('requestHeader', () => {
  it('gives what req.headers gives, for repeated, mixed-case and first-only headers', async () => {
    received = [];
    await sendRaw(
      'POST /p HTTP/1.1\r\n' +
        'Host: first.example:8080\r\n' +
        'HOST: second.example\r\n' +
        'User-Agent: agent-one\r\n' +
        'user-agent: agent-two\r\n' +
        'TraceParent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n' +
        'tracestate: a=1\r\n' +
        'TRACESTATE: b=2\r\n' +
        'baggage: k1=v1\r\n' +
        'Baggage: k2=v2\r\n' +
        'Cookie: c1=1\r\n' +
        'cookie: c2=2\r\n' +
        'X-Forwarded-For: 203.0.113.9\r\n' +
        'x-forwarded-for: 10.0.0.1\r\n' +
        'Authorization: one\r\n' +
        'authorization: two\r\n' +
        'Content-Length: 3\r\n' +
        'Connection: close\r\n' +
        '\r\nabc',
    );
    expect(received).toHaveLength(1);
    const { fromRaw, headers, attrs } = received[0];
    for (const name of NAMES) {
      const expected = headers[name];
      expect(fromRaw[name], name).toBe(Array.isArray(expected) ? expected.join(', ') : expected);
    }
    // Spelled out, so that the comparison above cannot pass by both sides being wrong the same way.
    expect(fromRaw.host).toBe('first.example:8080');
    expect(fromRaw['user-agent']).toBe('agent-one');
    expect(fromRaw.tracestate).toBe('a=1, b=2');
    expect(fromRaw.cookie).toBe('c1=1; c2=2');
    expect(fromRaw['x-absent']).toBeUndefined();
    expect(attrs['server.address']).toBe('first.example');
    expect(attrs['server.port']).toBe(8080);
    expect(attrs['client.address']).toBe('203.0.113.9');
    expect(attrs['http.request.body.size']).toBe(3);
    expect(attrs['user_agent.original']).toBe('agent-one');
  });

  it('falls back to `headers` for a request object without rawHeaders', () => {
    expect(requestHeader({ headers: { host: 'h.example', 'x-list': ['a', 'b'] } }, 'host')).toBe('h.example');
    expect(requestHeader({ headers: { 'x-list': ['a', 'b'] } }, 'x-list')).toBe('a, b');
    expect(requestHeader({ headers: {} }, 'host')).toBeUndefined();
    expect(requestHeader({}, 'host')).toBeUndefined();
  });

  it('reads Forwarded before X-Forwarded-For for client.address', async () => {
    received = [];
    await sendRaw('GET / HTTP/1.1\r\nHost: h\r\nForwarded: for="[2001:db8::1]:4711";proto=https\r\nX-Forwarded-For: 198.51.100.1\r\nConnection: close\r\n\r\n');
    expect(received[0].attrs['client.address']).toBe('2001:db8::1');
  });
});
