/**
 * The report over trace files: decoding, per-operation statistics, errors, slowest traces, gates, JUnit, the text
 * for people, and the `zerotel report` command's exit codes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildReport, type Report } from '../../src/report/aggregate';
import { evaluateGates, GateSyntaxError, parseGate } from '../../src/report/gates';
import { nanosToMillis, normaliseId, type TraceFileSpan } from '../../src/report/otlp-json';
import { classifySpan } from '../../src/report/operations';
import { DurationSeries, SlowestTraces, TraceIdCounter } from '../../src/report/stats';
import { forEachLine, MAX_LINE_BYTES } from '../../src/report/trace-files';
import { renderJunit, xmlText } from '../../src/cli/junit';
import { renderReportText } from '../../src/cli/report-text';
import { terminalProgress } from '../../src/cli/progress';
import { requestLine, runZerotel, spanIdOf, traceIdOf, type SyntheticSpan } from './helpers';

const T0 = Date.UTC(2025, 4, 6, 7, 8, 9);
let tmp: string;
let dir: string;
let report: Report;

/** Ten requests to GET /users/:id taking 10, 20 … 100 ms, each with a SELECT and a Redis GET under it. */
function userRequests(): SyntheticSpan[] {
  const spans: SyntheticSpan[] = [];
  for (let i = 1; i <= 10; i++) {
    const traceId = traceIdOf(i);
    const server = spanIdOf(i * 10);
    spans.push({
      traceId,
      spanId: server,
      name: 'GET /users/:id',
      kind: 2,
      startMs: T0 + i * 1000,
      durationMs: i * 10,
      attributes: { 'http.request.method': 'GET', 'http.route': '/users/:id', 'url.path': `/users/${i}`, 'http.response.status_code': 200 },
    });
    spans.push({
      traceId,
      spanId: spanIdOf(i * 10 + 1),
      parentSpanId: server,
      name: 'SELECT users',
      kind: 3,
      startMs: T0 + i * 1000 + 1,
      durationMs: i,
      attributes: { 'db.system.name': 'postgresql', 'db.operation.name': 'SELECT', 'db.collection.name': 'users', 'db.query.text': 'SELECT * FROM users WHERE id = $1' },
    });
    spans.push({
      traceId,
      spanId: spanIdOf(i * 10 + 2),
      parentSpanId: server,
      name: 'GET',
      kind: 3,
      startMs: T0 + i * 1000 + 2,
      durationMs: 0.5,
      attributes: { 'db.system.name': 'redis', 'db.operation.name': 'GET' },
    });
  }
  return spans;
}

/** A failing POST /orders: the server span has only its status; the query under it has the message. */
const failingOrder: SyntheticSpan[] = [
  {
    traceId: traceIdOf(100),
    spanId: spanIdOf(1000),
    name: 'POST /orders',
    kind: 2,
    startMs: T0 + 20_000,
    durationMs: 250,
    attributes: { 'http.request.method': 'POST', 'http.route': '/orders', 'http.response.status_code': 500, 'error.type': '500' },
    status: { code: 2 },
  },
  {
    traceId: traceIdOf(100),
    spanId: spanIdOf(1001),
    parentSpanId: spanIdOf(1000),
    name: 'INSERT orders',
    kind: 3,
    startMs: T0 + 20_010,
    durationMs: 200,
    attributes: { 'db.system.name': 'postgresql', 'db.operation.name': 'INSERT', 'db.collection.name': 'orders' },
    status: { code: 2, message: 'duplicate key value violates unique constraint "orders_pkey"' },
    exception: { type: 'DatabaseError', message: 'duplicate key value violates unique constraint "orders_pkey"' },
  },
];

/** A test client that asked for a 404 on purpose: an error by the conventions, not counted by the report. */
const notFoundClient: SyntheticSpan = {
  traceId: traceIdOf(200),
  spanId: spanIdOf(2000),
  name: 'GET',
  kind: 3,
  startMs: T0 + 30_000,
  durationMs: 3,
  attributes: { 'http.request.method': 'GET', 'server.address': '127.0.0.1', 'server.port': 3000, 'http.response.status_code': 404 },
  status: { code: 2 },
};

