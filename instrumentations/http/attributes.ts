/**
 * Span names and attributes for HTTP, from the stable HTTP semantic conventions
 * (semantic-conventions: docs/http/http-spans.md). Pure functions of the request and response objects.
 */
import type { Attributes } from '../../src/api/types';
const charCodeAt: (this: string, index: number) => number = String.prototype.charCodeAt; // called as charCodeAt.call(s, i): why, at charCodeAt in src/exporters/otlp/protobuf-writer.ts

/** The methods the conventions know; anything else is reported as `_OTHER` with the original kept. */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'QUERY']);

export function normaliseMethod(method: unknown): string {
  if (typeof method !== 'string') return 'GET';
  if (KNOWN_METHODS.has(method)) return method;
  const upper = method.toUpperCase();
  // The conventions compare case-sensitively; a lower-case known method is still "other" with its original kept.
  return KNOWN_METHODS.has(upper) && upper === method ? upper : '_OTHER';
}

/** `{method}`, or `HTTP` for an unknown method (http-spans.md, "Name"). */
export function spanNameForMethod(method: string): string {
  return method === '_OTHER' ? 'HTTP' : method;
}

/** `{method} {route}` once a framework knows the route. */
export function spanNameWithRoute(method: string, route: string): string {
  return (method === '_OTHER' ? 'HTTP' : method) + ' ' + route;
}

/**
 * Query parameters whose values are credentials (semantic-conventions url.query / url.full: "sensitive
 * information ... SHOULD be redacted"), compared case-sensitively as the conventions list them.
 */
const SENSITIVE_QUERY_KEYS = new Set([
  'AWSAccessKeyId',
  'Signature',
  'sig',
  'X-Goog-Signature',
  'X-Amz-Credential',
  'X-Amz-Security-Token',
  'X-Amz-Signature',
]);

/** The query with the values of credential parameters replaced by `REDACTED`; unchanged when there are none. */
export function redactQuery(query: string): string {
  if (query === '') return query;
  // Cheap test first: most queries name none of the keys.
  let suspicious = false;
  for (const key of SENSITIVE_QUERY_KEYS) {
    if (query.includes(key)) {
      suspicious = true;
      break;
    }
  }
  if (!suspicious) return query;
  const parts = query.split('&');
  for (let i = 0; i < parts.length; i++) {
    const eq = parts[i].indexOf('=');
    const key = eq === -1 ? parts[i] : parts[i].slice(0, eq);
    if (eq !== -1 && SENSITIVE_QUERY_KEYS.has(key)) parts[i] = key + '=REDACTED';
  }
  return parts.join('&');
}

/** Splits a request target into path and query (without '?'), dropping any fragment. */
export function splitTarget(target: string): { path: string; query: string | undefined } {
  const hash = target.indexOf('#');
  const t = hash === -1 ? target : target.slice(0, hash);
  const q = t.indexOf('?');
  if (q === -1) return { path: t, query: undefined };
  return { path: t.slice(0, q), query: t.slice(q + 1) };
}

export interface HostAndPort {
  readonly address: string;
  readonly port: number | undefined;
}

/** The last Host header parsed, and its parts: a server sees the same Host on nearly every request. */
let lastHost = '';
let lastHostParts: HostAndPort | undefined;

/** Host and port from a Host header value: `example.com`, `example.com:8080`, `[::1]:3000`. The result is shared: read it, never change it. */
export function parseHostHeader(host: string | undefined): HostAndPort | undefined {
  if (typeof host !== 'string' || host === '') return undefined;
  if (host === lastHost) return lastHostParts;
  const parts = splitHost(host);
  lastHost = host;
  lastHostParts = parts;
  return parts;
}

function splitHost(host: string): HostAndPort {
  if (charCodeAt.call(host, 0) === 91 /* [ */) {
    const close = host.indexOf(']');
    if (close === -1) return { address: host, port: undefined };
    const address = host.slice(1, close);
    const portText = charCodeAt.call(host, close + 1) === 58 /* : */ ? host.slice(close + 2) : '';
    return { address, port: parsePort(portText) };
  }
  const colon = host.lastIndexOf(':');
  if (colon === -1 || host.indexOf(':') !== colon) return { address: host, port: undefined };
  return { address: host.slice(0, colon), port: parsePort(host.slice(colon + 1)) };
}

