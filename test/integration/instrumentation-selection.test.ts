/**
 * OTEL_NODE_ENABLED_INSTRUMENTATIONS / OTEL_NODE_DISABLED_INSTRUMENTATIONS on real child processes under the
 * preload: a turned-off instrumentation makes no spans and leaves its module as Node.js has it (nothing
 * patched), while the others still trace.
 */
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runApp } from '../helpers/child';
import { Receiver, type ReceivedSpan } from '../helpers/receiver';

const app = path.join(__dirname, '..', 'fixtures', 'preload', 'selection.js');

let receiver: Receiver;
/** The app's `patched=` line without the agent: node:http exactly as Node.js has it. */
let unpatched: string;

beforeAll(async () => {
  receiver = await Receiver.start();
  const r = await runApp(app, { nodeArgs: [] });
  expect(r.code).toBe(0);
  unpatched = r.stdout;
});
afterAll(() => receiver.close());

/** `kind:scope:path` for each span: which instrumentation traced which request, on which side. */
function summary(spans: ReceivedSpan[]): string[] {
  return spans
    .map((s) => `${s.kind === 1 ? 'server' : s.kind === 2 ? 'client' : s.kind}:${s.scope.name}:${String(s.attributes['url.path'] ?? new URL(String(s.attributes['url.full'])).pathname)}`)
    .sort();
}

async function run(env: Record<string, string>) {
  receiver.clear();
  const r = await runApp(app, { env: receiver.env(env) });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return { stdout: r.stdout, spans: summary(receiver.spans) };
}

const ALL = [
  'client:zerotel/instrumentations/fetch:/by-fetch',
  'client:zerotel/instrumentations/http:/by-http',
  'server:zerotel/instrumentations/http:/by-fetch',
  'server:zerotel/instrumentations/http:/by-http',
];
const FETCH_ONLY = ['client:zerotel/instrumentations/fetch:/by-fetch'];

describe('choosing instrumentations', () => {
  it('with nothing chosen, http and fetch both trace and node:http is patched (what the cases below differ from)', async () => {
    const r = await run({});
    expect(r.spans).toEqual(ALL);
    // the patched= line can tell a patched node:http from Node's own
    expect(r.stdout).not.toBe(unpatched);
    expect(r.stdout).toContain('"serverEmitOwn":true');
  });

  it('OTEL_NODE_DISABLED_INSTRUMENTATIONS=http: no http spans, node:http left as Node.js has it, fetch still traced', async () => {
    const r = await run({ OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'http' });
    expect(r.spans).toEqual(FETCH_ONLY);
    // http.Server.prototype.emit is EventEmitter's again, and request, get and the prototypes' methods carry no marks
    expect(r.stdout).toBe(unpatched);
    expect(unpatched).toContain('"serverEmitOwn":false');
  });

  it('OTEL_NODE_ENABLED_INSTRUMENTATIONS=fetch: only fetch spans, node:http not patched', async () => {
    const r = await run({ OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'fetch' });
    expect(r.spans).toEqual(FETCH_ONLY);
    expect(r.stdout).toBe(unpatched);
  });

  it('OTEL_NODE_DISABLED_INSTRUMENTATIONS=fetch: http traces both requests as before, fetch makes no client span', async () => {
    const r = await run({ OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'fetch' });
    expect(r.spans).toEqual(ALL.filter((s) => !s.includes('/fetch:')));
    expect(r.stdout).not.toBe(unpatched);
  });

  it('the disabled list applies after the enabled list: ENABLED=http,fetch with DISABLED=http leaves fetch alone on', async () => {
    const r = await run({ OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,fetch', OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'http' });
    expect(r.spans).toEqual(FETCH_ONLY);
    expect(r.stdout).toBe(unpatched);
  });
});
