/**
 * `OTEL_TRACES_EXPORTER=file`: every exported batch becomes one line of a JSON Lines file — one OTLP/JSON
 * `ExportTraceServiceRequest` per line, the layout of the OpenTelemetry Collector's file exporter and of the
 * specification's OTLP file format (specification/protocol/file-exporter.md, "JSON lines file": UTF-8, one JSON
 * value per line, `\n` between lines, `.jsonl`), so the Collector's otlpjsonfile receiver and other tools read it.
 *
 * Where (OTEL_EXPORTER_FILE_PATH):
 * - a directory — a path that ends with `/` or names an existing directory: each process writes its own file
 *   in it, `traces-<pid>-<UTC time>.jsonl`, created with the directory at the first export (a process that
 *   makes no spans leaves no file);
 * - anything else is a file, created if missing (with its directory) and appended to;
 * - unset: the directory `zerotel-traces/` under the working directory the process started in.
 *
 * Several processes may append to one file at once (the processes of one test run): the file is opened with
 * O_APPEND and each line is handed to the kernel in a single write(2), which places it at the end of the file
 * as one piece — lines from different processes follow one another but never interleave.
 *
 * Writes are synchronous. They go to a local file (well under a millisecond for a full batch), and it is what
 * makes the last batch safe at the `exit` event, where no asynchronous work runs any more.
 */
import fs = require('node:fs');
import path = require('node:path');
import { diag } from '../diag/logger';
import type { ReadableSpan } from '../trace/span';
import { encodeTraceRequestJson } from './otlp/trace-json-encoder';
import { ExportResultCode, type ExitCapableExporter, type ExportResult } from './types';

export const DEFAULT_FILE_EXPORTER_DIRECTORY = 'zerotel-traces';

export interface FileTarget {
  /** The file lines are appended to. */
  file: string;
  /** Whether `file` was named by this process inside a directory (and the directory may need creating). */
  perProcess: boolean;
}

/** `traces-<pid>-<UTC time to the millisecond>.jsonl`: unique per process, and sorted by start time per pid. */
export function perProcessFileName(pid: number, at: Date): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace('.', '');
  return `traces-${pid}-${stamp}.jsonl`;
}

/** Where a process with this setting writes (see the module comment for the rules). */
export function resolveFileTarget(setting: string | undefined, cwd: string, pid: number, at: Date): FileTarget {
  const given = setting ?? DEFAULT_FILE_EXPORTER_DIRECTORY + '/';
  const resolved = path.resolve(cwd, given);
  let isDirectory = given.endsWith('/') || given.endsWith(path.sep);
  if (!isDirectory) {
    try {
      isDirectory = fs.statSync(resolved).isDirectory();
    } catch {
      // does not exist yet: a file
    }
  }
  if (isDirectory) return { file: path.join(resolved, perProcessFileName(pid, at)), perProcess: true };
  return { file: resolved, perProcess: false };
}

export class FileSpanExporter implements ExitCapableExporter {
  private _fd: number | undefined;
  private _shutdown = false;

  constructor(readonly target: FileTarget) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    resultCallback(this.exportSync(spans));
  }

  exportSync(spans: ReadableSpan[]): ExportResult {
    if (this._shutdown) return { code: ExportResultCode.FAILED, error: new Error('the file exporter is shut down') };
    if (spans.length === 0) return { code: ExportResultCode.SUCCESS };
    try {
      const line = Buffer.from(encodeTraceRequestJson(spans) + '\n', 'utf8');
      writeAll(this._open(), line);
      return { code: ExportResultCode.SUCCESS };
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      // The batch processor does not report a failed export; the OTLP exporter reports its own, and so does this
      // one: a path that cannot be written (a read-only or missing volume, no permission) must not lose every span
      // in silence. At most once a minute, as the other export failures.
      diag.warnRateLimited('file-export', `the file exporter could not write ${spans.length} spans to ${this.target.file}: ${error.message}`);
      return { code: ExportResultCode.FAILED, error };
    }
  }

  exportForExit(spans: ReadableSpan[]): Promise<ExportResult> {
    return Promise.resolve(this.exportSync(spans));
  }

  forceFlush(): Promise<void> {
    // Every write has reached the kernel when exportSync returns; nothing is buffered here.
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    this._shutdown = true;
    if (this._fd !== undefined) {
      try {
        fs.closeSync(this._fd);
      } catch {
        // already closed: nothing to release
      }
      this._fd = undefined;
    }
    return Promise.resolve();
  }

  /** Opened on the first export, so a process without spans creates nothing; reopened after a failed open. */
  private _open(): number {
    if (this._fd !== undefined) return this._fd;
    makeDirectory(path.dirname(this.target.file));
    // 'a' is O_WRONLY | O_CREAT | O_APPEND: each write lands at the current end of the file, whoever else writes.
    this._fd = fs.openSync(this.target.file, 'a', 0o644);
    return this._fd;
  }
}

/**
 * `mkdir -p`, one level at a time. Not `fs.mkdirSync(dir, { recursive: true })`: where mkdir(2) answers ENOENT under
 * a parent that exists (procfs: `/proc/x`), Node's recursive mkdir retries forever at full CPU, and the process
 * then hangs at its first export (and at exit). Here the second ENOENT is thrown and the export fails.
 */
function makeDirectory(dir: string): void {
  try {
    fs.mkdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    const parent = path.dirname(dir);
    if (code !== 'ENOENT' || parent === dir) throw err;
    makeDirectory(parent);
    fs.mkdirSync(dir);
  }
}

/**
 * One write(2) for the line. A regular file takes it whole unless the disk is full or a signal interrupts a
 * very large write; the rest then follows, which is the only case in which another process's line could come
 * between two parts of ours.
 */
function writeAll(fd: number, data: Buffer): void {
  let offset = 0;
  while (offset < data.length) {
    const written = fs.writeSync(fd, data, offset, data.length - offset);
    if (written <= 0) throw new Error(`could not write to the trace file (${written} bytes written)`);
    offset += written;
  }
}

/** The exporter for this configuration; `cwd` is the working directory the agent started in. */
export function createFileExporter(setting: string | undefined, cwd: string): FileSpanExporter {
  return new FileSpanExporter(resolveFileTarget(setting, cwd, process.pid, new Date()));
}
