/**
 * OTLP/HTTP (opentelemetry-proto docs/specification.md, "OTLP/HTTP"): a POST of the encoded request to the traces
 * URL, with `Content-Type: application/x-protobuf` or `application/json`, optionally gzipped
 * (`Content-Encoding: gzip`).
 *
 * - node:http / node:https / node:zlib are loaded at the first export, not at startup.
 * - One keep-alive agent per exporter, so batches reuse a connection ("The client SHOULD keep the connection alive
 *   between requests"). Node's agent unrefs idle pooled sockets; ordinary requests unref their socket and timer
 *   too, so an export in flight never keeps the process alive. Only the exit export (holdProcess) stays ref'd.
 * - Responses are read up to 64 KiB: enough for a partial success or a Status message.
 */
import type * as httpTypes from 'node:http';
import type * as zlibTypes from 'node:zlib';
import { describeErrorBody, decodeExportResponse, decodeExportResponseJson } from './response-decoder';
import { isRetryableHttpStatus, isRetryableNetworkError, parseRetryAfter } from './retry';
import { failure, SETTLED_ATTEMPT, type Attempt, type SendOptions, type SendOutcome, type Transport } from './transport';

export interface TlsMaterial {
  ca?: Buffer;
  key?: Buffer;
  cert?: Buffer;
}

export interface HttpTransportOptions {
  url: string;
  /** All request headers except content-length (content-type, content-encoding, user-agent, the user's). */
  headers: Record<string, string>;
  json: boolean;
  gzip: boolean;
  tls: TlsMaterial;
  maxSockets: number;
}

const MAX_RESPONSE_BYTES = 64 * 1024;

let zlibModule: typeof zlibTypes | undefined;
function zlib(): typeof zlibTypes {
  if (zlibModule === undefined) zlibModule = require('node:zlib') as typeof zlibTypes;
  return zlibModule;
}

export class HttpTransport implements Transport {
  private readonly _options: HttpTransportOptions;
  private readonly _url: URL | undefined;
  private readonly _urlError: string | undefined;
  private _module: typeof httpTypes | undefined;
  private _agent: httpTypes.Agent | undefined;
  private _closed = false;

  constructor(options: HttpTransportOptions) {
    this._options = options;
    let url: URL | undefined;
    let urlError: string | undefined;
    try {
      url = new URL(options.url);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        urlError = `the OTLP endpoint ${options.url} is not an http:// or https:// URL`;
        url = undefined;
      }
    } catch {
      urlError = `the OTLP endpoint ${options.url} is not a URL`;
    }
    this._url = url;
    this._urlError = urlError;
  }

  prepare(body: Buffer, done: (prepared: Buffer | Error) => void): void {
    if (!this._options.gzip) {
      done(body);
      return;
    }
    let z: typeof zlibTypes;
    try {
      z = zlib();
    } catch (err) {
      done(err as Error);
      return;
    }
    // Asynchronous: compression runs on the thread pool, not on the application's thread.
    z.gzip(body, (err, compressed) => done(err ? err : compressed));
  }

  /** The synchronous form, for encodeRequest (a body handed to another thread). */
  prepareSync(body: Buffer): Buffer {
    return this._options.gzip ? zlib().gzipSync(body) : body;
  }

  private _load(): { mod: typeof httpTypes; agent: httpTypes.Agent } {
    if (this._module === undefined || this._agent === undefined) {
      const secure = this._url!.protocol === 'https:';
      const mod = require(secure ? 'node:https' : 'node:http') as typeof httpTypes;
      const tls = this._options.tls;
      const agentOptions: Record<string, unknown> = {
        keepAlive: true,
        maxSockets: this._options.maxSockets,
        scheduling: 'lifo',
      };
      if (secure) {
        if (tls.ca !== undefined) agentOptions.ca = tls.ca;
        if (tls.key !== undefined) agentOptions.key = tls.key;
        if (tls.cert !== undefined) agentOptions.cert = tls.cert;
      }
      this._agent = new mod.Agent(agentOptions);
      this._module = mod;
    }
    return { mod: this._module, agent: this._agent };
  }

  send(body: Buffer, options: SendOptions, done: (outcome: SendOutcome) => void): Attempt {
    if (this._closed) {
      options.onBodyReleased?.();
      done(failure('shutdown', 'the exporter is shut down', false));
      return SETTLED_ATTEMPT;
    }
    const url = this._url;
    if (url === undefined) {
      options.onBodyReleased?.();
      done(failure('bad-endpoint', this._urlError ?? 'no OTLP endpoint', false));
      return SETTLED_ATTEMPT;
    }
    let loaded: { mod: typeof httpTypes; agent: httpTypes.Agent };
    try {
      loaded = this._load();
    } catch (err) {
      options.onBodyReleased?.();
      done(failure('transport', `cannot load the HTTP client: ${(err as Error).message}`, false));
      return SETTLED_ATTEMPT;
    }
    return new HttpAttempt(loaded.mod, loaded.agent, url, this._options, body, options, done).start();
  }

  shutdown(): void {
    this._closed = true;
    this._agent?.destroy();
  }
}

/** One POST: settles exactly once, on a response, an error, the timeout, or never when aborted. */
class HttpAttempt implements Attempt {
  private _settled = false;
  private _hold: boolean;
  private _socket: import('node:net').Socket | undefined;
  private _request: httpTypes.ClientRequest | undefined;
  private _bodyReleased = false;
  private _timer: NodeJS.Timeout | undefined;
  private _timedOut = false;

