/**
 * A newcomer's first run: the preload with only OTEL_EXPORTER_OTLP_ENDPOINT set (the collector's base URL), plus
 * OTEL_EXPORTER_OTLP_PROTOCOL where the protocol is not the default, gets the app's spans to a real receiver, for
 * each OTLP protocol. exporter.md, "Endpoint URLs for OTLP/HTTP": with the general (not per-signal) endpoint, the
 * exporter sends traces to <base>/v1/traces; for gRPC the endpoint is the server's address.
 * (childEnv drops every OTEL_* variable of the test runner, so these variables are all the child has.)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT, runApp, type RunResult } from '../helpers/child';
import { decodeAttributes } from '../helpers/receiver';
import { GrpcReceiver, HttpReceiver } from './helpers/receivers';
import { decodeRequest, flattenSpans } from './helpers/otlp-proto';

/** Makes one request to its own HTTP server (a SERVER and a CLIENT span, both named GET), then ends by itself. */
const SCRIPT = path.join(__dirname, '..', 'fixtures', 'preload', 'script.js');
/** OTLP's SpanKind numbering, as on the wire. */
const SPAN_KIND_SERVER = 2;
const SPAN_KIND_CLIENT = 3;
/** With no OTEL_SERVICE_NAME, the service is named after the app's nearest package.json: the repository's here. */
const APP_PACKAGE_NAME: string = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).name;

let closeReceiver: (() => Promise<void>) | undefined;
afterEach(async () => {
  await closeReceiver?.();
  closeReceiver = undefined;
});

/** Runs the fixture under the preload with exactly `env` as its OTEL_* settings. */
async function runWithOnly(env: Record<string, string>): Promise<RunResult> {
  const run = await runApp(SCRIPT, { env: { ...env, REQUESTS: '1' } });
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  expect(run.stdout).toBe('done patched=true\n');
  return run;
}

/** The spans of decoded ExportTraceServiceRequests, as `kind:name`, and the service names they came with. */
function summarize(requests: any[]): { spans: string[]; services: string[] } {
  const flat = requests.flatMap((r) => flattenSpans(r));
  return {
    spans: flat.map((s) => `${s.span.kind}:${s.span.name}`).sort(),
    services: [...new Set(flat.map((s) => decodeAttributes(s.resource?.attributes)['service.name']))],
  };
}

const EXPECTED = { spans: [`${SPAN_KIND_SERVER}:GET`, `${SPAN_KIND_CLIENT}:GET`], services: [APP_PACKAGE_NAME] };

describe('only OTEL_EXPORTER_OTLP_ENDPOINT set: the spans arrive', () => {
  it('http/protobuf (the default, no protocol variable): POSTed as protobuf to <endpoint>/v1/traces', async () => {
    const receiver = new HttpReceiver();
    await receiver.start();
    closeReceiver = () => receiver.close();
    await runWithOnly({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.port}` });
    expect(receiver.requests.length).toBeGreaterThan(0);
    for (const req of receiver.requests) {
      expect(req.method).toBe('POST');
      expect(req.path).toBe('/v1/traces');
      expect(req.headers['content-type']).toBe('application/x-protobuf');
    }
    expect(summarize(receiver.requests.map((r) => decodeRequest(r.body)))).toEqual(EXPECTED);
  });

  it('http/json (OTEL_EXPORTER_OTLP_PROTOCOL=http/json): POSTed as JSON to <endpoint>/v1/traces', async () => {
    const receiver = new HttpReceiver();
    await receiver.start();
    closeReceiver = () => receiver.close();
    await runWithOnly({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.port}`, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' });
    expect(receiver.requests.length).toBeGreaterThan(0);
    for (const req of receiver.requests) {
      expect(req.method).toBe('POST');
      expect(req.path).toBe('/v1/traces');
      expect(req.headers['content-type']).toBe('application/json');
    }
    expect(summarize(receiver.requests.map((r) => JSON.parse(r.body.toString('utf8'))))).toEqual(EXPECTED);
  });

  it('grpc (OTEL_EXPORTER_OTLP_PROTOCOL=grpc, the endpoint the server address): exported through TraceService/Export', async () => {
    const receiver = new GrpcReceiver();
    await receiver.start();
    closeReceiver = () => receiver.close();
    await runWithOnly({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' });
    expect(receiver.calls.length).toBeGreaterThan(0);
    expect(summarize(receiver.calls.map((c) => decodeRequest(c.body)))).toEqual(EXPECTED);
  });
});
