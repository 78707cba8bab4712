/**
 * The http instrumentation's unpatch, in this process: after patching node:http and node:https and tracing
 * through them, unpatch puts back exactly what Node.js had (the same functions, no marks, no own copies of
 * inherited methods), and requests made afterwards make no spans while the runtime is still set, so a wrapper
 * left behind anywhere would show.
 */
import * as fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConfig } from '../../src/config';
import { setRuntime } from '../../src/instrumentation/runtime';
import { isWrapped } from '../../src/instrumentation/wrap';
import { createPropagator } from '../../src/propagators';
import { httpPatcher, httpsPatcher } from '../../instrumentations/http/patch';
import { memoryProvider } from '../helpers/sdk';

// The modules' own export objects, which the agent patches (an ES namespace import is a read-only copy).
const http = require('node:http') as typeof import('node:http');
const https = require('node:https') as typeof import('node:https');
type IncomingMessage = import('node:http').IncomingMessage;
type ClientRequest = import('node:http').ClientRequest;
const TLS = path.join(__dirname, '..', 'fixtures', 'tls');
const info = (name: string) => ({ name, version: process.versions.node, basedir: undefined, format: 'commonjs' as const });

/** Every object the patchers touch, by a name for failure messages. */
const targets = (): Record<string, any> => ({
  http,
  https,
  'http.Server.prototype': http.Server.prototype,
  'https.Server.prototype': https.Server.prototype,
  'http.IncomingMessage.prototype': http.IncomingMessage.prototype,
  'http.ServerResponse.prototype': http.ServerResponse.prototype,
  'http.ClientRequest.prototype': http.ClientRequest.prototype,
});

/**
 * What a target looks like: its own keys (a wrapper put on an object that only inherited the method would be a
 * new own key), and for each method the patchers wrap, the function it resolves to and that function's own keys
 * (shimmer's __wrapped/__original/__unwrap and our symbol are marks an original lacks).
 */
function shape() {
  const methods = ['emit', 'request', 'get', 'writeHead', '_implicitHeader'];
  const out: Record<string, { keys: (string | symbol)[]; methods: Record<string, { fn: unknown; keys: (string | symbol)[] }> }> = {};
  for (const [name, target] of Object.entries(targets())) {
    const entry = { keys: Reflect.ownKeys(target), methods: {} as Record<string, { fn: unknown; keys: (string | symbol)[] }> };
    for (const m of methods) if (typeof target[m] === 'function') entry.methods[m] = { fn: target[m], keys: Reflect.ownKeys(target[m]) };
    out[name] = entry;
  }
  return out;
}