/** A service whose writer uses proto field names, base64 ids and enum names (leniency of the reader). */
const protoNamesLine = JSON.stringify({
  resource_spans: [
    {
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'worker' } }] },
      scope_spans: [
        {
          spans: [
            {
              trace_id: Buffer.from(traceIdOf(300), 'hex').toString('base64'),
              span_id: Buffer.from(spanIdOf(3000), 'hex').toString('base64'),
              name: 'process job',
              kind: 'SPAN_KIND_CONSUMER',
              start_time_unix_nano: String(T0 * 1e6),
              end_time_unix_nano: String((T0 + 5) * 1e6),
              status: { code: 'STATUS_CODE_ERROR', message: 'job failed' },
            },
          ],
        },
      ],
    },
  ],
});

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'zerotel-report-'));
  dir = path.join(tmp, 'run');
  fs.mkdirSync(path.join(dir, 'nested'), { recursive: true });
  const users = userRequests();
  // The trace of request 10 is split over two files: its server span here, its children in the other file.
  fs.writeFileSync(
    path.join(dir, 'traces-1.jsonl'),
    [requestLine('api', users.filter((s) => !(s.traceId === traceIdOf(10) && s.parentSpanId))), requestLine('api', failingOrder), '{"broken": ', ''].join('\n'),
  );
  fs.writeFileSync(
    path.join(dir, 'nested', 'traces-2.jsonl'),
    // CRLF line ends and no final newline.
    [requestLine('api', users.filter((s) => s.traceId === traceIdOf(10) && s.parentSpanId)), requestLine('tests', [notFoundClient]), protoNamesLine].join('\r\n'),
  );
  fs.writeFileSync(path.join(dir, 'ignored.json'), 'not a trace file: directories give only their .jsonl files');
  report = await buildReport([dir], { slowest: 2 });
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('reading trace files', () => {
  it('finds the .jsonl files of a directory at any depth, and counts lines it cannot read', () => {
    expect(report.files.map((f) => path.relative(dir, f))).toEqual(['nested/traces-2.jsonl', 'traces-1.jsonl']);
    expect(report.summary.badLines).toBe(1);
    expect(report.badLineSamples[0]).toMatchObject({ file: path.join(dir, 'traces-1.jsonl'), line: 3 });
  });

  it('counts spans, distinct traces, services and the time covered', () => {
    expect(report.summary).toMatchObject({
      files: 2,
      spans: 30 + 2 + 1 + 1,
      traces: 10 + 1 + 1 + 1,
      errorSpans: 3,
      clientErrorAnswers: 1,
      startTime: new Date(T0).toISOString(),
      endTime: new Date(T0 + 30_003).toISOString(),
    });
    expect(report.summary.services).toEqual([
      { name: 'api', spans: 32, errorSpans: 2 },
      { name: 'tests', spans: 1, errorSpans: 0 },
      { name: 'worker', spans: 1, errorSpans: 1 },
    ]);
  });

  it('reads ids, times and enums the way other writers spell them', () => {
    expect(normaliseId(Buffer.from('0af7651916cd43dd8448eb211c80319c', 'hex').toString('base64'), 32)).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(normaliseId('0AF7651916CD43DD8448EB211C80319C', 32)).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(nanosToMillis('1746515289123456789')).toBeCloseTo(1746515289123.4568, 3);
    expect(nanosToMillis('999')).toBe(0.000999);
    expect(report.errors.find((e) => e.service === 'worker')).toMatchObject({ operation: 'process job', message: 'job failed', traceId: traceIdOf(300) });
  });

  it('cuts lines correctly across read chunks, with CRLF and without a final newline', async () => {
    const file = path.join(tmp, 'chunks.txt');
    // Lines of growing length cross the 1 MiB chunk boundary at many offsets.
    const lines = Array.from({ length: 40 }, (_, i) => String(i).padEnd(1 + ((i * 97_331) % 300_000), String.fromCharCode(97 + (i % 26))));
    fs.writeFileSync(file, lines.join('\r\n'));
    const seen: string[] = [];
    const progress: number[] = [];
    await forEachLine(file, { line: (b) => seen.push(b.toString()), progress: (n) => progress.push(n) });
    expect(seen).toEqual(lines);
    expect(progress[progress.length - 1]).toBe(fs.statSync(file).size);
    expect(MAX_LINE_BYTES).toBeGreaterThan(100 * 1024 * 1024);
  });
});

