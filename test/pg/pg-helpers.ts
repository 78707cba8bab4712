/**
 * Shared by the pg integration tests: run a fixture under the real preload against the real PostgreSQL,
 * exporting to a test receiver, and read its report and spans.
 */
import * as net from 'node:net';
import * as path from 'node:path';
import { expect } from 'vitest';
import { runApp } from '../helpers/child';
import type { ReceivedSpan, Receiver } from '../helpers/receiver';
import { PG, serviceEnv } from '../helpers/services';

export const FIXTURES = path.resolve(__dirname, '..', 'fixtures', 'pg');

export interface Report {
  checks: Record<string, { expected: string | undefined; actual: string | undefined }>;
  values: Record<string, any>;
}

/** A table name of this test process (test files run in parallel, each in its own process). */
export function tableName(suffix: string): string {
  return `zerotel_pg_${process.pid}_${suffix}`;
}

/** Drops the tables a fixture made, in case it stopped before its own clean-up (from this untraced process). */
export async function dropTables(names: string[]): Promise<void> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Client } = require('pg');
  const client = new Client({ host: PG.host, port: PG.port, user: PG.user, database: PG.database, password: PG.password });
  await client.connect();
  try {
    for (const name of names) await client.query(`DROP TABLE IF EXISTS ${name}`);
  } finally {
    await client.end();
  }
}

/** A loopback port nothing listens on: bound, then closed again. */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Runs `script` with the agent; waits until the spans of its last statement (the table's DROP) arrived.
 * Fails with the child's output when it did not exit cleanly.
 */
export async function runFixture(
  receiver: Receiver,
  script: string,
  args: string[],
  env: Record<string, string> = {},
  lastSpan: (s: ReceivedSpan) => boolean = (s) => s.name.startsWith('DROP TABLE'),
): Promise<{ report: Report; spans: ReceivedSpan[] }> {
  receiver.clear();
  const result = await runApp(path.join(FIXTURES, script), {
    args,
    env: { ...receiver.env(), ...serviceEnv(), CLOSED_PORT: String(await closedPort()), ...env },
    timeoutMs: 30_000,
  });
  if (result.code !== 0) throw new Error(`fixture exited with ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  expect(result.stderr).toBe('');
  const lines = result.stdout.trim().split('\n');
  const report = JSON.parse(lines[lines.length - 1]) as Report;
  const spans = await receiver.waitFor((all) => all.some(lastSpan));
  return { report, spans };
}

/** The spans of the trace a fixture's named parent span started. */
export function traceOf(report: Report, spans: ReceivedSpan[], parentName: string): { parent: ReceivedSpan; spans: ReceivedSpan[] } {
  const ids = report.values[parentName];
  if (ids === undefined) throw new Error(`the fixture ran no ${parentName}`);
  const trace = spans.filter((s) => s.traceId === ids.traceId).sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const parent = trace.find((s) => s.spanId === ids.spanId);
  if (parent === undefined) throw new Error(`no span for ${parentName}; have ${trace.map((s) => s.name).join(', ')}`);
  return { parent, spans: trace };
}

export function childrenOf(parent: ReceivedSpan, spans: ReceivedSpan[]): ReceivedSpan[] {
  return spans.filter((s) => s.parentSpanId === parent.spanId);
}

/** Fails unless every check of the report whose label matches saw the span it expected. */
export function expectChecks(report: Report, labels: string[]): void {
  for (const label of labels) {
    const check = report.checks[label];
    expect(check, `the fixture recorded no check "${label}"`).toBeDefined();
    expect(check.actual, `active span in "${label}"`).toBe(check.expected);
  }
}

/** Every attribute value, event attribute and status message of the spans, as one string (for leak checks). */
export function everythingRecorded(spans: ReceivedSpan[]): string {
  return JSON.stringify(spans.map((s) => [s.name, s.attributes, s.events.map((e) => [e.name, e.attributes]), s.status]));
}
