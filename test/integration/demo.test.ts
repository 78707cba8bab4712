/**
 * The README's quick start: `npm run demo` runs examples/hello/app.js under the agent with the console exporter.
 * The command is taken from package.json's "demo" script and run as it says (its environment, node, the preload,
 * the app), but not through npm, so that what is checked is the demo's own output.
 */
import { describe, expect, it } from 'vitest';
import { ROOT, runApp } from '../helpers/child';
import { DEMO_OUTPUT, demoCommand, normalizeDemoOutput } from '../helpers/demo';

describe('the demo (npm run demo)', () => {
  it('prints the two traces of the hello app as trees, the 404 one marked ERROR, and exits 0 with nothing on stderr', async () => {
    const { env, nodeArgs, app } = demoCommand();
    expect(env).toEqual({ OTEL_TRACES_EXPORTER: 'console', OTEL_SERVICE_NAME: 'hello-demo' });
    expect(nodeArgs).toEqual(['--require', './register.js']);
    const r = await runApp(app, { env, nodeArgs, cwd: ROOT });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    // The app calls /hello (which calls /world), then /missing: a trace each, each header with its own id.
    const traceIds = [...r.stdout.matchAll(/^trace ([0-9a-f]{32}) /gm)].map((m) => m[1]);
    expect(traceIds).toHaveLength(2);
    expect(new Set(traceIds).size).toBe(2);
    // Every call went to the one server the app started.
    expect(new Set([...r.stdout.matchAll(/127\.0\.0\.1:(\d+)/g)].map((m) => m[1])).size).toBe(1);
    expect(normalizeDemoOutput(r.stdout)).toBe(DEMO_OUTPUT);
  });
});
