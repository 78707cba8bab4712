import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TEST_NODE_FLAGS } from '../helpers/child';

/**
 * What instrumentations read on every span (config, provider, propagator) comes from one object; V8 must see it with
 * fast properties, or each read from optimised code is a generic dictionary lookup (an object literal with getters
 * is in dictionary mode on Node 20). Checked in a child process under the real preload, with V8's own predicate.
 */
const ROOT = join(__dirname, '..', '..');

describe('the runtime object instrumentations read', () => {
  it('is the agent, with fast properties', () => {
    const code = `
      const runtime = require('./dist/runtime.js').load('src/instrumentation/runtime.js').getRuntime();
      const agent = globalThis[Symbol.for('zerotel.agent')].agent;
      process.stdout.write(JSON.stringify({ isAgent: runtime === agent, fast: %HasFastProperties(runtime), hasProvider: typeof runtime.provider.getTracer === 'function' }));
    `;
    const out = execFileSync(process.execPath, [...TEST_NODE_FLAGS, '--allow-natives-syntax', '--require', './register.js', '-e', code], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, OTEL_TRACES_EXPORTER: 'none' },
      encoding: 'utf8',
    });
    expect(JSON.parse(out)).toEqual({ isAgent: true, fast: true, hasProvider: true });
  });
});
