/**
 * Memory: 100,000 requests through an express 5 application with a dozen middlewares and nested routers
 * (test/fixtures/express/soak-app.cjs) under the preload. The application samples its own heap after forced
 * full collections every 10,000 requests; after a warm-up of 20,000 the heap must stay flat (OpenTelemetry's
 * express instrumentation grew here: opentelemetry-js-contrib #3458).
 *
 * Middleware spans are on (they are the spans there are most of). Spans are made and ended as usual but not exported (OTEL_TRACES_EXPORTER=none): this measures what the
 * instrumentation keeps, and keeps the test short. bench/express-soak.js runs the same soak with OTLP export.
 */
import * as http from 'node:http';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../helpers/child';
import { REGISTER } from '../helpers/child';
import { FIXTURES } from './express-fixtures';
import { pipelinedLoad } from './pipelined-load';

const TOTAL = 100_000;
const STEP = 10_000;
const WARM_UP = 20_000;
const MAX_GROWTH = 5 * 1024 * 1024;
const PATHS = ['/api/v1/users/1', '/api/v1/users/2/posts/3', '/health', '/api/v1/fail', '/nope', '/api/v1/users/3'];

function sampleHeap(port: number): Promise<{ heapUsed: number; activeSpan: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/__heap', agent: false }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve(JSON.parse(body)));
      })
      .on('error', reject);
  });
}

describe('express memory soak', () => {
  let app: RunningApp;

  beforeAll(async () => {
    app = await startApp(path.join(FIXTURES, 'soak-app.cjs'), {
      nodeArgs: ['--expose-gc', '--require', REGISTER],
      env: { OTEL_TRACES_EXPORTER: 'none', OTEL_INSTRUMENTATION_EXPRESS_MIDDLEWARE_SPANS: 'true' },
    });
  });

  afterAll(async () => {
    await app?.stop();
  });

  it(`keeps the heap flat over ${TOTAL} requests`, { timeout: 240_000 }, async () => {
    const samples: Array<{ after: number; heapUsed: number }> = [];
    const started = Date.now();
    for (let sent = 0; sent < TOTAL; sent += STEP) {
      expect(await pipelinedLoad(app.port, PATHS, STEP)).toBe(STEP);
      const sample = await sampleHeap(app.port);
      expect(sample.activeSpan).toBe('request handler - /__heap');
      samples.push({ after: sent + STEP, heapUsed: sample.heapUsed });
    }
    const afterWarmUp = samples.filter((s) => s.after >= WARM_UP);
    const base = afterWarmUp[0].heapUsed;
    const growth = Math.max(...afterWarmUp.map((s) => s.heapUsed)) - base;
    const report = samples.map((s) => `${s.after}: ${(s.heapUsed / 1048576).toFixed(2)} MB`).join(', ');
    console.log(`express soak: ${TOTAL} requests in ${((Date.now() - started) / 1000).toFixed(1)} s; heap ${report}`);
    expect(growth, report).toBeLessThan(MAX_GROWTH);
    expect(app.stderr()).not.toContain('instrumentation failed');
  });
});
