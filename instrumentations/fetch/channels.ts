/**
 * The handlers of undici's diagnostics channels. Every message arrives synchronously in the async context of the
 * fetch() call that made the request, so the active context is the caller's.
 * A request's span is kept in a WeakMap keyed by undici's request object: nothing is added to it.
 * Every handler catches what our span code throws: diagnostics_channel rethrows a subscriber's exception as an
 * uncaught exception on the next tick, which would end the application (node lib/diagnostics_channel.js, publish).
 */
import type { Span } from '../../src/api/types';
import { SpanKind } from '../../src/api/types';
import { getSpan, isTracingSuppressed, setSpan } from '../../src/context/context';
import { contextManager } from '../../src/context/global';
import * as runtime from '../../src/instrumentation/runtime';
import { getConfig, getPropagator, reportInstrumentationError, tracerGetter } from '../../src/instrumentation/runtime';
import { exceptionType } from '../../src/trace/span';
import { headerValues, isClientError, spanNameForMethod } from '../http/attributes';
import { fetchRequestAttributes, findHeader, findHeaderValues } from './attributes';

const getTracer = tracerGetter('fetch');
const spans = new WeakMap<object, Span>();

/**
 * Requests whose response came with a 4xx or 5xx (error.type is that status code): an error after it — the body cut
 * short, a retry handler giving up on it — keeps the status code as the error's type (http-spans.md, error.type:
 * "when response status code was sent or received and status indicates an error").
 */
const statusErrors = new WeakSet<object>();

/**
 * Puts a propagation header on undici's request. `addHeader` appends, and a request the application built with a
 * `traceparent` (or `baggage`) of its own — a gateway forwarding the incoming ones — would then carry two, which the
 * receiver joins into one invalid value and starts a new trace. So a header already there gets our value instead,
 * as `setHeader` does for node:http. Keys come lower-case from the propagators. undici 6 and 7 keep the headers as
 * a flat [name, value, …] array; undici 5 (early Node.js 20 releases) as `name: value\r\n` lines.
 */
export const propagationHeaderSetter = {
  set(request: { headers?: unknown; addHeader(name: string, value: string): unknown }, key: string, value: string) {
    const headers = request.headers;
    if (Array.isArray(headers)) {
      let found = false;
      for (let i = 0; i + 1 < headers.length; ) {
        const name = headers[i];
        if (typeof name === 'string' && name.length === key.length && name.toLowerCase() === key) {
          if (found) {
            headers.splice(i, 2);
            continue;
          }
          headers[i + 1] = value;
          found = true;
        }
        i += 2;
      }
      if (found) return;
    } else if (typeof headers === 'string' && headers !== '') {
      request.headers = withoutHeaderLines(headers, key);
    }
    request.addHeader(key, value);
  },
};

/** `name: value\r\n` lines without those of header `key` (lower-case). */
export function withoutHeaderLines(lines: string, key: string): string {
  let out = '';
  let start = 0;
  while (start < lines.length) {
    let end = lines.indexOf('\r\n', start);
    end = end === -1 ? lines.length : end + 2;
    const line = lines.slice(start, end);
    const colon = line.indexOf(':');
    if (colon === -1 || line.slice(0, colon).trim().toLowerCase() !== key) out += line;
    start = end;
  }
  return out;
}

/**
 * Reads the headers the application gave a request (undici's flat array, or undici 5's lines), for extraction.
 */
export const outgoingHeaderGetter = {
  keys(request: { headers?: unknown }): string[] {
    const headers = request.headers;
    const names: string[] = [];
    if (Array.isArray(headers)) for (let i = 0; i + 1 < headers.length; i += 2) names.push(String(headers[i]).toLowerCase());
    else if (typeof headers === 'string') for (const line of headers.split('\r\n')) if (line.includes(':')) names.push(line.slice(0, line.indexOf(':')).trim().toLowerCase());
    return names;
  },
  get(request: { headers?: unknown }, key: string): string | undefined {
    const headers = request.headers;
    if (Array.isArray(headers)) return findHeader(headers, key);
    if (typeof headers !== 'string') return undefined;
    for (const line of headers.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon !== -1 && line.slice(0, colon).trim().toLowerCase() === key) return line.slice(colon + 1).trim();
    }
    return undefined;
  },
};

function onCreate(message: { request: any }): void {
  if (!runtime.tracingEnabled) return;
  let parent = contextManager.active();
  if (isTracingSuppressed(parent)) return;
  try {
    const request = message.request;
    // With no span to continue, a trace context the application put in the request's headers is the one to
    // continue (as for node:http): the client span joins it, and our injection replaces the header with its own.
    if (getSpan(parent) === undefined && typeof request.addHeader === 'function') parent = getPropagator().extract(parent, request, outgoingHeaderGetter);
    const attributes = fetchRequestAttributes(request);
    const span = getTracer().startOwned(spanNameForMethod(attributes['http.request.method'] as string), SpanKind.CLIENT, parent, attributes);
    const captured = getConfig().http.clientRequestHeaders;
    for (let i = 0; i < captured.length; i++) {
      const values = Array.isArray(request.headers) ? findHeaderValues(request.headers, captured[i]) : undefined;
      if (values !== undefined) span.setAttribute('http.request.header.' + captured[i], values);
    }
    spans.set(request, span);
    if (typeof request.addHeader === 'function') getPropagator().inject(setSpan(parent, span), request, propagationHeaderSetter);
    if (request.upgrade != null || request.method === 'CONNECT') watchUpgrade(request);
  } catch (err) {
    reportInstrumentationError('fetch', 'the client span', err);
  }
}

