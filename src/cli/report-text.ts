/**
 * The report for people: a summary, the slowest traces as waterfalls (the shared trace-tree renderer, with
 * bars), the per-operation table, the errors, and the --fail-on verdicts.
 */
import { formatDuration, paint, renderTrace } from '../render/trace-tree';
import type { OperationSummary, Report } from '../report/aggregate';
import type { GateResult } from '../report/gates';
import { formatBytes } from './progress';

export const WATERFALL_BAR_WIDTH = 24;
const MAX_ERRORS_SHOWN = 20;

function plural(n: number, word: string): string {
  return `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;
}

function table(header: string[], rows: string[][], rightAligned: Set<number>, color: boolean): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    '  ' +
    cells
      .map((c, i) => (rightAligned.has(i) ? c.padStart(widths[i]) : i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [paint(color, '2', line(header)), ...rows.map(line)];
}

function timeRange(report: Report): string {
  const { startTime, endTime } = report.summary;
  if (startTime === undefined || endTime === undefined) return '';
  const wall = Date.parse(endTime) - Date.parse(startTime);
  const day = startTime.slice(0, 10);
  const end = endTime.slice(0, 10) === day ? endTime.slice(11, 23) : endTime.replace('T', ' ').slice(0, 23);
  return `${day} ${startTime.slice(11, 23)} → ${end} UTC (${formatDuration(wall)})`;
}

function operationRows(ops: OperationSummary[], withService: boolean): { header: string[]; rows: string[][]; right: Set<number> } {
  const header = [...(withService ? ['SERVICE'] : []), 'TYPE', 'OPERATION', 'COUNT', 'ERRORS', 'P50', 'P95', 'P99', 'MAX'];
  const first = withService ? 3 : 2;
  const right = new Set([first, first + 1, first + 2, first + 3, first + 4, first + 5]);
  const rows = ops.map((o) => [
    ...(withService ? [o.service] : []),
    o.type,
    o.name,
    String(o.count),
    String(o.errors),
    formatDuration(o.p50Ms),
    formatDuration(o.p95Ms),
    formatDuration(o.p99Ms),
    formatDuration(o.maxMs),
  ]);
  return { header, rows, right };
}

export function renderReportText(report: Report, gates: readonly GateResult[], color: boolean): string {
  const s = report.summary;
  const lines: string[] = [];
  lines.push(paint(color, '1', `zerotel report — ${plural(s.files, 'file')} (${formatBytes(s.bytes)})`) + (timeRange(report) ? `, ${timeRange(report)}` : ''));
  const errors = s.errorSpans > 0 ? paint(color, '31;1', plural(s.errorSpans, 'error')) : 'no errors';
  let counts = `  ${plural(s.spans, 'span')} in ${plural(s.traces, 'trace')} · ${errors}`;
  if (s.clientErrorAnswers > 0) counts += ` · ${plural(s.clientErrorAnswers, 'HTTP 4xx answer')} to clients (not counted as errors)`;
  lines.push(counts);
  if (s.services.length > 0) {
    lines.push(`  services: ${s.services.map((x) => `${x.name} (${plural(x.spans, 'span')})`).join(', ')}`);
  }
  if (s.badLines > 0) {
    lines.push(paint(color, '33', `  ${plural(s.badLines, 'line')} could not be read:`));
    for (const b of report.badLineSamples) lines.push(paint(color, '33', `    ${b.file}:${b.line}: ${b.reason}`));
  }
  for (const problem of report.inputProblems) lines.push(paint(color, '33', `  cannot read ${problem}`));
  if (s.spans === 0) {
    lines.push('', '  No spans in these files.');
  }

  if (report.slowestTraces.length > 0) {
    lines.push('', paint(color, '1', report.slowestTraces.length === 1 ? 'Slowest trace' : `Slowest ${report.slowestTraces.length} traces`));
    for (const trace of report.slowestTraces) {
      lines.push(renderTrace(trace.spans, { color, barWidth: WATERFALL_BAR_WIDTH, showService: true }));
      if (trace.omittedSpans > 0) lines.push(`  … and ${plural(trace.omittedSpans, 'more span')} not shown`);
      lines.push('');
    }
    lines.pop();
  }

  if (report.operations.length > 0) {
    lines.push('', paint(color, '1', 'Operations'));
    const withService = new Set(report.operations.map((o) => o.service)).size > 1;
    const { header, rows, right } = operationRows(report.operations, withService);
    const rendered = table(header, rows, right, color);
    lines.push(rendered[0]);
    report.operations.forEach((o, i) => lines.push(o.errors > 0 ? paint(color, '31', rendered[i + 1]) : rendered[i + 1]));
  }

  if (report.errors.length > 0) {
    lines.push('', paint(color, '1', 'Errors'));
    for (const e of report.errors.slice(0, MAX_ERRORS_SHOWN)) {
      const type = e.exceptionType !== undefined ? ` (${e.exceptionType})` : '';
      lines.push(`  ${paint(color, '31;1', `${e.count}×`)} ${e.service} · ${e.operation}: ${paint(color, '31', e.message)}${type} ${paint(color, '2', `· trace ${e.traceId}`)}`);
    }
    const hidden = report.errors.slice(MAX_ERRORS_SHOWN).reduce((n, e) => n + e.count, 0) + report.otherErrors;
    if (hidden > 0) lines.push(`  … and ${plural(hidden, 'more error span')} (see --json)`);
  }

  if (gates.length > 0) {
    lines.push('', paint(color, '1', 'Gates (--fail-on)'));
    for (const g of gates) {
      const verdict = g.tripped ? paint(color, '31;1', 'FAIL') : paint(color, '32', 'pass');
      lines.push(`  ${verdict}  ${g.rule} — ${g.detail}`);
    }
  }
  return lines.join('\n') + '\n';
}
