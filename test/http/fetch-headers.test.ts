/**
 * How the fetch instrumentation puts propagation headers on undici's request: a header the application set
 * itself is replaced, never sent twice, in both forms undici has kept headers in (undici 6 and 7: a flat array;
 * undici 5, in early Node.js 20 releases: `name: value\r\n` lines). End to end: test/http/http.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { propagationHeaderSetter, withoutHeaderLines } from '../../instrumentations/fetch/channels';

/** undici's own addHeader, in each form: it appends. */
function arrayRequest(headers: string[]) {
  return { headers, addHeader(name: string, value: string) { this.headers.push(name, value); } };
}
function linesRequest(headers: string) {
  return { headers, addHeader(name: string, value: string) { this.headers += `${name}: ${value}\r\n`; } };
}

describe('the fetch propagation header setter', () => {
  it('replaces a header already on the request (any case, repeated) and appends one that is not', () => {
    const request = arrayRequest(['accept', '*/*', 'TraceParent', 'old-1', 'x-a', '1', 'traceparent', 'old-2']);
    propagationHeaderSetter.set(request, 'traceparent', 'new');
    propagationHeaderSetter.set(request, 'baggage', 'k=v');
    expect(request.headers).toEqual(['accept', '*/*', 'TraceParent', 'new', 'x-a', '1', 'baggage', 'k=v']);
  });

  it('does the same with undici 5\'s header lines', () => {
    const request = linesRequest('accept: */*\r\ntraceparent: old-1\r\nx-a: 1\r\nTRACEPARENT : old-2\r\n');
    propagationHeaderSetter.set(request, 'traceparent', 'new');
    expect(request.headers).toBe('accept: */*\r\nx-a: 1\r\ntraceparent: new\r\n');
    expect(withoutHeaderLines('', 'traceparent')).toBe('');
    expect(withoutHeaderLines('a: 1', 'a')).toBe('');
  });
});
