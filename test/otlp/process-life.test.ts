/**
 * The exporter in a real Node process: it never keeps the process alive, except for exportForExit, which the
 * event loop waits for up to its bound; and loading it loads no transport.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import net from 'node:net';
import { compileAgent, runNode } from './helpers/compiled';
import { GrpcReceiver, HttpReceiver } from './helpers/receivers';

let dir: string;

beforeAll(() => {
  dir = compileAgent();
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const PRELUDE = `
const { TracerProvider } = require(AGENT + '/trace/tracer');
const { SimpleSpanProcessor } = require(AGENT + '/processors/simple-span-processor');
const { InMemorySpanExporter } = require(AGENT + '/exporters/in-memory-exporter');
const { createOtlpExporter } = require(AGENT + '/exporters/otlp');
async function makeSpans(n) {
  const memory = new InMemorySpanExporter();
  const provider = new TracerProvider({ processors: [new SimpleSpanProcessor(memory)] });
  const tracer = provider.getTracer('child');
  for (let i = 0; i < n; i++) tracer.startSpan('span ' + i).end();
  await provider.forceFlush();
  return memory.getFinishedSpans();
}
const exporter = createOtlpExporter({
  protocol: process.env.PROTOCOL || 'http/protobuf',
  endpoint: process.env.ENDPOINT,
  headers: {},
  timeoutMillis: Number(process.env.TIMEOUT || 10000),
  compression: process.env.COMPRESSION || 'none',
  insecure: false,
});
`;

async function withHttp<T>(fn: (receiver: HttpReceiver) => Promise<T>): Promise<T> {
  const receiver = new HttpReceiver();
  await receiver.start();
  try {
    return await fn(receiver);
  } finally {
    await receiver.close();
  }
}

async function withGrpc<T>(fn: (receiver: GrpcReceiver) => Promise<T>): Promise<T> {
  const receiver = new GrpcReceiver();
  await receiver.start();
  try {
    return await fn(receiver);
  } finally {
    await receiver.close();
  }
}

describe('process life', () => {
  it('an export in flight to a receiver that never answers does not keep the process alive', async () => {
    await withHttp(async (receiver) => {
      receiver.behaviour = () => 'hang';
      const run = await runNode(
        dir,
        PRELUDE + `makeSpans(3).then((spans) => exporter.export(spans, (r) => console.log('callback', r.code)));`,
        { ENDPOINT: receiver.url, TIMEOUT: '30000' },
      );
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout).not.toMatch(/callback/);
      // Far under the 30 s export timeout: the unref'd socket and timers let the process end.
      expect(run.ms).toBeLessThan(8000);
    });
  });

  it('an idle kept-alive connection does not keep the process alive after exports', async () => {
    await withHttp(async (receiver) => {
      const run = await runNode(
        dir,
        PRELUDE +
          `// Ordinary exports do not hold the process: the application's own work (this interval) does.
          const work = setInterval(() => {}, 1000);
          makeSpans(2).then(async (spans) => {
            for (let i = 0; i < 2; i++) {
              const r = await new Promise((resolve) => exporter.export(spans, resolve));
              console.log('callback', r.code);
            }
            clearInterval(work);
            globalThis.doneAt = Date.now();
            // The receiver keeps idle connections 30 s: an idle socket that held the process would show.
            process.on('exit', () => console.log('exit after', Date.now() - globalThis.doneAt < 5000));
          });`,
        { ENDPOINT: receiver.url, TIMEOUT: '30000' },
      );
      expect(run.stderr).toBe('');
      expect(run.stdout.trim().split('\n')).toEqual(['callback 0', 'callback 0', 'exit after true']);
      expect(receiver.requests).toHaveLength(2);
      expect(receiver.requests[0].connection).toBe(receiver.requests[1].connection);
    });
  });

  it('exportForExit keeps the process alive until the receiver answers', async () => {
    await withHttp(async (receiver) => {
      receiver.behaviour = () => ({ status: 200, delay: 400 });
      const run = await runNode(
        dir,
        PRELUDE + `makeSpans(3).then((spans) => exporter.exportForExit(spans, 3000)).then((r) => console.log('exit-result', r.code));`,
        { ENDPOINT: receiver.url },
      );
      expect(run.stderr).toBe('');
      expect(run.stdout.trim()).toBe('exit-result 0');
      expect(receiver.requests).toHaveLength(1);
      expect(run.ms).toBeGreaterThanOrEqual(400);
    });
  });

  it('exportForExit gives up at its bound, and the process then ends', async () => {
    await withHttp(async (receiver) => {
      receiver.behaviour = () => 'hang';
      const run = await runNode(
        dir,
        PRELUDE +
          `const t0 = Date.now();
          makeSpans(3).then((spans) => exporter.exportForExit(spans, 600)).then((r) => console.log('exit-result', r.code, Date.now() - t0));`,
        { ENDPOINT: receiver.url, ZEROTEL_TEST: '1' },
      );
      const [, code, elapsed] = run.stdout.trim().split(' ');
      expect(code).toBe('1');
      expect(Number(elapsed)).toBeGreaterThanOrEqual(550);
      expect(Number(elapsed)).toBeLessThan(2500);
      expect(run.ms).toBeLessThan(8000);
      expect(run.stderr).toMatch(/zerotel warn: OTLP export to .* failed/);
    });
  });

  it('exportForExit also holds the process for an ordinary export already in flight, up to its bound', async () => {
    await withHttp(async (receiver) => {
      receiver.behaviour = (n) => (n === 0 ? { status: 200, delay: 500 } : { status: 200 });
      const run = await runNode(
        dir,
        PRELUDE +
          `makeSpans(2).then((spans) => {
            exporter.export(spans, (r) => console.log('ordinary', r.code));
            // The exit path: nothing left in the queue, but one batch on its way.
            setTimeout(() => exporter.exportForExit([], 3000).then((r) => console.log('exit-result', r.code)), 100).unref();
            // Keep the process up until the exit path has run.
            const hold = setTimeout(() => {}, 150);
          });`,
        { ENDPOINT: receiver.url },
      );
      expect(run.stderr).toBe('');
      expect(run.stdout.trim().split('\n').sort()).toEqual(['exit-result 0', 'ordinary 0']);
      expect(receiver.requests).toHaveLength(1);
    });
  });

  it('a held in-flight export is abandoned at the exit bound', async () => {
    await withHttp(async (receiver) => {
      receiver.behaviour = () => 'hang';
      const run = await runNode(
        dir,
        PRELUDE +
          `const t0 = Date.now();
          makeSpans(2).then((spans) => {
            exporter.export(spans, (r) => console.log('ordinary', r.code, Date.now() - t0 < 2000));
            exporter.exportForExit([], 500);
          });`,
        { ENDPOINT: receiver.url },
      );
      expect(run.stdout.trim()).toBe('ordinary 1 true');
      expect(run.stderr).toMatch(/the process is exiting/);
      expect(run.ms).toBeLessThan(8000);
    });
  });

  it('exportForExit waits out no backoff: a refused or failing collector does not delay the exit', async () => {
    await withHttp(async (receiver) => {
      receiver.behaviour = () => ({ status: 503, headers: { 'retry-after': '1' } });
      const run = await runNode(
        dir,
        PRELUDE +
          `const t0 = Date.now();
          makeSpans(1).then((spans) => exporter.exportForExit(spans, 3000)).then((r) => console.log('exit-result', r.code, Date.now() - t0 < 900));`,
        { ENDPOINT: receiver.url },
      );
      expect(run.stdout.trim()).toBe('exit-result 1 true');
      expect(receiver.requests).toHaveLength(1);
      expect(run.stderr).toMatch(/no retry: the process is exiting/);
    });
    const { closedPort } = await import('./helpers/receivers');
    const port = await closedPort();
    const run = await runNode(
      dir,
      PRELUDE +
        `const t0 = Date.now();
        makeSpans(1).then((spans) => exporter.exportForExit(spans, 3000)).then((r) => console.log('exit-result', r.code, Date.now() - t0 < 900));`,
      { ENDPOINT: `http://127.0.0.1:${port}/v1/traces` },
    );
    expect(run.stdout.trim()).toBe('exit-result 1 true');
    expect(run.stderr).toMatch(/ECONNREFUSED/);
  });

  it('exportForExit resends at once when the server asks for no delay', async () => {
    await withHttp(async (receiver) => {
      receiver.behaviour = (n) => (n === 0 ? { status: 503, headers: { 'retry-after': '0' } } : { status: 200 });
      const run = await runNode(
        dir,
        PRELUDE + `makeSpans(1).then((spans) => exporter.exportForExit(spans, 3000)).then((r) => console.log('exit-result', r.code));`,
        { ENDPOINT: receiver.url },
      );
      expect(run.stdout.trim()).toBe('exit-result 0');
      expect(receiver.requests).toHaveLength(2);
    });
  });

  it('gRPC: an ordinary export is answered while the application runs; after it the idle thread and channel hold nothing; exportForExit is waited for', async () => {
    await withGrpc(async (receiver) => {
      receiver.behaviour = (n) => (n === 0 ? { ok: Buffer.alloc(0) } : { ok: Buffer.alloc(0), delay: 400 });
      const run = await runNode(
        dir,
        PRELUDE +
          `const work = setTimeout(() => {}, 60000); // the application, still running
          makeSpans(2).then(async (spans) => {
            const r = await new Promise((resolve) => exporter.export(spans, resolve));
            console.log('callback', r.code);
            clearTimeout(work);
            const t0 = Date.now();
            const e = await exporter.exportForExit(spans, 3000);
            console.log('exit-result', e.code, Date.now() - t0 >= 390);
          });`,
        { ENDPOINT: receiver.endpoint, PROTOCOL: 'grpc' },
      );
      expect(run.stderr).toBe('');
      expect(run.stdout.trim().split('\n')).toEqual(['callback 0', 'exit-result 0 true']);
      expect(receiver.calls).toHaveLength(2);
      expect(run.ms).toBeLessThan(8000);
    });
  });

  it('gRPC: an export in flight to a collector that accepts and never answers does not keep the process alive', async () => {
    const held: net.Socket[] = [];
    const hanging = net.createServer((socket) => held.push(socket));
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r));
    try {
      const port = (hanging.address() as net.AddressInfo).port;
      const run = await runNode(
        dir,
        PRELUDE +
          `makeSpans(3).then((spans) => {
            exporter.export(spans, (r) => console.log('callback', r.code));
            // the application goes on a little (long enough for the export thread to start and connect on a
            // loaded machine), then has nothing left to do
            setTimeout(() => console.log('done'), 1500);
          });`,
        { ENDPOINT: `http://127.0.0.1:${port}`, PROTOCOL: 'grpc', TIMEOUT: '30000' },
      );
      expect(run.code).toBe(0);
      expect(run.stdout.trim()).toBe('done');
      expect(held.length).toBeGreaterThan(0); // the call really was in flight
      expect(run.ms).toBeLessThan(5000); // grpc-js in this thread held it for the whole 30 s timeout
    } finally {
      for (const socket of held) socket.destroy();
      hanging.close();
    }
  });

  it('loading and building the exporter loads no transport; the first export loads only its own, gRPC none in this thread', async () => {
    const run = await runNode(
      dir,
      `const loaded = () => {
        const builtins = process.moduleLoadList.filter((m) => /^NativeModule (http|https|http2|zlib|tls)$/.test(m)).map((m) => m.slice(13));
        const grpc = Object.keys(require.cache).some((k) => k.includes('@grpc'));
        return builtins.concat(grpc ? ['@grpc/grpc-js'] : []).sort().join(',');
      };
      const t0 = process.hrtime.bigint();
      const { createOtlpExporter } = require(AGENT + '/exporters/otlp');
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const base = { headers: {}, timeoutMillis: 500, compression: 'gzip', insecure: false };
      const http = createOtlpExporter({ ...base, protocol: 'http/protobuf', endpoint: 'http://127.0.0.1:9/v1/traces' });
      createOtlpExporter({ ...base, protocol: 'http/json', endpoint: 'http://127.0.0.1:9/v1/traces' });
      const grpc = createOtlpExporter({ ...base, protocol: 'grpc', endpoint: 'http://127.0.0.1:9' });
      console.log('after-build', loaded() || '-');

      console.error('require ms', ms.toFixed(2));
      const { TracerProvider } = require(AGENT + '/trace/tracer');
      const { SimpleSpanProcessor } = require(AGENT + '/processors/simple-span-processor');
      const { InMemorySpanExporter } = require(AGENT + '/exporters/in-memory-exporter');
      const memory = new InMemorySpanExporter();
      const provider = new TracerProvider({ processors: [new SimpleSpanProcessor(memory)] });
      provider.getTracer('t').startSpan('s').end();
      provider.forceFlush().then(async () => {
        const spans = memory.getFinishedSpans();
        await new Promise((resolve) => http.export(spans, resolve));
        console.log('after-http', loaded());
        // an ordinary export keeps nothing alive: the timer stands for the application's own work
        const work = setTimeout(() => {}, 60000);
        const r = await new Promise((resolve) => grpc.export(spans, resolve));
        clearTimeout(work);
        console.log('after-grpc', loaded(), r.code);
      });`,
      { OTEL_LOG_LEVEL: 'none' },
    );
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toBe('after-build -');
    expect(lines[1]).toMatch(/^after-http (http,)?.*zlib/);
    expect(lines[1]).not.toMatch(/grpc/);
    // gRPC calls are made by the exporter's own thread: neither grpc-js nor http2 is loaded in the application's
    expect(lines[2]).toBe(`after-grpc ${lines[1].slice('after-http '.length)} 1`);
  });
});