describe('per-operation statistics', () => {
  const op = (name: string) => report.operations.find((o) => o.name === name)!;

  it('groups HTTP server spans by method and route, with exact nearest-rank percentiles', () => {
    expect(op('GET /users/:id')).toMatchObject({ service: 'api', type: 'http server', count: 10, errors: 0, p50Ms: 50, p95Ms: 100, p99Ms: 100, maxMs: 100, totalMs: 550 });
    expect(op('POST /orders')).toMatchObject({ type: 'http server', count: 1, errors: 1, maxMs: 250 });
  });

  it('groups database spans by operation and collection, and Redis by command', () => {
    expect(op('SELECT users')).toMatchObject({ type: 'postgresql', count: 10, p50Ms: 5, p95Ms: 10, maxMs: 10 });
    expect(op('INSERT orders')).toMatchObject({ type: 'postgresql', count: 1, errors: 1 });
    expect(op('GET')).toMatchObject({ type: 'redis', count: 10, p50Ms: 0.5 });
  });

  it('groups HTTP client spans by method and server, and leaves other spans out of the table', () => {
    expect(op('GET 127.0.0.1:3000')).toMatchObject({ type: 'http client', count: 1, errors: 0 });
    expect(report.operations.find((o) => o.name === 'process job')).toBeUndefined();
    expect(report.operations.map((o) => o.type)).toEqual(['http server', 'http server', 'postgresql', 'postgresql', 'redis', 'http client']);
  });

  it('groups HTTP client calls to loopback servers on system-chosen ports (supertest\'s request(app)) as one row', () => {
    const client = (host: string, port: number) =>
      classifySpan({ kind: 2, name: 'GET', attributes: { 'http.request.method': 'GET', 'server.address': host, 'server.port': port } } as unknown as TraceFileSpan);
    expect(client('127.0.0.1', 34235)).toEqual({ type: 'http client', name: 'GET 127.0.0.1:*' });
    expect(client('127.0.0.1', 60999)).toEqual({ type: 'http client', name: 'GET 127.0.0.1:*' });
    expect(client('::1', 51000)).toEqual({ type: 'http client', name: 'GET ::1:*' });
    expect(client('localhost', 40000)).toEqual({ type: 'http client', name: 'GET localhost:*' });
    // A fixed port, or another host, keeps its own row.
    expect(client('127.0.0.1', 3000)).toEqual({ type: 'http client', name: 'GET 127.0.0.1:3000' });
    expect(client('api.example.com', 40000)).toEqual({ type: 'http client', name: 'GET api.example.com:40000' });
    expect(client('10.0.0.7', 50000)).toEqual({ type: 'http client', name: 'GET 10.0.0.7:50000' });
  });

  it('DurationSeries percentiles are the nearest rank of the sorted durations', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 300 }), fc.integer({ min: 1, max: 100 }), (values, p) => {
        const series = new DurationSeries();
        for (const v of values) series.add(v, false);
        const sorted = [...values].sort((a, b) => a - b);
        expect(series.percentile(p)).toBe(sorted[Math.ceil((p / 100) * sorted.length) - 1]);
        expect(series.max).toBe(sorted[sorted.length - 1]);
      }),
    );
  });
});

