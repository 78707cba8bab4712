/**
 * The http instrumentation's pure functions (instrumentations/http/attributes.ts), without a server.
 */
import { describe, expect, it } from 'vitest';
import {
  type ClientCall,
  clientRequestAttributes,
  contentLengthValue,
  fullUrl,
  normaliseMethod,
  originForm,
  parseHostHeader,
  peerName,
  serverRequestAttributes,
} from '../../instrumentations/http/attributes';
import { fetchRequestAttributes, undiciRequestBodySize } from '../../instrumentations/fetch/attributes';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';

describe('parseHostHeader', () => {
  it('splits names, IPv4 and bracketed IPv6, with and without a port', () => {
    expect(parseHostHeader('example.com')).toEqual({ address: 'example.com', port: undefined });
    expect(parseHostHeader('example.com:8080')).toEqual({ address: 'example.com', port: 8080 });
    expect(parseHostHeader('127.0.0.1:3000')).toEqual({ address: '127.0.0.1', port: 3000 });
    expect(parseHostHeader('[::1]:3000')).toEqual({ address: '::1', port: 3000 });
    expect(parseHostHeader('[::1]')).toEqual({ address: '::1', port: undefined });
    expect(parseHostHeader('example.com:99999')).toEqual({ address: 'example.com', port: undefined });
    expect(parseHostHeader('example.com:abc')).toEqual({ address: 'example.com', port: undefined });
    expect(parseHostHeader('')).toBeUndefined();
    expect(parseHostHeader(undefined)).toBeUndefined();
  });

  it('gives the right parts when the same and different hosts alternate (the last one is remembered)', () => {
    const hosts = ['a.example:1', 'a.example:1', 'b.example', 'a.example:1', '[::1]:2', '[::1]:2', 'b.example'];
    const parsed = hosts.map((h) => ({ ...parseHostHeader(h) }));
    expect(parsed).toEqual([
      { address: 'a.example', port: 1 },
      { address: 'a.example', port: 1 },
      { address: 'b.example', port: undefined },
      { address: 'a.example', port: 1 },
      { address: '::1', port: 2 },
      { address: '::1', port: 2 },
      { address: 'b.example', port: undefined },
    ]);
  });
});

