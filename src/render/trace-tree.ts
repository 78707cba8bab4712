/**
 * Renders traces as indented trees with durations and timing bars, for people. Shared by the console exporter
 * and `zerotel report`, which read spans from different places and hand them here in this one shape.
 */

export interface RenderSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** SpanKind numbering of the API: 0 internal, 1 server, 2 client, 3 producer, 4 consumer. */
  kind: number;
  /** Epoch milliseconds. */
  start: number;
  /** Milliseconds. */
  duration: number;
  /** 0 unset, 1 ok, 2 error. */
  statusCode: number;
  statusMessage?: string;
  attributes?: Record<string, unknown>;
  service?: string;
}

export interface RenderOptions {
  color: boolean;
  /** Width of the timing bar in characters; 0 leaves bars out. */
  barWidth?: number;
  /** Attribute keys shown after the name, when the span has them. */
  showAttributes?: readonly string[];
  /** Show the service name at each root. */
  showService?: boolean;
}

const KIND_LABEL = ['internal', 'server', 'client', 'producer', 'consumer'];

const DEFAULT_SHOWN = [
  'http.route',
  'url.path',
  'url.full',
  'http.response.status_code',
  'db.query.text',
  'error.type',
];

/** `text` in an ANSI SGR style (`1` bold, `31` red…) when `on`. */
export function paint(on: boolean, code: string, text: string): string {
  return on ? `\u001b[${code}m${text}\u001b[0m` : text;
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  if (ms < 1) return `${Math.round(ms * 1000)} µs`;
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

function bar(span: RenderSpan, traceStart: number, traceDuration: number, width: number): string {
  if (width <= 0) return '';
  const total = traceDuration > 0 ? traceDuration : 1;
  let from = Math.floor(((span.start - traceStart) / total) * width);
  let len = Math.max(1, Math.round((span.duration / total) * width));
  if (from < 0) from = 0;
  if (from >= width) from = width - 1;
  if (from + len > width) len = width - from;
  return '[' + ' '.repeat(from) + '█'.repeat(len) + ' '.repeat(width - from - len) + ']';
}

function describe(span: RenderSpan, shown: readonly string[]): string {
  const parts: string[] = [];
  const attrs = span.attributes;
  if (attrs !== undefined) {
    for (const key of shown) {
      const v = attrs[key];
      if (v === undefined || v === null) continue;
      let text = typeof v === 'string' ? v : JSON.stringify(v);
      if (text.length > 120) text = text.slice(0, 117) + '...';
      parts.push(`${key}=${text}`);
    }
  }
  return parts.join(' ');
}

/** Groups spans by trace, in order of each trace's first start. */
export function groupByTrace<T extends RenderSpan>(spans: readonly T[]): T[][] {
  const byTrace = new Map<string, T[]>();
  for (const s of spans) {
    let list = byTrace.get(s.traceId);
    if (list === undefined) byTrace.set(s.traceId, (list = []));
    list.push(s);
  }
  const traces = [...byTrace.values()];
  for (const t of traces) t.sort((a, b) => a.start - b.start);
  traces.sort((a, b) => a[0].start - b[0].start);
  return traces;
}

/**
 * One trace as a tree. Spans whose parent is not among `spans` (a remote parent, or one exported in another
 * batch) are shown as roots.
 */
export function renderTrace(spans: readonly RenderSpan[], options: RenderOptions): string {
  if (spans.length === 0) return '';
  const color = options.color;
  const shown = options.showAttributes ?? DEFAULT_SHOWN;
  const width = options.barWidth ?? 0;
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string, RenderSpan[]>();
  const roots: RenderSpan[] = [];
  for (const s of spans) {
    if (s.parentSpanId !== undefined && s.parentSpanId !== '' && ids.has(s.parentSpanId) && s.parentSpanId !== s.spanId) {
      let list = children.get(s.parentSpanId);
      if (list === undefined) children.set(s.parentSpanId, (list = []));
      list.push(s);
    } else roots.push(s);
  }
  let traceStart = Infinity;
  let traceEnd = -Infinity;
  for (const s of spans) {
    if (s.start < traceStart) traceStart = s.start;
    if (s.start + s.duration > traceEnd) traceEnd = s.start + s.duration;
  }
  const lines: string[] = [];
  const header = `trace ${spans[0].traceId} · ${spans.length} span${spans.length === 1 ? '' : 's'} · ${formatDuration(traceEnd - traceStart)}`;
  lines.push(paint(color, '1', header) + (options.showService && spans[0].service ? paint(color, '2', ` · ${spans[0].service}`) : ''));
  const visited = new Set<string>();
  const walk = (span: RenderSpan, prefix: string, last: boolean, depth: number) => {
    if (visited.has(span.spanId)) return;
    visited.add(span.spanId);
    const branch = depth === 0 ? '' : last ? '└─ ' : '├─ ';
    const error = span.statusCode === 2;
    const name = paint(color, error ? '31;1' : '1', span.name);
    const kind = paint(color, '2', KIND_LABEL[span.kind] ?? 'internal');
    const dur = paint(color, error ? '31' : '36', formatDuration(span.duration));
    const details = describe(span, shown);
    const status = error ? ' ' + paint(color, '31', `ERROR${span.statusMessage ? ': ' + span.statusMessage : ''}`) : '';
    const b = width > 0 ? paint(color, '2', bar(span, traceStart, traceEnd - traceStart, width)) + ' ' : '';
    lines.push(`${b}${prefix}${branch}${name} ${kind} ${dur}${status}${details ? ' ' + paint(color, '2', details) : ''}`);
    const kids = children.get(span.spanId) ?? [];
    kids.sort((a, b) => a.start - b.start);
    const nextPrefix = depth === 0 ? prefix : prefix + (last ? '   ' : '│  ');
    for (let i = 0; i < kids.length; i++) walk(kids[i], nextPrefix, i === kids.length - 1, depth + 1);
  };
  roots.sort((a, b) => a.start - b.start);
  for (const r of roots) walk(r, '  ', true, 0);
  return lines.join('\n');
}

export function renderTraces(spans: readonly RenderSpan[], options: RenderOptions): string {
  return groupByTrace(spans)
    .map((t) => renderTrace(t, options))
    .join('\n\n');
}