function parsePort(text: string): number | undefined {
  if (text === '' || text.length > 5) return undefined;
  const n = Number(text);
  return Number.isInteger(n) && n > 0 && n < 65536 ? n : undefined;
}

/** The parameters of the first element of a Forwarded header (RFC 7239 §4) that the server span reads. */
export interface ForwardedElement {
  for: string | undefined;
  host: string | undefined;
  proto: string | undefined;
}

/**
 * The `for`, `host` and `proto` of the first element of a Forwarded header (the one the proxy nearest the client
 * wrote), each unquoted; `for` without its port or IPv6 brackets. Undefined parameters were absent.
 */
export function parseForwarded(forwarded: string): ForwardedElement {
  const element: ForwardedElement = { for: undefined, host: undefined, proto: undefined };
  const comma = forwarded.indexOf(',');
  const first = comma === -1 ? forwarded : forwarded.slice(0, comma);
  for (const pair of first.split(';')) {
    const eq = pair.indexOf('=');
    if (eq === -1) continue;
    const name = pair.slice(0, eq).trim().toLowerCase();
    if (name !== 'for' && name !== 'host' && name !== 'proto') continue;
    let v = pair.slice(eq + 1).trim();
    if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
    if (v === '' || element[name] !== undefined) continue;
    if (name !== 'for') {
      element[name] = v;
      continue;
    }
    if (v.startsWith('[')) {
      const close = v.indexOf(']');
      if (close !== -1) element.for = v.slice(1, close);
      continue;
    }
    const colon = v.indexOf(':');
    element.for = colon === -1 || v.indexOf(':', colon + 1) !== -1 ? v : v.slice(0, colon);
  }
  return element;
}

/** The first value of a list header (`X-Forwarded-For: client, proxy1`), trimmed; undefined when empty. */
function firstListValue(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  const comma = value.indexOf(',');
  const first = (comma === -1 ? value : value.slice(0, comma)).trim();
  return first === '' ? undefined : first;
}

/** The first address of X-Forwarded-For, or the `for=` of the first Forwarded element (RFC 7239). */
export function forwardedClientAddress(forwarded: string | undefined, xff: string | undefined): string | undefined {
  if (typeof forwarded === 'string') {
    const address = parseForwarded(forwarded).for;
    if (address !== undefined) return address;
  }
  return typeof xff === 'string' ? firstListValue(xff) : undefined;
}

/** A URI scheme name (RFC 3986 §3.1), lower-cased, or undefined for anything else. */
function schemeName(value: string | undefined): string | undefined {
  if (value === undefined || value.length > 32) return undefined;
  const lower = value.toLowerCase();
  return /^[a-z][a-z0-9+.-]*$/.test(lower) ? lower : undefined;
}

/**
 * For a request target in absolute-form (`http://user:pass@host/p?q`, RFC 9112 §3.2.2: sent to proxies, and
 * servers must accept it), the index where its scheme ends (`://`) and where its path starts; undefined for any
 * other form: origin-form (`/p?q`), asterisk-form (`*`) and CONNECT's authority-form (`host:port`).
 */
function absoluteForm(target: string): { schemeEnd: number; pathStart: number } | undefined {
  if (charCodeAt.call(target, 0) === 47 /* / */) return undefined;
  const schemeEnd = target.indexOf('://');
  if (schemeEnd <= 0) return undefined;
  let i = schemeEnd + 3;
  for (; i < target.length; i++) {
    const c = charCodeAt.call(target, i);
    if (c === 47 /* / */ || c === 63 /* ? */ || c === 35 /* # */) break;
  }
  return { schemeEnd, pathStart: i };
}

