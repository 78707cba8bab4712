/**
 * A program ends exactly when it would have without the agent: same exit code, the application's beforeExit and
 * exit listeners called as often and in the same order, no agent timer or socket holding the loop open — with a
 * healthy collector, a refused port, and a collector that accepts and never answers. Timing bounds here are
 * generous (a loaded CI machine must not fail them); the precise figures come from bench/exit.js.
 */
import * as net from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runApp, type RunResult } from '../helpers/child';
import { Receiver } from '../helpers/receiver';
import { decodeRequest } from '../otlp/helpers/otlp-proto';
import { GrpcReceiver } from '../otlp/helpers/receivers';
import { requirePostgres, serviceEnv } from '../helpers/services';

const PROGRAM = path.join(__dirname, '..', 'fixtures', 'lifecycle', 'exit-program.js');

let receiver: Receiver;
let hanging: net.Server;
let hangingPort: number;
const held: net.Socket[] = [];

beforeAll(async () => {
  await requirePostgres();
  receiver = await Receiver.start();
  hanging = net.createServer((socket) => held.push(socket)); // accepts, reads nothing, never answers
  await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r));
  hangingPort = (hanging.address() as net.AddressInfo).port;
});

afterAll(async () => {
  for (const s of held) s.destroy();
  hanging.close();
  await receiver.close();
});

