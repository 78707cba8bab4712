/**
 * `zerotel report <files|dirs…>`: a report over trace files, for people (default), for machines (--json), for CI
 * test views (--junit), with --fail-on gates. `zerotel run` ends with the same report.
 */
import fs = require('node:fs');
import path = require('node:path');
import { parseArgs } from 'node:util';
import { buildReport, type Report } from '../report/aggregate';
import { evaluateGates, GateSyntaxError, parseGate, type GateResult, type GateRule } from '../report/gates';
import { EXIT, UsageError, useColor, type CliIo } from './io';
import { renderJunit } from './junit';
import { terminalProgress } from './progress';
import { renderReportText } from './report-text';

export const REPORT_USAGE = `Usage: zerotel report [options] <file|directory>...

Reads trace files (OTLP/JSON lines, as OTEL_TRACES_EXPORTER=file writes them; directories give their .jsonl
files, at any depth) and prints a summary, the slowest traces, a table per operation and the errors.

Options:
  --json              print the report as JSON on stdout instead of text
  --junit <path>      also write a JUnit XML file: a test case per HTTP route, one per --fail-on rule
  --fail-on <rule>    exit with code 3 when the rule trips (repeatable); rules:
                        error-spans                any error span
                        <stat><op><duration>       stat p50|p95|p99|max, op > or >=, e.g. p95>500ms
                        <operation>:<check>        one operation only, e.g. 'GET /users/:id:p95>200ms'
  --slowest <n>       how many of the slowest traces to draw (default 5; 0 for none)
  --color, --no-color force colour on or off (default: on when stdout is a terminal and NO_COLOR is unset)
  -h, --help          this help
`;

/** Options shared by `report` and `run` (parseArgs descriptors). */
export const REPORT_OPTIONS = {
  junit: { type: 'string' },
  'fail-on': { type: 'string', multiple: true },
  slowest: { type: 'string' },
  color: { type: 'boolean' },
  'no-color': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface ReportSettings {
  gates: GateRule[];
  junit?: string;
  slowest: number;
}

export function readReportSettings(values: { junit?: string; 'fail-on'?: string[]; slowest?: string }): ReportSettings {
  let gates: GateRule[];
  try {
    gates = (values['fail-on'] ?? []).map(parseGate);
  } catch (err) {
    if (err instanceof GateSyntaxError) throw new UsageError(err.message);
    throw err;
  }
  let slowest = 5;
  if (values.slowest !== undefined) {
    if (!/^\d+$/.test(values.slowest) || Number(values.slowest) > 100) throw new UsageError(`--slowest ${values.slowest}: give a number from 0 to 100`);
    slowest = Number(values.slowest);
  }
  return { gates, junit: values.junit, slowest };
}

export interface ReportOutcome {
  report: Report;
  gates: GateResult[];
  tripped: boolean;
}

/** Builds the report, writes the JUnit file when asked, and evaluates the gates. Progress goes to stderr. */
export async function produceReport(inputs: readonly string[], settings: ReportSettings, io: CliIo): Promise<ReportOutcome> {
  const report = await buildReport(inputs, { slowest: settings.slowest, progress: terminalProgress(io.err, io.stderrIsTTY) });
  const gates = evaluateGates(settings.gates, report);
  if (settings.junit !== undefined) {
    const file = path.resolve(io.cwd, settings.junit);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, renderJunit(report, gates));
  }
  return { report, gates, tripped: gates.some((g) => g.tripped) };
}

export function reportJson(outcome: ReportOutcome): string {
  return JSON.stringify({ ...outcome.report, gates: outcome.gates }, null, 2) + '\n';
}

export async function reportCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { ...REPORT_OPTIONS, json: { type: 'boolean' } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    io.out(REPORT_USAGE);
    return EXIT.OK;
  }
  if (positionals.length === 0) throw new UsageError('zerotel report: name at least one trace file or directory');
  const settings = readReportSettings(values);
  const inputs = positionals.map((p) => path.resolve(io.cwd, p));
  const missing = positionals.filter((_, i) => !fs.existsSync(inputs[i]));
  if (missing.length > 0) throw new UsageError(`zerotel report: no such file or directory: ${missing.join(', ')}`);
  const outcome = await produceReport(inputs, settings, io);
  const { report } = outcome;
  if (report.files.length === 0) {
    for (const problem of report.inputProblems) io.err(`zerotel report: cannot read ${problem}\n`);
    io.err(`zerotel report: no trace files found in ${positionals.join(', ')}\n`);
    return EXIT.USAGE;
  }
  if (values.json) io.out(reportJson(outcome));
  else io.out(renderReportText(report, outcome.gates, useColor(values, io.stdoutIsTTY, io.env)));
  return outcome.tripped ? EXIT.GATE : EXIT.OK;
}