/**
 * The target a server received, as path and query: an absolute-form target loses its scheme and authority
 * (credentials included), so `url.path` is a path (url/url.md, url.path) and carries no secret.
 */
export function originForm(target: string): string {
  const absolute = absoluteForm(target);
  if (absolute === undefined) return target;
  const rest = target.slice(absolute.pathStart);
  return charCodeAt.call(rest, 0) === 47 ? rest : '/' + rest;
}

/**
 * `url.full` without credentials: `user:password@` becomes `REDACTED:REDACTED@` (url.full, url/url.md). A target
 * in absolute-form (a request through a proxy) is the URL itself; the asterisk-form (OPTIONS *) and CONNECT's
 * authority-form have no path to add.
 */
export function fullUrl(scheme: string, authority: string, target: string): string {
  if (charCodeAt.call(target, 0) !== 47 /* / */) {
    const absolute = absoluteForm(target);
    if (absolute !== undefined) {
      return fullUrl(target.slice(0, absolute.schemeEnd), target.slice(absolute.schemeEnd + 3, absolute.pathStart), originForm(target));
    }
    target = '';
  }
  let auth = authority;
  const at = auth.lastIndexOf('@');
  if (at !== -1) auth = 'REDACTED:REDACTED@' + auth.slice(at + 1);
  const { path, query } = splitTarget(target);
  return scheme + '://' + auth + path + (query === undefined ? '' : '?' + redactQuery(query));
}

/** The attribute key for a captured header (http-spans.md: lower-case name, values as a string array). */
export function headerAttributeKey(prefix: 'http.request.header.' | 'http.response.header.', name: string): string {
  return prefix + name;
}

export function headerValues(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) return value.map(String);
  return [String(value)];
}

/**
 * Request headers Node.js keeps only the first of when a request repeats them (node:_http_incoming,
 * matchKnownFields — the same list in Node 20 to 24); other repeated headers are joined with ', ' (cookie: '; ').
 */
const FIRST_ONLY_HEADERS = new Set([
  'age',
  'authorization',
  'content-length',
  'content-type',
  'etag',
  'expires',
  'from',
  'host',
  'if-modified-since',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'referer',
  'retry-after',
  'server',
  'user-agent',
]);

/**
 * A request header by its lower-case `name`, with the value `req.headers[name]` would have, read from
 * `req.rawHeaders` (name, value, name, value… as received) when the request has them. Node.js builds
 * `req.headers` only when something first reads it — every header name lower-cased, every pair stored in a new
 * object — and a plain node:http application that never does should not pay for it because of its server span
 * (measured on the node:http benchmark: the getter was 1.7 % of the app's CPU). A request object without
 * rawHeaders (made by a framework, or a test) is read through `headers`.
 */
export function requestHeader(req: IncomingRequestLike, name: string): string | undefined {
  const raw = req.rawHeaders;
  if (!Array.isArray(raw)) {
    const value = req.headers?.[name];
    return typeof value === 'string' ? value : Array.isArray(value) ? value.join(', ') : undefined;
  }
  let value: string | undefined;
  const length = name.length;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const n = raw[i];
    // Lengths first: most names differ there, and no lower-casing is needed for them.
    if (typeof n !== 'string' || n.length !== length || (n !== name && n.toLowerCase() !== name)) continue;
    const v = raw[i + 1];
    if (typeof v !== 'string') continue;
    if (value === undefined) value = v;
    else if (FIRST_ONLY_HEADERS.has(name)) break;
    else value += (name === 'cookie' ? '; ' : ', ') + v;
  }
  return value;
}

export interface IncomingRequestLike {
  method?: string;
  url?: string;
  httpVersion?: string;
  /** What Node.js received, as name, value, name, value… (read in place of `headers` when present). */
  rawHeaders?: unknown;
  headers?: Record<string, string | string[] | undefined>;
  socket?: SocketLike | null;
}

export interface SocketLike {
  remoteAddress?: string;
  remotePort?: number;
  localPort?: number;
  encrypted?: boolean;
  /** node:net's cache of getpeername(), filled by the first read of remoteAddress or remotePort. */
  _peername?: { address?: unknown; port?: unknown } | null;
}

