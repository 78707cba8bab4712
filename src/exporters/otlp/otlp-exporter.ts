/**
 * The OTLP span exporter: encodes a batch (protobuf or JSON), sends it over the configured transport, and applies
 * the OTLP specification's failure rules (opentelemetry-proto docs/specification.md; see retry.ts):
 *
 * - retryable failures are retried with backoff or the server's requested delay, never past the export's deadline
 *   (OTEL_EXPORTER_OTLP_TIMEOUT bounds the whole export, retries included);
 * - everything else, and partial successes, are not retried;
 * - at most `maxConcurrentExports` exports are in flight: beyond that a batch is dropped at once rather than held
 *   in memory while a collector is down;
 * - a request above ~20 MiB ("The client SHOULD limit the size of the request body") is split in halves; a single
 *   span that large is dropped;
 * - each failure is reported as one rate-limited warning per kind of failure (at most one a minute, with counts);
 * - the exporter's own requests run with tracing suppressed, including retries started from timers;
 * - nothing it does keeps the process alive, except `exportForExit`, whose request and timers are ref'd so that
 *   the event loop waits for the final batch (and for batches already in flight), up to the given bound; at exit
 *   no backoff is waited out (`abortRetries` does the same for exports in flight), so a collector that is down
 *   does not lengthen the process's exit.
 *
 * `export()` never throws and calls its callback exactly once.
 *
 * The agent builds this exporter at its first export (src/exporters/lazy-exporter.ts), so these modules are not
 * part of its startup; node:http(s), node:zlib and @grpc/grpc-js are loaded later still, by the transport in use,
 * when it sends its first request.
 */
