/**
 * A fault in the agent's own span code never reaches the application. The fixture (test/fixtures/safety/fault-app.js)
 * breaks the running agent for real — it replaces methods of the compiled Tracer / RecordingSpan classes the agent
 * uses — and then drives every patched library (http server and client, fetch, pg, node-redis, ioredis) through
 * successes and failures, three times each. Every call must give back exactly what it gives without the agent,
 * and each failing place is reported once (`zerotel error:`), not once per call.
 */
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runApp, type RunResult } from '../helpers/child';
import { Receiver } from '../helpers/receiver';
import { requirePostgres, requireRedis, serviceEnv } from '../helpers/services';

const APP = path.join(__dirname, '..', 'fixtures', 'safety', 'fault-app.js');
const INSTRUMENTATIONS = ['http', 'fetch', 'pg', 'redis', 'ioredis'];

let receiver: Receiver;
let baseline: RunResult;

function run(fault: string | undefined): Promise<RunResult> {
  return runApp(APP, {
    nodeArgs: fault === undefined ? [] : undefined,
    env: { ...serviceEnv(), ...receiver.env(), FAULT: fault ?? 'none', REPEAT: '3', KEY_PREFIX: 'zerotel-safety-faults' },
    timeoutMs: 30_000,
  });
}

/** The agent's error lines, and which instrumentation each names. */
function errorLines(stderr: string): { lines: string[]; instrumentations: Set<string> } {
  const lines = stderr.split('\n').filter((l) => l.startsWith('zerotel error:'));
  const instrumentations = new Set<string>();
  for (const line of lines) {
    const m = /^zerotel error: the (\w+) instrumentation failed in (.+?); the call goes on untraced Error: injected fault/.exec(line);
    expect(m, `an error line that is not an instrumentation report: ${line}`).not.toBeNull();
    instrumentations.add(m![1]);
  }
  return { lines, instrumentations };
}

/** Nothing on stderr but the agent's reports and the stack traces they carry. */
function expectOnlyAgentReports(stderr: string): void {
  for (const line of stderr.split('\n').filter(Boolean)) expect(line).toMatch(/^(zerotel (error|warn): |    at )/);
}

beforeAll(async () => {
  await requirePostgres();
  await requireRedis();
  receiver = await Receiver.start();
  baseline = await run(undefined);
  expect(baseline.code, baseline.stdout + baseline.stderr).toBe(0);
  expect(baseline.stderr).toBe('');
  const results = JSON.parse(baseline.stdout);
  // the reference run did what it says: every library answered, failures included
  expect(results['http.get refused'][0].code).toBe('ECONNREFUSED');
  expect(results['pg query error'][0].code).toBe('42P01');
  expect(results['redis wrongtype'][0].message).toMatch(/^WRONGTYPE/);
  expect(results['ioredis pipeline'][0]).toEqual([[null, 'OK'], [null, '0']]);
});

afterAll(() => receiver?.close());

describe('the fault-injection fixture', () => {
  it('is traced normally when no fault is injected, and prints the same results', async () => {
    receiver.clear();
    const healthy = await run('none');
    expect(healthy.code).toBe(0);
    expect(healthy.stdout).toBe(baseline.stdout);
    expect(healthy.stderr).toBe('');
    const spans = await receiver.waitFor((all) => INSTRUMENTATIONS.every((n) => all.some((s) => s.scope.name === `zerotel/instrumentations/${n}`)));
    expect(spans.length).toBeGreaterThan(50);
  });
});

const FAULTS: Array<[fault: string, what: string, places: string[]]> = [
  ['start', 'Tracer#start throws', INSTRUMENTATIONS],
  ['setAttribute', 'every Span#setAttribute throws (so every start does)', INSTRUMENTATIONS],
  ['late-setAttribute', 'Span#setAttribute throws once the span has started', ['http', 'fetch', 'pg']],
  ['end', 'Span#end throws', INSTRUMENTATIONS],
  ['addEvent', 'Span#addEvent and Span#recordException throw', ['http', 'pg', 'redis', 'ioredis']],
];

describe.each(FAULTS)('with the fault "%s" (%s)', (fault, _what, places) => {
  let result: RunResult;
  beforeAll(async () => {
    result = await run(fault);
  });

  it('every call of every library returns what it returns without the agent', () => {
    expect(result.code, result.stderr).toBe(0);
    expect(result.signal).toBeNull();
    expect(JSON.parse(result.stdout)).toEqual(JSON.parse(baseline.stdout));
  });

  it('reports each failing place once, not once per call', () => {
    expectOnlyAgentReports(result.stderr);
    const { lines, instrumentations } = errorLines(result.stderr);
    expect(lines.length).toBeGreaterThan(0);
    // each place is reached at least three times (REPEAT=3); a second line for the same place is a failure
    expect(new Set(lines).size).toBe(lines.length);
    for (const name of places) expect([...instrumentations], `a report from the ${name} instrumentation`).toContain(name);
  });
});
