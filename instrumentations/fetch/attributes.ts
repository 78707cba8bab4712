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
