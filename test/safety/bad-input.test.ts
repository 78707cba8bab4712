/**
 * Bad input never breaks anything.
 *
 * 1. Incoming trace headers the http tests (test/http/http.test.ts) do not cover — a header sent on two lines,
 *    B3 multi-header garbage, baggage with 200 members, raw non-ASCII bytes, oversize values — are written byte
 *    for byte on a socket to a real server under the preload with all four propagators on. Every request is
 *    answered as it is without the agent; what the propagators make of the headers follows their
 *    specifications (invalid → a new trace; tracestate and baggage lines combined; baggage cut at 180 members).
 * 2. Data the instrumentations do not expect — odd request targets and Host headers, CONNECT, huge URLs, odd
 *    client requests, pg configurations without a host or over a unix socket, odd query arguments, Redis
 *    commands with undefined or object arguments — gives exactly what it gives without the agent, call by call,
 *    and the agent reports no error.
 */
import * as net from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runApp, startApp, type RunningApp, type RunResult } from '../helpers/child';
import { Receiver } from '../helpers/receiver';
import { requirePostgres, requireRedis, serviceEnv } from '../helpers/services';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'safety');
const ALL_PROPAGATORS = 'tracecontext,baggage,b3,b3multi';

const TRACE_A = 'a'.repeat(32);
const TRACE_B = 'b'.repeat(32);
const TP_A = `00-${TRACE_A}-${'1'.repeat(16)}-01`;
const TP_B = `00-${TRACE_B}-${'2'.repeat(16)}-01`;
const HEX32 = /^[0-9a-f]{32}$/;

interface RawAnswer {
  status: number;
  body: string;
}

/** Sends a GET with exactly these header lines (latin1 bytes: any byte value goes on the wire as given). */
function rawGet(port: number, headers: Array<[string, string]>): Promise<RawAnswer> {
  const head = `GET /in HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}Connection: close\r\n\r\n`;
  return new Promise((resolve, reject) => {
    // written, not ended: a half-closed connection would have the server drop a response it has not sent yet
    const socket = net.connect(port, '127.0.0.1', () => socket.write(Buffer.from(head, 'latin1')));
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ status: Number(text.split(' ')[1]), body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
  });
}

interface Seen {
  traceId: string | null;
  traceState: string | null;
  baggageCount: number;
  baggageKeys: string[];
  downstream: Record<string, string>;
}

const members = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `k${from + i}=v${from + i}`).join(',');