describe('server and client attributes', () => {
  it('builds a server span\'s attributes from the request', () => {
    const attrs = serverRequestAttributes(
      {
        method: 'POST',
        url: '/orders?id=7&sig=secret',
        httpVersion: '1.1',
        headers: { host: 'shop.example:8443', 'user-agent': 'curl/8', 'content-length': '12', 'x-forwarded-for': '203.0.113.9, 10.0.0.1' },
        socket: { remoteAddress: '10.0.0.1', remotePort: 51000, encrypted: true },
      },
      'http',
    );
    expect(attrs).toEqual({
      'http.request.method': 'POST',
      'url.scheme': 'https',
      'url.path': '/orders',
      'url.query': 'id=7&sig=REDACTED',
      'server.address': 'shop.example',
      'server.port': 8443,
      'client.address': '203.0.113.9',
      'network.peer.address': '10.0.0.1',
      'network.peer.port': 51000,
      'network.protocol.version': '1.1',
      'user_agent.original': 'curl/8',
      'http.request.body.size': 12,
    });
  });

  describe('behind a reverse proxy (http-spans.md: url.scheme and server.address of the original request)', () => {
    // As the request arrives at the service: rawHeaders, with the proxy's own connection as the socket.
    const proxied = (rawHeaders: string[]) =>
      serverRequestAttributes({ method: 'GET', url: '/cart', httpVersion: '1.1', rawHeaders, socket: { remoteAddress: '10.0.0.5', remotePort: 40000, localPort: 8080 } }, 'http');

    it('takes scheme, host and client from X-Forwarded-Proto, X-Forwarded-Host and X-Forwarded-For (their first values)', () => {
      const attrs = proxied(['Host', 'svc.internal:8080', 'X-Forwarded-Proto', 'https', 'X-Forwarded-Host', 'shop.example', 'X-Forwarded-For', '203.0.113.9, 10.0.0.4']);
      expect(attrs['url.scheme']).toBe('https');
      expect(attrs['server.address']).toBe('shop.example');
      // no port in the host the client sent: its scheme's default, not the proxy connection's local port
      expect(attrs['server.port']).toBe(443);
      expect(attrs['client.address']).toBe('203.0.113.9');
      expect(attrs['network.peer.address']).toBe('10.0.0.5');
      const chained = proxied(['host', 'svc.internal:8080', 'x-forwarded-proto', 'HTTP, https', 'x-forwarded-host', 'a.example:8443, b.example', 'x-forwarded-host', 'c.example']);
      expect([chained['url.scheme'], chained['server.address'], chained['server.port']]).toEqual(['http', 'a.example', 8443]);
    });

    it('prefers the Forwarded header (RFC 7239) to the X-Forwarded ones, quoted values and IPv6 included', () => {
      const attrs = proxied([
        'Host', 'svc.internal:8080',
        'Forwarded', 'for="[2001:db8::17]:4711";proto=https;host="shop.example:9443", for=10.0.0.4',
        'X-Forwarded-Proto', 'http',
        'X-Forwarded-Host', 'other.example',
        'X-Forwarded-For', '198.51.100.1',
      ]);
      expect([attrs['url.scheme'], attrs['server.address'], attrs['server.port'], attrs['client.address']]).toEqual(['https', 'shop.example', 9443, '2001:db8::17']);
      // a Forwarded header without host or proto leaves those to the X-Forwarded ones
      const partial = proxied(['Host', 'svc.internal', 'Forwarded', 'for=192.0.2.60', 'X-Forwarded-Proto', 'https', 'X-Forwarded-Host', 'shop.example']);
      expect([partial['url.scheme'], partial['server.address'], partial['client.address']]).toEqual(['https', 'shop.example', '192.0.2.60']);
    });

    it('ignores a proto that is no scheme name and empty values; without forwarding headers, the connection and Host decide', () => {
      const attrs = proxied(['Host', 'svc.internal:8080', 'X-Forwarded-Proto', 'https://evil', 'X-Forwarded-Host', ' , x']);
      expect([attrs['url.scheme'], attrs['server.address'], attrs['server.port']]).toEqual(['http', 'svc.internal', 8080]);
      const direct = proxied(['Host', 'svc.internal']);
      expect([direct['url.scheme'], direct['server.address'], direct['server.port'], direct['client.address']]).toEqual(['http', 'svc.internal', 8080, '10.0.0.5']);
    });

    it('reads the same from a request object that has only headers', () => {
      const attrs = serverRequestAttributes(
        { method: 'GET', url: '/', headers: { host: 'svc.internal', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'shop.example:8443' }, socket: { localPort: 80 } },
        'http',
      );
      expect([attrs['url.scheme'], attrs['server.address'], attrs['server.port']]).toEqual(['https', 'shop.example', 8443]);
    });
  });

  it('takes the port from the socket when the Host header has none, and keeps an unknown method as _OTHER', () => {
    const attrs = serverRequestAttributes({ method: 'PURGE', url: '/', headers: { host: 'localhost' }, socket: { localPort: 3000 } }, 'http');
    expect(attrs['server.port']).toBe(3000);
    expect(attrs['http.request.method']).toBe('_OTHER');
    expect(attrs['http.request.method_original']).toBe('PURGE');
    expect(normaliseMethod('get')).toBe('_OTHER');
  });

  it('builds a client span\'s attributes, with credentials redacted from url.full', () => {
    // (Node sends the user and password of a URL as Authorization, never in Host.)
    const headers: Record<string, string> = { host: 'api.example:8080' };
    const attrs = clientRequestAttributes({ method: 'GET', protocol: 'http:', host: 'api.example', path: '/v1/items?X-Amz-Signature=abc', getHeader: (n: string) => headers[n] }, call());
    expect(attrs['url.full']).toBe('http://api.example:8080/v1/items?X-Amz-Signature=REDACTED');
    expect(attrs['server.address']).toBe('api.example');
    expect(attrs['server.port']).toBe(8080);
  });

  const call = (input?: unknown, options?: unknown): ClientCall => ({ scheme: 'http', input, options });
  const request = (host: string, path: string, hostHeader: string | undefined, protocol = 'http:') => ({
    method: 'GET',
    protocol,
    host,
    path,
    getHeader: (n: string) => (n === 'host' ? hostHeader : undefined),
  });

  it('names where a client request goes when the caller set a Host header of its own, or none', () => {
    // options (whose port wins over a URL's, as in Node), a URL string, a URL object, defaultPort, the scheme's port
    const cases: Array<[unknown, unknown, string, number, string]> = [
      [{ host: '10.0.0.5', port: 8080 }, undefined, 'http', 8080, 'http://10.0.0.5:8080/x'],
      ['http://10.0.0.5:9090/x', { port: '8081' }, 'http', 8081, 'http://10.0.0.5:8081/x'],
      ['http://10.0.0.5:9090/x', { headers: {} }, 'http', 9090, 'http://10.0.0.5:9090/x'],
      [new URL('https://10.0.0.5:9443/x'), undefined, 'https', 9443, 'https://10.0.0.5:9443/x'],
      [{ host: '10.0.0.5', defaultPort: 8000 }, undefined, 'http', 8000, 'http://10.0.0.5:8000/x'],
      [{ host: '10.0.0.5' }, undefined, 'https', 443, 'https://10.0.0.5/x'],
      ['not a url', undefined, 'http', 80, 'http://10.0.0.5/x'],
    ];
    for (const [input, options, scheme, port, url] of cases) {
      for (const header of ['api.example.com', undefined]) {
        const attrs = clientRequestAttributes(request('10.0.0.5', '/x', header, scheme + ':'), call(input, options));
        expect([attrs['server.address'], attrs['server.port'], attrs['url.full']]).toEqual(['10.0.0.5', port, url]);
      }
    }
    // an IPv6 host is bracketed in url.full
    const v6 = clientRequestAttributes(request('::1', '/x', 'other.example'), call({ host: '::1', port: 3000 }));
    expect([v6['server.address'], v6['server.port'], v6['url.full']]).toEqual(['::1', 3000, 'http://[::1]:3000/x']);
    // Node's own Host header (any case) still gives the port
    const own = clientRequestAttributes(request('Api.Example', '/x', 'api.example:8080'), call('http://ignored:1/'));
    expect([own['server.address'], own['server.port'], own['url.full']]).toEqual(['api.example', 8080, 'http://api.example:8080/x']);
    // a proxy on the same host passing the incoming Host on (the proxy's own port): the port connected to wins
    const proxied = clientRequestAttributes(
      request('127.0.0.1', '/x', '127.0.0.1:3000'),
      call({ host: '127.0.0.1', port: 8080, headers: { host: '127.0.0.1:3000', accept: '*/*' } }),
    );
    expect([proxied['server.address'], proxied['server.port'], proxied['url.full']]).toEqual(['127.0.0.1', 8080, 'http://127.0.0.1:8080/x']);
    const viaUrl = clientRequestAttributes(request('localhost', '/x', 'LocalHost'), call('http://localhost:8080/x', { headers: { Host: 'LocalHost' } }));
    expect([viaUrl['server.address'], viaUrl['server.port'], viaUrl['url.full']]).toEqual(['localhost', 8080, 'http://localhost:8080/x']);
    // and one naming the same host and port is as good as Node's own
    const same = clientRequestAttributes(request('localhost', '/x', 'localhost:8080'), call({ host: 'localhost', port: 8080, headers: { host: 'localhost:8080' } }));
    expect([same['server.address'], same['server.port'], same['url.full']]).toEqual(['localhost', 8080, 'http://localhost:8080/x']);
  });

  it('names the server behind a forward proxy from an absolute-form target, its credentials redacted', () => {
    const attrs = clientRequestAttributes(request('proxy.local', 'https://user:pw@target.example:8443/p?q=1', 'target.example:8443'), call({ host: 'proxy.local', port: 3128 }));
    expect(attrs['server.address']).toBe('target.example');
    expect(attrs['server.port']).toBe(8443);
    expect(attrs['url.full']).toBe('https://REDACTED:REDACTED@target.example:8443/p?q=1');
    const plain = clientRequestAttributes(request('proxy.local', 'http://target.example/p', undefined), call());
    expect([plain['server.address'], plain['server.port'], plain['url.full']]).toEqual(['target.example', 80, 'http://target.example/p']);
  });

  it('reads absolute-form targets as paths, without their authority', () => {
    expect(originForm('http://user:pw@host.example/p?q=1')).toBe('/p?q=1');
    expect(originForm('/already/a/path')).toBe('/already/a/path');
    expect(fullUrl('http', 'proxy.example', 'https://user:pw@target.example/x')).toBe('https://REDACTED:REDACTED@target.example/x');
  });
});