/** A peer's address and port as the socket reports them (`remoteAddress`, `remotePort`). */
export interface PeerName {
  address: string | undefined;
  port: number | undefined;
}

const peerScratch: PeerName = { address: undefined, port: undefined };

/**
 * The socket's peer, from node:net's own cache when it has one. `remoteAddress` and `remotePort` are getters
 * that each call `_getpeername()`, which answers from `_peername` once the first call filled it (node:net, the
 * same in Node 20 to 24); on a busy server those calls' property loads are megamorphic (every kind of socket and
 * handle passes through them), and reading both cost 1.5K instructions a request on the node:http benchmark,
 * where reading the cache is two loads. A socket without the cache (its first request, a TLS or a test socket)
 * goes through the getters. The result is shared: read it before the next call.
 */
export function peerName(socket: SocketLike): PeerName {
  let cached = socket._peername;
  if (cached == null) {
    const address = socket.remoteAddress;
    cached = socket._peername;
    if (cached == null) {
      peerScratch.address = typeof address === 'string' ? address : undefined;
      peerScratch.port = typeof socket.remotePort === 'number' ? socket.remotePort : undefined;
      return peerScratch;
    }
  }
  peerScratch.address = typeof cached.address === 'string' ? cached.address : undefined;
  peerScratch.port = typeof cached.port === 'number' ? cached.port : undefined;
  return peerScratch;
}

/**
 * The request headers a server span reads, found in one pass over `rawHeaders` (as requestHeader would find each,
 * without a pass per header). One object, reused: read it before the next call.
 */
const serverHeaders = {
  host: undefined as string | undefined,
  forwarded: undefined as string | undefined,
  xForwardedFor: undefined as string | undefined,
  xForwardedHost: undefined as string | undefined,
  xForwardedProto: undefined as string | undefined,
  userAgent: undefined as string | undefined,
  contentLength: undefined as string | undefined,
};

function sameName(name: string, lower: string): boolean {
  return name === lower || name.toLowerCase() === lower;
}

function readServerHeaders(req: IncomingRequestLike): typeof serverHeaders {
  const h = serverHeaders;
  const raw = req.rawHeaders;
  if (!Array.isArray(raw)) {
    h.host = requestHeader(req, 'host');
    h.forwarded = requestHeader(req, 'forwarded');
    h.xForwardedFor = requestHeader(req, 'x-forwarded-for');
    h.xForwardedHost = requestHeader(req, 'x-forwarded-host');
    h.xForwardedProto = requestHeader(req, 'x-forwarded-proto');
    h.userAgent = requestHeader(req, 'user-agent');
    h.contentLength = requestHeader(req, 'content-length');
    return h;
  }
  h.host = h.forwarded = h.xForwardedFor = h.xForwardedHost = h.xForwardedProto = h.userAgent = h.contentLength = undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const n = raw[i];
    const v = raw[i + 1];
    if (typeof n !== 'string' || typeof v !== 'string') continue;
    // By length first: most names are none of these, and no lower-casing is needed for them. Host, User-Agent and
    // Content-Length keep their first value, the others join theirs with ', ' (FIRST_ONLY_HEADERS).
    switch (n.length) {
      case 4:
        if (h.host === undefined && sameName(n, 'host')) h.host = v;
        break;
      case 9:
        if (sameName(n, 'forwarded')) h.forwarded = h.forwarded === undefined ? v : h.forwarded + ', ' + v;
        break;
      case 10:
        if (h.userAgent === undefined && sameName(n, 'user-agent')) h.userAgent = v;
        break;
      case 14:
        if (h.contentLength === undefined && sameName(n, 'content-length')) h.contentLength = v;
        break;
      case 15:
        if (sameName(n, 'x-forwarded-for')) h.xForwardedFor = h.xForwardedFor === undefined ? v : h.xForwardedFor + ', ' + v;
        break;
      case 16:
        if (sameName(n, 'x-forwarded-host')) h.xForwardedHost = h.xForwardedHost === undefined ? v : h.xForwardedHost + ', ' + v;
        break;
      case 17:
        if (sameName(n, 'x-forwarded-proto')) h.xForwardedProto = h.xForwardedProto === undefined ? v : h.xForwardedProto + ', ' + v;
        break;
    }
  }
  return h;
}