describe('errors and slow traces', () => {
  it('groups error spans by service, operation and message, with an example trace', () => {
    expect(report.errors).toHaveLength(3);
    expect(report.errors).toContainEqual({
      service: 'api',
      operation: 'INSERT orders',
      message: 'duplicate key value violates unique constraint "orders_pkey"',
      exceptionType: 'DatabaseError',
      count: 1,
      traceId: traceIdOf(100),
    });
    expect(report.errors).toContainEqual(expect.objectContaining({ operation: 'POST /orders', message: 'HTTP 500' }));
  });

  it('keeps the slowest traces by their longest span, with all their spans, even across files', () => {
    expect(report.slowestTraces.map((t) => [t.traceId, t.durationMs])).toEqual([
      [traceIdOf(100), 250],
      [traceIdOf(10), 100],
    ]);
    expect(report.slowestTraces[1].spans.map((s) => s.name).sort()).toEqual(['GET', 'GET /users/:id', 'SELECT users']);
  });

  it('SlowestTraces keeps exactly the top traces of a stream, in one pass', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ trace: fc.integer({ min: 0, max: 30 }), ms: fc.integer({ min: 0, max: 1000 }) }), { maxLength: 200 }),
        fc.integer({ min: 0, max: 8 }),
        (spans, limit) => {
          const top = new SlowestTraces(limit);
          const longest = new Map<string, number>();
          for (const s of spans) {
            const id = `t${s.trace}`;
            top.offer(id, s.ms, 'n', 's');
            longest.set(id, Math.max(longest.get(id) ?? -1, s.ms));
          }
          const expected = [...longest.values()].sort((a, b) => b - a).slice(0, limit);
          const result = top.result();
          expect(result.map((r) => r.durationMs)).toEqual(expected);
          for (const r of result) expect(longest.get(r.traceId)).toBe(r.durationMs);
        },
      ),
    );
  });

  it('TraceIdCounter counts distinct ids in a compact table', () => {
    const counter = new TraceIdCounter();
    const ids = new Set<string>();
    // 37 000 distinct random ids, each seen once or twice.
    let seed = 12345;
    const word = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0), seed.toString(16).padStart(8, '0'));
    const distinct = Array.from({ length: 37_000 }, () => word() + word() + word() + word());
    for (let i = 0; i < 50_000; i++) {
      const id = distinct[i % distinct.length];
      ids.add(id);
      counter.add(id);
    }
    counter.add('0'.repeat(32));
    counter.add('short');
    counter.add('short');
    expect(counter.size).toBe(ids.size + 2);
  });
});

