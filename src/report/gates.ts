/**
 * `--fail-on` rules: conditions on a report that make `zerotel report` / `zerotel run` exit non-zero.
 *
 *   rule      = [ operation ":" ] check
 *   check     = "error-spans" | stat comparison duration
 *   stat      = "p50" | "p95" | "p99" | "max"
 *   comparison = ">" | ">="
 *   duration  = number [ "us" | "µs" | "ms" | "s" ]        (no unit: milliseconds)
 *
 * `operation` is a name from the report's operation table (`GET /users/:id`, `SELECT users`, `GET`); the rule
 * then looks at that operation only (in every service that has it). It is everything before the last `:` that
 * precedes the check, so route parameters need no escaping: `GET /users/:id:p95>200ms`.
 * Without an operation, `error-spans` trips on any error span (as the report counts them) and a stat rule on any
 * operation of the table. A rule naming an operation that is not in the table trips too (a typo must not switch a
 * gate off unnoticed).
 */
import { formatDuration } from '../render/trace-tree';
import type { OperationSummary, Report } from './aggregate';

export type Stat = 'p50' | 'p95' | 'p99' | 'max';

export type GateRule =
  | { text: string; scope?: string; check: 'error-spans' }
  | { text: string; scope?: string; check: 'duration'; stat: Stat; inclusive: boolean; thresholdMs: number };

export interface GateResult {
  rule: string;
  tripped: boolean;
  /** What was found, in one line. */
  detail: string;
}

export class GateSyntaxError extends Error {}

const ERROR_RULE = /^(?:(.+):)?\s*error-spans\s*$/i;
const DURATION_RULE = /^(?:(.+):)?\s*(p50|p95|p99|max)\s*(>=|>)\s*(\d+(?:\.\d+)?)\s*(us|µs|ms|s)?\s*$/i;
const UNIT_MS: Record<string, number> = { us: 0.001, µs: 0.001, ms: 1, s: 1000 };

export function parseGate(text: string): GateRule {
  const trimmed = text.trim();
  const error = ERROR_RULE.exec(trimmed);
  if (error !== null) return { text: trimmed, scope: scopeOf(error[1]), check: 'error-spans' };
  const m = DURATION_RULE.exec(trimmed);
  if (m === null) {
    throw new GateSyntaxError(
      `--fail-on ${JSON.stringify(text)}: not a rule. Write error-spans, or <stat><op><duration> with stat p50, p95, p99 ` +
        `or max, op > or >=, duration like 500ms or 1.5s; put "<operation>:" in front to look at one operation ` +
        `(e.g. 'GET /users/:id:p95>200ms')`,
    );
  }
  return {
    text: trimmed,
    scope: scopeOf(m[1]),
    check: 'duration',
    stat: m[2].toLowerCase() as Stat,
    inclusive: m[3] === '>=',
    thresholdMs: Number(m[4]) * UNIT_MS[(m[5] ?? 'ms').toLowerCase()],
  };
}

function scopeOf(raw: string | undefined): string | undefined {
  const s = raw?.trim();
  return s === undefined || s === '' ? undefined : s;
}

function statOf(op: OperationSummary, stat: Stat): number {
  return stat === 'p50' ? op.p50Ms : stat === 'p95' ? op.p95Ms : stat === 'p99' ? op.p99Ms : op.maxMs;
}

function label(op: OperationSummary, report: Report): string {
  const services = new Set(report.operations.map((o) => o.service));
  return services.size > 1 ? `${op.name} (${op.service})` : op.name;
}

function noSuchOperation(scope: string, report: Report): string {
  const names = [...new Set(report.operations.map((o) => o.name))];
  const known = names.length === 0 ? 'the table is empty' : `known: ${names.slice(0, 12).join(', ')}${names.length > 12 ? ', …' : ''}`;
  return `no operation named ${JSON.stringify(scope)} ran (${known})`;
}

export function evaluateGate(rule: GateRule, report: Report): GateResult {
  const ops = rule.scope === undefined ? report.operations : report.operations.filter((o) => o.name === rule.scope);
  // A rule about an operation that never ran trips: a misspelt name must not turn a gate off for good.
  if (rule.scope !== undefined && ops.length === 0) return { rule: rule.text, tripped: true, detail: noSuchOperation(rule.scope, report) };

  if (rule.check === 'error-spans') {
    if (rule.scope === undefined) {
      const n = report.summary.errorSpans;
      if (n === 0) return { rule: rule.text, tripped: false, detail: 'no error spans' };
      const where = report.errors
        .slice(0, 3)
        .map((e) => `${e.count}× ${e.operation}: ${e.message}`)
        .join('; ');
      return { rule: rule.text, tripped: true, detail: `${n} error span${n === 1 ? '' : 's'} (${where}${report.errors.length > 3 ? '; …' : ''})` };
    }
    const n = ops.reduce((sum, o) => sum + o.errors, 0);
    const count = ops.reduce((sum, o) => sum + o.count, 0);
    return { rule: rule.text, tripped: n > 0, detail: `${n} of ${count} ${rule.scope} span${count === 1 ? '' : 's'} failed` };
  }

  const { stat, thresholdMs, inclusive } = rule;
  const over = (v: number) => (inclusive ? v >= thresholdMs : v > thresholdMs);
  const offenders = ops.filter((o) => over(statOf(o, stat))).sort((a, b) => statOf(b, stat) - statOf(a, stat));
  const sign = inclusive ? '≥' : '>';
  if (offenders.length > 0) {
    const list = offenders
      .slice(0, 3)
      .map((o) => `${label(o, report)} ${stat} ${formatDuration(statOf(o, stat))}`)
      .join(', ');
    return {
      rule: rule.text,
      tripped: true,
      detail: `${list}${offenders.length > 3 ? `, and ${offenders.length - 3} more` : ''} ${sign} ${formatDuration(thresholdMs)}`,
    };
  }
  if (ops.length === 0) return { rule: rule.text, tripped: false, detail: 'no operations in these traces' };
  const worst = ops.reduce((a, b) => (statOf(b, stat) > statOf(a, stat) ? b : a));
  return {
    rule: rule.text,
    tripped: false,
    detail: `${ops.length === 1 ? '' : `worst of ${ops.length}: `}${label(worst, report)} ${stat} ${formatDuration(statOf(worst, stat))}`,
  };
}

export function evaluateGates(rules: readonly GateRule[], report: Report): GateResult[] {
  return rules.map((rule) => evaluateGate(rule, report));
}