/**
 * The attributes of a server span known when the request arrives. Behind a reverse proxy the original request's
 * scheme and host are the proxy's Forwarded `proto` / `host` (RFC 7239) or X-Forwarded-Proto / X-Forwarded-Host
 * (http-spans.md: `url.scheme` "of the original client request, if known", and "Setting server.address and
 * server.port attributes", whose first choice is the host the reverse proxy passed on); without them, the
 * connection's scheme and the Host header.
 */
export function serverRequestAttributes(req: IncomingRequestLike, defaultScheme: 'http' | 'https'): Attributes {
  const rawMethod = req.method;
  const method = normaliseMethod(rawMethod);
  const headers = readServerHeaders(req);
  const forwarded = headers.forwarded === undefined ? undefined : parseForwarded(headers.forwarded);
  const socket = req.socket;
  let forwardedScheme: string | undefined;
  if (forwarded !== undefined) forwardedScheme = schemeName(forwarded.proto);
  if (forwardedScheme === undefined && headers.xForwardedProto !== undefined) forwardedScheme = schemeName(firstListValue(headers.xForwardedProto));
  const scheme = forwardedScheme ?? (socket != null && socket.encrypted === true ? 'https' : defaultScheme);
  const target = typeof req.url === 'string' ? originForm(req.url) : '/';
  const { path, query } = splitTarget(target);
  let serverAddress: string | undefined;
  let serverPort: number | undefined;
  let forwardedHost = forwarded?.host;
  if (forwardedHost === undefined && headers.xForwardedHost !== undefined) forwardedHost = firstListValue(headers.xForwardedHost);
  const original = forwardedHost === undefined ? undefined : parseHostHeader(forwardedHost);
  if (original !== undefined) {
    // The port the client asked for: in the host it sent, else the default of its scheme (this socket's port is
    // the proxy's connection's, not the client's).
    serverAddress = original.address;
    serverPort = original.port ?? (scheme === 'https' ? 443 : scheme === 'http' ? 80 : undefined);
  } else {
    const host = parseHostHeader(headers.host);
    if (host !== undefined) {
      serverAddress = host.address;
      serverPort = host.port ?? (socket != null && typeof socket.localPort === 'number' ? socket.localPort : undefined);
    }
  }
  let peer: string | undefined;
  let peerPort: number | undefined;
  if (socket != null) {
    const name = peerName(socket);
    peer = name.address;
    peerPort = name.port;
  }
  const bodySize = contentLengthValue(headers.contentLength);
  // One object literal with every key the server span may get, those it gets later (the route, the response's)
  // included, an absent one undefined (which the span and the encoders take as absent): one allocation and one
  // hidden class for every request, where an object grown key by key went through a dozen map transitions and
  // reallocated its property store twice, once more when the response's attributes came.
  return {
    'http.request.method': method,
    'http.request.method_original': method === '_OTHER' && typeof rawMethod === 'string' ? rawMethod : undefined,
    'url.scheme': scheme,
    'url.path': path,
    'url.query': query !== undefined && query !== '' ? redactQuery(query) : undefined,
    'server.address': serverAddress,
    'server.port': serverAddress !== undefined ? serverPort : undefined,
    'client.address': forwarded?.for ?? firstListValue(headers.xForwardedFor) ?? peer,
    'network.peer.address': peer,
    'network.peer.port': peer !== undefined ? peerPort : undefined,
    'network.protocol.version': typeof req.httpVersion === 'string' ? req.httpVersion : undefined,
    'user_agent.original': headers.userAgent,
    'http.request.body.size': bodySize,
    'http.route': undefined,
    'http.response.status_code': undefined,
    'http.response.body.size': undefined,
    'error.type': undefined,
  };
}