/** A case: the header lines, and what the application must see under the agent. */
const HEADER_CASES: Array<[name: string, headers: Array<[string, string]>, check: (seen: Seen) => void]> = [
  [
    'two traceparent lines (invalid together): a new trace',
    [['traceparent', TP_A], ['traceparent', TP_B]],
    (seen) => expect([TRACE_A, TRACE_B]).not.toContain(seen.traceId),
  ],
  [
    'a traceparent in upper-case letters on the wire name: continued (names are case-insensitive)',
    [['TRACEPARENT', TP_A]],
    (seen) => expect(seen.traceId).toBe(TRACE_A),
  ],
  [
    'tracestate on two lines: combined in order',
    [['traceparent', TP_A], ['tracestate', 'vendora=1'], ['tracestate', 'vendorb=2']],
    (seen) => {
      expect(seen.traceId).toBe(TRACE_A);
      expect(seen.traceState).toBe('vendora=1,vendorb=2');
      expect(seen.downstream.tracestate).toBe('vendora=1,vendorb=2');
    },
  ],
  [
    'baggage on two lines: combined',
    [['baggage', 'k1=v1'], ['baggage', 'k2=v2;prop']],
    (seen) => {
      expect(seen.baggageKeys).toEqual(['k1', 'k2']);
      expect(seen.downstream.baggage).toBe('k1=v1,k2=v2;prop');
    },
  ],
  [
    'baggage with 200 members: the first 180 are kept, and no more are sent on',
    [['baggage', members(200)]],
    (seen) => {
      expect(seen.baggageCount).toBe(180);
      expect(seen.baggageKeys).toEqual(['k0', 'k1', 'k2']);
      expect(seen.downstream.baggage.split(',')).toHaveLength(180);
      expect(Buffer.byteLength(seen.downstream.baggage)).toBeLessThanOrEqual(8192);
    },
  ],
  [
    'baggage with 200 members over two lines: 180 kept',
    [['baggage', members(100)], ['baggage', members(100, 100)]],
    (seen) => expect(seen.baggageCount).toBe(180),
  ],
  [
    'B3 multi-header garbage: ignored, a new trace',
    [['X-B3-TraceId', 'not-hex-at-all'], ['X-B3-SpanId', '123'], ['X-B3-Sampled', 'maybe'], ['X-B3-Flags', '7']],
    (seen) => {
      expect(seen.traceId).toMatch(HEX32);
      expect(seen.downstream['x-b3-traceid']).toBe(seen.traceId);
      expect(seen.downstream['x-b3-sampled']).toBe('1');
    },
  ],
  [
    'B3 multi with a trace id and no span id: ignored',
    [['X-B3-TraceId', TRACE_A], ['X-B3-Sampled', '1']],
    (seen) => expect(seen.traceId).not.toBe(TRACE_A),
  ],
  [
    'B3 multi trace id on two lines: ignored',
    [['X-B3-TraceId', TRACE_A], ['X-B3-TraceId', TRACE_B], ['X-B3-SpanId', '1'.repeat(16)]],
    (seen) => expect([TRACE_A, TRACE_B]).not.toContain(seen.traceId),
  ],
  [
    'an oversize single b3 header: ignored',
    [['b3', `${TRACE_A}-${'1'.repeat(16)}-1-${'f'.repeat(8000)}`]],
    (seen) => expect(seen.traceId).not.toBe(TRACE_A),
  ],
  [
    'an oversize traceparent: ignored',
    [['traceparent', TP_A + '-' + 'e'.repeat(8000)]],
    // version 00 with extra fields is invalid (W3C Trace Context, "Versioning of traceparent")
    (seen) => expect(seen.traceId).not.toBe(TRACE_A),
  ],
  [
    'raw non-ASCII bytes in every trace header: ignored (baggage keeps its one valid member)',
    [
      ['traceparent', `00-${'a'.repeat(31)}\xe9-${'1'.repeat(16)}-01`],
      ['tracestate', 'k=\xff\xfe'],
      ['baggage', 'bad=caf\xc3\xa9,ok=1'],
      ['b3', `${TRACE_A}-\x80${'1'.repeat(15)}-1`],
      ['X-B3-TraceId', '\xc3\xa9'],
    ],
    (seen) => {
      expect(seen.traceId).not.toBe(TRACE_A);
      expect(seen.traceState).toBeNull();
      expect(seen.baggageKeys).toEqual(['ok']);
    },
  ],
  [
    'a valid traceparent with a non-ASCII tracestate: the trace continues, the tracestate is dropped',
    [['traceparent', TP_A], ['tracestate', 'v\xe9ndor=1,ok=2']],
    (seen) => {
      expect(seen.traceId).toBe(TRACE_A);
      expect(seen.traceState).toBeNull();
      expect(seen.downstream.tracestate).toBeUndefined();
    },
  ],
];

describe('incoming trace headers the http tests do not cover', () => {
  let receiver: Receiver;
  let plain: RunningApp;
  let traced: RunningApp;

  beforeAll(async () => {
    receiver = await Receiver.start();
    const app = path.join(FIXTURES, 'propagation-app.js');
    [plain, traced] = await Promise.all([
      startApp(app, { nodeArgs: [] }),
      startApp(app, { env: receiver.env({ OTEL_PROPAGATORS: ALL_PROPAGATORS }) }),
    ]);
  });

  afterAll(async () => {
    await plain?.stop();
    await traced?.stop();
    await receiver?.close();
  });

  it.each(HEADER_CASES)('%s', async (_name, headers, check) => {
    const without = await rawGet(plain.port, headers);
    const withAgent = await rawGet(traced.port, headers);
    expect(without.status).toBe(200);
    expect(withAgent.status).toBe(without.status);
    const seen = JSON.parse(withAgent.body) as Seen;
    expect(seen.traceId).toMatch(HEX32);
    // the trace the application sees is the one sent downstream, in every format
    expect(seen.downstream.traceparent).toMatch(new RegExp(`^00-${seen.traceId}-[0-9a-f]{16}-01$`));
    expect(seen.downstream.b3).toMatch(new RegExp(`^${seen.traceId}-[0-9a-f]{16}-1$`));
    check(seen);
  });

  it('wrote nothing on stderr, and traced every request', async () => {
    await receiver.waitFor((spans) => spans.filter((s) => s.kind === 1 && s.attributes['url.path'] === '/in').length >= HEADER_CASES.length);
    expect(traced.stderr()).toBe('');
  });
});

