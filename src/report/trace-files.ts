/**
 * Finding trace files and streaming their lines. A report may cover gigabytes: files are read in chunks and cut
 * at `\n`, so memory holds one chunk and one line at a time, never a whole file.
 */
import fs = require('node:fs');
import path = require('node:path');

export interface TraceFile {
  path: string;
  size: number;
}

export interface FoundFiles {
  files: TraceFile[];
  /** Inputs that do not exist or cannot be read, with the reason. */
  problems: string[];
}

/** What a directory contributes: its `.jsonl` files, at any depth (the file exporter's own files are `.jsonl`). */
export const TRACE_FILE_EXTENSION = '.jsonl';

function walk(dir: string, out: TraceFile[], problems: string[]): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    problems.push(`${dir}: ${(err as Error).message}`);
    return;
  }
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full, out, problems);
    else if (entry.name.endsWith(TRACE_FILE_EXTENSION)) {
      try {
        const stat = fs.statSync(full);
        if (stat.isFile()) out.push({ path: full, size: stat.size });
      } catch (err) {
        problems.push(`${full}: ${(err as Error).message}`);
      }
    }
  }
}

/** Files named on the command line are read whatever their name; directories give their `.jsonl` files. */
export function findTraceFiles(inputs: readonly string[]): FoundFiles {
  const files: TraceFile[] = [];
  const problems: string[] = [];
  for (const input of inputs) {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(input);
    } catch (err) {
      problems.push(`${input}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`);
      continue;
    }
    if (stat.isDirectory()) walk(input, files, problems);
    else files.push({ path: input, size: stat.size });
  }
  const seen = new Set<string>();
  return {
    files: files.filter((f) => {
      const key = path.resolve(f.path);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    }),
    problems,
  };
}

/** A line longer than this is skipped (and counted), so one broken file cannot take all memory. */
export const MAX_LINE_BYTES = 256 * 1024 * 1024;

export interface LineVisitor {
  /** `line` is only valid during the call (it may share memory with the read buffer); no `\n`, no trailing `\r`. */
  line(line: Buffer, lineNumber: number): void;
  /** A line over MAX_LINE_BYTES, skipped. */
  oversized?(lineNumber: number, bytes: number): void;
  /** Bytes read so far from this file, after each chunk. */
  progress?(bytesRead: number): void;
}

/** Streams a file line by line; empty lines are skipped. */
export async function forEachLine(file: string, visitor: LineVisitor): Promise<void> {
  const stream = fs.createReadStream(file, { highWaterMark: 1024 * 1024 });
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let oversized = false;
  let lineNumber = 0;
  let bytesRead = 0;
  const emit = (line: Buffer) => {
    lineNumber++;
    let end = line.length;
    if (end > 0 && line[end - 1] === 13) end--;
    if (end > 0) visitor.line(end === line.length ? line : line.subarray(0, end), lineNumber);
  };
  const finishPending = (tail: Buffer) => {
    if (oversized) {
      lineNumber++;
      visitor.oversized?.(lineNumber, pendingBytes + tail.length);
    } else emit(pending.length === 0 ? tail : Buffer.concat([...pending, tail]));
    pending = [];
    pendingBytes = 0;
    oversized = false;
  };
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    bytesRead += chunk.length;
    let from = 0;
    for (;;) {
      const nl = chunk.indexOf(10, from);
      if (nl === -1) break;
      const piece = chunk.subarray(from, nl);
      if (pending.length === 0 && !oversized) emit(piece);
      else finishPending(piece);
      from = nl + 1;
    }
    if (from < chunk.length) {
      const rest = chunk.subarray(from);
      pendingBytes += rest.length;
      if (pendingBytes > MAX_LINE_BYTES) {
        oversized = true;
        pending = [];
      } else if (!oversized) pending.push(Buffer.from(rest)); // a copy: the stream owns its chunks
    }
    visitor.progress?.(bytesRead);
  }
  // A last line without `\n` (a writer stopped mid-line, or a file written by hand).
  if (pending.length > 0 || oversized) finishPending(Buffer.alloc(0));
}