/** Server spans are errors only for 5xx (http-spans.md, "Status"): a 4xx is the client's mistake. */
export function isServerError(status: number): boolean {
  return status >= 500;
}

/** Client spans are errors for 4xx and 5xx. */
export function isClientError(status: number): boolean {
  return status >= 400;
}

/**
 * A body's size from a Content-Length value, for `http.request.body.size` and `http.response.body.size` (attribute
 * registry: "The size of the ... payload body in bytes ... often, but not always, present as the Content-Length
 * header"): a header as received, or what `getHeader('content-length')` gives of what an application set — a
 * number, or a string of digits (RFC 9110 §8.6, `Content-Length = 1*DIGIT`; the optional whitespace around a field value, §5.5, skipped). A
 * non-negative safe integer, else undefined: absent, several values, or garbage Number() would take (`''` as 0,
 * `0x10`, `1e3`, ` `). Reads the string in place: no trimmed copy.
 */
export function contentLengthValue(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  let start = 0;
  let end = value.length;
  while (start < end && isOws(charCodeAt.call(value, start))) start++;
  while (end > start && isOws(charCodeAt.call(value, end - 1))) end--;
  if (start === end) return undefined;
  let n = 0;
  for (let i = start; i < end; i++) {
    const digit = charCodeAt.call(value, i) - 48; /* 0 */
    if (digit < 0 || digit > 9) return undefined;
    n = n * 10 + digit;
    if (n > Number.MAX_SAFE_INTEGER) return undefined;
  }
  return n;
}

/** SP or HTAB (RFC 9110 §5.6.3, OWS). */
function isOws(c: number): boolean {
  return c === 32 || c === 9;
}

export interface ClientRequestLike {
  method?: string;
  protocol?: string;
  host?: string;
  path?: string;
  getHeader(name: string): unknown;
}

/**
 * What an http.request call was given (`input` its first argument, `options` its second), read only when the
 * request itself cannot say where it goes: when the caller set a Host header of its own (virtual hosting, a
 * proxy passing the incoming Host on) or none at all. Node keeps no port on the ClientRequest.
 */
export interface ClientCall {
  scheme: 'http' | 'https';
  input: unknown;
  options: unknown;
}

/**
 * The port an http.request call connects to, taken as Node takes it: the options' `port` (which wins over a URL's),
 * else the URL's (a string or a URL object), else the options' `defaultPort`; undefined for the scheme's default.
 */
export function requestCallPort(input: unknown, options: unknown): number | undefined {
  let url: unknown;
  let opts: unknown = options;
  if (typeof input === 'string' || isUrlObject(input)) url = input;
  else opts = input;
  if (opts !== null && typeof opts === 'object') {
    const port = portNumber((opts as { port?: unknown }).port);
    if (port !== undefined) return port;
  }
  if (url !== undefined) {
    let port: unknown;
    if (typeof url === 'string') {
      try {
        port = new URL(url).port;
      } catch {
        port = undefined; // Node throws on it too; there is no request
      }
    } else port = (url as { port?: unknown }).port;
    const n = portNumber(port);
    if (n !== undefined) return n;
  }
  if (opts !== null && typeof opts === 'object') return portNumber((opts as { defaultPort?: unknown }).defaultPort);
  return undefined;
}

/** Node's own test for a URL given to http.request (a WHATWG URL, from any realm). */
function isUrlObject(value: unknown): boolean {
  return value !== null && typeof value === 'object' && typeof (value as { href?: unknown }).href === 'string' &&
    typeof (value as { protocol?: unknown }).protocol === 'string' && (value as { auth?: unknown }).auth === undefined &&
    (value as { path?: unknown }).path === undefined;
}

function portNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value > 0 && value < 65536 ? value : undefined;
  return typeof value === 'string' ? parsePort(value) : undefined;
}

/** Whether a Host header names the host a request connects to (Node writes it so unless the caller set one). */
function sameHost(header: string, host: string): boolean {
  return header === host || header.toLowerCase() === host.toLowerCase();
}

