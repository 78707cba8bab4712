#!/usr/bin/env node
/**
 * The express memory soak (test/express/express-soak.test.ts) with the export path included: the soak
 * application (test/fixtures/express/soak-app.cjs, express 5, a dozen middlewares, nested routers) under the
 * preload with middleware spans on, exporting OTLP/HTTP protobuf to a sink in this process that discards what
 * it reads. Sends TOTAL requests (default 100000) pipelined over keep-alive connections and prints the heap the
 * application reports after forced collections every 10,000, and the growth after a warm-up of 20,000.
 *
 * Runs against the compiled output (`npm run build`). Slower than the test: every span is encoded and sent.
 * MIDDLEWARE_SPANS=false runs it with middleware spans off.
 */
'use strict';

const { spawn } = require('node:child_process');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const TOTAL = Number(process.env.TOTAL || 100000);
const STEP = 10000;
const PATHS = ['/api/v1/users/1', '/api/v1/users/2/posts/3', '/health', '/api/v1/fail', '/nope', '/api/v1/users/3'];

function pipelined(port, total, connections = 8, depth = 32) {
  let issued = 0;
  let answered = 0;
  return new Promise((resolve, reject) => {
    let open = connections;
    for (let c = 0; c < connections; c++) {
      const socket = net.connect(port, '127.0.0.1');
      let buffered = Buffer.alloc(0);
      let inflight = 0;
      const more = () => {
        let out = '';
        while (inflight < depth && issued < total) {
          out += `GET ${PATHS[issued % PATHS.length]} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
          issued++;
          inflight++;
        }
        if (out !== '') socket.write(out);
        else if (inflight === 0) socket.end();
      };
      socket.on('connect', more);
      socket.on('data', (chunk) => {
        buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
        for (;;) {
          const headEnd = buffered.indexOf('\r\n\r\n');
          if (headEnd === -1) break;
          const length = /\r\ncontent-length: *(\d+)/i.exec(buffered.toString('latin1', 0, headEnd));
          const end = headEnd + 4 + (length === null ? 0 : Number(length[1]));
          if (buffered.length < end) break;
          buffered = buffered.subarray(end);
          inflight--;
          answered++;
        }
        more();
      });
      socket.on('error', reject);
      socket.on('close', () => {
        if (--open === 0) resolve(answered);
      });
    }
  });
}

function heap(port) {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/__heap', agent: false }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve(JSON.parse(body).heapUsed));
      })
      .on('error', reject);
  });
}

async function main() {
  let received = 0;
  const sink = http.createServer((req, res) => {
    req.on('data', (c) => (received += c.length));
    req.on('end', () => res.end());
  });
  await new Promise((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const env = { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sink.address().port}`, OTEL_INSTRUMENTATION_EXPRESS_MIDDLEWARE_SPANS: process.env.MIDDLEWARE_SPANS || 'true' };
  const app = path.join(ROOT, 'test', 'fixtures', 'express', 'soak-app.cjs');
  const child = spawn(process.execPath, ['--expose-gc', '--require', path.join(ROOT, 'register.js'), app], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve) => {
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
      const m = /listening (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
  });
  const started = Date.now();
  const samples = [];
  for (let sent = 0; sent < TOTAL; sent += STEP) {
    await pipelined(port, STEP);
    const h = await heap(port);
    samples.push([sent + STEP, h]);
    console.log(`${String(sent + STEP).padStart(7)} requests  heap ${(h / 1048576).toFixed(2)} MB  ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  const after = samples.filter(([n]) => n >= 20000).map(([, h]) => h);
  console.log(`growth after warm-up: ${((Math.max(...after) - after[0]) / 1048576).toFixed(2)} MB; OTLP bytes received: ${received}`);
  child.kill();
  sink.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