  constructor(
    private readonly _mod: typeof httpTypes,
    private readonly _agent: httpTypes.Agent,
    private readonly _url: URL,
    private readonly _transport: HttpTransportOptions,
    private readonly _body: Buffer,
    private readonly _options: SendOptions,
    private readonly _done: (outcome: SendOutcome) => void,
  ) {
    this._hold = _options.holdProcess;
  }

  start(): Attempt {
    const url = this._url;
    const headers: Record<string, string> = { ...this._transport.headers, 'content-length': String(this._body.length) };
    let req: httpTypes.ClientRequest;
    try {
      req = this._mod.request({
        protocol: url.protocol,
        // URL keeps the brackets of an IPv6 literal; the request options want the bare address.
        hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
        port: url.port === '' ? undefined : Number(url.port),
        path: url.pathname + url.search,
        method: 'POST',
        headers,
        agent: this._agent,
      });
    } catch (err) {
      this._releaseBody();
      this._settle(failure('transport', `cannot send the request: ${(err as Error).message}`, false));
      return SETTLED_ATTEMPT;
    }
    this._request = req;
    // 'finish': the body was handed to the OS; 'close': the request is over (answered, failed or destroyed).
    const releaseBody = () => this._releaseBody();
    req.on('finish', releaseBody);
    req.on('close', releaseBody);
    req.on('socket', (socket) => {
      this._socket = socket;
      // Node refs a pooled socket when it is reused; an ordinary export must not hold the process.
      if (this._hold) socket.ref();
      else socket.unref();
    });
    req.on('response', (res) => this._onResponse(res));
    req.on('error', (err) => this._onError(err, req.reusedSocket));
    this._timer = setTimeout(() => {
      this._timedOut = true;
      req.destroy(new Error(`no answer within ${this._options.timeoutMillis} ms`));
    }, Math.max(1, this._options.timeoutMillis));
    if (!this._hold) this._timer.unref();
    req.end(this._body);
    return this;
  }

  abort(): void {
    this._settled = true;
    this._clearTimer();
    this._request?.destroy();
  }

  hold(): void {
    if (this._hold || this._settled) return;
    this._hold = true;
    this._socket?.ref();
    this._timer?.ref();
  }

  private _releaseBody(): void {
    if (this._bodyReleased) return;
    this._bodyReleased = true;
    this._options.onBodyReleased?.();
  }

  private _clearTimer(): void {
    if (this._timer !== undefined) {
      clearTimeout(this._timer);
      this._timer = undefined;
    }
  }

  private _settle(outcome: SendOutcome): void {
    if (this._settled) return;
    this._settled = true;
    this._clearTimer();
    this._done(outcome);
  }

  private _onError(err: Error, reusedSocket: boolean): void {
    if (this._timedOut) {
      this._settle(failure('timeout', err.message, true));
      return;
    }
    const code = (err as NodeJS.ErrnoException).code;
    const text = code !== undefined && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
    // A kept-alive connection the server had already closed: send again at once on a fresh one.
    if (reusedSocket && code === 'ECONNRESET') {
      this._settle(failure('network', text, true, 0));
      return;
    }
    this._settle(failure('network', text, isRetryableNetworkError(err)));
  }

  private _onResponse(res: httpTypes.IncomingMessage): void {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      if (size >= MAX_RESPONSE_BYTES) return;
      chunks.push(chunk);
      size += chunk.length;
    });
    res.on('error', (err) => this._onError(err, false));
    res.on('end', () => {
      const raw = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      if (res.headers['content-encoding'] === 'gzip' && raw.length > 0) {
        let z: typeof zlibTypes;
        try {
          z = zlib();
        } catch {
          this._classify(res, Buffer.alloc(0));
          return;
        }
        z.gunzip(raw, { maxOutputLength: MAX_RESPONSE_BYTES * 16 }, (err, plain) =>
          this._classify(res, err ? Buffer.alloc(0) : plain),
        );
      } else this._classify(res, raw);
    });
  }

  private _classify(res: httpTypes.IncomingMessage, body: Buffer): void {
    const status = res.statusCode ?? 0;
    const contentType = typeof res.headers['content-type'] === 'string' ? res.headers['content-type'] : undefined;
    if (status >= 200 && status < 300) {
      // "Full Success" / "Partial Success": the body is an ExportTraceServiceResponse in the request's encoding.
      let partialSuccess;
      if (body.length > 0) {
        const json = contentType !== undefined ? contentType.includes('json') : this._transport.json;
        partialSuccess = json ? decodeExportResponseJson(body.toString('utf8')) : decodeExportResponse(body);
      }
      this._settle({ ok: true, partialSuccess });
      return;
    }
    const detail = describeErrorBody(body, contentType);
    const message = `HTTP ${status}${res.statusMessage ? ' ' + res.statusMessage : ''}${detail ? `: ${detail}` : ''}`;
    if (isRetryableHttpStatus(status)) {
      this._settle(failure(`http-${status}`, message, true, parseRetryAfter(res.headers['retry-after'])));
    } else {
      this._settle(failure(`http-${status}`, message, false));
    }
  }
}