import type { OtlpConfig } from '../../config';
import { runSuppressed } from '../../context/suppressed';
import { diag } from '../../diag/logger';
import type { ReadableSpan } from '../../trace/span';
import { agentVersion } from '../../version';
import { ExportResultCode, type ExportResult, type SpanExporter } from '../types';
import { GrpcTransport, TRACE_EXPORT_METHOD } from './grpc-transport';
import { HttpTransport, type TlsMaterial } from './http-transport';
import type { PartialSuccess } from './response-decoder';
import { backoffMillis, DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry';
import { encodeTraceRequestJsonBuffer } from './trace-json-encoder';
import {
  encodeEncodedBatches,
  encodeEncodedBatchesPooled,
  encodeTraceRequest,
  encodeTraceRequestPooled,
  newEncodedSpanBatch,
  type EncodedSpanBatch,
} from './trace-protobuf-encoder';
import type { Attempt, SendOutcome, Transport } from './transport';

export interface OtlpExporterOptions {
  /** Overrides of the retry policy (tests shorten the backoff). */
  retry?: Partial<RetryPolicy>;
  /** Exports allowed in flight at once; further batches are dropped. Default 8. */
  maxConcurrentExports?: number;
  /** Largest request body before compression. Default 20 MiB. */
  maxRequestBytes?: number;
  /** Random source for the backoff jitter, in [0, 1). */
  random?: () => number;
}

/** A request ready to send from elsewhere (another thread): body, headers and URL. */
export interface EncodedRequest {
  /** HTTP: the POST body as sent (gzipped when configured). gRPC: the bare, uncompressed message. */
  body: Buffer;
  /** Request headers, content-length excepted (gRPC: the call's metadata, user agent and content type). */
  headers: Record<string, string>;
  /** HTTP: the traces URL. gRPC: the endpoint with the method's path. */
  url: string;
  /** Set for gRPC: the sender frames `body` as a Length-Prefixed-Message (flag 0, big-endian length) over HTTP/2. */
  grpc?: boolean;
  /** TLS material from the certificate files, when configured (for an https:// endpoint). */
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/**
 * The batch processor sends one batch at a time; more than a few exports in flight means the collector is slow or
 * down, and holding more batches would only grow memory (opentelemetry-js #4204).
 */
const DEFAULT_MAX_CONCURRENT_EXPORTS = 8;
/** docs/specification.md, "OTLP/HTTP Request": "It is RECOMMENDED to use 20 MiB as the default limit." */
const DEFAULT_MAX_REQUEST_BYTES = 20 * 1024 * 1024;

export const USER_AGENT = `zerotel/${agentVersion()} (Node.js ${process.version})`;

interface Chunk {
  body: Buffer;
  spanCount: number;
  /** Gives a pooled body back; undefined for a body the chunk owns. */
  release: (() => void) | undefined;
}

function encodedCount(batches: EncodedSpanBatch[] | undefined): number {
  let n = 0;
  if (Array.isArray(batches)) for (let i = 0; i < batches.length; i++) n += batches[i].count;
  return n;
}

function releaseBatches(batches: EncodedSpanBatch[] | undefined): void {
  if (Array.isArray(batches)) for (let i = 0; i < batches.length; i++) batches[i].release();
}

function success(): ExportResult {
  return { code: ExportResultCode.SUCCESS };
}

function failed(message: string): ExportResult {
  return { code: ExportResultCode.FAILED, error: new Error(message) };
}

function readTlsFile(path: string | undefined, what: string): Buffer | undefined {
  if (path === undefined || path === '') return undefined;
  try {
    return (require('node:fs') as typeof import('node:fs')).readFileSync(path);
  } catch (err) {
    diag.warnOnce(
      `otlp-tls-file:${path}`,
      `cannot read the OTLP ${what} file ${path} (${(err as Error).message}); continuing without it`,
    );
    return undefined;
  }
}

export class OtlpTraceExporter implements SpanExporter {
  readonly protocol: OtlpConfig['protocol'];
  /** Spans in batches that were not delivered (dropped after failures, refused while busy, or too large). */
  droppedSpans = 0;
  /** Spans the receiver accepted (a partial success counts the accepted part). */
  exportedSpans = 0;

  private readonly _config: OtlpConfig;
  private readonly _retryOverrides: Partial<RetryPolicy> | undefined;
  private _retry: RetryPolicy | undefined;
  private readonly _random: () => number;
  private readonly _maxConcurrent: number;
  private readonly _maxRequestBytes: number;
  private readonly _tls: TlsMaterial;
  private _transport: Transport | undefined;
  /** HTTP request headers (all but content-length); for gRPC, the user's metadata. */
  private readonly _headers: Record<string, string>;
  private readonly _jobs = new Set<ExportJob>();
  private _idleWaiters: Array<() => void> = [];
  private _shutdown = false;

  constructor(config: OtlpConfig, options: OtlpExporterOptions = {}) {
    this._config = config;
    this.protocol = config.protocol;
    this._retryOverrides = options.retry;
    this._random = options.random ?? Math.random;
    this._maxConcurrent = Math.max(1, options.maxConcurrentExports ?? DEFAULT_MAX_CONCURRENT_EXPORTS);
    this._maxRequestBytes = Math.max(1024, options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES);
    // exporter.md, "Certificate File" etc.: read once, when the exporter is built.
    this._tls = {
      ca: readTlsFile(config.certificateFile, 'certificate'),
      key: readTlsFile(config.clientKeyFile, 'client key'),
      cert: readTlsFile(config.clientCertificateFile, 'client certificate'),
    };
    if (config.protocol === 'grpc') {
      this._headers = { ...config.headers };
    } else {
      const headers: Record<string, string> = {};
      for (const key in config.headers) headers[key.toLowerCase()] = config.headers[key];
      // The user's own User-Agent, if they set one, is kept; the encoding headers are always ours.
      if (headers['user-agent'] === undefined) headers['user-agent'] = USER_AGENT;
      headers['content-type'] = config.protocol === 'http/json' ? 'application/json' : 'application/x-protobuf';
      if (config.compression === 'gzip') headers['content-encoding'] = 'gzip';
      else delete headers['content-encoding'];
      this._headers = headers;
    }
  }

  /** Exports in flight now. */
  get inFlight(): number {
    return this._jobs.size;
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    const count = Array.isArray(spans) ? spans.length : 0;
    this._export(count, () => this._encode(spans), resultCallback);
  }

  /** Batches of spans encoded ahead take protobuf only (the JSON encoding is written per request). */
  newEncodedBatch(): EncodedSpanBatch | undefined {
    return this._config.protocol === 'http/json' ? undefined : newEncodedSpanBatch(this._maxRequestBytes);
  }

  exportEncoded(batches: EncodedSpanBatch[], resultCallback: (result: ExportResult) => void): void {
    this._export(encodedCount(batches), () => this._encodeBatches(batches), resultCallback, batches);
  }

  exportEncodedForExit(batches: EncodedSpanBatch[], timeoutMillis: number): Promise<ExportResult> {
    return this._exportForExit(encodedCount(batches), () => this._encodeBatches(batches), timeoutMillis, batches);
  }

  exportEncodedSync(batches: EncodedSpanBatch[], timeoutMillis: number): ExportResult {
    const count = encodedCount(batches);
    return this._exportSync(count, () => this._requestFor(this._encodeBatchesBody(batches, count)), timeoutMillis);
  }

  /**
   * What export() and exportEncoded() share: `encode` makes the requests; `batches`, when given, are released
   * whatever happens (once encoded, or when the export is refused before that).
   */
  private _export(
    count: number,
    encode: () => Chunk[] | undefined,
    resultCallback: (result: ExportResult) => void,
    batches?: EncodedSpanBatch[],
  ): void {
    let called = false;
    const done = (result: ExportResult): void => {
      if (called) return;
      called = true;
      try {
        resultCallback(result);
      } catch (err) {
        diag.errorOnce('otlp-callback-threw', 'an OTLP export result callback threw', err);
      }
    };
    // Answers decided before any I/O are given on the next tick: a caller looping over export() must not recurse.
    const doneLater = (result: ExportResult): void => process.nextTick(done, result);
    try {
      if (this._shutdown) {
        releaseBatches(batches);
        doneLater(failed('the OTLP exporter is shut down'));
        return;
      }
      if (count === 0) {
        releaseBatches(batches);
        doneLater(success());
        return;
      }
      if (this._jobs.size >= this._maxConcurrent) {
        releaseBatches(batches);
        this.droppedSpans += count;
        diag.warnRateLimited(
          'otlp-busy',
          `${this._jobs.size} OTLP exports already in flight: dropping a batch of ${count} span(s) ` +
            `(${this.droppedSpans} dropped in all); is the collector at ${this._config.endpoint} slow or down?`,
        );
        doneLater(failed('too many OTLP exports in flight'));
        return;
      }
      const chunks = encode();
      if (chunks === undefined) {
        doneLater(failed('the batch could not be encoded'));
        return;
      }
      // A job that ends before export() returns (a transport that refuses at once) answers on the next tick too.
      let synchronous = true;
      this._startJob(chunks, this._config.timeoutMillis, false, (result) => (synchronous ? doneLater(result) : done(result)));
      synchronous = false;
    } catch (err) {
      // Nothing above should throw; if it does, the batch is lost but the caller is answered.
      diag.warnRateLimited('otlp-internal', 'OTLP export failed unexpectedly', err);
      releaseBatches(batches);
      this.droppedSpans += count;
      doneLater(failed(`OTLP export failed: ${(err as Error)?.message}`));
    }
  }

  /**
   * The final export when the process ends: its request and timers are ref'd, so the event loop waits for it, and
   * it resolves within `timeoutMillis`. It waits out no backoff (an immediate resend on a stale connection is all),
   * so a collector that is down costs the exit a failed connection, not seconds. Exports already in flight are
   * held the same way, up to the same bound. Never rejects.
   */
  exportForExit(spans: ReadableSpan[], timeoutMillis: number): Promise<ExportResult> {
    return this._exportForExit(Array.isArray(spans) ? spans.length : 0, () => this._encode(spans), timeoutMillis);
  }

  private _exportForExit(
    count: number,
    encode: () => Chunk[] | undefined,
    timeoutMillis: number,
    batches?: EncodedSpanBatch[],
  ): Promise<ExportResult> {
    return new Promise<ExportResult>((resolve) => {
      try {
        const bound = Number.isFinite(timeoutMillis) && timeoutMillis > 0 ? timeoutMillis : 0;
        // Batches already on their way get the same chance: the process now waits for them too, up to the bound.
        const deadline = Date.now() + bound;
        for (const job of this._jobs) job.holdUntil(deadline);
        if (this._shutdown) {
          releaseBatches(batches);
          resolve(failed('the OTLP exporter is shut down'));
          return;
        }
        if (count === 0) {
          releaseBatches(batches);
          resolve(success());
          return;
        }
        const chunks = encode();
        if (chunks === undefined) {
          resolve(failed('the batch could not be encoded'));
          return;
        }
        this._startJob(chunks, bound, true, resolve);
      } catch (err) {
        diag.warnRateLimited('otlp-internal', 'OTLP export failed unexpectedly', err);
        releaseBatches(batches);
        resolve(failed(`OTLP export failed: ${(err as Error)?.message}`));
      }
    });
  }

  /**
   * The request this exporter would send for `spans`, for a sender elsewhere (a worker thread at exit): the body,
   * the headers (content-length excepted), the URL and the TLS material. For HTTP the body is exactly what
   * `export` posts (gzipped when configured). For gRPC it is the bare, uncompressed ExportTraceServiceRequest,
   * which the sender frames (gRPC over HTTP/2, "Length-Prefixed-Message") and sends to `url` over HTTP/2.
   * A batch that cannot be encoded, or is over the size limit, gives an empty (valid, span-less) request and a
   * warning. Never throws.
   */
  encodeRequest(spans: ReadableSpan[]): EncodedRequest {
    const count = Array.isArray(spans) ? spans.length : 0;
    return this._requestFor(
      this._checkedBody(count, () =>
        this._config.protocol === 'http/json' ? encodeTraceRequestJsonBuffer(spans) : encodeTraceRequest(spans),
      ),
    );
  }

  /** The body `encode` makes, or an empty one (and a warning) when it fails or is over the size limit. */
  private _checkedBody(count: number, encode: () => Buffer): Buffer {
    try {
      const body = encode();
      if (body.length <= this._maxRequestBytes) return body;
      this.droppedSpans += count;
      diag.warnRateLimited(
        'otlp-too-large',
        `an OTLP request of ${count} span(s) is ${body.length} bytes, over the ${this._maxRequestBytes}-byte limit; dropped`,
      );
    } catch (err) {
      diag.warnRateLimited('otlp-encode', 'cannot encode spans for OTLP; the batch is dropped', err);
      this.droppedSpans += count;
    }
    return Buffer.alloc(0);
  }

  /** encodeRequest's body for batches encoded ahead (which it releases). */
  private _encodeBatchesBody(batches: EncodedSpanBatch[], count: number): Buffer {
    try {
      return this._checkedBody(count, () => encodeEncodedBatches(batches));
    } finally {
      releaseBatches(batches);
    }
  }

  /** The request for `body`: headers, URL and TLS material for a sender elsewhere (see encodeRequest). */
  private _requestFor(body: Buffer): EncodedRequest {
    const grpc = this._config.protocol === 'grpc';
    const out: EncodedRequest = { body, headers: {}, url: this._config.endpoint };
    if (this._tls.ca !== undefined) out.ca = this._tls.ca;
    if (this._tls.cert !== undefined) out.cert = this._tls.cert;
    if (this._tls.key !== undefined) out.key = this._tls.key;
    if (!grpc) {
      try {
        out.body = (this.transport as HttpTransport).prepareSync(body);
        out.headers = { ...this._headers };
      } catch (err) {
        // gzip failing is next to impossible; send the body uncompressed rather than nothing.
        diag.debug('cannot gzip the OTLP request', err);
        out.headers = { ...this._headers };
        delete out.headers['content-encoding'];
      }
      return out;
    }
    const headers: Record<string, string> = {};
    for (const key in this._headers) headers[key.toLowerCase()] = this._headers[key];
    headers['content-type'] = 'application/grpc';
    headers['te'] = 'trailers';
    headers['user-agent'] = USER_AGENT;
    out.headers = headers;
    out.url = this._config.endpoint.replace(/\/+$/, '') + TRACE_EXPORT_METHOD;
    out.grpc = true;
    return out;
  }

  /**
   * The export from the process's `exit` event, where no I/O callback runs any more: the encoded request goes to
   * a worker thread that sends it while this thread waits, at most `timeoutMillis` (src/exporters/sync-sender.ts).
   * No retry. Never throws.
   */
  exportSync(spans: ReadableSpan[], timeoutMillis: number): ExportResult {
    const count = Array.isArray(spans) ? spans.length : 0;
    return this._exportSync(count, () => this.encodeRequest(spans), timeoutMillis);
  }

  private _exportSync(count: number, encode: () => EncodedRequest, timeoutMillis: number): ExportResult {
    try {
      if (this._shutdown) return failed('the OTLP exporter is shut down');
      if (count === 0) return success();
      const request = encode();
      if (request.body.length === 0) return failed('the batch could not be encoded');
      const { sendSync } = require('../sync-sender') as typeof import('../sync-sender');
      const result = sendSync(request, timeoutMillis);
      if (result.ok) {
        this.exportedSpans += count;
        return success();
      }
      this.droppedSpans += count;
      return failed(result.status === -2 ? 'the final export at exit timed out' : `the final export at exit failed (${result.status})`);
    } catch (err) {
      return failed(`the final export at exit failed: ${(err as Error)?.message}`);
    }
  }

  /**
   * For the end of the process (ExitCapableExporter, src/exporters/types.ts): exports waiting out a backoff give up
   * now, and exports with a request in flight make no further retry.
   */
  abortRetries(): void {
    for (const job of Array.from(this._jobs)) job.abortRetries();
  }

  warmUp(): void {
    try {
      this.transport.warmUp?.();
    } catch (err) {
      diag.debug('warming up the OTLP transport failed', err);
    }
  }

  /** Resolves when every export in flight has finished (each is bounded by its deadline). */
  forceFlush(): Promise<void> {
    if (this._jobs.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this._idleWaiters.push(resolve));
  }

  async shutdown(): Promise<void> {
    if (this._shutdown) return;
    this._shutdown = true;
    await this.forceFlush();
    try {
      this._transport?.shutdown();
    } catch (err) {
      diag.debug('closing the OTLP transport failed', err);
    }
  }

  // ---- internals ----

  /**
   * One request body. Protobuf bodies (HTTP and gRPC) stay in a pooled writer until the job is done with them
   * (the gRPC transport copies the body into the message it hands its thread).
   */
  private _encodeOne(spans: readonly ReadableSpan[]): Chunk {
    switch (this._config.protocol) {
      case 'http/json':
        return { body: encodeTraceRequestJsonBuffer(spans), spanCount: spans.length, release: undefined };
      default: {
        const pooled = encodeTraceRequestPooled(spans);
        return { body: pooled.bytes, spanCount: spans.length, release: () => pooled.release() };
      }
    }
  }

  /**
   * Batches encoded ahead, as one request (they keep within the size limit; several at once, at the end of the
   * process, could go over it, and are then dropped with a warning). Releases the batches.
   */
  private _encodeBatches(batches: EncodedSpanBatch[]): Chunk[] | undefined {
    const count = encodedCount(batches);
    try {
      const pooled = encodeEncodedBatchesPooled(batches);
      if (pooled.bytes.length > this._maxRequestBytes) {
        pooled.release();
        this.droppedSpans += count;
        diag.warnRateLimited(
          'otlp-too-large',
          `an OTLP request of ${count} span(s) is over the ${this._maxRequestBytes}-byte limit; dropped`,
        );
        return undefined;
      }
      return [{ body: pooled.bytes, spanCount: count, release: () => pooled.release() }];
    } catch (err) {
      this.droppedSpans += count;
      diag.warnRateLimited('otlp-encode', 'cannot encode spans for OTLP; the batch is dropped', err);
      return undefined;
    } finally {
      releaseBatches(batches);
    }
  }

  /** Encodes a batch into requests under the size limit; undefined when nothing could be encoded. */
  private _encode(spans: readonly ReadableSpan[]): Chunk[] | undefined {
    const chunks: Chunk[] = [];
    try {
      this._encodeInto(spans, chunks);
    } catch (err) {
      for (const chunk of chunks) chunk.release?.();
      this.droppedSpans += spans.length;
      diag.warnRateLimited('otlp-encode', 'cannot encode spans for OTLP; the batch is dropped', err);
      return undefined;
    }
    return chunks.length === 0 ? undefined : chunks;
  }

  private _encodeInto(spans: readonly ReadableSpan[], out: Chunk[]): void {
    const chunk = this._encodeOne(spans);
    const size = chunk.body.length;
    if (size <= this._maxRequestBytes) {
      out.push(chunk);
      return;
    }
    chunk.release?.();
    if (spans.length === 1) {
      this.droppedSpans++;
      diag.warnRateLimited(
        'otlp-too-large',
        `a span (${spans[0].name}) encodes to ${size} bytes, over the ${this._maxRequestBytes}-byte OTLP request limit; dropped`,
      );
      return;
    }
    const mid = spans.length >> 1;
    this._encodeInto(spans.slice(0, mid), out);
    this._encodeInto(spans.slice(mid), out);
  }

  private _startJob(chunks: Chunk[], timeoutMillis: number, holdProcess: boolean, done: (r: ExportResult) => void): void {
    const job = new ExportJob(this, chunks, Date.now() + timeoutMillis, holdProcess, (result) => {
      this._jobs.delete(job);
      if (this._jobs.size === 0 && this._idleWaiters.length > 0) {
        const waiters = this._idleWaiters;
        this._idleWaiters = [];
        for (const resolve of waiters) resolve();
      }
      done(result);
    });
    this._jobs.add(job);
    // The exit export waits out no backoff: the process's exit time must not grow by seconds because a collector
    // refuses connections (src/agent/process-lifecycle.ts). It still resends at once what failed on a stale
    // kept-alive connection, or what the server asked to resend without delay.
    if (holdProcess) job.abortRetries();
    runSuppressed(() => job.start());
  }

  /** @internal The transport, made at the first export. */
  get transport(): Transport {
    if (this._transport === undefined) {
      const config = this._config;
      const gzip = config.compression === 'gzip';
      this._transport =
        config.protocol === 'grpc'
          ? new GrpcTransport({ endpoint: config.endpoint, headers: this._headers, gzip, userAgent: USER_AGENT, tls: this._tls })
          : new HttpTransport({
              url: config.endpoint,
              headers: this._headers,
              json: config.protocol === 'http/json',
              gzip,
              tls: this._tls,
              maxSockets: this._maxConcurrent,
            });
    }
    return this._transport;
  }
  /** @internal */ get retryPolicy(): RetryPolicy {
    if (this._retry === undefined) this._retry = { ...DEFAULT_RETRY_POLICY, ...this._retryOverrides };
    return this._retry;
  }
  /** @internal */ nextBackoff(retry: number): number {
    return backoffMillis(this.retryPolicy, retry, this._random);
  }

  /** @internal A chunk was delivered. */
  onDelivered(spanCount: number, partial: PartialSuccess | undefined): void {
    if (partial === undefined) {
      this.exportedSpans += spanCount;
      return;
    }
    const rejected = Math.min(spanCount, Math.max(0, partial.rejectedSpans));
    this.exportedSpans += spanCount - rejected;
    if (partial.rejectedSpans > 0) {
      this.droppedSpans += rejected;
      diag.warnRateLimited(
        'otlp-partial-success',
        `the OTLP receiver rejected ${partial.rejectedSpans} of ${spanCount} span(s)` +
          (partial.errorMessage ? `: ${partial.errorMessage}` : ''),
      );
    } else {
      // rejected = 0 with a message: the server's warning or suggestion (specification, "Partial Success").
      diag.warnRateLimited('otlp-receiver-message', `the OTLP receiver says: ${partial.errorMessage}`);
    }
  }

  /** @internal A job gave up. */
  onFailed(spanCount: number, kind: string, message: string): void {
    this.droppedSpans += spanCount;
    diag.warnRateLimited(
      `otlp-${kind}`,
      `OTLP export to ${this._config.endpoint} failed: ${message}; ${spanCount} span(s) dropped ` +
        `(${this.droppedSpans} in all)`,
    );
  }
}

/**
 * One export: its requests (usually one), each tried until it succeeds, fails for good, runs out of retries or
 * would pass the deadline. Calls `onDone` exactly once.
 */
class ExportJob {
  private _index = 0;
  private _retries = 0;
  private _body: Buffer | undefined;
  private _timer: NodeJS.Timeout | undefined;
  private _current: Attempt | undefined;
  private _exitTimer: NodeJS.Timeout | undefined;
  private _finished = false;
  private _bound: NodeJS.Timeout | undefined;
  /** A compression in progress reads the body; attempts whose transport may still read it. */
  private _preparing = false;
  private _bodiesInUse = 0;
  private _released = false;
  private _noMoreRetries = false;
  private _lastFailure: { kind: string; message: string } | undefined;
  private readonly _onBodyReleased = (): void => {
    this._bodiesInUse--;
    this._maybeRelease();
  };

  constructor(
    private readonly _exporter: OtlpTraceExporter,
    private readonly _chunks: Chunk[],
    private readonly _deadline: number,
    private _hold: boolean,
    private readonly _onDone: (result: ExportResult) => void,
  ) {}

  /**
   * The process is exiting: from now on this export keeps it alive (its request in flight), but only until
   * `deadline`, when it is abandoned; it makes no further backoff retry.
   */
  holdUntil(deadline: number): void {
    if (this._finished || this._hold) return;
    // As for the exit export itself: no backoff from now on (one waiting out a backoff ends here).
    this.abortRetries();
    if (this._finished) return;
    this._hold = true;
    this._current?.hold();
    this._timer?.ref();
    this._exitTimer = setTimeout(() => this._fail('timeout', 'the process is exiting'), Math.max(1, deadline - Date.now()));
  }

  abortRetries(): void {
    this._noMoreRetries = true;
    if (this._timer !== undefined && this._lastFailure !== undefined) {
      this._fail(this._lastFailure.kind, `${this._lastFailure.message} (retry abandoned: the process is exiting)`);
    }
  }

  start(): void {
    // A safety net under the per-attempt timeouts (compression time, a transport that fails to answer): the job
    // ends at its deadline whatever happens. Ref'd only for the exit export.
    const remaining = this._deadline - Date.now();
    this._bound = setTimeout(() => this._fail('timeout', 'the export did not finish within its timeout'), Math.max(1, remaining + 50));
    if (!this._hold) this._bound.unref();
    try {
      this._prepare();
    } catch (err) {
      this._fail('internal', `the export could not start: ${(err as Error)?.message}`);
    }
  }

  private _prepare(): void {
    const chunk = this._chunks[this._index];
    this._preparing = true;
    this._exporter.transport.prepare(chunk.body, (prepared) => {
      this._preparing = false;
      if (this._finished) {
        this._maybeRelease();
        return;
      }
      if (prepared instanceof Error) {
        this._fail('compression', `cannot compress the request: ${prepared.message}`);
        return;
      }
      this._body = prepared;
      this._attempt();
    });
  }

  private _attempt(): void {
    this._timer = undefined;
    if (this._finished) return;
    const remaining = this._deadline - Date.now();
    if (remaining <= 0) {
      this._fail('timeout', 'the export timeout ran out');
      return;
    }
    this._bodiesInUse++;
    try {
      this._current = this._exporter.transport.send(
        this._body!,
        { timeoutMillis: remaining, holdProcess: this._hold, onBodyReleased: this._onBodyReleased },
        (outcome) => this._onOutcome(outcome),
      );
    } catch (err) {
      this._fail('internal', `the request could not be sent: ${(err as Error)?.message}`);
    }
  }

  private _onOutcome(outcome: SendOutcome): void {
    this._current = undefined;
    if (this._finished) return;
    const chunk = this._chunks[this._index];
    if (outcome.ok) {
      this._exporter.onDelivered(chunk.spanCount, outcome.partialSuccess);
      this._index++;
      this._retries = 0;
      if (this._index < this._chunks.length) this._prepare();
      else this._finish({ code: ExportResultCode.SUCCESS });
      return;
    }
    const policy = this._exporter.retryPolicy;
    if (!outcome.retryable) {
      this._fail(outcome.kind, outcome.message + ' (not retryable)');
      return;
    }
    if (this._noMoreRetries && outcome.retryAfterMillis !== 0) {
      this._fail(outcome.kind, `${outcome.message} (no retry: the process is exiting)`);
      return;
    }
    if (this._retries >= policy.maxRetries) {
      this._fail(outcome.kind, `${outcome.message} (gave up after ${this._retries} retries)`);
      return;
    }
    const delay = outcome.retryAfterMillis !== undefined ? outcome.retryAfterMillis : this._exporter.nextBackoff(this._retries);
    if (Date.now() + delay >= this._deadline) {
      const asked = outcome.retryAfterMillis !== undefined ? ' the server asked to wait' : ' the next retry would be';
      this._fail(outcome.kind, `${outcome.message} (${asked.trim()} ${delay} ms, past the export timeout)`);
      return;
    }
    this._retries++;
    this._lastFailure = { kind: outcome.kind, message: outcome.message };
    diag.debug(`OTLP export failed (${outcome.message}); retry ${this._retries} in ${delay} ms`);
    // The timer's callback must run with tracing suppressed like the first attempt: the context it would inherit
    // is whatever was active when the response arrived.
    this._timer = setTimeout(() => runSuppressed(() => this._attempt()), delay);
    if (!this._hold) this._timer.unref();
  }

  private _fail(kind: string, message: string): void {
    if (this._finished) return;
    this._abort();
    let remaining = 0;
    for (let i = this._index; i < this._chunks.length; i++) remaining += this._chunks[i].spanCount;
    this._exporter.onFailed(remaining, kind, message);
    this._finish({ code: ExportResultCode.FAILED, error: new Error(message) });
  }

  private _abort(): void {
    if (this._timer !== undefined) {
      clearTimeout(this._timer);
      this._timer = undefined;
    }
    const attempt = this._current;
    this._current = undefined;
    if (attempt !== undefined) {
      try {
        attempt.abort();
      } catch {
        // the attempt is abandoned either way
      }
    }
  }

  private _finish(result: ExportResult): void {
    if (this._finished) return;
    this._finished = true;
    if (this._bound !== undefined) clearTimeout(this._bound);
    if (this._exitTimer !== undefined) clearTimeout(this._exitTimer);
    this._maybeRelease();
    this._onDone(result);
  }

  /** Gives pooled bodies back once the job is over and nothing reads them any more. */
  private _maybeRelease(): void {
    if (!this._finished || this._released || this._preparing || this._bodiesInUse > 0) return;
    this._released = true;
    for (const chunk of this._chunks) chunk.release?.();
  }
}
