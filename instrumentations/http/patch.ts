/**
 * Wrapping for http and https.
 *
 * Server: `Server#emit('request')` extracts the incoming context, starts the SERVER span and runs the
 * application's handler in it. Node runs the listeners an application adds to `req` / `res` in the socket's
 * context, not the handler's, so the `emit` of IncomingMessage and ServerResponse is wrapped once on their
 * prototypes: for a tracked request or response it runs the listeners in the span's context, and on `finish` /
 * `close` ends the span. No listener is added to the application's objects and nothing is allocated per event.
 *
 * Client: `request()` lets Node build the ClientRequest from whatever arguments it got, then starts the CLIENT
 * span from it and injects the context into its headers (they are not sent before the first write). `get()` is
 * `request()` + `end()`, as in Node. The span ends on the response's `end`, or on an error or early close, seen
 * through the same prototype `emit` wrappers.
 */
import type { Context, Span } from '../../src/api/types';
import { SpanKind } from '../../src/api/types';
import { getSpan, isTracingSuppressed, ROOT_CONTEXT, setSpan, suppressTracing } from '../../src/context/context';
import { contextManager } from '../../src/context/global';
import { registerServerSpan, releaseServerSpan, serverSpanOf, serverSpanOfResponse, type ServerSpanEntry } from '../../src/instrumentation/http-server-spans';
import { InFlight } from '../../src/instrumentation/in-flight';
import * as runtime from '../../src/instrumentation/runtime';
import { getConfig, getPropagator, reportInstrumentationError, tracerGetter } from '../../src/instrumentation/runtime';
import type { ModuleInfo, Patcher } from '../../src/instrumentation/types';
import { unwrapMethod, wrapMethod } from '../../src/instrumentation/wrap';
import { exceptionType } from '../../src/trace/span';
import {
  type ClientCall,
  clientRequestAttributes,
  contentLengthValue,
  headerValues,
  isClientError,
  isServerError,
  normaliseMethod,
  peerName,
  serverRequestAttributes,
  requestHeader,
  type IncomingRequestLike,
  spanNameForMethod,
} from './attributes';

const getTracer = tracerGetter('http');

interface ClientEntry {
  span: Span;
  /** The request (the entry's first key). */
  request: object;
  /** The response, once it arrived. */
  response: object | undefined;
  ended: boolean;
  /**
   * The propagation headers put on the request, name and value in turn (undefined when none could be): they are
   * put back when the head is rendered if the application set others after request() returned.
   */
  injected: string[] | undefined;
}

/**
 * Client entries, keyed by the ClientRequest and, once it came, by its response; removed when the span ends.
 * (Server entries: http-server-spans.ts.)
 */
const clientEntries = new InFlight<ClientEntry>();

/** The propagators' view of an incoming request: its headers as `req.headers` would give them (requestHeader). */
const incomingRequestGetter = {
  keys(req: IncomingRequestLike): string[] {
    const raw = req.rawHeaders;
    if (!Array.isArray(raw)) return req.headers != null ? Object.keys(req.headers) : [];
    const names = new Set<string>();
    for (let i = 0; i < raw.length; i += 2) if (typeof raw[i] === 'string') names.add(raw[i].toLowerCase());
    return [...names];
  },
  get(req: IncomingRequestLike, key: string): string | undefined {
    return requestHeader(req, key);
  },
};

/**
 * The headers the setter below put on the request being started that name the client span (name and value in
 * turn), to be put back if the application sets them again. Not `baggage`: its value is the application's data, and
 * one the application sets on the request itself is what it means to send.
 */
let injecting: string[] | undefined;

const requestHeaderSetter = {
  set(req: { setHeader(name: string, value: string): void }, key: string, value: string): void {
    req.setHeader(key, value);
    if (key === 'baggage') return;
    if (injecting === undefined) injecting = [key, value];
    else injecting.push(key, value);
  },
};

/** Reads the headers the application set on an outgoing request (ClientRequest#getHeader), for extraction. */
const outgoingHeaderGetter = {
  keys(req: { getHeaderNames(): string[] }): string[] {
    return req.getHeaderNames();
  },
  get(req: { getHeader(name: string): unknown }, key: string): string | string[] | undefined {
    const value = req.getHeader(key);
    return typeof value === 'string' || Array.isArray(value) ? value : value === undefined ? undefined : String(value);
  },
};

