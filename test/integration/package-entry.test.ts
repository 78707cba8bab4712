/**
 * The package's own entry (`require('zerotel')`, package.json `main`/`exports["."]`/`types`): what an application
 * may ask of the agent its preload started. Resolved by name from the package itself, as an installed app would.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runApp, spawnApp } from '../helpers/child';
import { Receiver } from '../helpers/receiver';

const FLUSH_APP = path.join(__dirname, '..', 'fixtures', 'package-entry', 'flush-app.js');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));

let receiver: Receiver;
beforeAll(async () => {
  receiver = await Receiver.start();
});
afterAll(() => receiver.close());

describe('the package entry', () => {
  it('points main, exports and types at files the build wrote', () => {
    for (const file of [pkg.main, pkg.types, pkg.exports['.'].default, pkg.exports['.'].types]) {
      expect(fs.existsSync(path.join(ROOT, file)), file).toBe(true);
    }
  });

  it('forceFlush() sends the spans ended so far while the process goes on', async () => {
    receiver.clear();
    const child = spawnApp(FLUSH_APP, { env: receiver.env({ OTEL_BSP_SCHEDULE_DELAY: '60000' }) });
    try {
      let stdout = '';
      let stderr = '';
      child.stderr!.on('data', (c) => (stderr += c));
      const line = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no flush line; stdout ${stdout}, stderr ${stderr}`)), 15_000);
        child.stdout!.on('data', (c) => {
          stdout += c;
          if (stdout.includes('\n')) {
            clearTimeout(timer);
            resolve(stdout.trim());
          }
        });
      });
      expect(line).toBe('flushed running=true kind=1');
      // Still running, and the batch delay is a minute: only the flush can have sent these.
      expect(child.exitCode).toBe(null);
      const server = receiver.spans.find((s) => s.kind === 1); // SpanKind.SERVER
      expect(server?.attributes['url.path']).toBe('/flush-me');
      expect(receiver.spans.some((s) => s.kind === 2)).toBe(true); // SpanKind.CLIENT
      expect(stderr).toBe('');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('without the preload, answers that no agent runs and flushes nothing, without throwing', async () => {
    // runApp puts nodeArgs before its script: with ['-e'] the script is the program's source.
    const plain = await runApp(
      "const z = require('zerotel'); z.forceFlush().then(() => process.stdout.write('running=' + z.isAgentRunning() + ' flushed\\n'))",
      { nodeArgs: ['-e'] },
    );
    expect(plain.stderr).toBe('');
    expect(plain.code).toBe(0);
    expect(plain.stdout).toBe('running=false flushed\n');
  });
});