describe('peerName', () => {
  it('reads a real socket\'s peer through its getters first, then from node:net\'s cache, with the same answer', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
    const client = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
    await new Promise<void>((resolve) => client.once('connect', () => resolve()));
    const socket = await accepted;
    try {
      const s = socket as unknown as { _peername?: unknown };
      expect(s._peername).toBeUndefined();
      expect({ ...peerName(s) }).toEqual({ address: '127.0.0.1', port: client.localPort });
      expect(s._peername).toBeDefined();
      expect({ ...peerName(s) }).toEqual({ address: socket.remoteAddress, port: socket.remotePort });
    } finally {
      client.destroy();
      socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('answers for a socket-like object with getters only, and for one without a peer', () => {
    expect({ ...peerName({ remoteAddress: '::1', remotePort: 4 }) }).toEqual({ address: '::1', port: 4 });
    expect({ ...peerName({ localPort: 80 }) }).toEqual({ address: undefined, port: undefined });
    expect({ ...peerName({ _peername: { address: '10.1.2.3', port: 9 }, remoteAddress: 'stale' }) }).toEqual({ address: '10.1.2.3', port: 9 });
  });
});

describe('http.request.body.size on client spans', () => {
  it('reads a Content-Length the application set: a non-negative safe integer, as a number or digits', () => {
    expect(contentLengthValue(12)).toBe(12);
    expect(contentLengthValue(0)).toBe(0);
    expect(contentLengthValue('12')).toBe(12);
    expect(contentLengthValue('0')).toBe(0);
    expect(contentLengthValue(' 42\t')).toBe(42);
    expect(contentLengthValue('9007199254740991')).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('is absent without one, and for garbage that Number() would take or that is no size', () => {
    for (const value of [undefined, null, '', ' ', '12abc', 'abc', '0x10', '1e3', '-1', '+1', '1.5', '1 2', '9007199254740992', -1, 1.5, NaN, Infinity, 2 ** 53, ['5'], {}, true]) {
      expect(contentLengthValue(value), JSON.stringify(value)).toBeUndefined();
    }
  });

  it('has its key in the client attributes\' literal, undefined until the span ends (fixed shape)', () => {
    const headers: Record<string, unknown> = { host: 'api.example', 'content-length': '5' };
    const attrs = clientRequestAttributes({ method: 'POST', protocol: 'http:', host: 'api.example', path: '/', getHeader: (n: string) => headers[n] }, { scheme: 'http', input: undefined, options: undefined });
    expect(Object.keys(attrs)).toContain('http.request.body.size');
    expect(attrs['http.request.body.size']).toBeUndefined();
  });

  it('takes a fetch or undici request\'s size from undici\'s contentLength, else a body it holds whole', () => {
    const base = { origin: 'http://api.example', method: 'POST', path: '/' };
    expect(undiciRequestBodySize({ ...base, contentLength: 6, body: { async *[Symbol.asyncIterator]() {} } })).toBe(6);
    expect(undiciRequestBodySize({ ...base, contentLength: 0 })).toBe(0);
    expect(undiciRequestBodySize({ ...base, contentLength: null, body: Buffer.from('héllo') })).toBe(6);
    expect(undiciRequestBodySize({ ...base, contentLength: null, body: new Uint8Array(4) })).toBe(4);
    expect(undiciRequestBodySize({ ...base, body: 'héllo' })).toBe(6);
    // absent: no body, a stream, and garbage
    for (const odd of [{}, { contentLength: null, body: null }, { body: { pipe() {} } }, { contentLength: -1 }, { contentLength: 1.5 }, { contentLength: NaN }, { contentLength: '5' }]) {
      expect(undiciRequestBodySize({ ...base, ...odd }), JSON.stringify(odd)).toBeUndefined();
    }
    expect(fetchRequestAttributes({ ...base, contentLength: 6 })['http.request.body.size']).toBe(6);
    expect('http.request.body.size' in fetchRequestAttributes({ ...base, method: 'GET', contentLength: null, body: null })).toBe(false);
  });
});
