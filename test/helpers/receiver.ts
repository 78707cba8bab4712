/**
 * A real OTLP/HTTP receiver for tests: an HTTP server on loopback that accepts ExportTraceServiceRequest in
 * OTLP/JSON (and gzip), records every request, and flattens the spans for assertions.
 * Child processes under test export to it with OTEL_EXPORTER_OTLP_PROTOCOL=http/json.
 */
import * as http from 'node:http';
import * as zlib from 'node:zlib';
import type { AddressInfo } from 'node:net';

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  traceState: string | undefined;
  name: string;
  /** API numbering: 0 internal, 1 server, 2 client, 3 producer, 4 consumer. */
  kind: number;
  start: bigint;
  end: bigint;
  /** Milliseconds. */
  duration: number;
  attributes: Record<string, any>;
  events: Array<{ name: string; time: bigint; attributes: Record<string, any> }>;
  links: Array<{ traceId: string; spanId: string; attributes: Record<string, any> }>;
  status: { code: number; message?: string };
  flags: number | undefined;
  resource: Record<string, any>;
  scope: { name: string; version?: string };
}

export interface ReceivedRequest {
  headers: http.IncomingHttpHeaders;
  body: any;
}

export function decodeAnyValue(v: any): any {
  if (v == null) return undefined;
  if ('stringValue' in v) return v.stringValue;
  if ('boolValue' in v) return v.boolValue;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return Number(v.doubleValue);
  if ('bytesValue' in v) return Buffer.from(v.bytesValue, 'base64');
  if ('arrayValue' in v) return (v.arrayValue.values ?? []).map(decodeAnyValue);
  if ('kvlistValue' in v) return decodeAttributes(v.kvlistValue.values);
  return null;
}

export function decodeAttributes(list: any[] | undefined): Record<string, any> {
  const out: Record<string, any> = {};
  for (const kv of list ?? []) out[kv.key] = decodeAnyValue(kv.value);
  return out;
}

/** Flattens an OTLP/JSON ExportTraceServiceRequest into spans. */
export function flattenRequest(body: any): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const rs of body.resourceSpans ?? []) {
    const resource = decodeAttributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      const scope = { name: ss.scope?.name ?? '', version: ss.scope?.version };
      for (const s of ss.spans ?? []) {
        const start = BigInt(s.startTimeUnixNano);
        const end = BigInt(s.endTimeUnixNano);
        spans.push({
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId || undefined,
          traceState: s.traceState || undefined,
          name: s.name,
          kind: (s.kind ?? 1) - 1,
          start,
          end,
          duration: Number(end - start) / 1e6,
          attributes: decodeAttributes(s.attributes),
          events: (s.events ?? []).map((e: any) => ({ name: e.name, time: BigInt(e.timeUnixNano), attributes: decodeAttributes(e.attributes) })),
          links: (s.links ?? []).map((l: any) => ({ traceId: l.traceId, spanId: l.spanId, attributes: decodeAttributes(l.attributes) })),
          status: { code: s.status?.code ?? 0, message: s.status?.message },
          flags: s.flags,
          resource,
          scope,
        });
      }
    }
  }
  return spans;
}

export class Receiver {
  readonly spans: ReceivedSpan[] = [];
  readonly requests: ReceivedRequest[] = [];
  private _server: http.Server;
  private _waiters: Array<() => void> = [];
  /** Status code to answer with (tests of failure behaviour change it). */
  status = 200;
  /** Milliseconds to wait before answering, as a slow collector does; what arrives is recorded at once. */
  delayMillis = 0;

  private constructor() {
    this._server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        try {
          let raw = Buffer.concat(chunks);
          if (req.headers['content-encoding'] === 'gzip') raw = zlib.gunzipSync(raw);
          const body = JSON.parse(raw.toString('utf8'));
          this.requests.push({ headers: req.headers, body });
          if (this.status === 200) for (const s of flattenRequest(body)) this.spans.push(s);
          const status = this.status;
          const answer = () => {
            res.writeHead(status, { 'content-type': 'application/json' });
            res.end('{}');
          };
          if (this.delayMillis > 0) setTimeout(answer, this.delayMillis);
          else answer();
        } catch (err) {
          res.writeHead(400, { 'content-type': 'text/plain' });
          res.end(String(err));
        }
        const waiters = this._waiters;
        this._waiters = [];
        for (const w of waiters) w();
      });
    });
    this._server.keepAliveTimeout = 60_000;
  }

  static async start(): Promise<Receiver> {
    const r = new Receiver();
    await new Promise<void>((resolve) => r._server.listen(0, '127.0.0.1', resolve));
    return r;
  }

  get port(): number {
    return (this._server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/v1/traces`;
  }

  /** Environment for a child process exporting here. */
  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: this.url,
      OTEL_BSP_SCHEDULE_DELAY: '50',
      ...extra,
    };
  }

  /** Waits until `predicate(spans)` holds, or fails after `timeoutMs` listing what did arrive. */
  async waitFor(predicate: (spans: ReceivedSpan[]) => boolean, timeoutMs = 10_000): Promise<ReceivedSpan[]> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.spans)) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new Error(
          `timed out waiting for spans; received ${this.spans.length}: ` +
            this.spans.map((s) => `${s.name}(${s.kind})`).join(', '),
        );
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(remaining, 200));
        this._waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.spans;
  }

  waitForCount(n: number, timeoutMs?: number): Promise<ReceivedSpan[]> {
    return this.waitFor((s) => s.length >= n, timeoutMs);
  }

  clear(): void {
    this.spans.length = 0;
    this.requests.length = 0;
  }

  close(): Promise<void> {
    this._server.closeAllConnections();
    return new Promise((resolve) => this._server.close(() => resolve()));
  }
}

/** Spans by name, failing clearly when one is missing. */
export function byName(spans: ReceivedSpan[], name: string): ReceivedSpan {
  const found = spans.find((s) => s.name === name);
  if (found === undefined) throw new Error(`no span named ${JSON.stringify(name)}; have: ${spans.map((s) => s.name).join(', ')}`);
  return found;
}