/** OTEL_INSTRUMENTATION_HTTP_SERVER_EXCLUDED_PATHS: exact paths, or prefixes written with a trailing `*`. */
function isExcluded(url: string | undefined, patterns: readonly string[]): boolean {
  if (patterns.length === 0 || typeof url !== 'string') return false;
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  for (let i = 0; i < patterns.length; i++) {
    const p = patterns[i];
    if (p.endsWith('*') ? path.startsWith(p.slice(0, -1)) : path === p) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------------------------
// Server

/**
 * Requests with a span that came through `checkContinue` / `checkExpectation` and have not closed: while there
 * are any, a `request` event may be one of them passed on by the application (`res.writeContinue();
 * server.emit('request', req, res)`, as Node's documentation shows), which keeps its span.
 */
let expectationSpans = 0;

function startServerSpan(req: any, res: any, scheme: 'http' | 'https', expectation: boolean): Context | undefined {
  const active = contextManager.active();
  if (isTracingSuppressed(active)) return undefined;
  const config = getConfig();
  // An excluded path (a health check) gets no span, and neither does anything it calls.
  if (isExcluded(req.url, config.http.serverExcludedPaths)) return suppressTracing(active);
  const parentContext = getPropagator().extract(ROOT_CONTEXT, req, incomingRequestGetter);
  const method = normaliseMethod(req.method);
  // The attributes are built only for a request that is sampled (with the built-in samplers).
  const span = getTracer().startOwnedDeferred(spanNameForMethod(method), SpanKind.SERVER, parentContext, serverRequestAttributes, req, scheme);
  const captured = config.http.serverRequestHeaders;
  for (let i = 0; i < captured.length; i++) {
    const values = headerValues(req.headers[captured[i]]);
    if (values !== undefined) span.setAttribute('http.request.header.' + captured[i], values);
  }
  const context = setSpan(parentContext, span);
  // Node added its `finish` listener (resOnFinish, bound to this request) just before emitting 'request'.
  const finish = res != null ? res._events?.finish : undefined;
  const entry: ServerSpanEntry = {
    span,
    context,
    method,
    route: undefined,
    ended: false,
    framework: undefined,
    nodeFinishListener: typeof finish === 'function' ? finish : undefined,
    arrivalFrame: contextManager.captureFrame(),
    request: req,
    headWritten: false,
    statusCode: undefined,
    errorType: undefined,
    expectation,
  };
  registerServerSpan(req, res, entry);
  if (expectation) expectationSpans++;
  return context;
}

/**
 * The response's head is written (every response's is, through here: Node's own implicit head calls writeHead
 * too): the status code and the fact are kept on the entry, so that nobody reads them back from the response
 * (see http-server-spans.ts for why that is dear in express applications).
 */
function makeWriteHead(original: (...args: any[]) => unknown) {
  return function writeHead(this: unknown, statusCode: unknown): unknown {
    const result = original.apply(this, arguments as any);
    const entry = serverSpanOfResponse(this as object);
    if (entry !== undefined) {
      entry.headWritten = true;
      // Node validated it (an integer from 100 to 999) or it would have thrown.
      entry.statusCode = typeof statusCode === 'number' ? statusCode | 0 : undefined;
    }
    return result;
  };
}

function endServerSpan(entry: ServerSpanEntry, res: any, event: string): void {
  entry.ended = true;
  const span = entry.span;
  if (event === 'finish' || entry.headWritten || res.headersSent) {
    const status = entry.statusCode !== undefined ? entry.statusCode : res.statusCode;
    if (typeof status === 'number') {
      span.setAttribute('http.response.status_code', status);
      if (isServerError(status)) {
        // error.type on the span, as http-spans.md asks (the OpenTelemetry JS agent sets it on the metric only):
        // the type of the error a framework handled with this response, else the status code.
        if ((span as any).attributes?.['error.type'] === undefined) span.setAttribute('error.type', entry.errorType ?? String(status));
        span.setStatus({ code: 2 });
      }
    }
    if (event !== 'finish') {
      // The head went out but the connection closed before the response was whole (the client went away
      // mid-body, or the application destroyed the response): an error that keeps the status code it sent
      // (http-spans.md, "HTTP server call: connection dropped before response body was sent").
      if ((span as any).attributes?.['error.type'] === undefined) span.setAttribute('error.type', 'aborted');
      span.setStatus({ code: 2, message: 'connection closed before the response was complete' });
    }
    // The length Node computed for a body given whole to end() (what express's send does), else an explicit
    // Content-Length: the first is one property read where the second is two.
    let n = res._contentLength;
    if (typeof n !== 'number') n = res.getHeader('content-length');
    const size = contentLengthValue(n);
    if (size !== undefined) span.setAttribute('http.response.body.size', size);
    const captured = getConfig().http.serverResponseHeaders;
    for (let i = 0; i < captured.length; i++) {
      const values = headerValues(res.getHeader(captured[i]));
      if (values !== undefined) span.setAttribute('http.response.header.' + captured[i], values);
    }
  } else if (entry.statusCode !== undefined) {
    // Node.js answered the request itself, on the socket (noteNodeAnswer): the client got a whole response.
    const status = entry.statusCode;
    span.setAttribute('http.response.status_code', status);
    if (isServerError(status)) {
      span.setAttribute('error.type', String(status));
      span.setStatus({ code: 2 });
    }
  } else {
    // The connection closed before a response was sent: the client went away.
    span.setAttribute('error.type', 'aborted');
    span.setStatus({ code: 2, message: 'connection closed before the response was sent' });
  }
  span.end();
}

/**
 * The status Node.js writes on the socket itself when it gives up on a request and nobody listens for
 * `clientError` (node:_http_server, socketOnError, the same in Node.js 20 to 24).
 */
function nodeAnswerStatus(err: unknown): number {
  const code = err !== null && typeof err === 'object' ? (err as { code?: unknown }).code : undefined;
  switch (code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return 408;
    case 'HPE_HEADER_OVERFLOW':
      return 431;
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return 413;
    default:
      return 400;
  }
}

/**
 * A request Node.js gives up on after its server span started — its body did not arrive within
 * `server.requestTimeout`, or could not be parsed — is answered by Node.js on the socket (408, 400…) when nobody
 * listens for `clientError` and the response has not written its head, the conditions socketOnError checks right
 * after this emit. The span then records that status, which is what the client got, instead of a connection that
 * closed before any response. With a `clientError` listener the application answers as it likes, unseen, and the
 * span stays a connection closed before the response.
 */
function noteNodeAnswer(err: unknown, socket: any): void {
  if (socket === null || typeof socket !== 'object' || socket.writable !== true) return;
  const res = socket._httpMessage;
  if (res === null || typeof res !== 'object' || res._headerSent === true) return;
  const entry = serverSpanOfResponse(res);
  if (entry !== undefined && !entry.ended && !entry.headWritten) entry.statusCode = nodeAnswerStatus(err);
}

function emitClientError(server: unknown, original: (...args: any[]) => boolean, args: IArguments): boolean {
  const handled = original.apply(server, args as any);
  if (!handled) {
    try {
      noteNodeAnswer(args[1], args[2]); // args[0] is the event
    } catch (err) {
      reportInstrumentationError('http', 'a request Node.js answered itself', err);
    }
  }
  return handled;
}

function makeServerEmit(original: (...args: any[]) => boolean, scheme: 'http' | 'https') {
  return function emit(this: unknown, event: string | symbol, req: any, res: any): boolean {
    // Node emits `checkContinue` (Expect: 100-continue) or `checkExpectation` (any other Expect) instead of
    // `request` when the server listens for them (hapi always does for the first): the same request, which needs
    // its span as much.
    let expectation = false;
    if (event !== 'request') {
      if (event === 'clientError') return emitClientError(this, original, arguments);
      if (event !== 'checkContinue' && event !== 'checkExpectation') return original.apply(this, arguments as any);
      expectation = true;
    } else if (expectationSpans > 0) {
      const existing = serverSpanOf(req);
      if (existing !== undefined) return contextManager.run(existing.context, original, this, arguments) as boolean;
    }
    if (!runtime.tracingEnabled) return original.apply(this, arguments as any);
    let context: Context | undefined;
    try {
      context = startServerSpan(req, res, scheme, expectation);
    } catch (err) {
      reportInstrumentationError('http', 'the server span', err);
    }
    if (context === undefined) return original.apply(this, arguments as any);
    return contextManager.run(context, original, this, arguments) as boolean;
  };
}

/**
 * Whether the listeners of `event` need no span context: there are none, or the one there is, is one that Node.js
 * itself adds to every server request and response (node:_http_server, the same in Node 20 to 24): `resOnFinish`,
 * bound, on the response's `finish`, and `clearIncoming` on the request's `end`. Entering a context is the
 * costliest part of a wrapped emit (AsyncLocalStorage.run looks up the current async resource), and these two
 * events come with every request. A lone listener is kept as the function itself in `_events`; anything else
 * (several listeners, an emitter without `_events`) runs in the context as usual.
 */
function needsNoContext(emitter: any, event: string | symbol, nodeListener?: unknown): boolean {
  // One read of the emitter (EventEmitter keeps a lone listener as the function, several as an array), not
  // listenerCount(), which is two: each a runtime lookup on an express request or response.
  const events = emitter._events;
  if (events == null || typeof events !== 'object') return false;
  const listener = events[event];
  if (listener === undefined) return true;
  if (typeof listener !== 'function') return false;
  // The response's own: recognised by identity. A bound function's name is computed on every read ("bound " +
  // the target's name, a new string compared character by character): that was 2 µs a request on the work route.
  if (listener === nodeListener) return true;
  const name = listener.name;
  return name === 'clearIncoming' || name === 'bound resOnFinish';
}

/** ServerResponse#emit: listeners in the span's context; the span ends on finish or close. */
function makeResponseEmit(original: (...args: any[]) => boolean) {
  return function emit(this: any, event: string | symbol): boolean {
    const entry = serverSpanOfResponse(this);
    if (entry === undefined) return original.apply(this, arguments as any);
    if ((event === 'finish' || event === 'close') && !entry.ended) {
      try {
        endServerSpan(entry, this, event);
      } catch (err) {
        reportInstrumentationError('http', 'ending the server span', err);
      }
    }
    if (event === 'close') {
      // The response's last event: listeners run in the span's context, then the entry goes.
      try {
        return needsNoContext(this, event, entry.nodeFinishListener) ? original.apply(this, arguments as any) : (contextManager.run(entry.context, original, this, arguments) as boolean);
      } finally {
        releaseServerSpan(entry.request, this);
        if (entry.expectation) expectationSpans--;
      }
    }
    if (needsNoContext(this, event, entry.nodeFinishListener)) {
      // Node's own `finish` listener (resOnFinish) arms the connection's keep-alive timer, a new Timeout that keeps
      // the async context it was made in until the connection's next request: made in this span's context, it kept
      // the ended span, its attributes and its context alive, ~1 KB for each idle keep-alive connection, surviving
      // young-generation collections and making V8 grow its young generation (measured on Node 24, node:http at
      // 32 connections, --trace-gc-nvp: 25 KB surviving each scavenge with the export off, against 7.6 KB for a
      // preload that only keeps a store per request, and semispaces of 16 MB against 4). So it runs without the
      // span's context: in the context the request arrived in where that can be kept (Node 24: leaving a context
      // with `run` would make a new frame for the timer to keep), or else in the root context, the application's
      // own AsyncLocalStorage stores as they are.
      if (event === 'finish') {
        const frame = entry.arrivalFrame;
        if (frame !== undefined) return contextManager.runInFrame(frame, original, this, arguments) as boolean;
        return contextManager.run(ROOT_CONTEXT, original, this, arguments) as boolean;
      }
      return original.apply(this, arguments as any);
    }
    return contextManager.run(entry.context, original, this, arguments) as boolean;
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Client

function endClientSpan(entry: ClientEntry, error: unknown, errorType: string | undefined): void {
  if (entry.ended) return;
  entry.ended = true;
  clientEntries.delete(entry.request);
  if (entry.response !== undefined) clientEntries.delete(entry.response);
  const span = entry.span;
  // A 4xx or 5xx that came (onClientResponse) stays the error's type when the exchange then fails: http-spans.md,
  // error.type — "when response status code was sent or received and status indicates an error", the status code.
  const statusError = entry.response !== undefined && isClientError((entry.response as { statusCode?: unknown }).statusCode as number);
  // http.request.body.size from the Content-Length the application gave the request (in its options, or with
  // setHeader until the head went), read now, not when the span started: one set after request() returned counts
  // too, and after the head went it can no longer change (setHeader throws then). Node never stores a Content-Length
  // of its own among these headers (one it computes for a body given whole to end() goes straight into the head), so
  // without the application's the size stays absent. getHeader is a lookup in the request's own header map.
  if (span.isRecording()) {
    const getHeader = (entry.request as { getHeader?: unknown }).getHeader;
    const size = typeof getHeader === 'function' ? contentLengthValue(getHeader.call(entry.request, 'content-length')) : undefined;
    if (size !== undefined) span.setAttribute('http.request.body.size', size);
  }
  if (error !== undefined) {
    span.recordException(error);
    if (!statusError) span.setAttribute('error.type', exceptionType(error) ?? errorType ?? '_OTHER');
    span.setStatus({ code: 2, message: error instanceof Error ? error.message : String(error) });
  } else if (errorType !== undefined) {
    if (!statusError) span.setAttribute('error.type', errorType);
    span.setStatus({ code: 2 });
  }
  span.end();
}

function onClientResponse(entry: ClientEntry, res: any): void {
  entry.response = res;
  clientEntries.set(res, entry);
  const span = entry.span;
  const status = res.statusCode;
  if (typeof status === 'number') {
    span.setAttribute('http.response.status_code', status);
    if (isClientError(status)) {
      span.setAttribute('error.type', String(status));
      span.setStatus({ code: 2 });
    }
  }
  if (typeof res.httpVersion === 'string') span.setAttribute('network.protocol.version', res.httpVersion);
  // From rawHeaders: reading res.headers would make Node.js build the whole headers object, which an
  // application that never reads the response's headers does not otherwise pay for (requestHeader).
  const size = contentLengthValue(requestHeader(res, 'content-length'));
  if (size !== undefined) span.setAttribute('http.response.body.size', size);
  const captured = getConfig().http.clientResponseHeaders;
  for (let i = 0; i < captured.length; i++) {
    const values = headerValues(res.headers?.[captured[i]]);
    if (values !== undefined) span.setAttribute('http.response.header.' + captured[i], values);
  }
  const socket = res.socket;
  if (socket != null) {
    const peer = peerName(socket);
    if (peer.address !== undefined) {
      span.setAttribute('network.peer.address', peer.address);
      if (peer.port !== undefined) span.setAttribute('network.peer.port', peer.port);
    }
  }
}

/** ClientRequest#emit: response, error and early close end or feed the client span. */
function makeClientRequestEmit(original: (...args: any[]) => boolean) {
  return function emit(this: any, event: string | symbol, arg: any): boolean {
    const entry = clientEntries.get(this);
    if (entry !== undefined && !entry.ended) {
      try {
        if (event === 'response') onClientResponse(entry, arg);
        else if (event === 'connect' || event === 'upgrade') {
          // A CONNECT tunnel or a protocol upgrade answered: the HTTP request is over (its socket now belongs to
          // the application), and no 'response' will come — without this its 'close' would read as an abort.
          onClientResponse(entry, arg);
          endClientSpan(entry, undefined, undefined);
        } else if (event === 'error') endClientSpan(entry, arg, undefined);
        else if (event === 'close') {
          if (entry.response === undefined) endClientSpan(entry, undefined, 'aborted');
          // The connection closed after the whole response arrived, but the application has not read it (or not
          // to the end yet): Node emits the response's 'end' only once it is read, which may be never. The exchange
          // is over, so the span ends here, and the agent lets go of the request and the response — kept until
          // then, an unread response's socket and body stayed alive only because the agent held them (a body
          // cut short was ended by the response's own 'aborted' before this).
          else if ((entry.response as { complete?: unknown }).complete === true) endClientSpan(entry, undefined, undefined);
        }
      } catch (err) {
        reportInstrumentationError('http', 'the client span', err);
      }
    }
    return original.apply(this, arguments as any);
  };
}

/**
 * IncomingMessage#emit. For a server request: listeners run in the span's context. For a client response: the
 * span ends on `end`, or on an error or close before it.
 */
/**
 * Whether a client response that closed before its `end` was cut short by its connection — a network error
 * receiving the body, which makes the span an error (http-spans.md, "Status") — rather than left by the
 * application: one that arrived whole, or that the application destroyed while its connection was still up, is
 * not. Node emits `aborted` from the response's destroy before it destroys the socket, so the socket tells which
 * it was. An application that destroys the request instead (or first: follow-redirects, under axios, does so with
 * every 3xx, then destroys the response) takes the socket down itself; Node then dumps the response before it
 * destroys the socket (ClientRequest#destroy, the same in Node 20 to 24), as it does one nobody listens for, and
 * `_dumped` tells that the application let it go.
 */
function responseCutShort(res: any): boolean {
  if (res.complete === true || res._dumped === true) return false;
  const socket = res.socket;
  return !(socket != null && socket.destroyed === false);
}

function makeIncomingEmit(original: (...args: any[]) => boolean) {
  return function emit(this: any, event: string | symbol, arg: any): boolean {
    const server = serverSpanOf(this);
    if (server !== undefined) {
      if (needsNoContext(this, event)) return original.apply(this, arguments as any);
      return contextManager.run(server.context, original, this, arguments) as boolean;
    }
    const entry = clientEntries.get(this);
    if (entry === undefined) return original.apply(this, arguments as any);
    if (!entry.ended) {
      try {
        if (event === 'end') endClientSpan(entry, undefined, undefined);
        else if (event === 'error') endClientSpan(entry, arg, undefined);
        else if (event === 'aborted' || event === 'close') endClientSpan(entry, undefined, responseCutShort(this) ? 'aborted' : undefined);
      } catch (err) {
        reportInstrumentationError('http', 'the client span', err);
      }
    }
    return original.apply(this, arguments as any);
  };
}

/**
 * The call being traced, for clientRequestAttributes: one object reused for every call (no allocation a request),
 * filled just before the span starts and emptied after (saved and restored, should a sampler make a request).
 */
const CALL: ClientCall = { scheme: 'http', input: undefined, options: undefined };

function startClientSpan(req: any, scheme: 'http' | 'https', parent: Context, input: unknown, options: unknown): void {
  const injectable = req._header == null && req.headersSent !== true;
  // With no span to continue, a trace context the application wrote on the request itself (propagating by hand, a
  // worker passing on a job's traceparent) is the one to continue: the client span joins that trace instead of
  // starting a new one, and the header our injection replaces carries the same trace on.
  if (injectable && getSpan(parent) === undefined) parent = getPropagator().extract(parent, req, outgoingHeaderGetter);
  const savedScheme = CALL.scheme;
  const savedInput = CALL.input;
  const savedOptions = CALL.options;
  CALL.scheme = scheme;
  CALL.input = input;
  CALL.options = options;
  // The attributes are built only for a request that is sampled (with the built-in samplers).
  const span = getTracer().startOwnedDeferred(spanNameForMethod(normaliseMethod(req.method)), SpanKind.CLIENT, parent, clientRequestAttributes, req, CALL);
  CALL.scheme = savedScheme;
  CALL.input = savedInput;
  CALL.options = savedOptions;
  const captured = getConfig().http.clientRequestHeaders;
  for (let i = 0; i < captured.length; i++) {
    const values = headerValues(req.getHeader(captured[i]));
    if (values !== undefined) span.setAttribute('http.request.header.' + captured[i], values);
  }
  const entry: ClientEntry = { span, request: req, response: undefined, ended: false, injected: undefined };
  clientEntries.set(req, entry);
  // Headers are rendered at the first write or end, after this returns; a request built with raw array
  // headers (or Expect: 100-continue) has them rendered already and cannot carry the context.
  if (injectable) {
    injecting = undefined;
    try {
      getPropagator().inject(setSpan(parent, span), req, requestHeaderSetter);
      entry.injected = injecting;
    } finally {
      injecting = undefined;
    }
  }
}

/**
 * ClientRequest#_implicitHeader, which renders the head at the first write, end or flushHeaders: the propagation
 * headers the application set again after request() returned are replaced with the client span's again. superagent
 * (and so supertest) passes its headers in the options and then sets each on the request once more; following a
 * redirect, it sets those the previous hop sent — that hop's traceparent among them — so every hop's server span
 * hung off the first client span, and a traceparent it was given named the caller's span, not the client span.
 */
function makeClientImplicitHeader(original: (...args: any[]) => unknown) {
  return function _implicitHeader(this: any): unknown {
    const entry = clientEntries.get(this);
    if (entry !== undefined && entry.injected !== undefined && !entry.ended) {
      try {
        // Only a header set again is put back: one the application removed stays removed, as before the head went.
        const injected = entry.injected;
        for (let i = 0; i < injected.length; i += 2) {
          const current = this.getHeader(injected[i]);
          if (current !== undefined && current !== injected[i + 1]) this.setHeader(injected[i], injected[i + 1]);
        }
      } catch (err) {
        reportInstrumentationError('http', 'the client span', err);
      }
    }
    return original.apply(this, arguments as any);
  };
}

function makeRequest(original: (...args: any[]) => any, scheme: 'http' | 'https') {
  // Named parameters, not `arguments`, reach startClientSpan: the arguments object is then never materialised.
  return function request(this: unknown, input?: unknown, options?: unknown): any {
    if (!runtime.tracingEnabled) return original.apply(this, arguments as any);
    const parent = contextManager.active();
    if (isTracingSuppressed(parent)) return original.apply(this, arguments as any);
    const req = original.apply(this, arguments as any);
    try {
      startClientSpan(req, scheme, parent, input, options);
    } catch (err) {
      reportInstrumentationError('http', 'the client span', err);
    }
    return req;
  };
}

/** Node's get(): request() then end(), through the wrapped request so the context goes into the headers. */
function makeGet(exportsObject: any) {
  return function (original: (...args: any[]) => any) {
    return function get(this: unknown): any {
      if (!runtime.tracingEnabled) return original.apply(this, arguments as any);
      const req = exportsObject.request.apply(this, arguments as any);
      req.end();
      return req;
    };
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Patchers

/** The prototypes shared by http and https (IncomingMessage, ServerResponse, ClientRequest): wrapped once. */
function patchShared(http: any): void {
  wrapMethod(http.IncomingMessage?.prototype, 'emit', makeIncomingEmit);
  wrapMethod(http.ServerResponse?.prototype, 'emit', makeResponseEmit);
  wrapMethod(http.ServerResponse?.prototype, 'writeHead', makeWriteHead);
  wrapMethod(http.ClientRequest?.prototype, 'emit', makeClientRequestEmit);
  wrapMethod(http.ClientRequest?.prototype, '_implicitHeader', makeClientImplicitHeader);
}

function unpatchShared(http: any): void {
  unwrapMethod(http.IncomingMessage?.prototype, 'emit');
  unwrapMethod(http.ServerResponse?.prototype, 'emit');
  unwrapMethod(http.ServerResponse?.prototype, 'writeHead');
  unwrapMethod(http.ClientRequest?.prototype, 'emit');
  unwrapMethod(http.ClientRequest?.prototype, '_implicitHeader');
}

/**
 * Which of node:http and node:https are patched. Both patch the classes they share (IncomingMessage,
 * ServerResponse, ClientRequest, http's): those are unwrapped when the last of the two is unpatched, so that
 * unpatching either alone neither leaves them wrapped nor takes them from the other.
 */
const patchedSchemes = new Set<'http' | 'https'>();

function makePatcher(scheme: 'http' | 'https'): Patcher {
  return {
    patch(exportsObject: any, _info: ModuleInfo) {
      // https does not export the shared classes; they are the same objects as http's.
      patchShared(scheme === 'http' ? exportsObject : require('node:http'));
      patchedSchemes.add(scheme);
      wrapMethod(exportsObject.Server?.prototype, 'emit', (original) => makeServerEmit(original, scheme));
      wrapMethod(exportsObject, 'request', (original) => makeRequest(original, scheme));
      wrapMethod(exportsObject, 'get', makeGet(exportsObject));
    },
    unpatch(exportsObject: any) {
      unwrapMethod(exportsObject.Server?.prototype, 'emit');
      unwrapMethod(exportsObject, 'request');
      unwrapMethod(exportsObject, 'get');
      patchedSchemes.delete(scheme);
      if (patchedSchemes.size === 0) unpatchShared(scheme === 'http' ? exportsObject : require('node:http'));
    },
  };
}

export const httpPatcher = makePatcher('http');
export const httpsPatcher = makePatcher('https');

/** For tests: the method normalisation used for span names. */
export { normaliseMethod };

/** For tests: how many outgoing requests have a client entry (spans not yet ended). */
export function clientSpanCount(): number {
  return clientEntries.size;
}
