/**
 * Collectors that misbehave, for real: each is a socket server on loopback that fails the way production
 * collectors do. Used by the outage and soak tests (and by bench/outage.js through its own copy of the same
 * behaviours).
 */
import * as http from 'node:http';
import * as net from 'node:net';
import { flattenRequest, type ReceivedSpan } from '../helpers/receiver';

export type CollectorFault = 'refused' | 'hanging' | '500' | '503' | '429' | 'slow';

export interface Collector {
  /** The OTLP/HTTP traces URL to export to. */
  url: string;
  /** Requests (or, for `hanging`, connections) it received. */
  received(): number;
  close(): Promise<void>;
}

/** A loopback port nothing listens on (it was free a moment ago): connections to it are refused. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function listen(server: net.Server, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
  });
}

/** Starts a collector with the given fault. `slow` answers 200 after `slowMillis` (default 2 s). */
export async function startCollector(fault: CollectorFault, slowMillis = 2000): Promise<Collector> {
  if (fault === 'refused') {
    const port = await freePort();
    return { url: `http://127.0.0.1:${port}/v1/traces`, received: () => 0, close: async () => undefined };
  }
  let count = 0;
  if (fault === 'hanging') {
    // Accepts the connection, reads what is sent, never answers.
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      count++;
      sockets.add(socket);
      socket.on('data', () => undefined);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    });
    const port = await listen(server);
    return {
      url: `http://127.0.0.1:${port}/v1/traces`,
      received: () => count,
      close: () => {
        for (const s of sockets) s.destroy();
        return new Promise((resolve) => server.close(() => resolve()));
      },
    };
  }
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      count++;
      const answer = () => {
        const status = fault === 'slow' ? 200 : Number(fault);
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(status === 200 ? '{}' : JSON.stringify({ code: 14, message: `collector says ${status}` }));
      };
      if (fault !== 'slow') return answer();
      const timer = setTimeout(() => {
        timers.delete(timer);
        answer();
      }, slowMillis);
      timers.add(timer);
    });
  });
  server.keepAliveTimeout = 60_000;
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    received: () => count,
    close: () => {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** An OTLP/JSON receiver on a port chosen by the caller (the collector that comes back on the same port). */
export class ReceiverAt {
  readonly spans: ReceivedSpan[] = [];
  private readonly _server: http.Server;

  private constructor() {
    this._server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        try {
          for (const s of flattenRequest(JSON.parse(Buffer.concat(chunks).toString('utf8')))) this.spans.push(s);
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{}');
        } catch (err) {
          res.writeHead(400);
          res.end(String(err));
        }
      });
    });
  }

  static async start(port: number): Promise<ReceiverAt> {
    const r = new ReceiverAt();
    await listen(r._server, port);
    return r;
  }

  async waitFor(predicate: (spans: ReceivedSpan[]) => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.spans)) {
      if (Date.now() > deadline) throw new Error(`timed out; received ${this.spans.length} span(s)`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  close(): Promise<void> {
    this._server.closeAllConnections();
    return new Promise((resolve) => this._server.close(() => resolve()));
  }
}