/**
 * An accepted upgrade (a WebSocket handshake — the global WebSocket's among them — or undici's upgrade()) or CONNECT
 * ends in the request's onUpgrade, for which undici before nodejs/undici#5761 (September 2026; the copies built into
 * Node.js 20 and 22 until then) publishes nothing: no response headers, no trailers, and the span never ended. So
 * for such a request only (they are few), the request's own onUpgrade — undici calls it as a method of the request,
 * over HTTP/1.1 and HTTP/2 — is shadowed by one that ends the span once undici has handed the socket over, with the
 * status code it got. A later undici publishes the headers and trailers inside onUpgrade, which ends the span first;
 * this then finds nothing left to do. The property is undici's internal request's, not enumerable, and is one the
 * application never sees.
 */
function watchUpgrade(request: any): void {
  const original = request.onUpgrade;
  if (typeof original !== 'function') return;
  Object.defineProperty(request, 'onUpgrade', {
    configurable: true,
    enumerable: false,
    writable: true,
    value: function onUpgrade(this: any, statusCode: unknown, headers: unknown): unknown {
      let result: unknown;
      try {
        result = original.apply(this, arguments);
      } catch (err) {
        onError({ request: this, error: err });
        throw err;
      }
      if (spans.has(this)) {
        onHeaders({ request: this, response: { statusCode: typeof statusCode === 'number' ? statusCode : undefined, headers } });
        onTrailers({ request: this });
      }
      return result;
    },
  });
}

function onSendHeaders(message: { request: object; socket?: { remoteAddress?: string; remotePort?: number } }): void {
  const span = spans.get(message.request);
  if (span === undefined) return;
  try {
    // undici publishes this from its HTTP/1.1 writer, and from undici 7 from its HTTP/2 writer too, with the
    // session's socket, which negotiated h2 through ALPN.
    const socket = message.socket;
    span.setAttribute('network.protocol.version', (socket as { alpnProtocol?: unknown } | undefined)?.alpnProtocol === 'h2' ? '2' : '1.1');
    if (socket != null && typeof socket.remoteAddress === 'string') {
      span.setAttribute('network.peer.address', socket.remoteAddress);
      if (typeof socket.remotePort === 'number') span.setAttribute('network.peer.port', socket.remotePort);
    }
  } catch (err) {
    reportInstrumentationError('fetch', 'the connection', err);
  }
}

function onHeaders(message: { request: object; response: { statusCode?: number; headers?: unknown } }): void {
  const span = spans.get(message.request);
  if (span === undefined) return;
  try {
    const status = message.response.statusCode;
    if (typeof status === 'number') {
      span.setAttribute('http.response.status_code', status);
      if (isClientError(status)) {
        span.setAttribute('error.type', String(status));
        span.setStatus({ code: 2 });
        statusErrors.add(message.request);
      }
    }
    const headers = message.response.headers;
    const length = findHeader(headers, 'content-length');
    if (length !== undefined) {
      const n = Number(length);
      if (Number.isSafeInteger(n) && n >= 0) span.setAttribute('http.response.body.size', n);
    }
    const captured = getConfig().http.clientResponseHeaders;
    for (let i = 0; i < captured.length; i++) {
      const values = headerValues(findHeaderValues(headers, captured[i]));
      if (values !== undefined) span.setAttribute('http.response.header.' + captured[i], values);
    }
  } catch (err) {
    reportInstrumentationError('fetch', 'the response', err);
  }
}

function onTrailers(message: { request: object }): void {
  const span = spans.get(message.request);
  if (span === undefined) return;
  spans.delete(message.request);
  try {
    span.end();
  } catch (err) {
    reportInstrumentationError('fetch', 'ending the client span', err);
  }
}

function onError(message: { request: object; error: unknown }): void {
  const span = spans.get(message.request);
  if (span === undefined) return;
  spans.delete(message.request);
  try {
    const error = message.error;
    // The application let the response go once it came: fetch's body.cancel() or an abort of its signal, undici's
    // body.destroy(), all an AbortError. As for node:http, that is no error — the status code decides (http-spans.md,
    // "Status": an error is a network error receiving the body, not a body the caller chose not to read). Undici's
    // cancel is also how its documentation has a response that will not be read let go.
    if ((span as any).attributes?.['http.response.status_code'] !== undefined && (error as { name?: unknown } | null)?.name === 'AbortError') {
      span.end();
      return;
    }
    span.recordException(error);
    if (!statusErrors.has(message.request)) span.setAttribute('error.type', exceptionType(error) ?? '_OTHER');
    span.setStatus({ code: 2, message: error instanceof Error ? error.message : String(error) });
    span.end();
  } catch (err) {
    reportInstrumentationError('fetch', 'the failed request', err);
  }
}

export const handlers: Record<string, (message: any) => void> = {
  'undici:request:create': onCreate,
  'undici:client:sendHeaders': onSendHeaders,
  'undici:request:headers': onHeaders,
  'undici:request:trailers': onTrailers,
  'undici:request:error': onError,
};
