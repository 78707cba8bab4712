/**
 * The report as JUnit XML, the format CI systems (GitHub Actions reporters, GitLab, Jenkins, CircleCI) show as
 * test results: one test suite per service with one test case per HTTP route (a failure when the route had
 * error spans), and one suite with a test case per --fail-on rule.
 */
import { formatDuration } from '../render/trace-tree';
import type { Report } from '../report/aggregate';
import type { GateResult } from '../report/gates';
import { HTTP_SERVER } from '../report/operations';

/** Text safe in XML 1.0 attributes and content: escaped, and without the characters XML cannot hold at all. */
export function xmlText(s: string): string {
  return s
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '\ufffd')
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

export function renderJunit(report: Report, gates: readonly GateResult[]): string {
  const suites: string[] = [];
  let tests = 0;
  let failures = 0;
  const routes = report.operations.filter((o) => o.type === HTTP_SERVER);
  const services = [...new Set(routes.map((o) => o.service))];
  for (const service of services) {
    const cases: string[] = [];
    let suiteFailures = 0;
    let suiteTime = 0;
    for (const op of routes.filter((o) => o.service === service)) {
      suiteTime += op.totalMs;
      const stats = `${op.count} request${op.count === 1 ? '' : 's'}, ${op.errors} failed; p50 ${formatDuration(op.p50Ms)}, p95 ${formatDuration(op.p95Ms)}, max ${formatDuration(op.maxMs)}`;
      let body = `<system-out>${xmlText(stats)}</system-out>`;
      if (op.errors > 0) {
        suiteFailures++;
        const own = report.errors.filter((e) => e.service === service && e.operation === op.name);
        // A server span's own message is often just the status; the error that caused it sits lower in the same trace.
        const traces = new Set(own.map((e) => e.traceId));
        const related = report.errors.filter((e) => !own.includes(e) && traces.has(e.traceId));
        const messages = [...own, ...related].map(
          (e) => `${e.count}× ${e.operation}: ${e.message}${e.exceptionType ? ` (${e.exceptionType})` : ''} — trace ${e.traceId}`,
        );
        body =
          `<failure message="${xmlText(`${op.errors} of ${op.count} requests failed`)}" type="error-spans">` +
          `${xmlText(messages.join('\n'))}</failure>` +
          body;
      }
      cases.push(`    <testcase classname="${xmlText(`${service}.http`)}" name="${xmlText(op.name)}" time="${seconds(op.totalMs)}">${body}</testcase>`);
    }
    tests += cases.length;
    failures += suiteFailures;
    suites.push(
      `  <testsuite name="${xmlText(`HTTP routes (${service})`)}" tests="${cases.length}" failures="${suiteFailures}" errors="0" skipped="0" time="${seconds(suiteTime)}">\n${cases.join('\n')}\n  </testsuite>`,
    );
  }
  if (gates.length > 0) {
    const tripped = gates.filter((g) => g.tripped).length;
    const cases = gates.map((g) => {
      const failure = g.tripped ? `<failure message="${xmlText(g.detail)}" type="fail-on"/>` : `<system-out>${xmlText(g.detail)}</system-out>`;
      return `    <testcase classname="zerotel.fail-on" name="${xmlText(g.rule)}" time="0">${failure}</testcase>`;
    });
    tests += gates.length;
    failures += tripped;
    suites.push(`  <testsuite name="zerotel --fail-on" tests="${gates.length}" failures="${tripped}" errors="0" skipped="0" time="0">\n${cases.join('\n')}\n  </testsuite>`);
  }
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<testsuites name="zerotel" tests="${tests}" failures="${failures}" errors="0">\n` +
    (suites.length > 0 ? suites.join('\n') + '\n' : '') +
    '</testsuites>\n'
  );
}
