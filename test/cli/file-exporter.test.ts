/**
 * The file exporter: where it writes, what a line is (checked with the official .proto definitions), several
 * processes appending to one file, and the last spans of a process that calls process.exit().
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFileExporter, FileSpanExporter, perProcessFileName, resolveFileTarget } from '../../src/exporters/file-exporter';
import { ExportResultCode } from '../../src/exporters/types';
import { Resource } from '../../src/resource/resource';
import { readConfig } from '../../src/config';
import { runApp } from '../helpers/child';
import { Receiver } from '../helpers/receiver';
import { makeProvider } from '../otlp/helpers/spans';
import { CLI_FIXTURES, readTraceDir, readTraceFile } from './helpers';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'zerotel-file-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function fresh(name: string): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

async function someSpans(names: string[]) {
  const { provider, finished } = makeProvider({ resource: new Resource({ 'service.name': 'file-test' }) });
  const tracer = provider.getTracer('file-scope', '2.0.0');
  for (const name of names) {
    const span = tracer.startSpan(name, { kind: 1, attributes: { 'http.request.method': 'GET', 'http.route': '/x', 'some.count': 3 } });
    span.setStatus({ code: 2, message: 'bad "quoted" thing\nnext line' });
    span.end();
  }
  return finished();
}

describe('where the file exporter writes (OTEL_EXPORTER_FILE_PATH)', () => {
  const at = new Date(Date.UTC(2025, 0, 2, 3, 4, 5, 67));

  it('names per-process files traces-<pid>-<UTC time>.jsonl', () => {
    expect(perProcessFileName(4242, at)).toBe('traces-4242-20250102T030405067Z.jsonl');
  });

  it('unset: a file per process under ./zerotel-traces/ of the starting directory', () => {
    expect(resolveFileTarget(undefined, '/srv/app', 7, at)).toEqual({
      file: '/srv/app/zerotel-traces/traces-7-20250102T030405067Z.jsonl',
      perProcess: true,
    });
  });

  it('a path ending in / is a directory, even before it exists', () => {
    expect(resolveFileTarget('out/traces/', '/srv/app', 7, at).file).toBe('/srv/app/out/traces/traces-7-20250102T030405067Z.jsonl');
  });

  it('an existing directory without the trailing / is a directory', () => {
    const dir = fresh('existing');
    expect(resolveFileTarget(dir, '/elsewhere', 9, at)).toEqual({ file: path.join(dir, 'traces-9-20250102T030405067Z.jsonl'), perProcess: true });
  });

  it('anything else is one file, shared by every process that names it', () => {
    expect(resolveFileTarget('run/all.jsonl', '/srv/app', 7, at)).toEqual({ file: '/srv/app/run/all.jsonl', perProcess: false });
    expect(resolveFileTarget('/abs/traces', '/srv/app', 7, at)).toEqual({ file: '/abs/traces', perProcess: false });
  });

  it('is a known exporter name, with the path read by the configuration', () => {
    const { config, warnings } = readConfig({ OTEL_TRACES_EXPORTER: 'otlp,file', OTEL_EXPORTER_FILE_PATH: ' traces/ ' });
    expect(warnings).toEqual([]);
    expect(config.tracesExporters).toEqual(['otlp', 'file']);
    expect(config.fileExporterPath).toBe('traces/');
  });
});

describe('FileSpanExporter', () => {
  it('writes one OTLP/JSON ExportTraceServiceRequest per export, one per line, readable with the official definitions', async () => {
    const dir = fresh('lines');
    const exporter = createFileExporter(dir + '/', '/');
    const first = await someSpans(['one', 'two']);
    const second = await someSpans(['three']);
    const results: number[] = [];
    exporter.export(first, (r) => results.push(r.code));
    expect(exporter.exportSync(second).code).toBe(ExportResultCode.SUCCESS);
    expect(results).toEqual([ExportResultCode.SUCCESS]);

    const files = fs.readdirSync(dir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(new RegExp(`^traces-${process.pid}-\\d{8}T\\d{9}Z\\.jsonl$`));
    const text = fs.readFileSync(path.join(dir, files[0]), 'utf8');
    expect(text.split('\n')).toHaveLength(3); // two lines, each ended by \n
    const spans = readTraceFile(path.join(dir, files[0]));
    expect(spans.map((s) => s.name)).toEqual(['one', 'two', 'three']);
    expect(spans[0]).toMatchObject({
      service: 'file-test',
      kind: 2,
      traceId: first[0].spanContext().traceId,
      spanId: first[0].spanContext().spanId,
      attributes: { 'http.request.method': 'GET', 'http.route': '/x', 'some.count': 3 },
      status: { code: 2, message: 'bad "quoted" thing\nnext line' },
    });
    await exporter.shutdown();
  });

  it('appends to an existing file and creates no file before the first export', async () => {
    const file = path.join(fresh('append'), 'nested', 'all.jsonl');
    const exporter = createFileExporter(file, '/');
    expect(fs.existsSync(file)).toBe(false);
    expect(exporter.exportSync([]).code).toBe(ExportResultCode.SUCCESS);
    expect(fs.existsSync(file)).toBe(false);
    exporter.exportSync(await someSpans(['a']));
    await exporter.shutdown();
    const again = createFileExporter(file, '/');
    again.exportSync(await someSpans(['b']));
    await again.shutdown();
    expect(readTraceFile(file).map((s) => s.name)).toEqual(['a', 'b']);
  });

  it('fails an export it cannot write, without throwing, and again after shutdown', async () => {
    const blocker = path.join(fresh('blocked'), 'a-file');
    fs.writeFileSync(blocker, '');
    const exporter = new FileSpanExporter({ file: path.join(blocker, 'under-a-file.jsonl'), perProcess: false });
    const result = exporter.exportSync(await someSpans(['x']));
    expect(result.code).toBe(ExportResultCode.FAILED);
    expect((result.error as NodeJS.ErrnoException).code).toMatch(/ENOTDIR|EEXIST/);
    const ok = createFileExporter(path.join(fresh('after-shutdown'), 'f.jsonl'), '/');
    await ok.shutdown();
    expect(ok.exportSync(await someSpans(['y'])).code).toBe(ExportResultCode.FAILED);
    expect((await ok.exportForExit(await someSpans(['z']))).code).toBe(ExportResultCode.FAILED);
  });
});

describe('OTEL_TRACES_EXPORTER=file in real processes', () => {
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await Receiver.start();
  });
  afterAll(() => receiver.close());

  it('writes the spans of a program to its own file in the directory, flushed when it ends', async () => {
    const dir = fresh('process');
    const r = await runApp(path.join(CLI_FIXTURES, 'spans.js'), {
      env: { OTEL_TRACES_EXPORTER: 'file', OTEL_EXPORTER_FILE_PATH: dir + '/', OTEL_SERVICE_NAME: 'spans-app', OTEL_BSP_SCHEDULE_DELAY: '60000' },
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const { files, spans } = readTraceDir(dir);
    expect(files).toHaveLength(1);
    expect(spans.filter((s) => s.kind === 2).map((s) => s.attributes['url.path']).sort()).toEqual(['/r0', '/r1']);
    expect(spans.filter((s) => s.kind === 3)).toHaveLength(2);
    expect(new Set(spans.map((s) => s.service))).toEqual(new Set(['spans-app']));
  });

  it('says, once, when it cannot write, and the program ends as it would (a file in the way; a path under /proc)', async () => {
    const blocker = path.join(fresh('blocked-process'), 'a-file');
    fs.writeFileSync(blocker, '');
    for (const [where, code] of [
      [path.join(blocker, 'traces.jsonl'), 'ENOTDIR'],
      // Node's own recursive mkdir retries forever there: the program hung at its first export
      ['/proc/zerotel-no-such-dir/', 'ENOENT'],
    ]) {
      const r = await runApp(path.join(CLI_FIXTURES, 'spans.js'), { env: { OTEL_TRACES_EXPORTER: 'file', OTEL_EXPORTER_FILE_PATH: where }, timeoutMs: 20_000 });
      expect(r.code, where).toBe(0);
      const lines = r.stderr.split('\n').filter((line) => line !== '');
      expect(lines, where).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^zerotel warn: the file exporter could not write 4 spans to .*: ${code}`));
    }
  });

  it('a relative path is taken from the directory the process started in', async () => {
    const cwd = fresh('relative');
    const r = await runApp(path.join(CLI_FIXTURES, 'spans.js'), { cwd, env: { OTEL_TRACES_EXPORTER: 'file', OTEL_EXPORTER_FILE_PATH: 'sub/out.jsonl' } });
    expect(r.code).toBe(0);
    expect(readTraceFile(path.join(cwd, 'sub', 'out.jsonl'))).toHaveLength(4);
  });

  it('unset, it writes under ./zerotel-traces/', async () => {
    const cwd = fresh('default');
    const r = await runApp(path.join(CLI_FIXTURES, 'spans.js'), { cwd, env: { OTEL_TRACES_EXPORTER: 'file' } });
    expect(r.code).toBe(0);
    expect(readTraceDir(path.join(cwd, 'zerotel-traces')).spans).toHaveLength(4);
  });

  it('gets the last spans out through exportSync when the program calls process.exit()', async () => {
    const dir = fresh('exit');
    const r = await runApp(path.join(CLI_FIXTURES, 'spans.js'), {
      env: { OTEL_TRACES_EXPORTER: 'file', OTEL_EXPORTER_FILE_PATH: dir + '/', MANUAL_SPANS: '3', EXIT_CODE: '4', OTEL_BSP_SCHEDULE_DELAY: '60000' },
    });
    expect(r.code).toBe(4);
    expect(r.stderr).toBe('');
    const names = readTraceDir(dir).spans.map((s) => s.name);
    expect(names.filter((n) => n.startsWith('manual '))).toEqual(['manual 0', 'manual 1', 'manual 2']);
    expect(names).toHaveLength(7);
  });

  it('works beside another exporter: otlp,file send the same spans to both', async () => {
    const dir = fresh('both');
    receiver.clear();
    const r = await runApp(path.join(CLI_FIXTURES, 'spans.js'), {
      env: receiver.env({ OTEL_TRACES_EXPORTER: 'otlp,file', OTEL_EXPORTER_FILE_PATH: dir + '/' }),
    });
    expect(r.code).toBe(0);
    const fromFile = readTraceDir(dir).spans.map((s) => s.spanId).sort();
    const received = (await receiver.waitForCount(4)).map((s) => s.spanId).sort();
    expect(fromFile).toHaveLength(4);
    expect(fromFile).toEqual(received);
  });

  it('several processes appending to one file at once never interleave their lines', async () => {
    const file = path.join(fresh('shared'), 'shared.jsonl');
    const processes = 6;
    const spansEach = 60;
    // Batches of 3 spans with 40 KB attributes: lines of about 120 KB, far beyond what a pipe writes atomically.
    const runs = await Promise.all(
      Array.from({ length: processes }, () =>
        runApp(path.join(CLI_FIXTURES, 'spans.js'), {
          env: {
            OTEL_TRACES_EXPORTER: 'file',
            OTEL_EXPORTER_FILE_PATH: file,
            REQUESTS: '0',
            MANUAL_SPANS: String(spansEach),
            ATTR_BYTES: String(40 * 1024),
            OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '3',
          },
        }),
      ),
    );
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    let lines = 0;
    const spans = readTraceFile(file, () => lines++);
    expect(lines).toBe((processes * spansEach) / 3);
    const perPid = new Map<number, number[]>();
    for (const s of spans) {
      expect(s.attributes['fixture.filler']).toHaveLength(40 * 1024);
      const list = perPid.get(s.attributes['fixture.pid']) ?? [];
      list.push(s.attributes['fixture.index']);
      perPid.set(s.attributes['fixture.pid'], list);
    }
    expect(perPid.size).toBe(processes);
    for (const indexes of perPid.values()) expect(indexes.sort((a, b) => a - b)).toEqual(Array.from({ length: spansEach }, (_, i) => i));
  });
});
