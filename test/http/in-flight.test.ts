/**
 * The http instrumentation keeps an entry per request in flight (see src/instrumentation/in-flight.ts for why
 * not a WeakMap) and must remove each when its request ends, however it ends.
 */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REGISTER, runApp } from '../helpers/child';
import { Receiver } from '../helpers/receiver';
import { freePort } from '../safety/collectors';
import { decodeRequest } from '../otlp/helpers/otlp-proto';
import { HttpReceiver } from '../otlp/helpers/receivers';
import { SERVER_END_ENCODE_SPANS } from '../../src/processors/batch-span-processor';

describe('in-flight entries', () => {
  it('are all gone once the requests are over: read, unread, aborted and refused, on both sides', async () => {
    const receiver = await Receiver.start();
    try {
      const run = await runApp(path.join(__dirname, '..', 'fixtures', 'http', 'in-flight-app.js'), { env: receiver.env() });
      expect(run.code, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout.trim().split('\n').pop()!)).toEqual({ server: 0, client: 0 });
      // And the requests were traced (the entries existed): 100 served, 101 sent; the 20 never read end as
      // answered (200, no error) when their connection closes.
      const spans = await receiver.waitFor((s) => s.filter((x) => x.kind === 1).length >= 100 && s.filter((x) => x.kind === 2).length >= 101);
      expect(spans.filter((x) => x.kind === 1)).toHaveLength(100);
      const clients = spans.filter((x) => x.kind === 2);
      expect(clients).toHaveLength(101);
      expect(clients.filter((x) => x.attributes['http.response.status_code'] === 200 && x.status.code === 0)).toHaveLength(90);
    } finally {
      await receiver.close();
    }
  });

  it("leave served requests' spans to wait for their batch as encoded bytes, not as spans, once a few have piled up", async () => {
    // Over OTLP/protobuf, the protocol whose spans are encoded ahead; a receiver that decodes with the official
    // definitions. The batch is not due for a minute: the spans go out when the program ends.
    const receiver = new HttpReceiver();
    await receiver.start();
    try {
      const app = path.join(__dirname, '..', 'fixtures', 'http', 'served-span-encoded-app.js');
      const env = { OTEL_BSP_SCHEDULE_DELAY: '60000', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.url };
      // Each request makes two spans (the server's, then the client's): REQUESTS of them stay below the 32 spans at
      // which an encode pass is scheduled anyway, so only the server spans' ends can have encoded them.
      const REQUESTS = 12;
      const run = await runApp(app, { env, nodeArgs: ['--expose-gc', '--require', REGISTER], args: [String(REQUESTS)] });
      expect(run.code, run.stderr).toBe(0);
      const { alive } = JSON.parse(run.stdout.trim().split('\n').pop()!) as { alive: number[] };
      expect(alive).toHaveLength(REQUESTS);
      // Never more server spans alive than the requests whose spans fill one pass; after a pass, fewer than before.
      expect(Math.max(...alive), JSON.stringify(alive)).toBeLessThanOrEqual(Math.ceil(SERVER_END_ENCODE_SPANS / 2));
      expect(alive.some((n, i) => i > 0 && n < alive[i - 1]), JSON.stringify(alive)).toBe(true);
      // Encoded whole: every span arrives with what it recorded.
      const spans = receiver.requests.flatMap((r) => decodeRequest(r.body).resourceSpans.flatMap((rs: any) => rs.scopeSpans.flatMap((ss: any) => ss.spans)));
      const attribute = (span: any, key: string) => {
        const value = span.attributes.find((a: any) => a.key === key)?.value;
        return value?.stringValue ?? (value?.intValue !== undefined ? Number(value.intValue) : undefined);
      };
      const served = spans.filter((x: any) => x.kind === 2).map((x: any) => [x.name, attribute(x, 'url.path'), attribute(x, 'http.response.status_code')]);
      expect(served.sort()).toEqual([
        ...Array.from({ length: REQUESTS }, (_, i) => ['GET', `/item/${i + 1}`, 200]),
      ].sort());
      // And the client spans of the same program, which wait as spans until the end of a turn or the batch.
      expect(spans.filter((x: any) => x.kind === 3)).toHaveLength(REQUESTS);
    } finally {
      await receiver.close();
    }
  });

  it("leave nothing of a request's span to an idle keep-alive connection, with the collector up or refusing", async () => {
    const receiver = await Receiver.start();
    try {
      const app = path.join(__dirname, '..', 'fixtures', 'http', 'keep-alive-retention-app.js');
      const nodeArgs = ['--expose-gc', '--require', REGISTER];
      // Up: the connection's keep-alive timer is the one thing left that could hold the span.
      const up = await runApp(app, { env: receiver.env({ OTEL_BSP_SCHEDULE_DELAY: '50' }), nodeArgs });
      expect(up.code, up.stderr).toBe(0);
      expect(JSON.parse(up.stdout.trim().split('\n').pop()!)).toEqual({ recording: true, retained: false, idleConnections: 1 });
      await receiver.waitFor((s) => s.some((x) => x.kind === 1));
      // Refusing: the export's retries and timeouts must not hold it either. (Over OTLP/protobuf, the default, a
      // span is kept as its bytes once encoded; over JSON the batch being retried holds its spans, as it must.)
      const refusing = await runApp(app, {
        env: receiver.env({ OTEL_BSP_SCHEDULE_DELAY: '50', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${await freePort()}/v1/traces` }),
        nodeArgs,
      });
      expect(refusing.code, refusing.stderr).toBe(0);
      expect(JSON.parse(refusing.stdout.trim().split('\n').pop()!)).toEqual({ recording: true, retained: false, idleConnections: 1 });
    } finally {
      await receiver.close();
    }
  });
});
