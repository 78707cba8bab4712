/**
 * The agent under Node.js runtime modes its other tests do not use (found by the runtime sweep): the application
 * behaves as without it, and spans get out wherever Node.js lets them.
 */
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpRequest, REGISTER, startApp } from '../helpers/child';
import { GrpcReceiver } from '../otlp/helpers/receivers';

const SERVER = path.join(__dirname, '..', 'fixtures', 'lifecycle', 'server.js');
/** Node.js 20 has the permission model behind --experimental-permission; 22 and later call it --permission. */
const PERMISSION = Number(process.versions.node.split('.')[0]) >= 22 ? '--permission' : '--experimental-permission';

async function until(condition: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!condition() && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 25));
  return condition();
}

describe('the permission model', () => {
  let grpc: GrpcReceiver;
  beforeAll(async () => {
    grpc = new GrpcReceiver();
    await grpc.start();
  });
  afterAll(() => grpc.close());

  it('gRPC without --allow-worker: a running service\'s batches go out directly over HTTP/2, with nothing printed', async () => {
    const app = await startApp(SERVER, {
      nodeArgs: [PERMISSION, '--allow-fs-read=*', '--require', REGISTER],
      env: { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_ENDPOINT: grpc.endpoint, OTEL_BSP_SCHEDULE_DELAY: '50' },
    });
    try {
      expect((await httpRequest(`http://127.0.0.1:${app.port}/n1`)).body).toBe('ok');
      // While the service runs: the scheduled export, not the one at exit (which went direct already).
      expect(await until(() => grpc.calls.length > 0, 5000), `no export arrived; stderr: ${app.stderr()}`).toBe(true);
      expect(grpc.calls[0].body.includes('GET')).toBe(true);
      expect(app.stderr()).not.toMatch(/zerotel/);
    } finally {
      await app.stop();
    }
  });
});