describe('--fail-on rules', () => {
  it('parses the grammar', () => {
    expect(parseGate('error-spans')).toEqual({ text: 'error-spans', scope: undefined, check: 'error-spans' });
    expect(parseGate('p95>500ms')).toMatchObject({ check: 'duration', stat: 'p95', inclusive: false, thresholdMs: 500 });
    expect(parseGate(' max >= 1.5s ')).toMatchObject({ stat: 'max', inclusive: true, thresholdMs: 1500 });
    expect(parseGate('p99>250')).toMatchObject({ thresholdMs: 250 });
    expect(parseGate('p50>800us')).toMatchObject({ thresholdMs: 0.8 });
    expect(parseGate('GET /users/:id:p95>200ms')).toMatchObject({ scope: 'GET /users/:id', stat: 'p95', thresholdMs: 200 });
    expect(parseGate('POST /orders:error-spans')).toMatchObject({ scope: 'POST /orders', check: 'error-spans' });
    for (const bad of ['', 'errors', 'p90>1ms', 'p95<1ms', 'p95>', 'p95>fast', 'max>1h']) expect(() => parseGate(bad)).toThrow(GateSyntaxError);
  });

  it('trips on error spans, everywhere or in one operation', () => {
    const [all, orders, users] = evaluateGates(['error-spans', 'POST /orders:error-spans', 'GET /users/:id:error-spans'].map(parseGate), report);
    expect(all).toMatchObject({ tripped: true });
    expect(all.detail).toMatch(/^3 error spans \(/);
    expect(orders).toEqual({ rule: 'POST /orders:error-spans', tripped: true, detail: '1 of 1 POST /orders span failed' });
    expect(users).toMatchObject({ tripped: false, detail: '0 of 10 GET /users/:id spans failed' });
  });

  it('trips on a statistic over a threshold, strictly or not', () => {
    const results = evaluateGates(['GET /users/:id:p95>100ms', 'GET /users/:id:p95>=100ms', 'p50>200ms', 'max>240ms'].map(parseGate), report);
    expect(results.map((r) => r.tripped)).toEqual([false, true, true, true]);
    expect(results[2].detail).toMatch(/^POST \/orders \(api\) p50 250 ms > 200 ms$/);
    expect(results[0].detail).toBe('GET /users/:id (api) p95 100 ms');
  });

  it('a rule naming an operation that never ran trips, so a typo cannot switch a gate off', () => {
    const [result] = evaluateGates([parseGate('GET /user/:id:p95>1s')], report);
    expect(result.tripped).toBe(true);
    expect(result.detail).toMatch(/^no operation named "GET \/user\/:id" ran \(known: GET \/users\/:id, POST \/orders/);
  });
});

describe('outputs', () => {
  it('JUnit: a test case per HTTP route, failed when it had errors, with the cause found in its trace', () => {
    const gates = evaluateGates([parseGate('error-spans'), parseGate('p95>1s')], report);
    const xml = renderJunit(report, gates);
    expect(xml).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites name="zerotel" tests="4" failures="2" errors="0">/);
    expect(xml).toContain('<testsuite name="HTTP routes (api)" tests="2" failures="1"');
    expect(xml).toContain('<testcase classname="api.http" name="GET /users/:id" time="0.550"><system-out>10 requests, 0 failed;');
    expect(xml).toMatch(/<testcase classname="api.http" name="POST \/orders" time="0.250"><failure message="1 of 1 requests failed" type="error-spans">1× POST \/orders: HTTP 500 — trace a0+64\n1× INSERT orders: duplicate key value violates unique constraint &quot;orders_pkey&quot; \(DatabaseError\)/);
    expect(xml).toContain('<testsuite name="zerotel --fail-on" tests="2" failures="1"');
    expect(xml).toContain('name="p95&gt;1s" time="0"><system-out>');
    expect(xmlText('a<b>&"\'\u0001\ud800')).toBe('a&lt;b&gt;&amp;&quot;&apos;\ufffd\ufffd');
  });

  it('text: summary, waterfalls with bars, the table, errors and verdicts', () => {
    const gates = evaluateGates([parseGate('error-spans')], report);
    const text = renderReportText(report, gates, false);
    expect(text).toContain('zerotel report — 2 files');
    expect(text).toContain('34 spans in 13 traces · 3 errors · 1 HTTP 4xx answer to clients (not counted as errors)');
    expect(text).toContain('services: api (32 spans), tests (1 span), worker (1 span)');
    expect(text).toContain('1 line could not be read:');
    expect(text).toContain('Slowest 2 traces');
    expect(text).toMatch(/\[█{24}\]   POST \/orders server 250 ms ERROR/);
    expect(text).toMatch(/\[█{19,20} {4,5}\]   └─ INSERT orders client 200 ms ERROR: duplicate key/);
    const lines = text.split('\n');
    const header = lines.find((l) => l.includes('OPERATION'))!;
    const row = lines.find((l) => l.includes('GET /users/:id') && l.includes('http server'))!;
    expect(header.trim().split(/\s{2,}/)).toEqual(['SERVICE', 'TYPE', 'OPERATION', 'COUNT', 'ERRORS', 'P50', 'P95', 'P99', 'MAX']);
    expect(row.trim().split(/\s{2,}/)).toEqual(['api', 'http server', 'GET /users/:id', '10', '0', '50.0 ms', '100 ms', '100 ms', '100 ms']);
    // Numbers are right-aligned under their headings.
    expect(row.indexOf(' 10 ') + 3).toBe(header.indexOf('COUNT') + 5);
    expect(row.lastIndexOf('100 ms') + 6).toBe(header.length);
    expect(text).toContain('1× api · INSERT orders: duplicate key value violates unique constraint "orders_pkey" (DatabaseError) · trace');
    expect(text).toMatch(/Gates \(--fail-on\)\n {2}FAIL {2}error-spans — 3 error spans/);
    expect(text).not.toContain('\u001b[');
    expect(renderReportText(report, gates, true)).toContain('\u001b[31;1m3 errors\u001b[0m');
  });

  it('progress only on a terminal, over both passes, erased at the end', async () => {
    expect(terminalProgress(() => {}, false)).toBeUndefined();
    const written: string[] = [];
    const updates: Array<[number, number, number]> = [];
    const tty = terminalProgress((t) => written.push(t), true)!;
    await buildReport([dir], {
      progress: {
        update: (pass, done, total) => {
          updates.push([pass, done, total]);
          tty.update(pass, done, total);
        },
        done: () => tty.done(),
      },
    });
    const total = report.summary.bytes;
    expect(updates.filter(([pass]) => pass === 1).pop()).toEqual([1, total, total]);
    expect(updates.filter(([pass]) => pass === 2).pop()).toEqual([2, total, total]);
    expect(written[0]).toMatch(/^\r\u001b\[2Kzerotel: reading spans \(pass 1 of 2\) \d+% of [\d.]+ KB$/);
    expect(written[written.length - 1]).toBe('\r\u001b[2K');
  });
});

describe('zerotel report', () => {
  it('prints the report and exits 0, or 3 when a rule trips', async () => {
    const ok = await runZerotel(['report', '--fail-on', 'GET /users/:id:p95>1s', dir]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('Operations');
    expect(ok.stdout).toContain('pass  GET /users/:id:p95>1s');
    expect(ok.stderr).toBe('');
    const tripped = await runZerotel(['report', '--fail-on', 'error-spans', '--slowest', '0', dir]);
    expect(tripped.code).toBe(3);
    expect(tripped.stdout).not.toContain('Slowest');
  });

  it('--json for machines, --junit for CI', async () => {
    const junit = path.join(tmp, 'out', 'junit.xml');
    const r = await runZerotel(['report', '--json', '--junit', junit, '--fail-on', 'p95>1s', dir]);
    expect(r.code).toBe(0);
    const parsed = JSON.parse(r.stdout);
    expect(parsed.summary.spans).toBe(34);
    expect(parsed.operations.find((o: any) => o.name === 'GET /users/:id').p50Ms).toBe(50);
    expect(parsed.gates).toEqual([{ rule: 'p95>1s', tripped: false, detail: 'worst of 6: POST /orders (api) p95 250 ms' }]);
    expect(parsed.slowestTraces[0].spans[0].attributes).toBeTypeOf('object');
    expect(fs.readFileSync(junit, 'utf8')).toContain('<testsuites name="zerotel" tests="3" failures="1"');
  });

  it('exits 2 on bad usage: no inputs, a missing input, an empty directory, a bad rule, an unknown option', async () => {
    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty, { recursive: true });
    const cases: Array<[string[], RegExp]> = [
      [['report'], /name at least one trace file or directory/],
      [['report', path.join(tmp, 'nope')], /no such file or directory: .*nope/],
      [['report', empty], /no trace files found in/],
      [['report', '--fail-on', 'p90>1ms', dir], /--fail-on "p90>1ms": not a rule/],
      [['report', '--frobnicate', dir], /Unknown option '--frobnicate'/],
      [['fly'], /unknown command "fly"/],
    ];
    for (const [args, message] of cases) {
      const r = await runZerotel(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });
});
