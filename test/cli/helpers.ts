/**
 * Helpers for the CLI and file exporter tests: the official proto-based reading of trace files, running the
 * `zerotel` executable, and writing synthetic OTLP/JSON trace files.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { childEnv, ROOT } from '../helpers/child';
import { CONVERSION, ExportTraceServiceRequest, flattenSpans } from '../otlp/helpers/otlp-proto';

export const BIN = path.join(ROOT, 'bin', 'zerotel.js');
export const CLI_FIXTURES = path.join(ROOT, 'test', 'fixtures', 'cli');
export const SHOP = path.join(ROOT, 'examples', 'shop');

const ID_FIELDS = new Set(['traceId', 'spanId', 'parentSpanId']);

/**
 * One line of a trace file read with the official definitions: OTLP/JSON differs from the proto3 JSON mapping
 * only in its hex ids (opentelemetry-proto docs/specification.md, "JSON Protobuf Encoding"), so those become
 * base64, and protobufjs's fromObject reads the rest as an ExportTraceServiceRequest. Throws on anything that is
 * not one.
 */
export function decodeTraceLine(line: string): any {
  const walk = (node: any): any => {
    if (Array.isArray(node)) return node.map(walk);
    if (node === null || typeof node !== 'object') return node;
    const out: any = {};
    for (const [k, v] of Object.entries(node)) {
      if (ID_FIELDS.has(k)) {
        if (typeof v !== 'string' || !/^[0-9a-f]*$/.test(v)) throw new Error(`${k} is not lowercase hex: ${JSON.stringify(v)}`);
        out[k] = Buffer.from(v, 'hex').toString('base64');
      } else out[k] = walk(v);
    }
    return out;
  };
  const input = walk(JSON.parse(line));
  const message = ExportTraceServiceRequest.fromObject(input);
  // fromObject drops fields it does not know and converts values of other types: the line is a faithful request
  // only if the message, written back as proto3 JSON, is the same object (key order and empty lists aside).
  const back = ExportTraceServiceRequest.toObject(message, { ...CONVERSION, json: true });
  const a = JSON.stringify(canonical(input));
  const b = JSON.stringify(canonical(back));
  if (a !== b) throw new Error(`not a faithful ExportTraceServiceRequest:\n  line: ${a.slice(0, 2000)}\n  read: ${b.slice(0, 2000)}`);
  return ExportTraceServiceRequest.toObject(message, CONVERSION);
}

function canonical(node: any): any {
  if (Array.isArray(node)) return node.map(canonical);
  if (node === null || typeof node !== 'object') return node;
  const out: any = {};
  for (const key of Object.keys(node).sort()) {
    if (Array.isArray(node[key]) && node[key].length === 0) continue;
    out[key] = canonical(node[key]);
  }
  return out;
}

export interface DecodedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  /** OTLP numbering: 1 internal, 2 server, 3 client. */
  kind: number;
  attributes: Record<string, any>;
  status: { code?: number; message?: string };
  /** The instrumentation scope's name (`zerotel/instrumentations/pg`…). */
  scope: string;
  file: string;
}

function anyValue(v: any): any {
  if (v == null) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(anyValue);
  return undefined;
}

/** Every line of every `.jsonl` file in a directory, decoded; throws if any line is not a valid request. */
export function readTraceDir(dir: string): { files: string[]; lines: number; spans: DecodedSpan[] } {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort();
  const spans: DecodedSpan[] = [];
  let lines = 0;
  for (const file of files) spans.push(...readTraceFile(path.join(dir, file), () => lines++));
  return { files, lines, spans };
}

export function readTraceFile(file: string, onLine: () => void = () => {}): DecodedSpan[] {
  const text = fs.readFileSync(file, 'utf8');
  if (text !== '' && !text.endsWith('\n')) throw new Error(`${file} does not end with a newline`);
  const spans: DecodedSpan[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    onLine();
    const decoded = decodeTraceLine(line);
    for (const { resource, scope, span } of flattenSpans(decoded)) {
      const attributes: Record<string, any> = {};
      for (const kv of span.attributes ?? []) attributes[kv.key] = anyValue(kv.value);
      const serviceKv = (resource?.attributes ?? []).find((kv: any) => kv.key === 'service.name');
      spans.push({
        service: serviceKv?.value?.stringValue,
        traceId: Buffer.from(span.traceId, 'base64').toString('hex'),
        spanId: Buffer.from(span.spanId, 'base64').toString('hex'),
        parentSpanId: span.parentSpanId ? Buffer.from(span.parentSpanId, 'base64').toString('hex') : undefined,
        name: span.name,
        kind: span.kind,
        attributes,
        status: span.status ?? {},
        scope: scope?.name,
        file,
      });
    }
  }
  return spans;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/zerotel.js …` in a clean environment (no OTEL_*, no NODE_OPTIONS) plus `env`. */
export function runZerotel(
  args: string[],
  options: { cwd?: string; env?: Record<string, string | undefined>; nodeArgs?: string[]; timeoutMs?: number; onStdout?: (text: string, child: ReturnType<typeof spawn>) => void } = {},
): Promise<CliResult> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), BIN, ...args], {
    cwd: options.cwd ?? ROOT,
    env: childEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c) => {
    stdout += c;
    options.onStdout?.(stdout, child);
  });
  child.stderr!.on('data', (c) => (stderr += c));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** A synthetic span for trace files, in OTLP/JSON. */
export interface SyntheticSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** OTLP kind: 1 internal, 2 server, 3 client. */
  kind: number;
  /** Epoch milliseconds and duration in milliseconds (whole or fractional). */
  startMs: number;
  durationMs: number;
  attributes?: Record<string, string | number | boolean>;
  status?: { code: number; message?: string };
  exception?: { type: string; message: string };
}

function nanos(ms: number): string {
  return (BigInt(Math.round(ms * 1000)) * 1000n).toString();
}

function attrs(a: Record<string, string | number | boolean> = {}): any[] {
  return Object.entries(a).map(([key, v]) => ({
    key,
    value: typeof v === 'string' ? { stringValue: v } : typeof v === 'boolean' ? { boolValue: v } : Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v },
  }));
}

/** One OTLP/JSON request line holding the spans, under one resource with this service name. */
export function requestLine(service: string, spans: SyntheticSpan[]): string {
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: attrs({ 'service.name': service }) },
        scopeSpans: [
          {
            scope: { name: 'synthetic' },
            spans: spans.map((s) => ({
              traceId: s.traceId,
              spanId: s.spanId,
              ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
              name: s.name,
              kind: s.kind,
              startTimeUnixNano: nanos(s.startMs),
              endTimeUnixNano: nanos(s.startMs + s.durationMs),
              attributes: attrs(s.attributes),
              ...(s.exception
                ? { events: [{ timeUnixNano: nanos(s.startMs), name: 'exception', attributes: attrs({ 'exception.type': s.exception.type, 'exception.message': s.exception.message }) }] }
                : {}),
              ...(s.status ? { status: s.status } : {}),
            })),
          },
        ],
      },
    ],
  });
}

/** Hex ids from a counter, so tests can name them. */
export function traceIdOf(n: number): string {
  return n.toString(16).padStart(32, '0').replace(/^0/, 'a');
}
export function spanIdOf(n: number): string {
  return n.toString(16).padStart(16, '0').replace(/^0/, 'b');
}
