/**
 * A report over a large trace file streams it: memory stays bounded by what the report keeps, not by the file.
 * The report runs in a child process with a V8 heap limit far below the file's size, and measures its peak.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runApp } from '../helpers/child';
import { CLI_FIXTURES, requestLine, spanIdOf, traceIdOf, type SyntheticSpan } from './helpers';

const TARGET_BYTES = 80 * 1024 * 1024;
const HEAP_LIMIT_MB = 64;
const T0 = Date.UTC(2025, 0, 1);

let tmp: string;
let file: string;
let lines = 0;
let spans = 0;
let traces = 0;

/** One request of the synthetic service: a server span and nine queries under it, each with a long query text. */
function request(n: number, rootMs: number): SyntheticSpan[] {
  const traceId = traceIdOf(n + 1);
  const root = spanIdOf(n * 16 + 1);
  const out: SyntheticSpan[] = [
    {
      traceId,
      spanId: root,
      name: 'GET /items/:id',
      kind: 2,
      startMs: T0 + n,
      durationMs: rootMs,
      attributes: { 'http.request.method': 'GET', 'http.route': '/items/:id', 'url.path': `/items/${n}`, 'http.response.status_code': 200 },
    },
  ];
  for (let i = 0; i < 9; i++) {
    out.push({
      traceId,
      spanId: spanIdOf(n * 16 + 2 + i),
      parentSpanId: root,
      name: 'SELECT items',
      kind: 3,
      startMs: T0 + n + i * 0.1,
      durationMs: (n % 50) / 10 + i * 0.01,
      attributes: {
        'db.system.name': 'postgresql',
        'db.operation.name': 'SELECT',
        'db.collection.name': 'items',
        'db.query.text': `SELECT id, name, price, stock, description FROM items WHERE id = $1 AND shard = ${i} ${'/* padding */ '.repeat(20)}`,
      },
    });
  }
  return out;
}

const SLOW_TRACE = 777;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'zerotel-large-'));
  file = path.join(tmp, 'large.jsonl');
  const fd = fs.openSync(file, 'w');
  let written = 0;
  let n = 0;
  let held: SyntheticSpan[] = [];
  while (written < TARGET_BYTES) {
    const batch: SyntheticSpan[] = [];
    for (let r = 0; r < 10; r++, n++) {
      const spansOf = request(n, n === SLOW_TRACE ? 5000 : 10 + (n % 97));
      // The slowest trace's queries are written last, far from its root: pass 2 must find them anyway.
      if (n === SLOW_TRACE) {
        batch.push(spansOf[0]);
        held = spansOf.slice(1);
      } else batch.push(...spansOf);
    }
    const line = requestLine('large', batch) + '\n';
    written += fs.writeSync(fd, line);
    lines++;
    spans += batch.length;
    traces += 10;
  }
  written += fs.writeSync(fd, requestLine('large', held) + '\n');
  lines++;
  spans += held.length;
  fs.closeSync(fd);
}, 60_000);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('a report over a large file', () => {
  it(`streams ${TARGET_BYTES / 1024 / 1024} MB with a ${HEAP_LIMIT_MB} MB heap limit, keeping the heap far below the file size`, async () => {
    const size = fs.statSync(file).size;
    expect(size).toBeGreaterThan(TARGET_BYTES);
    const r = await runApp(path.join(CLI_FIXTURES, 'measure-report.js'), {
      nodeArgs: [`--max-old-space-size=${HEAP_LIMIT_MB}`],
      args: [file],
      timeoutMs: 120_000,
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.code).toBe(0);
    expect(result.summary).toMatchObject({ files: 1, bytes: size, spans, traces, errorSpans: 0, badLines: 0 });
    expect(result.operations.map((o: any) => [o.name, o.count])).toEqual([
      ['GET /items/:id', traces],
      ['SELECT items', traces * 9],
    ]);
    expect(result.slowestTraces[0]).toEqual({ traceId: traceIdOf(SLOW_TRACE + 1), durationMs: 5000, spans: 10 });
    expect(result.slowestTraces).toHaveLength(5);
    // What the report keeps is 8 bytes per operation span and 16 per trace: about 1 MB here, on a heap that
    // starts near 5 MB. A reader that held the file, or its spans, would need hundreds of megabytes.
    expect(result.peakHeapUsed).toBeLessThan(40 * 1024 * 1024);
    console.log(`large report: ${lines} lines, ${spans} spans, ${(size / 1024 / 1024).toFixed(0)} MB; peak heap ${(result.peakHeapUsed / 1024 / 1024).toFixed(1)} MB`);
  }, 180_000);
});
