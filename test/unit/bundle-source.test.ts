import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TEST_NODE_FLAGS } from '../helpers/child';

// scripts/bundle.js writes the agent's two load units with only ASCII and no comments: Node keeps a script's
// source for the life of the process, and one character above U+00FF doubles what that source costs.
const DIST = join(__dirname, '..', '..', 'dist');

describe('the bundles hold their source compactly', () => {
  for (const name of ['preload.js', 'runtime.js']) {
    it(`${name} is ASCII only and keeps no doc comments`, () => {
      const bytes = readFileSync(join(DIST, name));
      const firstNonAscii = bytes.findIndex((b) => b > 0x7f);
      expect(firstNonAscii).toBe(-1);
      expect(bytes.toString('latin1')).not.toMatch(/\/\*\*\s/);
    });
  }

  it('escaped characters mean what they meant: the console exporter, run from the bundle, still prints its middle dots', () => {
    const app =
      "const http = require('node:http');" +
      "const server = http.createServer((req, res) => res.end('ok')).listen(0, '127.0.0.1', () => {" +
      "  http.get('http://127.0.0.1:' + server.address().port + '/', (res) => { res.resume(); res.on('end', () => server.close()); });" +
      '});';
    const run = spawnSync(process.execPath, [...TEST_NODE_FLAGS, '--require', join(DIST, '..', 'register.js'), '-e', app], {
      env: { PATH: process.env.PATH, OTEL_TRACES_EXPORTER: 'console', OTEL_SERVICE_NAME: 'bundle-check', NO_COLOR: '1' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(run.status).toBe(0);
    expect(run.stdout + run.stderr).toMatch(/trace [0-9a-f]{32} \u00b7 2 spans \u00b7 .* \u00b7 bundle-check/);
  });
});
