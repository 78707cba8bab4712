/**
 * http and fetch client spans, end to end (test/fixtures/http/client-cases.js under the real preload, a peer in the
 * test process without the agent): a client request's callbacks and events run in the caller's context, also on a
 * kept-alive socket; aborts, timeouts and 4xx answers make ERROR spans with the error.type http-spans.md asks for;
 * the client header capture lists put exactly the listed headers on http and fetch client spans.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpRequest, startApp, type RunningApp } from '../helpers/child';
import { Receiver, type ReceivedSpan } from '../helpers/receiver';

const SERVER = 1;
const CLIENT = 2;
const ERROR = 2;

let receiver: Receiver;
let peer: http.Server;
let peerUrl: string;
let app: RunningApp;
/** Requests to /hang, held open (never answered) until the end. */
const hanging: http.ServerResponse[] = [];

beforeAll(async () => {
  receiver = await Receiver.start();
  peer = http.createServer((req, res) => {
    const { pathname } = new URL(req.url!, 'http://x');
    if (pathname === '/hang') return void hanging.push(res);
    if (pathname === '/missing') {
      res.statusCode = 404;
      return res.end('missing');
    }
    res.setHeader('x-listed-res', 'c');
    res.setHeader('x-unlisted-res', 'd');
    res.end('hello');
  });
  await new Promise<void>((resolve) => peer.listen(0, '127.0.0.1', resolve));
  peerUrl = `http://127.0.0.1:${(peer.address() as AddressInfo).port}`;
  app = await startApp(path.join(__dirname, '..', 'fixtures', 'http', 'client-cases.js'), {
    env: receiver.env({
      OTEL_SERVICE_NAME: 'client-cases',
      OTEL_INSTRUMENTATION_HTTP_CLIENT_CAPTURE_REQUEST_HEADERS: 'x-listed-req,x-absent-req',
      OTEL_INSTRUMENTATION_HTTP_CLIENT_CAPTURE_RESPONSE_HEADERS: 'x-listed-res,x-absent-res',
    }),
  });
});

afterAll(async () => {
  await app?.stop();
  peer?.closeAllConnections();
  peer?.close();
  await receiver?.close();
});

/** Calls a route of the app with a fresh trace id; returns its answer and the trace's spans once `count` arrived. */
async function traced(route: string, count: number) {
  const traceId = [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');
  const response = await httpRequest(`http://127.0.0.1:${app.port}${route}?peer=${encodeURIComponent(peerUrl)}`, {
    headers: { traceparent: `00-${traceId}-${'c'.repeat(16)}-01` },
  });
  const spans = (await receiver.waitFor((all) => all.filter((s) => s.traceId === traceId).length >= count)).filter((s) => s.traceId === traceId);
  const server = spans.find((s) => s.kind === SERVER)!;
  const clients = spans.filter((s) => s.kind === CLIENT);
  return { response, spans, server, clients };
}

/** The client span whose url.full ends with `suffix`. */
function clientTo(clients: ReceivedSpan[], suffix: string): ReceivedSpan {
  const found = clients.filter((c) => String(c.attributes['url.full']).endsWith(suffix));
  expect(found, suffix).toHaveLength(1);
  return found[0];
}

describe('a client request\'s callbacks and events', () => {
  for (const [route, label] of [
    ['/context', 'default agent'],
    ['/context-keep-alive', 'keep-alive agent, one socket'],
  ] as const) {
    it(`run in the caller's context (${label})`, async () => {
      // twice: on the keep-alive agent the second trace's requests reuse the first trace's socket
      for (let round = 0; round < 2; round++) {
        // the server span, the first request's client span, seven probes'
        const { response, server, clients } = await traced(route, 9);
        expect(response.status).toBe(200);
        if (route === '/context-keep-alive' && round === 1) expect(JSON.parse(response.body).reusedSocket, 'the socket was reused').toBe(true);
        const first = clientTo(clients, '?from=first');
        expect(first.parentSpanId).toBe(server.spanId);
        for (const from of ['callback', 'data', 'end', 'response-close', 'socket', 'finish', 'close']) {
          // made inside the first request's callback or event: the caller's span is its parent, not the first
          // request's client span (nor a span of whichever request last used the socket)
          expect(clientTo(clients, `?from=${from}`).parentSpanId, `${label}, round ${round}, ${from}`).toBe(server.spanId);
        }
        expect(clients).toHaveLength(8);
      }
    });
  }
});

describe('client spans that end in error', () => {
  /** The one client span of a route, and what the app saw. */
  async function failing(route: string) {
    // the server span and one client span
    const { response, clients } = await traced(route, 2);
    expect(clients).toHaveLength(1);
    return { outcome: response.body, client: clients[0] };
  }

  // route, what the case is, error.type, what the application saw (the error's name and code)
  const FAILURES: Array<[string, string, string, string]> = [
    // Node's own error for a request destroyed before its response: "socket hang up"
    ['/http-destroy', 'a node:http request the caller destroys before the response', 'ECONNRESET', 'Error ECONNRESET'],
    ['/http-abort-signal', 'a node:http request aborted through its AbortSignal', 'AbortError', 'AbortError ABORT_ERR'],
    // an Error with a code: the code is its type
    ['/http-timeout', "a node:http request timed out with setTimeout and destroyed with the application's error", 'ETIMEDOUT', 'Error ETIMEDOUT'],
    ['/fetch-abort', 'a fetch aborted through its AbortController', 'AbortError', 'AbortError'],
    ['/fetch-timeout', 'a fetch timed out by AbortSignal.timeout against a server that never answers', 'TimeoutError', 'TimeoutError'],
  ];
  for (const [route, title, errorType, seen] of FAILURES) {
    it(title, async () => {
      const { outcome, client } = await failing(route);
      expect(client.status.code).toBe(ERROR);
      expect(client.attributes['error.type']).toBe(errorType);
      // no answer came
      expect(client.attributes['http.response.status_code']).toBeUndefined();
      expect(client.events.some((e) => e.name === 'exception')).toBe(true);
      expect(outcome).toBe(seen);
    });
  }

  for (const via of ['http', 'fetch']) {
    it(`a 404 answer to ${via === 'http' ? 'node:http' : 'fetch'}: the status code is the error's type`, async () => {
      const { outcome, client } = await failing(`/${via}-404`);
      expect(client.attributes['http.response.status_code']).toBe(404);
      expect(client.status.code).toBe(ERROR);
      expect(client.attributes['error.type']).toBe('404');
      expect(outcome).toBe('response 404');
    });
  }
});

describe('client header capture', () => {
  it('records the listed request and response headers, and only those, on http and fetch client spans', async () => {
    const { clients } = await traced('/headers', 3);
    for (const via of ['http', 'fetch']) {
      const span = clientTo(clients, `case=headers-${via}`);
      const captured = Object.fromEntries(Object.entries(span.attributes).filter(([k]) => /^http\.(request|response)\.header\./.test(k)));
      // listed and sent: recorded as string arrays; not listed, or listed but absent: nothing
      expect(captured, via).toEqual({
        'http.request.header.x-listed-req': ['a'],
        'http.response.header.x-listed-res': ['c'],
      });
    }
  });
});
