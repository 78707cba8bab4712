/** Real OTLP receivers for the tests: a node:http server and a @grpc/grpc-js server, both on the loopback. */
import http from 'node:http';
import net from 'node:net';
import zlib from 'node:zlib';
import * as grpc from '@grpc/grpc-js';

export interface ReceivedHttpRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  /** The body as sent (compressed when the request was gzipped). */
  raw: Buffer;
  /** The body after undoing Content-Encoding. */
  body: Buffer;
  /** Which connection it came on (1, 2, …), to see connection reuse. */
  connection: number;
  at: number;
}

export interface HttpAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Milliseconds to wait before answering. */
  delay?: number;
}

/** What to do with request number `n` (0-based): an answer, or 'hang' to never answer. */
export type HttpBehaviour = (n: number, req: ReceivedHttpRequest) => HttpAnswer | 'hang';

export class HttpReceiver {
  readonly requests: ReceivedHttpRequest[] = [];
  behaviour: HttpBehaviour = () => ({ status: 200 });
  private readonly _server: http.Server;
  private _connections = 0;
  private readonly _timers = new Set<NodeJS.Timeout>();

  constructor() {
    this._server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        const body = req.headers['content-encoding'] === 'gzip' ? zlib.gunzipSync(raw) : raw;
        const record: ReceivedHttpRequest = {
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          raw,
          body,
          connection: (req.socket as any).__id,
          at: Date.now(),
        };
        const n = this.requests.length;
        this.requests.push(record);
        const answer = this.behaviour(n, record);
        if (answer === 'hang') return;
        const send = () => {
          res.writeHead(answer.status, answer.headers ?? {});
          res.end(answer.body ?? '');
        };
        if (answer.delay) {
          const t = setTimeout(send, answer.delay);
          this._timers.add(t);
        } else send();
      });
    });
    this._server.on('connection', (socket) => {
      (socket as any).__id = ++this._connections;
    });
    this._server.keepAliveTimeout = 30_000;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this._server.listen(0, '127.0.0.1', resolve));
  }

  get port(): number {
    return (this._server.address() as net.AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/v1/traces`;
  }

  async close(): Promise<void> {
    for (const t of this._timers) clearTimeout(t);
    this._server.closeAllConnections();
    await new Promise<void>((resolve) => this._server.close(() => resolve()));
  }
}

/** A port on the loopback where nothing listens. */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export const EXPORT_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

export interface ReceivedGrpcCall {
  body: Buffer;
  metadata: grpc.Metadata;
  at: number;
}

export type GrpcAnswer =
  | { ok: Buffer; delay?: number }
  | { code: number; details: string; statusDetails?: Buffer; delay?: number }
  | 'hang';

export class GrpcReceiver {
  readonly calls: ReceivedGrpcCall[] = [];
  behaviour: (n: number, call: ReceivedGrpcCall) => GrpcAnswer = () => ({ ok: Buffer.alloc(0) });
  private readonly _server = new grpc.Server();
  private _port = 0;
  private readonly _hanging: Array<() => void> = [];

  constructor() {
    const identity = (b: Buffer) => b;
    this._server.addService(
      {
        Export: {
          path: EXPORT_PATH,
          requestStream: false,
          responseStream: false,
          requestSerialize: identity,
          requestDeserialize: identity,
          responseSerialize: identity,
          responseDeserialize: identity,
        },
      } as grpc.ServiceDefinition,
      {
        Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
          const record: ReceivedGrpcCall = { body: call.request, metadata: call.metadata, at: Date.now() };
          const n = this.calls.length;
          this.calls.push(record);
          const answer = this.behaviour(n, record);
          if (answer === 'hang') {
            this._hanging.push(() => callback({ code: grpc.status.UNAVAILABLE, details: 'closing' }));
            return;
          }
          if ('ok' in answer) {
            if (answer.delay) setTimeout(() => callback(null, answer.ok), answer.delay);
            else callback(null, answer.ok);
            return;
          }
          const metadata = new grpc.Metadata();
          if (answer.statusDetails) metadata.set('grpc-status-details-bin', answer.statusDetails);
          callback({ code: answer.code, details: answer.details, metadata });
        },
      },
    );
  }

  async start(): Promise<void> {
    this._port = await new Promise<number>((resolve, reject) =>
      this._server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
    );
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this._port}`;
  }

  async close(): Promise<void> {
    for (const finish of this._hanging) finish();
    this._server.forceShutdown();
  }
}
