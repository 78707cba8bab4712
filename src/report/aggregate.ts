/**
 * A report over trace files, in two streaming passes:
 * 1. every span once: counts, services, per-operation durations, error groups, and the slowest traces (by their
 *    longest span, a bounded top list);
 * 2. only the lines that mention one of those slow traces (a byte search before any JSON parsing): their spans,
 *    for the waterfalls.
 * Memory is what the report keeps — 8 bytes per operation span, 16 per distinct trace, bounded error groups and
 * slow traces — whatever the size of the files.
 */
import { DurationSeries, SlowestTraces, TraceIdCounter } from './stats';
import { findTraceFiles, forEachLine, type TraceFile } from './trace-files';
import { forEachRawSpan, rawTraceId, toTraceFileSpan, type TraceFileSpan } from './otlp-json';
import { classifySpan, errorMessage, isClientErrorAnswer, isReportedError } from './operations';

export interface OperationSummary {
  service: string;
  type: string;
  name: string;
  count: number;
  errors: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  totalMs: number;
}

export interface ErrorGroup {
  service: string;
  /** The span's operation (see operations.ts), else its name. */
  operation: string;
  message: string;
  exceptionType?: string;
  count: number;
  /** One trace where it happened. */
  traceId: string;
}

export interface SlowTrace {
  traceId: string;
  durationMs: number;
  name: string;
  service: string;
  spans: TraceFileSpan[];
  /** Spans of this trace left out of `spans` (beyond MAX_SPANS_PER_TRACE). */
  omittedSpans: number;
}

export interface BadLine {
  file: string;
  line: number;
  reason: string;
}

export interface ReportSummary {
  files: number;
  bytes: number;
  spans: number;
  traces: number;
  /** Error spans as the report counts them (see isReportedError). */
  errorSpans: number;
  /** HTTP client spans whose error is a 4xx answer: not counted in errorSpans. */
  clientErrorAnswers: number;
  services: Array<{ name: string; spans: number; errorSpans: number }>;
  /** ISO times of the earliest span start and the latest span end. */
  startTime?: string;
  endTime?: string;
  badLines: number;
}

export interface Report {
  files: string[];
  summary: ReportSummary;
  operations: OperationSummary[];
  errors: ErrorGroup[];
  /** Error groups beyond MAX_ERROR_GROUPS, folded into counts only. */
  otherErrors: number;
  slowestTraces: SlowTrace[];
  /** The first few unreadable lines, for the warning. */
  badLineSamples: BadLine[];
  /** Inputs that could not be read. */
  inputProblems: string[];
}

export interface ProgressListener {
  /** `pass` is 1 or 2; bytes are over all files of the pass. */
  update(pass: 1 | 2, bytesDone: number, bytesTotal: number): void;
  done(): void;
}

export interface ReportOptions {
  /** How many slow traces to show as waterfalls (default 5). */
  slowest?: number;
  progress?: ProgressListener;
}

export const MAX_OPERATIONS = 2000;
export const MAX_ERROR_GROUPS = 500;
export const MAX_SPANS_PER_TRACE = 1000;
const BAD_LINE_SAMPLES = 5;

/** Type order in the table: what a request does, outside in. */
function typeRank(type: string): number {
  if (type === 'http server') return 0;
  if (type === 'server') return 1;
  if (type === 'http client') return 3;
  return 2;
}

class Pass1 {
  spans = 0;
  errorSpans = 0;
  clientErrorAnswers = 0;
  start = Infinity;
  end = -Infinity;
  readonly traces = new TraceIdCounter();
  readonly services = new Map<string, { spans: number; errorSpans: number }>();
  /** Operations beyond MAX_OPERATIONS fold into one `(other)` row per service and type. */
  readonly operations = new Map<string, { service: string; type: string; name: string; series: DurationSeries }>();
  readonly errorGroups = new Map<string, ErrorGroup>();
  otherErrors = 0;
  readonly slowest: SlowestTraces;

  constructor(slowest: number) {
    this.slowest = new SlowestTraces(slowest);
  }

  add(span: TraceFileSpan): void {
    this.spans++;
    this.traces.add(span.traceId);
    if (span.start < this.start) this.start = span.start;
    if (span.start + span.duration > this.end) this.end = span.start + span.duration;
    const error = isReportedError(span);
    let service = this.services.get(span.service);
    if (service === undefined) this.services.set(span.service, (service = { spans: 0, errorSpans: 0 }));
    service.spans++;
    if (error) {
      this.errorSpans++;
      service.errorSpans++;
    } else if (isClientErrorAnswer(span)) this.clientErrorAnswers++;

    const op = classifySpan(span);
    if (op !== undefined) {
      let key = `${span.service}\u0000${op.type}\u0000${op.name}`;
      let entry = this.operations.get(key);
      if (entry === undefined && this.operations.size >= MAX_OPERATIONS) {
        key = `${span.service}\u0000${op.type}\u0000(other)`;
        entry = this.operations.get(key);
        if (entry === undefined) this.operations.set(key, (entry = { service: span.service, type: op.type, name: '(other)', series: new DurationSeries() }));
      } else if (entry === undefined) {
        this.operations.set(key, (entry = { service: span.service, type: op.type, name: op.name, series: new DurationSeries() }));
      }
      entry.series.add(span.duration, error);
    }
    if (error) this._addError(span, op?.name ?? span.name);
    this.slowest.offer(span.traceId, span.duration, op?.name ?? span.name, span.service);
  }