describe('the http instrumentation unpatched', () => {
  const { provider, exporter } = memoryProvider();
  let plain: import('node:http').Server;
  let secure: import('node:https').Server;
  let plainUrl: string;
  let secureUrl: string;
  let before: ReturnType<typeof shape>;

  beforeAll(async () => {
    plain = http.createServer((req, res) => res.end('plain'));
    secure = https.createServer({ key: fs.readFileSync(path.join(TLS, 'server.key')), cert: fs.readFileSync(path.join(TLS, 'server.pem')) }, (req, res) => res.end('secure'));
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => secure.listen(0, '127.0.0.1', resolve));
    plainUrl = `http://127.0.0.1:${(plain.address() as AddressInfo).port}`;
    secureUrl = `https://127.0.0.1:${(secure.address() as AddressInfo).port}`;
    before = shape();
    setRuntime({ config: readConfig({}).config, provider, propagator: createPropagator(['tracecontext']) });
  });

  afterAll(async () => {
    // leave the process as it was even when a test failed half-way
    httpsPatcher.unpatch(https, info('https'));
    httpPatcher.unpatch(http, info('http'));
    setRuntime(undefined);
    await new Promise((resolve) => plain?.close(resolve));
    await new Promise((resolve) => secure?.close(resolve));
  });

  const ca = () => fs.readFileSync(path.join(TLS, 'ca.pem'));
  const read = (res: IncomingMessage) => new Promise<string>((resolve, reject) => {
    let body = '';
    res.on('data', (c) => (body += c));
    res.on('end', () => resolve(body));
    res.on('error', reject);
  });
  /** One request in each form through both modules; the bodies, and then the spans they made. */
  async function requests(): Promise<string[]> {
    exporter.reset();
    const calls: Array<(cb: (res: IncomingMessage) => void) => unknown> = [
      (cb) => http.get(`${plainUrl}/get`, cb),
      (cb) => http.request(new URL(`${plainUrl}/request`), cb).end(),
      (cb) => https.get(`${secureUrl}/get`, { ca: ca() }, cb),
      (cb) => https.request(`${secureUrl}/request`, { ca: ca() }, cb).end(),
    ];
    const bodies: string[] = [];
    for (const call of calls) bodies.push(await new Promise<string>((resolve, reject) => (call((res) => read(res).then(resolve, reject)) as ClientRequest).on('error', reject)));
    await provider.forceFlush();
    return bodies;
  }
  const spans = () => exporter.getFinishedSpans().map((s) => `${s.kind}:${s.attributes['url.full'] ?? s.attributes['url.path']}`).sort();

  it('patched, every request makes a client and a server span (what unpatching must stop)', async () => {
    httpPatcher.patch(http, info('http'));
    httpsPatcher.patch(https, info('https'));
    expect(isWrapped(http.request)).toBe(true);
    expect(isWrapped(https.Server.prototype.emit)).toBe(true);
    expect(shape()).not.toEqual(before);
    expect(await requests()).toEqual(['plain', 'plain', 'secure', 'secure']);
    // 4 client spans (kind 2) and 4 server spans (kind 1)
    expect(spans().filter((s) => s.startsWith('1:'))).toHaveLength(4);
    expect(spans().filter((s) => s.startsWith('2:'))).toHaveLength(4);
  });

  it('unpatched, node:http and node:https are exactly as Node.js had them and nothing is traced', async () => {
    httpsPatcher.unpatch(https, info('https'));
    httpPatcher.unpatch(http, info('http'));
    const after = shape();
    // the same functions (toEqual compares them by identity), the same own keys everywhere, no marks on any
    expect(after).toEqual(before);
    for (const [name, entry] of Object.entries(after)) {
      for (const [m, { fn }] of Object.entries(entry.methods)) {
        expect(isWrapped(fn), `${name}.${m}`).toBe(false);
        expect(fn, `${name}.${m}`).toBe(before[name].methods[m].fn);
      }
    }
    // Server#emit and the shared prototypes' emit are EventEmitter's again, inherited, not own copies
    expect(Object.prototype.hasOwnProperty.call(http.Server.prototype, 'emit')).toBe(false);
    expect(Object.prototype.hasOwnProperty.call(http.ClientRequest.prototype, 'emit')).toBe(false);
    expect(http.Server.prototype.emit).toBe(require('node:events').EventEmitter.prototype.emit);
    // the runtime is still set: a wrapper left anywhere would make spans
    expect(await requests()).toEqual(['plain', 'plain', 'secure', 'secure']);
    expect(spans()).toEqual([]);
  });

  it('patches again after unpatching, and unpatches again as cleanly', async () => {
    httpPatcher.patch(http, info('http'));
    httpsPatcher.patch(https, info('https'));
    await requests();
    expect(spans()).toHaveLength(8);
    httpPatcher.unpatch(http, info('http'));
    httpsPatcher.unpatch(https, info('https'));
    expect(shape()).toEqual(before);
    await requests();
    expect(spans()).toEqual([]);
  });

  it('unpatching https alone keeps http traced (the classes they share stay wrapped), and the last unpatch restores all', async () => {
    httpPatcher.patch(http, info('http'));
    httpsPatcher.patch(https, info('https'));
    httpsPatcher.unpatch(https, info('https'));
    expect(isWrapped(https.request)).toBe(false);
    expect(isWrapped(http.ClientRequest.prototype.emit)).toBe(true);
    await requests();
    // http's own requests still make a client and a server span each; https's make none of their own
    expect(spans().filter((s) => s.includes(plainUrl) || s.endsWith(':/get') || s.endsWith(':/request'))).toHaveLength(4);
    expect(spans().some((s) => s.includes(secureUrl))).toBe(false);
    httpPatcher.unpatch(http, info('http'));
    expect(shape()).toEqual(before);
  });

  it('https patched and unpatched on its own leaves nothing behind, the classes it shares with http included', () => {
    httpsPatcher.patch(https, info('https'));
    expect(isWrapped(http.ClientRequest.prototype.emit)).toBe(true);
    httpsPatcher.unpatch(https, info('https'));
    expect(shape()).toEqual(before);
  });
});
