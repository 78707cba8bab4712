/**
 * A request Node.js answers itself once the application has it (its body timed out, or could not be parsed) gets
 * the status the client received on its server span, not a connection closed before any response.
 */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runApp } from '../helpers/child';
import { Receiver } from '../helpers/receiver';

describe('requests Node.js answers itself', () => {
  it('record the 408 or 400 Node.js wrote, and stay a closed connection when the application answered clientError', async () => {
    const receiver = await Receiver.start();
    try {
      const run = await runApp(path.join(__dirname, '..', 'fixtures', 'http', 'node-answer-app.js'), { env: receiver.env() });
      expect(run.code, run.stderr).toBe(0);
      // What the client got, without the agent's say: Node's own answers, and the application's.
      expect(JSON.parse(run.stdout.trim().split('\n').pop()!)).toEqual({
        timeout: 'HTTP/1.1 408 Request Timeout',
        badChunk: 'HTTP/1.1 400 Bad Request',
        appAnswered: "HTTP/1.1 418 I'm a teapot",
      });
      const spans = await receiver.waitFor((s) => s.filter((x) => x.kind === 1).length >= 3);
      const byPath = (p: string) => spans.find((x) => x.kind === 1 && x.attributes['url.path'] === p)!;

      const timeout = byPath('/slow-upload');
      expect(timeout.name).toBe('POST');
      expect(timeout.attributes['http.response.status_code']).toBe(408);
      expect(timeout.attributes['error.type']).toBeUndefined();
      expect(timeout.status.code).toBe(0); // a 4xx is the client's, not the server's error (http-spans.md)

      const badChunk = byPath('/bad-chunk');
      expect(badChunk.attributes['http.response.status_code']).toBe(400);
      expect(badChunk.attributes['error.type']).toBeUndefined();
      expect(badChunk.status.code).toBe(0);

      // The application's clientError listener wrote its own answer, which the agent cannot see.
      const appAnswered = byPath('/app-answered');
      expect(appAnswered.attributes['http.response.status_code']).toBeUndefined();
      expect(appAnswered.attributes['error.type']).toBe('aborted');
      expect(appAnswered.status.code).toBe(2);
    } finally {
      await receiver.close();
    }
  });
});