  private _addError(span: TraceFileSpan, operation: string): void {
    const message = errorMessage(span);
    const key = `${span.service}\u0000${operation}\u0000${message}`;
    const group = this.errorGroups.get(key);
    if (group !== undefined) group.count++;
    else if (this.errorGroups.size >= MAX_ERROR_GROUPS) this.otherErrors++;
    else {
      this.errorGroups.set(key, {
        service: span.service,
        operation,
        message,
        exceptionType: span.exceptionType,
        count: 1,
        traceId: span.traceId,
      });
    }
  }
}

/** Parses a line into a request, or says why it cannot. */
function parseLine(line: Buffer): { request?: unknown; error?: string } {
  try {
    const request = JSON.parse(line.toString('utf8'));
    if (request === null || typeof request !== 'object' || Array.isArray(request)) return { error: 'not a JSON object' };
    return { request };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

export async function buildReport(inputs: readonly string[], options: ReportOptions = {}): Promise<Report> {
  const found = findTraceFiles(inputs);
  return reportOnFiles(found.files, found.problems, options);
}

async function reportOnFiles(files: readonly TraceFile[], inputProblems: string[], options: ReportOptions = {}): Promise<Report> {
  const progress = options.progress;
  const totalBytes = files.reduce((n, f) => n + f.size, 0);
  const pass1 = new Pass1(options.slowest ?? 5);
  const badLineSamples: BadLine[] = [];
  let badLines = 0;
  const bad = (file: string, line: number, reason: string) => {
    badLines++;
    if (badLineSamples.length < BAD_LINE_SAMPLES) badLineSamples.push({ file, line, reason });
  };

  let before = 0;
  for (const file of files) {
    try {
      await forEachLine(file.path, {
        line: (buf, lineNumber) => {
          const { request, error } = parseLine(buf);
          if (error !== undefined) return bad(file.path, lineNumber, error);
          forEachRawSpan(request, (raw, service) => pass1.add(toTraceFileSpan(raw, service)));
        },
        oversized: (lineNumber, bytes) => bad(file.path, lineNumber, `line of ${bytes} bytes is too long`),
        progress: (read) => progress?.update(1, before + read, totalBytes),
      });
    } catch (err) {
      inputProblems.push(`${file.path}: ${(err as Error).message}`);
    }
    before += file.size;
  }

  const candidates = pass1.slowest.result();
  const wanted = new Map<string, SlowTrace>();
  for (const c of candidates) wanted.set(c.traceId, { ...c, spans: [], omittedSpans: 0 });
  if (wanted.size > 0) {
    const needles = [...wanted.keys()].map((id) => Buffer.from(id, 'latin1'));
    before = 0;
    for (const file of files) {
      try {
        await forEachLine(file.path, {
          line: (buf) => {
            // Only lines that mention a wanted trace are parsed: pass 2 is mostly reading.
            if (!needles.some((needle) => buf.indexOf(needle) !== -1)) return;
            const { request } = parseLine(buf);
            forEachRawSpan(request, (raw, service) => {
              const trace = wanted.get(rawTraceId(raw));
              if (trace === undefined) return;
              if (trace.spans.length >= MAX_SPANS_PER_TRACE) trace.omittedSpans++;
              else trace.spans.push(toTraceFileSpan(raw, service));
            });
          },
          progress: (read) => progress?.update(2, before + read, totalBytes),
        });
      } catch {
        // already reported by pass 1
      }
      before += file.size;
    }
  }
  progress?.done();

  const operations: OperationSummary[] = [...pass1.operations.values()]
    .map(({ service, type, name, series }) => ({
      service,
      type,
      name,
      count: series.count,
      errors: series.errors,
      p50Ms: series.percentile(50),
      p95Ms: series.percentile(95),
      p99Ms: series.percentile(99),
      maxMs: series.max,
      totalMs: series.total,
    }))
    .sort(
      (a, b) =>
        typeRank(a.type) - typeRank(b.type) ||
        (a.type < b.type ? -1 : a.type > b.type ? 1 : 0) ||
        (a.service < b.service ? -1 : a.service > b.service ? 1 : 0) ||
        (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
    );
  const errors = [...pass1.errorGroups.values()].sort((a, b) => b.count - a.count);
  const services = [...pass1.services.entries()]
    .map(([name, s]) => ({ name, spans: s.spans, errorSpans: s.errorSpans }))
    .sort((a, b) => b.spans - a.spans || (a.name < b.name ? -1 : 1));

  return {
    files: files.map((f) => f.path),
    summary: {
      files: files.length,
      bytes: totalBytes,
      spans: pass1.spans,
      traces: pass1.traces.size,
      errorSpans: pass1.errorSpans,
      clientErrorAnswers: pass1.clientErrorAnswers,
      services,
      startTime: Number.isFinite(pass1.start) ? isoTime(pass1.start) : undefined,
      endTime: Number.isFinite(pass1.end) ? isoTime(pass1.end) : undefined,
      badLines,
    },
    operations,
    errors,
    otherErrors: pass1.otherErrors,
    slowestTraces: candidates.map((c) => wanted.get(c.traceId)!),
    badLineSamples,
    inputProblems,
  };
}

function isoTime(ms: number): string | undefined {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}
