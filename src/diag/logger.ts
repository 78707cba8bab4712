/**
 * The agent's own diagnostic logger. It writes to stderr, every line prefixed `zerotel <level>:` so nobody
 * mistakes it for the application's output. The default level is `warn` (src/config: the specification's default,
 * sdk-environment-variables.md OTEL_LOG_LEVEL, is `info`, but at `info` the agent says its configuration in one
 * line at startup, which a healthy service should not print unasked); nothing is logged at `warn` while healthy.
 */

export const LogLevel = {
  NONE: 0,
  ERROR: 30,
  WARN: 50,
  INFO: 60,
  DEBUG: 70,
  VERBOSE: 80,
  ALL: 9999,
} as const;
export type LogLevel = (typeof LogLevel)[keyof typeof LogLevel];

export const LOG_LEVEL_NAMES: Record<string, LogLevel> = {
  none: LogLevel.NONE,
  error: LogLevel.ERROR,
  warn: LogLevel.WARN,
  info: LogLevel.INFO,
  debug: LogLevel.DEBUG,
  verbose: LogLevel.VERBOSE,
  all: LogLevel.ALL,
};

type Sink = (line: string) => void;

const MINUTE_MS = 60_000;

function describe(value: unknown): string {
  if (value instanceof Error) return value.stack || `${value.name}: ${value.message}`;
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function defaultSink(line: string): void {
  try {
    process.stderr.write(line);
  } catch {
    // stderr closed: nowhere to report, and the application must go on
  }
}

interface RateLimitState {
  lastAt: number;
  suppressed: number;
}

export class DiagLogger {
  level: LogLevel = LogLevel.INFO;
  private _sink: Sink = defaultSink;
  private readonly _once = new Set<string>();
  private readonly _limited = new Map<string, RateLimitState>();
  /** Time source for the rate limiter; tests replace it. */
  now: () => number = Date.now;

  setSink(sink: Sink | undefined): void {
    this._sink = sink ?? defaultSink;
  }

  private _write(levelName: string, message: string, extra: unknown[]): void {
    let line = `zerotel ${levelName}: ${message}`;
    for (let i = 0; i < extra.length; i++) line += ' ' + describe(extra[i]);
    this._sink(line + '\n');
  }

  error(message: string, ...extra: unknown[]): void {
    if (this.level >= LogLevel.ERROR) this._write('error', message, extra);
  }
  warn(message: string, ...extra: unknown[]): void {
    if (this.level >= LogLevel.WARN) this._write('warn', message, extra);
  }
  info(message: string, ...extra: unknown[]): void {
    if (this.level >= LogLevel.INFO) this._write('info', message, extra);
  }
  debug(message: string, ...extra: unknown[]): void {
    if (this.level >= LogLevel.DEBUG) this._write('debug', message, extra);
  }
  verbose(message: string, ...extra: unknown[]): void {
    if (this.level >= LogLevel.VERBOSE) this._write('verbose', message, extra);
  }

  /** Logs a warning the first time `key` is seen, and never again in this process. */
  warnOnce(key: string, message: string, ...extra: unknown[]): void {
    if (this._once.has(key)) return;
    this._once.add(key);
    this.warn(message, ...extra);
  }

  /** Logs an error the first time `key` is seen, and never again in this process. */
  errorOnce(key: string, message: string, ...extra: unknown[]): void {
    if (this._once.has(key)) return;
    this._once.add(key);
    this.error(message, ...extra);
  }

  /**
   * At most one warning per `kind` per minute. Occurrences in between are counted and the count is given the
   * next time one is written, so a collector outage produces a line a minute, not a line a batch. A message
   * given as a function is made only when it is written: callers on a hot path (a span dropped from a full
   * queue) pass one made once, so that the lines nobody reads are never built.
   */
  warnRateLimited(kind: string, message: string | (() => string), ...extra: unknown[]): void {
    if (this.level < LogLevel.WARN) return;
    const now = this.now();
    const state = this._limited.get(kind);
    if (state !== undefined && now - state.lastAt < MINUTE_MS) {
      state.suppressed++;
      return;
    }
    const suppressed = state === undefined ? 0 : state.suppressed;
    this._limited.set(kind, { lastAt: now, suppressed: 0 });
    const text = typeof message === 'function' ? message() : message;
    this.warn(suppressed > 0 ? `${text} (${suppressed} more like this in the last minute)` : text, ...extra);
  }

  /** Forgets once-keys and rate-limit state (tests). */
  reset(): void {
    this._once.clear();
    this._limited.clear();
  }
}

/** The process-wide logger. */
export const diag = new DiagLogger();
