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

  it("leave a served request's span to wait for its batch as encoded bytes, not as the span", async () => {
    // Over OTLP/protobuf, the protocol whose spans are encoded ahead; a receiver that decodes with the official
    // definitions. The batch is not due for a minute: the spans go out when the program ends.
    const receiver = new HttpReceiver();
    await receiver.start();
    try {
      const app = path.join(__dirname, '..', 'fixtures', 'http', 'served-span-encoded-app.js');
      const env = { OTEL_BSP_SCHEDULE_DELAY: '60000', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.url };
      const run = await runApp(app, { env, nodeArgs: ['--expose-gc', '--require', REGISTER] });
      expect(run.code, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout.trim().split('\n').pop()!)).toEqual({ retained: [false, false, false] });
      // Encoded whole: every span arrives with what it recorded.
      const spans = receiver.requests.flatMap((r) => decodeRequest(r.body).resourceSpans.flatMap((rs: any) => rs.scopeSpans.flatMap((ss: any) => ss.spans)));
      const attribute = (span: any, key: string) => {
        const value = span.attributes.find((a: any) => a.key === key)?.value;
        return value?.stringValue ?? (value?.intValue !== undefined ? Number(value.intValue) : undefined);
      };
      const served = spans.filter((x: any) => x.kind === 2).map((x: any) => [x.name, attribute(x, 'url.path'), attribute(x, 'http.response.status_code')]);
      expect(served.sort()).toEqual([
        ['GET', '/item/1', 200],
        ['GET', '/item/2', 200],
        ['GET', '/item/3', 200],
      ]);
      // And the client spans of the same program, which wait as spans until the end of a turn or the batch.
      expect(spans.filter((x: any) => x.kind === 3)).toHaveLength(3);
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