/**
 * Whether the caller gave the request a Host header in its options (Node sets its own only when there is none):
 * then the header's port need not be the one connected to.
 */
function callerSetHost(call: ClientCall): boolean {
  const opts = typeof call.input === 'string' || isUrlObject(call.input) ? call.options : call.input;
  const headers = opts !== null && typeof opts === 'object' ? (opts as { headers?: unknown }).headers : undefined;
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) return false;
  for (const name in headers) if (name.length === 4 && name.toLowerCase() === 'host') return true;
  return false;
}

/**
 * The attributes of a client span, read from the ClientRequest Node built (whatever form the call took).
 * `server.address` / `server.port` and `url.full` name where the request goes (http-spans.md, HTTP client:
 * "Host identifier of the URI origin HTTP request is sent to"), not a Host header the caller chose: an app that
 * connects to 10.0.0.5:8080 with `Host: api.example.com`, or a proxy that passes the incoming Host on, sends its
 * request to 10.0.0.5:8080. Through a forward proxy (a target in absolute-form) they name the server behind it,
 * as the conventions ask when it is known.
 */
export function clientRequestAttributes(req: ClientRequestLike, call: ClientCall): Attributes {
  const method = normaliseMethod(req.method);
  const scheme = req.protocol === 'https:' ? 'https' : req.protocol === 'http:' ? 'http' : call.scheme;
  const target = typeof req.path === 'string' ? req.path : '/';
  const absolute = absoluteForm(target);
  let address: string;
  let port: number;
  let authority: string;
  if (absolute !== undefined) {
    // Through a forward proxy: the server is the one the target names.
    const targetScheme = target.slice(0, absolute.schemeEnd).toLowerCase();
    authority = target.slice(absolute.schemeEnd + 3, absolute.pathStart);
    const at = authority.lastIndexOf('@');
    if (at !== -1) authority = authority.slice(at + 1);
    const host = parseHostHeader(authority);
    address = host !== undefined ? host.address : typeof req.host === 'string' ? req.host : 'localhost';
    port = host?.port ?? (targetScheme === 'https' ? 443 : 80);
  } else {
    const defaultPort = scheme === 'https' ? 443 : 80;
    const hostHeader = req.getHeader('host');
    const header = typeof hostHeader === 'string' ? parseHostHeader(hostHeader) : undefined;
    if (
      header !== undefined &&
      (typeof req.host !== 'string' || sameHost(header.address, req.host)) &&
      // The caller's, naming the same host, is as good only with the port connected to: a proxy on the same host
      // as the server behind it passes on the Host the client sent it, with the proxy's own port.
      (!callerSetHost(call) || (header.port ?? defaultPort) === (requestCallPort(call.input, call.options) ?? defaultPort))
    ) {
      // Node's own Host header (or the caller's, naming the same host and port): its port is the one connected to.
      address = header.address;
      port = header.port ?? defaultPort;
      authority = hostHeader as string;
    } else {
      address = typeof req.host === 'string' && req.host !== '' ? req.host : 'localhost';
      port = requestCallPort(call.input, call.options) ?? defaultPort;
      authority = (address.includes(':') ? `[${address}]` : address) + (port === defaultPort ? '' : ':' + port);
    }
  }
  // One fixed-shape literal with the keys the span gets later too (the socket's, the response's, the request body's
  // size, read when the span ends: endClientSpan in patch.ts), as the server span's (serverRequestAttributes): one
  // allocation and one hidden class for every request.
  return {
    'http.request.method': method,
    'http.request.method_original': method === '_OTHER' && typeof req.method === 'string' ? req.method : undefined,
    'server.address': address,
    'server.port': port,
    'url.full': fullUrl(scheme, authority, target),
    'network.peer.address': undefined,
    'network.peer.port': undefined,
    'http.request.body.size': undefined,
    'http.response.status_code': undefined,
    'network.protocol.version': undefined,
    'http.response.body.size': undefined,
    'error.type': undefined,
  };
}