const collectors = {
  healthy: () => ({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.url }),
  refused: () => ({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:9/v1/traces' }),
  hanging: () => ({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${hangingPort}/v1/traces` }),
};

function run(mode: string, agent: boolean, collector: keyof typeof collectors = 'healthy', extraEnv: Record<string, string> = {}): Promise<RunResult> {
  return runApp(PROGRAM, {
    nodeArgs: agent ? undefined : [],
    env: {
      ...serviceEnv(),
      MODE: mode,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      // spans stay queued until the program ends: only the end-of-process flush can deliver them
      OTEL_BSP_SCHEDULE_DELAY: '60000',
      ...collectors[collector](),
      ...extraEnv,
    },
  });
}

/** Asserts what every run with the agent must show beside the same program without it. */
function expectSameEnd(withAgent: RunResult, baseline: RunResult, collector: 'healthy' | 'refused' | 'hanging'): void {
  expect(withAgent.code).toBe(baseline.code);
  expect(withAgent.signal).toBe(baseline.signal);
  // the application's listeners: same calls, same order, same codes
  expect(withAgent.stdout).toBe(baseline.stdout);
  // nothing on stderr but the agent's own diagnostics (a failed export is worth a warning)
  for (const line of withAgent.stderr.split('\n').filter(Boolean)) expect(line).toMatch(/^zerotel (warn|error): /);
  if (collector === 'healthy') expect(withAgent.stderr).toBe('');
  const added = withAgent.elapsedMs - baseline.elapsedMs;
  // default OTEL_NODE_EXIT_FLUSH_TIMEOUT (1000 ms) for a collector that never answers; generous slack for CI
  if (collector === 'hanging') expect(added).toBeLessThan(1000 + 1500);
  else expect(added).toBeLessThan(1500);
}

const MODES: Array<[string, number, number]> = [
  // mode, exit code, spans the program makes
  ['ends', 0, 2],
  ['exit-call', 3, 2],
  ['exit-code', 5, 2],
  ['pg-idle', 0, 3], // the query, the pool wait, the connection
];

describe.each(MODES)('a program that ends by %s', (mode, code, spans) => {
  let baseline: RunResult;
  beforeAll(async () => {
    baseline = await run(mode, false);
    expect(baseline.code).toBe(code);
  });

  for (const collector of ['healthy', 'refused', 'hanging'] as const) {
    it(`ends the same way with the agent and a ${collector} collector`, async () => {
      receiver.clear();
      const withAgent = await run(mode, true, collector);
      expectSameEnd(withAgent, baseline, collector);
      if (collector === 'healthy') {
        const got = await receiver.waitForCount(spans, 5000);
        expect(got.length).toBe(spans);
      } else {
        expect(receiver.spans).toHaveLength(0);
      }
    });
  }
});

describe('a program that ends while a batch is on its way to the collector', () => {
  let baseline: RunResult;
  beforeAll(async () => {
    baseline = await run('ends-while-exporting', false);
    expect(baseline.code).toBe(0);
  });

  for (const collector of ['healthy', 'refused', 'hanging'] as const) {
    it(`OTLP/HTTP, ${collector} collector: ends the same way, within the bound`, async () => {
      receiver.clear();
      const withAgent = await run('ends-while-exporting', true, collector, { OTEL_BSP_SCHEDULE_DELAY: '50' });
      expectSameEnd(withAgent, baseline, collector);
      if (collector === 'healthy') expect((await receiver.waitForCount(2, 5000)).length).toBe(2);
    });
  }
});

/**
 * The same over OTLP/gRPC, where the collector that never answers is a real gRPC server that takes the call and
 * never completes it: @grpc/grpc-js keeps a call in flight referenced, so this is what the export thread is for.
 */
describe.each(['ends', 'exit-code', 'ends-while-exporting'])('over OTLP/gRPC, a program that ends by %s', (mode) => {
  let baseline: RunResult;
  let grpcReceiver: GrpcReceiver;
  beforeAll(async () => {
    baseline = await run(mode, false);
    grpcReceiver = new GrpcReceiver();
    await grpcReceiver.start();
  });
  afterAll(async () => {
    await grpcReceiver.close();
  });

  for (const collector of ['healthy', 'refused', 'hanging'] as const) {
    it(`ends the same way with a ${collector} gRPC collector`, async () => {
      grpcReceiver.calls.length = 0;
      grpcReceiver.behaviour = collector === 'hanging' ? () => 'hang' : () => ({ ok: Buffer.alloc(0) });
      const endpoint = collector === 'refused' ? 'http://127.0.0.1:9' : grpcReceiver.endpoint;
      const withAgent = await run(mode, true, 'healthy', {
        OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: endpoint,
        ...(mode === 'ends-while-exporting' ? { OTEL_BSP_SCHEDULE_DELAY: '50' } : {}),
      });
      expectSameEnd(withAgent, baseline, collector);
      const spans = grpcReceiver.calls.flatMap((call) =>
        (decodeRequest(call.body).resourceSpans ?? []).flatMap((rs: any) => rs.scopeSpans.flatMap((ss: any) => ss.spans)),
      );
      if (collector === 'refused') expect(spans).toHaveLength(0);
      else expect(spans).toHaveLength(2); // received (and, when hanging, never answered)
    });
  }
});

describe('OTEL_NODE_EXIT_FLUSH_TIMEOUT', () => {
  it('bounds the wait for a collector that never answers: the default 1 s, or the value given', async () => {
    const baseline = await run('ends', false);
    const withTimeout = (value: string | undefined) =>
      runApp(PROGRAM, {
        env: { MODE: 'ends', OTEL_BSP_SCHEDULE_DELAY: '60000', OTEL_NODE_EXIT_FLUSH_TIMEOUT: value, ...collectors.hanging() },
      });
    const byDefault = await withTimeout(undefined);
    const quick = await withTimeout('100');
    for (const r of [byDefault, quick]) {
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(baseline.stdout);
    }
    const addedByDefault = byDefault.elapsedMs - baseline.elapsedMs;
    const addedQuick = quick.elapsedMs - baseline.elapsedMs;
    // The default waits out (most of) its second for the hanging collector — the wall clocks of two processes
    // differ by tens of milliseconds either way; 100 ms cuts that wait by ~900 ms. Compared
    // within one test, so that a slow machine's start-up cost (the same in both) does not decide it.
    expect(addedByDefault).toBeGreaterThanOrEqual(700);
    expect(addedByDefault).toBeLessThan(1000 + 1500);
    expect(addedQuick).toBeLessThan(addedByDefault - 600);
    expect(addedQuick).toBeLessThan(100 + 1200);
  });
});
