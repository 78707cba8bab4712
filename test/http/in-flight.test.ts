/**
 * The http instrumentation keeps an entry per request in flight (see src/instrumentation/in-flight.ts for why
 * not a WeakMap) and must remove each when its request ends, however it ends.
 */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REGISTER, runApp } from '../helpers/child';
import { Receiver } from '../helpers/receiver';
import { freePort } from '../safety/collectors';

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