describe('data the instrumentations do not expect', () => {
  let receiver: Receiver;
  let without: RunResult;
  let withAgent: RunResult;

  beforeAll(async () => {
    await requirePostgres();
    await requireRedis();
    receiver = await Receiver.start();
    const app = path.join(FIXTURES, 'odd-input-app.js');
    const env = { ...serviceEnv(), KEY_PREFIX: 'zerotel-safety-odd' };
    without = await runApp(app, { nodeArgs: [], env, timeoutMs: 30_000 });
    withAgent = await runApp(app, { env: receiver.env({ ...env, OTEL_PROPAGATORS: ALL_PROPAGATORS }), timeoutMs: 30_000 });
  });

  afterAll(() => receiver?.close());

  it('gives, call by call, exactly what the libraries give without the agent', () => {
    expect(without.code, without.stdout + without.stderr).toBe(0);
    expect(withAgent.code, withAgent.stdout + withAgent.stderr).toBe(0);
    const a = JSON.parse(without.stdout);
    const b = JSON.parse(withAgent.stdout);
    expect(Object.keys(b)).toEqual(Object.keys(a));
    for (const key of Object.keys(a)) expect(b[key], key).toEqual(a[key]);
    // the reference run went where it should: odd input was accepted or refused by the libraries themselves
    expect(a['server: asterisk OPTIONS'].ok.status).toBe('HTTP/1.1 200 OK');
    expect(a['server: CONNECT'].ok.status).toBe('HTTP/1.1 200 Connection Established');
    expect(a['pg: unix socket directory'].ok ?? a['pg: unix socket directory'].error).toBeDefined();
    expect(a['redis: SET with an undefined value'].error).toBe('TypeError');
  });

  it('reports no error of its own, and still traces the odd requests', async () => {
    expect(withAgent.stderr).toBe('');
    const spans = await receiver.waitFor((all) => all.some((s) => s.kind === 1 && s.attributes['url.path'] === '*'));
    const paths = spans.filter((s) => s.kind === 1).map((s) => s.attributes['url.path'] as string);
    expect(paths).toContain('//double//slash');
    expect(paths).toContain('*');
    expect(paths.some((p) => p.startsWith('/aaaa') && p.length > 12_000)).toBe(true);
    for (const s of spans) expect(s.traceId).toMatch(HEX32);
  });

  it('describes odd targets as what they are, with no credentials anywhere', async () => {
    const spans = await receiver.waitFor((all) => all.some((s) => s.kind === 2 && s.attributes['http.request.method'] === 'CONNECT'));
    const servers = spans.filter((s) => s.kind === 1);
    const clients = spans.filter((s) => s.kind === 2 && s.attributes['url.full'] !== undefined);
    // absolute-form targets (RFC 9112 §3.2.2): url.path is the path, not the URL with its user:password
    expect(servers.filter((s) => s.attributes['url.path'] === '/y')).toHaveLength(3);
    for (const s of spans) expect(JSON.stringify(s.attributes)).not.toContain('secret');
    // a request sent in absolute-form (as to a proxy) is that URL; OPTIONS * and CONNECT have no path to add
    expect(clients.map((s) => s.attributes['url.full'])).toContain('http://x/y?q=1');
    for (const s of clients) expect(s.attributes['url.full']).toMatch(/^https?:\/\/[^/*]+(\/.*)?$/);
    // a CONNECT answered 200 and an upgrade answered 101 are successes, not aborted requests
    const connect = clients.find((s) => s.attributes['http.request.method'] === 'CONNECT')!;
    expect(connect.status.code).toBe(0);
    expect(connect.attributes['http.response.status_code']).toBe(200);
    expect(connect.attributes['error.type']).toBeUndefined();
    const upgrade = clients.find((s) => s.attributes['url.full']?.endsWith('/upgrade'))!;
    expect(upgrade.status.code).toBe(0);
    expect(upgrade.attributes['http.response.status_code']).toBe(101);
    expect(upgrade.attributes['error.type']).toBeUndefined();
  });
});
