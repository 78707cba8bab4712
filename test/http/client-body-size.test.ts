/**
 * http.request.body.size on CLIENT spans (attribute registry: "The size of the request payload body in bytes ...
 * often, but not always, present as the Content-Length header"), under the real preload: node:http with the
 * Content-Length the application set (in its options, or with setHeader after request() returned), fetch with a
 * string body (the Content-Length fetch sends for it), and none for a GET without a body. The bodies are multi-byte:
 * the size is in bytes, not characters.
 */
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runApp } from '../helpers/child';
import { Receiver, type ReceivedSpan } from '../helpers/receiver';

const CLIENT = 2;
const BODY_BYTES = Buffer.byteLength('héllo wörld'); // 13; 11 characters
let receiver: Receiver;

beforeAll(async () => {
  receiver = await Receiver.start();
});

afterAll(async () => {
  await receiver?.close();
});

describe('http.request.body.size on client spans', () => {
  it('is the byte length of a body whose size is known (node:http Content-Length, fetch string body); absent for a GET', async () => {
    const r = await runApp(path.join(__dirname, '..', 'fixtures', 'http', 'client-body-size.js'), {
      env: receiver.env({ OTEL_SERVICE_NAME: 'client-body-size' }),
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const received = JSON.parse(r.stdout) as Array<{ url: string; contentLength: string | null; bytes: number }>;
    // What went over the wire: the sizes below are the ones sent.
    expect(received.map((x) => [x.url, x.contentLength, x.bytes])).toEqual([
      ['/?case=http-options', String(BODY_BYTES), BODY_BYTES],
      ['/?case=http-set', String(BODY_BYTES), BODY_BYTES],
      ['/?case=http-get', null, 0],
      ['/?case=fetch-string', String(BODY_BYTES), BODY_BYTES],
      ['/?case=fetch-get', null, 0],
    ]);
    const cases = ['http-options', 'http-set', 'http-get', 'fetch-string', 'fetch-get'];
    const clientSpan = (all: ReceivedSpan[], c: string) =>
      all.find((s) => s.kind === CLIENT && String(s.attributes['url.full']).endsWith(`?case=${c}`));
    const spans = await receiver.waitFor((all) => cases.every((c) => clientSpan(all, c) !== undefined));
    const size = (c: string) => {
      const span = clientSpan(spans, c)!;
      return 'http.request.body.size' in span.attributes ? span.attributes['http.request.body.size'] : 'absent';
    };
    expect(Object.fromEntries(cases.map((c) => [c, size(c)]))).toEqual({
      'http-options': BODY_BYTES,
      'http-set': BODY_BYTES,
      'http-get': 'absent',
      'fetch-string': BODY_BYTES,
      'fetch-get': 'absent',
    });
  });
});
