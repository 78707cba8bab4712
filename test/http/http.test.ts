/**
 * The http/https and fetch instrumentations, end to end: two services run as child processes under the real
 * preload, call each other over loopback, and export OTLP/JSON to a real receiver.
 */
import * as http from 'node:http';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpRequest, startApp, type RunningApp } from '../helpers/child';
import { Receiver, type ReceivedSpan } from '../helpers/receiver';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'http');
const SERVER = 1;
const CLIENT = 2;

const service = (s: ReceivedSpan) => s.resource['service.name'];

/** A request through node:http, which, unlike fetch, sends an Expect header. */
function nodeHttpRequest(url: string, method: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

for (const variant of ['app.js', 'app.mjs']) {
  describe(`http instrumentation (${variant === 'app.js' ? 'CommonJS' : 'ES module'})`, () => {
    let receiver: Receiver;
    let front: RunningApp;
    let peer: RunningApp;
    let peerUrl: string;

    beforeAll(async () => {
      receiver = await Receiver.start();
      const common = {
        OTEL_INSTRUMENTATION_HTTP_SERVER_EXCLUDED_PATHS: '/health,/internal/*',
        OTEL_INSTRUMENTATION_HTTP_SERVER_CAPTURE_REQUEST_HEADERS: 'x-request-id',
        OTEL_INSTRUMENTATION_HTTP_SERVER_CAPTURE_RESPONSE_HEADERS: 'x-answer',
        OTEL_INSTRUMENTATION_HTTP_CLIENT_CAPTURE_REQUEST_HEADERS: 'x-extra',
      };
      peer = await startApp(path.join(FIXTURES, 'app.js'), { env: receiver.env({ ...common, OTEL_SERVICE_NAME: 'peer' }) });
      peerUrl = `http://127.0.0.1:${peer.port}`;
      front = await startApp(path.join(FIXTURES, variant), { env: receiver.env({ ...common, OTEL_SERVICE_NAME: 'front' }) });
    });

    afterAll(async () => {
      await front?.stop();
      await peer?.stop();
      await receiver?.close();
    });

    const frontUrl = (p: string) => `http://127.0.0.1:${front.port}${p}${p.includes('?') ? '&' : '?'}peer=${encodeURIComponent(peerUrl)}`;

    /** Sends a request carrying a fresh trace id and returns the spans of that trace once `count` arrived. */
    async function traced(p: string, count: number, init: { method?: string; headers?: Record<string, string>; viaHttp?: boolean } = {}) {
      const traceId = [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');
      const parentId = 'a1b2c3d4e5f60718';
      const headers = { traceparent: `00-${traceId}-${parentId}-01`, ...init.headers };
      // fetch refuses some headers (Expect); node:http sends anything
      const response = init.viaHttp ? await nodeHttpRequest(frontUrl(p), init.method ?? 'GET', headers) : await httpRequest(frontUrl(p), { method: init.method, headers });
      const spans = (await receiver.waitFor((all) => all.filter((s) => s.traceId === traceId).length >= count)).filter(
        (s) => s.traceId === traceId,
      );
      return { response, spans, traceId, parentId };
    }

    it('makes a SERVER span with the stable HTTP attributes, parented to the incoming traceparent', async () => {
      const { response, spans, parentId } = await traced('/hello?x=1', 1, { headers: { 'user-agent': 'tester/1.0', 'x-request-id': 'r-1' } });
      expect(response.status).toBe(200);
      expect(response.body).toBe('hello');
      const server = spans.find((s) => s.kind === SERVER && service(s) === 'front')!;
      expect(server.name).toBe('GET');
      expect(server.parentSpanId).toBe(parentId);
      expect(server.flags! & 0x300).toBe(0x300); // parent is remote
      expect(server.attributes).toMatchObject({
        'http.request.method': 'GET',
        'url.scheme': 'http',
        'url.path': '/hello',
        'server.address': '127.0.0.1',
        'server.port': front.port,
        'client.address': '127.0.0.1',
        'network.peer.address': '127.0.0.1',
        'network.protocol.version': '1.1',
        'user_agent.original': 'tester/1.0',
        'http.response.status_code': 200,
        'http.response.body.size': 5,
        'http.request.header.x-request-id': ['r-1'],
        'http.response.header.x-answer': ['42'],
      });
      expect(server.attributes['url.query']).toMatch(/^x=1&peer=/);
      expect(server.status.code).toBe(0);
      expect(server.attributes['error.type']).toBeUndefined();
      expect(server.scope.name).toBe('zerotel/instrumentations/http');
    });

    it('carries one trace across two services, through http.get and fetch', async () => {
      const { response, spans } = await traced('/chain', 5);
      expect(response.body).toBe('hello+hello');
      // exactly one span per request and per call, also when http is reached by both import and require
      expect(spans.filter((s) => s.kind === SERVER && service(s) === 'front')).toHaveLength(1);
      const frontServer = spans.find((s) => s.kind === SERVER && service(s) === 'front')!;
      const clients = spans.filter((s) => s.kind === CLIENT && service(s) === 'front');
      expect(clients).toHaveLength(2);
      expect(clients.map((c) => c.scope.name).sort()).toEqual(['zerotel/instrumentations/fetch', 'zerotel/instrumentations/http']);
      for (const client of clients) {
        expect(client.parentSpanId).toBe(frontServer.spanId);
        expect(client.name).toBe('GET');
        expect(client.attributes['http.response.status_code']).toBe(200);
        expect(client.attributes['server.address']).toBe('127.0.0.1');
        expect(client.attributes['server.port']).toBe(peer.port);
        expect(client.attributes['network.protocol.version']).toBe('1.1');
        expect(client.attributes['url.full']).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${peer.port}/hello\\?via=(http|fetch)$`));
        const peerServer = spans.find((s) => s.kind === SERVER && service(s) === 'peer' && s.parentSpanId === client.spanId);
        expect(peerServer, `peer server span under ${client.scope.name}`).toBeDefined();
        expect(peerServer!.attributes['url.query']).toMatch(/^via=/);
      }
      // read from the response's Content-Length (the peer answers 'hello')
      const httpClient = clients.find((c) => c.scope.name === 'zerotel/instrumentations/http')!;
      expect(httpClient.attributes['http.response.body.size']).toBe(5);
      expect(httpClient.attributes['network.protocol.version']).toBe('1.1');
    });

    it('traces every call form of http.request/get and https', async () => {
      // the front's server span, its 9 client spans, the front's own https server answering the 3 https ones, 6 peer server spans
      const { response, spans } = await traced('/client-forms', 1 + 9 + 3 + 6);
      expect(response.body.split(',')).toHaveLength(9);
      const clients = spans.filter((s) => s.kind === CLIENT && service(s) === 'front');
      expect(clients).toHaveLength(9);
      const urls = clients.map((c) => c.attributes['url.full']).sort();
      expect(urls.filter((u) => u.startsWith(`http://127.0.0.1:${peer.port}/form?n=`))).toHaveLength(6);
      expect(urls.filter((u) => /^https:\/\/localhost:\d+\/form\?n=(6|8|9)$/.test(u))).toHaveLength(3);
      const byForm = (n: number) => clients.find((c) => c.attributes['url.full'].endsWith(`/form?n=${n}`))!;
      const post = clients.find((c) => c.attributes['http.request.method'] === 'POST')!;
      expect(post.name).toBe('POST');
      const extra = byForm(5);
      expect(extra.attributes['http.request.header.x-extra']).toEqual(['1']);
      // http.request(url, options, callback): the URL gives the address, the options the method and headers
      const urlWithOptions = byForm(7);
      expect(urlWithOptions.name).toBe('PUT');
      expect(urlWithOptions.attributes['http.request.method']).toBe('PUT');
      expect(urlWithOptions.attributes['server.port']).toBe(peer.port);
      expect(urlWithOptions.attributes['http.request.header.x-extra']).toEqual(['7']);
      // every peer server span hangs under one of our client spans
      const peerServers = spans.filter((s) => s.kind === SERVER && service(s) === 'peer');
      expect(peerServers).toHaveLength(6);
      for (const p of peerServers) expect(clients.map((c) => c.spanId)).toContain(p.parentSpanId);
      expect(peerServers.find((p) => p.attributes['url.query'] === 'n=7')?.parentSpanId).toBe(urlWithOptions.spanId);
      // https.get(url, options, cb), https.request(url, options, cb) and https.request(options, cb): each its own
      // client span, with the context the https server reads
      const secureServers = spans.filter((s) => s.kind === SERVER && service(s) === 'front' && s.attributes['url.scheme'] === 'https');
      expect(secureServers).toHaveLength(3);
      for (const n of [6, 8, 9]) {
        const secure = byForm(n);
        expect(secure.attributes['url.full']).toMatch(/^https:/);
        expect(secure.attributes['server.port']).not.toBe(443);
        expect(secureServers.find((s) => s.attributes['url.query'] === `n=${n}`)?.parentSpanId, `https server span for n=${n}`).toBe(secure.spanId);
      }
    });

    it('marks a 5xx server response as an error with error.type, a 4xx only on the client', async () => {
      const fail = await traced('/fail', 1);
      const server = fail.spans.find((s) => s.kind === SERVER)!;
      expect(server.attributes['http.response.status_code']).toBe(503);
      expect(server.attributes['error.type']).toBe('503');
      expect(server.status.code).toBe(2);

      const streamed = await traced('/streamed', 1);
      expect(streamed.response.body).toBe('abcdef');
      const s201 = streamed.spans.find((s) => s.kind === SERVER)!;
      expect(s201.attributes['http.response.status_code']).toBe(201);
      expect(s201.attributes['http.response.body.size']).toBe(6);
      expect(s201.status.code).toBe(0);

      const teapot = await traced('/teapot', 1);
      const s418 = teapot.spans.find((s) => s.kind === SERVER)!;
      expect(s418.status.code).toBe(0);
      expect(s418.attributes['error.type']).toBeUndefined();

      const c404 = await traced('/client-404', 3);
      const client = c404.spans.find((s) => s.kind === CLIENT)!;
      expect(client.attributes['http.response.status_code']).toBe(404);
      expect(client.attributes['error.type']).toBe('404');
      expect(client.status.code).toBe(2);
      expect(c404.spans.find((s) => s.kind === SERVER && service(s) === 'peer')!.status.code).toBe(0);
    });

    it('records refused connections on http and fetch client spans', async () => {
      const { response, spans } = await traced('/refused', 3);
      expect(response.body).toBe('ECONNREFUSED ECONNREFUSED');
      const clients = spans.filter((s) => s.kind === CLIENT);
      expect(clients).toHaveLength(2);
      for (const c of clients) {
        expect(c.status.code).toBe(2);
        expect(c.attributes['error.type']).toBe('ECONNREFUSED');
        expect(c.events.some((e) => e.name === 'exception')).toBe(true);
      }
    });

    it('traces a request that came through checkContinue, handled there or passed on as a request, and checkExpectation', async () => {
      for (const mode of ['direct', 'emit']) {
        // the front's server span, its two client spans (http, fetch), the peer's two server spans
        const { response, spans, parentId } = await traced('/chain', 5, { method: 'POST', headers: { expect: '100-continue', 'x-continue': mode }, viaHttp: true });
        expect(response.body, mode).toBe('hello+hello');
        const servers = spans.filter((s) => s.kind === SERVER && service(s) === 'front');
        expect(servers, mode).toHaveLength(1);
        expect(servers[0].parentSpanId, mode).toBe(parentId);
        expect(servers[0].name, mode).toBe('POST');
        const clients = spans.filter((s) => s.kind === CLIENT);
        expect(clients.map((c) => c.parentSpanId), mode).toEqual([servers[0].spanId, servers[0].spanId]);
      }
      const { response, spans } = await traced('/hello', 1, { headers: { expect: 'something-else' }, viaHttp: true });
      expect(response.status).toBe(417);
      expect(spans.map((s) => [s.kind, s.attributes['http.response.status_code']])).toEqual([[SERVER, 417]]);
    });

    it('leaves a response the application discarded unread without error, and marks one the connection cut short', async () => {
      // the front's server span, three client spans, the peer's three server spans
      const { response, spans } = await traced('/discard-and-truncated', 7);
      expect(response.body).toBe('ECONNRESET');
      const clients = spans.filter((s) => s.kind === CLIENT);
      const moved = clients.filter((c) => c.attributes['url.full'].includes('/moved'));
      expect(moved.map((c) => c.attributes['url.full'].endsWith('?request-first')).sort()).toEqual([false, true]);
      for (const span of moved) {
        expect(span.attributes['http.response.status_code']).toBe(302);
        expect(span.status.code).toBe(0);
        expect(span.attributes['error.type']).toBeUndefined();
      }
      const truncated = clients.find((c) => c.attributes['url.full'].endsWith('/truncated'))!;
      expect(truncated.attributes['http.response.status_code']).toBe(200);
      expect(truncated.status.code).toBe(2);
      expect(truncated.attributes['error.type']).toBe('aborted');
      // the peer's side of it: the head went out, the connection dropped before the body was whole — an error with
      // the status code it sent (http-spans.md, "HTTP server call: connection dropped before response body was sent")
      const dropped = spans.find((s) => s.kind === SERVER && service(s) === 'peer' && s.attributes['url.path'] === '/truncated')!;
      expect(dropped.attributes['http.response.status_code']).toBe(200);
      expect(dropped.attributes['error.type']).toBe('aborted');
      expect(dropped.status.code).toBe(2);
    });

    it('leaves a fetch response whose body the application cancelled without error', async () => {
      // the front's server span, a client span, the peer's server span
      const { response, spans } = await traced('/fetch-cancel', 3);
      expect(response.body).toBe('200');
      const client = spans.find((s) => s.kind === CLIENT)!;
      expect(client.attributes['http.response.status_code']).toBe(200);
      expect(client.attributes['error.type']).toBeUndefined();
      expect(client.status.code).toBe(0);
    });

    it('keeps the status code as error.type of a 5xx response whose body the connection cut short (http and fetch)', async () => {
      // the front's server span, two client spans, the peer's two server spans
      const { response, spans } = await traced('/truncated-5xx', 5);
      expect(JSON.parse(response.body)).toEqual(['ECONNRESET', 'TypeError']);
      for (const via of ['http', 'fetch']) {
        const client = spans.find((s) => s.kind === CLIENT && String(s.attributes['url.full']).endsWith(`via=${via}`))!;
        expect(client.attributes['http.response.status_code'], via).toBe(502);
        // http-spans.md, error.type: a status code that indicates an error, once received, is the error's type
        expect(client.attributes['error.type'], via).toBe('502');
        expect(client.status.code, via).toBe(2);
      }
    });

    it('replaces trace headers the application set itself on fetch and http requests, never sends them twice', async () => {
      // the front's server span, five client spans, the peer's server spans but the one that got no traceparent
      const { response, spans } = await traced('/forward-trace-headers', 10, { headers: { baggage: 'tenant=acme' } });
      const received = JSON.parse(response.body) as Array<{ traceparent: string; baggage: string }>;
      const clients = spans.filter((s) => s.kind === CLIENT);
      expect(clients).toHaveLength(5);
      // a traceparent the application removed before the head went stays removed
      expect(received[4].traceparent).toBeUndefined();
      for (const [i, via] of ['fetch', 'request', 'http', 'set-header'].entries()) {
        const client = clients.find((c) => c.attributes['url.full'].endsWith(`via=${via}`))!;
        expect(received[i].traceparent, via).toBe(`00-${client.traceId}-${client.spanId}-01`);
        expect(received[i].baggage, via).toBe(via === 'set-header' ? 'tenant=acme,set=again' : 'tenant=acme');
        const peerServer = spans.find((s) => s.kind === SERVER && service(s) === 'peer' && s.attributes['url.query'] === `via=${via}`);
        expect(peerServer?.parentSpanId, via).toBe(client.spanId);
      }
    });

    it('names where a request goes, not a Host header the caller set', async () => {
      const { spans } = await traced('/host-header', 5);
      const clients = spans.filter((s) => s.kind === CLIENT).sort((a, b) => a.attributes['url.full'].localeCompare(b.attributes['url.full']));
      expect(clients.map((c) => c.attributes['url.full'])).toEqual([1, 2].map((n) => `http://127.0.0.1:${peer.port}/hello?h=${n}`));
      for (const client of clients) {
        expect(client.attributes['server.address']).toBe('127.0.0.1');
        expect(client.attributes['server.port']).toBe(peer.port);
      }
      // the peer sees the Host it was sent, and says so on its server span
      const peerServers = spans.filter((s) => s.kind === SERVER && service(s) === 'peer');
      expect(peerServers.map((s) => s.attributes['server.address'])).toEqual(['api.example.com', 'api.example.com']);
    });

    it('redacts signature query values in url.full', async () => {
      const { spans } = await traced('/signed', 3);
      const client = spans.find((s) => s.kind === CLIENT)!;
      expect(client.attributes['url.full']).toBe(`http://127.0.0.1:${peer.port}/hello?AWSAccessKeyId=REDACTED&Signature=REDACTED&keep=1`);
      const peerServer = spans.find((s) => s.kind === SERVER && service(s) === 'peer')!;
      expect(peerServer.attributes['url.query']).toBe('AWSAccessKeyId=REDACTED&Signature=REDACTED&keep=1');
    });

    it('runs the application\'s req/res listeners in the server span\'s context', async () => {
      const traceId = 'f'.repeat(31) + '1';
      const res = await httpRequest(frontUrl('/listeners'), {
        method: 'POST',
        body: 'x'.repeat(100_000),
        headers: { traceparent: `00-${traceId}-${'1'.repeat(16)}-01` },
      });
      const seen = JSON.parse(res.body);
      expect(seen.inHandler).toMatch(/^[0-9a-f]{16}$/);
      expect(seen.data).toBe(seen.inHandler);
      expect(seen.end).toBe(seen.inHandler);
      const spans = await receiver.waitFor((all) => all.some((s) => s.traceId === traceId));
      expect(spans.find((s) => s.traceId === traceId)!.spanId).toBe(seen.inHandler);
      await expect.poll(() => front.stdout()).toContain('finish-listener true');
    });

    it('names an unknown method _OTHER and keeps the original', async () => {
      const { spans } = await traced('/hello', 1, { method: 'PURGE' });
      const server = spans.find((s) => s.kind === SERVER)!;
      expect(server.name).toBe('HTTP');
      expect(server.attributes['http.request.method']).toBe('_OTHER');
      expect(server.attributes['http.request.method_original']).toBe('PURGE');
    });

    it('leaves excluded paths untraced, including what they call', async () => {
      receiver.clear();
      const traceId = 'e'.repeat(31) + '2';
      const res = await httpRequest(frontUrl('/health'), { headers: { traceparent: `00-${traceId}-${'2'.repeat(16)}-01` } });
      expect(res.body).toBe('ok');
      // a marker request after it: once its span arrives, anything from /health would have too
      const marker = await traced('/hello', 1);
      expect(marker.spans).toHaveLength(1);
      expect(receiver.spans.filter((s) => s.attributes['url.path'] === '/health')).toHaveLength(0);
      expect(receiver.spans.filter((s) => s.traceId === traceId)).toHaveLength(0);
      // its outgoing call is not traced either (the peer, which knows nothing of it, traces it as a new root)
      expect(receiver.spans.filter((s) => service(s) === 'front' && s.kind === CLIENT)).toHaveLength(0);
      const peerRoot = receiver.spans.find((s) => service(s) === 'peer' && s.attributes['url.path'] === '/hello' && s.attributes['url.query'] === undefined);
      expect(peerRoot?.parentSpanId).toBeUndefined();
    });

    it('serves requests with malformed trace headers normally and starts a new trace', async () => {
      const bad = [
        { traceparent: '00-' + '0'.repeat(32) + '-' + '1'.repeat(16) + '-01' },
        { traceparent: 'ff-' + 'a'.repeat(32) + '-' + '1'.repeat(16) + '-01' },
        { traceparent: '00-' + 'A'.repeat(32) + '-' + '1'.repeat(16) + '-01' },
        { traceparent: '\u00e9\u00e9-garbage', tracestate: '=,=,===,' },
        { traceparent: '00-' + 'a'.repeat(32) + '-' + '1'.repeat(16) + '-01', tracestate: 'x'.repeat(10000) + '=1' },
        // oversize baggage, within Node's own 16 KiB header limit
        { baggage: Array.from({ length: 3 }, (_, i) => `k${i}=` + 'v'.repeat(4500)).join(',') },
        { baggage: '%%%;;;===,,,\u00ff' },
        { b3: 'garbage-garbage' },
      ];
      for (const headers of bad) {
        const res = await httpRequest(frontUrl('/hello'), { headers: headers as Record<string, string> });
        expect(res.status).toBe(200);
        expect(res.body).toBe('hello');
      }
      await receiver.waitFor((all) => all.filter((s) => s.traceId === 'a'.repeat(32)).length >= 1);
      const valid = receiver.spans.find((s) => s.traceId === 'a'.repeat(32))!;
      // the traceparent was valid, the oversized tracestate was not: the trace continues without it
      expect(valid.traceState).toBeUndefined();
      for (const s of receiver.spans) expect(s.traceId).toMatch(/^[0-9a-f]{32}$/);
    });

    it('keeps a valid tracestate intact across the hop', async () => {
      const { spans } = await traced('/chain', 5, { headers: { tracestate: 'vendora=abc,rojo=00f067aa0ba902b7' } });
      for (const s of spans) expect(s.traceState).toBe('vendora=abc,rojo=00f067aa0ba902b7');
    });
  });
}
