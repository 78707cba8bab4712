/** What the exporter needs from a transport (HTTP or gRPC): send one encoded request, say how it went. */
import type { PartialSuccess } from './response-decoder';

export type SendOutcome =
  | { ok: true; partialSuccess: PartialSuccess | undefined }
  | {
      ok: false;
      /** Whether the specification allows sending the same request again. */
      retryable: boolean;
      /** The server's requested wait (Retry-After, RetryInfo), when it gave one. */
      retryAfterMillis: number | undefined;
      /** A short, stable name for the kind of failure: the rate-limiting key of its warning. */
      kind: string;
      message: string;
    };

export interface SendOptions {
  /** The attempt is abandoned (as a retryable timeout) after this long. */
  timeoutMillis: number;
  /**
   * Whether the attempt may keep the process alive: false for ordinary exports (their sockets and timers are
   * unref'd), true for the final export at exit, which the event loop must wait for.
   */
  holdProcess: boolean;
  /**
   * Called once the transport will read the body no more (written out, or the attempt abandoned): the body may
   * live in a pooled buffer that is reused after that.
   */
  onBodyReleased?: () => void;
}

/** An attempt in progress. */
export interface Attempt {
  /** Abandons it: `done` will not be called. */
  abort(): void;
  /** Makes it keep the process alive from now on (the process is exiting and waits for it). */
  hold(): void;
}

export const SETTLED_ATTEMPT: Attempt = Object.freeze({ abort() {}, hold() {} });

export interface Transport {
  /** Turns an encoded request into what is sent (gzip for HTTP when configured). Calls `done` once, never throws. */
  prepare(body: Buffer, done: (prepared: Buffer | Error) => void): void;
  /**
   * Sends one request. Calls `done` exactly once unless the attempt is aborted first, and
   * `options.onBodyReleased` exactly once in every case.
   */
  send(body: Buffer, options: SendOptions, done: (outcome: SendOutcome) => void): Attempt;
  /** Closes connections. Later sends fail. */
  shutdown(): void;
  /** Gets ready for the first send (see ExitCapableExporter.warmUp). Never throws. */
  warmUp?(): void;
}

export function failure(kind: string, message: string, retryable: boolean, retryAfterMillis?: number): SendOutcome {
  return { ok: false, retryable, retryAfterMillis, kind, message };
}
