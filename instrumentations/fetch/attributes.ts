/**
 * Client span attributes for fetch (undici) requests, from the stable HTTP semantic conventions
 * (docs/http/http-spans.md, "HTTP client"). Pure functions of undici's request and response messages.
 */
import type { Attributes } from '../../src/api/types';
import { fullUrl, normaliseMethod } from '../http/attributes';

export interface UndiciRequestLike {
  origin?: string | URL;
  method?: string;
  path?: string;
  /** The Content-Length undici will send, as it parsed it from the request's headers (null when none). */
  contentLength?: unknown;
  /** The body as undici holds it: a Buffer for one given whole, else a stream, an iterable, a Blob… */
  body?: unknown;
}

/**
 * `http.request.body.size` (attribute registry: "The size of the request payload body in bytes ... often, but not
 * always, present as the Content-Length header") where undici knows it when it creates the request. First the
 * Content-Length it will send, `request.contentLength`: undici takes a content-length header out of the request's
 * headers into it (they never hold one), and fetch() adds that header for a body whose length it knows (a string,
 * a Buffer, a typed array, a Blob: Fetch standard, "HTTP-network-or-cache fetch", Content-Length), `0` for a
 * POST or PUT without one. Else the length of a body undici holds whole (undici.request() with a string or Buffer,
 * which undici turns into a Buffer). Absent for a stream or an iterable: its length is known only once sent.
 */
export function undiciRequestBodySize(request: UndiciRequestLike): number | undefined {
  const length = request.contentLength;
  if (typeof length === 'number') return Number.isSafeInteger(length) && length >= 0 ? length : undefined;
  const body = request.body;
  if (body instanceof Uint8Array) return body.byteLength;
  if (typeof body === 'string') return Buffer.byteLength(body, 'utf8');
  return undefined;
}

export function fetchRequestAttributes(request: UndiciRequestLike): Attributes {
  const attrs: Attributes = {};
  const method = normaliseMethod(request.method);
  attrs['http.request.method'] = method;
  if (method === '_OTHER' && typeof request.method === 'string') attrs['http.request.method_original'] = request.method;
  let origin: URL | undefined;
  try {
    origin = typeof request.origin === 'string' ? new URL(request.origin) : request.origin;
  } catch {
    origin = undefined;
  }
  if (origin !== undefined) {
    const scheme = origin.protocol === 'https:' ? 'https' : 'http';
    attrs['server.address'] = origin.hostname.startsWith('[') ? origin.hostname.slice(1, -1) : origin.hostname;
    attrs['server.port'] = origin.port !== '' ? Number(origin.port) : scheme === 'https' ? 443 : 80;
    attrs['url.full'] = fullUrl(scheme, origin.host, typeof request.path === 'string' ? request.path : '/');
  }
  const bodySize = undiciRequestBodySize(request);
  if (bodySize !== undefined) attrs['http.request.body.size'] = bodySize;
  return attrs;
}

/** undici gives response headers as a flat array [name, value, name, value…] of Buffers or strings. */
export function findHeader(headers: unknown, lowerName: string): string | undefined {
  if (!Array.isArray(headers)) return undefined;
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = String(headers[i]);
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) return String(headers[i + 1]);
  }
  return undefined;
}

export function findHeaderValues(headers: unknown, lowerName: string): string[] | undefined {
  if (!Array.isArray(headers)) return undefined;
  let out: string[] | undefined;
  for (let i = 0; i + 1 < headers.length; i += 2) {
    if (String(headers[i]).toLowerCase() === lowerName) (out ??= []).push(String(headers[i + 1]));
  }
  return out;
}
