/**
 * When and how long to wait before sending a failed export again (opentelemetry-proto docs/specification.md:
 * "Failures" for OTLP/gRPC, "Retryable Response Codes", "OTLP/HTTP Throttling" and "OTLP/HTTP Connection").
 *
 * - Retried: HTTP 429, 502, 503, 504; network errors and timeouts; gRPC CANCELLED, DEADLINE_EXCEEDED, ABORTED,
 *   OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS, and RESOURCE_EXHAUSTED only when the server sent RetryInfo.
 * - Never retried: every other status, 400 and 413 in particular, and partial successes.
 * - The wait: the server's Retry-After / RetryInfo.retry_delay when given, else exponential backoff with jitter
 *   (1 s, ×1.5, capped at 5 s, ±20 %), at most 5 retries, and never past the export's deadline.
 */

export interface RetryPolicy {
  /** Retries after the first attempt. */
  maxRetries: number;
  initialBackoffMillis: number;
  backoffMultiplier: number;
  maxBackoffMillis: number;
  /** Each wait is multiplied by a random factor in [1 - jitter, 1 + jitter]. */
  jitter: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  maxRetries: 5,
  initialBackoffMillis: 1000,
  backoffMultiplier: 1.5,
  maxBackoffMillis: 5000,
  jitter: 0.2,
});

/** The wait before retry number `retry` (0 for the first retry). `random` returns a number in [0, 1). */
export function backoffMillis(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  const base = Math.min(policy.initialBackoffMillis * Math.pow(policy.backoffMultiplier, retry), policy.maxBackoffMillis);
  const factor = 1 - policy.jitter + 2 * policy.jitter * random();
  return Math.max(0, Math.round(base * factor));
}

/**
 * `Retry-After` (RFC 9110 §10.2.3): a number of seconds, or an HTTP date. Returns milliseconds from `now`, or
 * undefined when the header is absent or unreadable (the backoff applies then).
 */
export function parseRetryAfter(value: string | string[] | undefined, now: number = Date.now()): number | undefined {
  if (Array.isArray(value)) value = value[0];
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // An HTTP date names its day and month ("Wed, 21 Oct 2015 07:28:00 GMT"); Date.parse alone would also take
  // "-5" or "1.5" for dates.
  if (!/[a-z]{3}/i.test(text)) return undefined;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** HTTP statuses the specification lists as retryable ("Retryable Response Codes"). */
export function isRetryableHttpStatus(status: number): boolean {
  return status === 429 || status === 502 || status === 503 || status === 504;
}

/** gRPC status codes (https://grpc.github.io/grpc/core/md_doc_statuscodes.html). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

const GRPC_STATUS_NAMES: Record<number, string> = {};
for (const [name, code] of Object.entries(GrpcStatus)) GRPC_STATUS_NAMES[code] = name;

export function grpcStatusName(code: number): string {
  return GRPC_STATUS_NAMES[code] ?? `status ${code}`;
}

/** The specification's table of retryable gRPC codes; RESOURCE_EXHAUSTED only with RetryInfo from the server. */
export function isRetryableGrpcStatus(code: number, hasRetryInfo: boolean): boolean {
  switch (code) {
    case GrpcStatus.CANCELLED:
    case GrpcStatus.DEADLINE_EXCEEDED:
    case GrpcStatus.ABORTED:
    case GrpcStatus.OUT_OF_RANGE:
    case GrpcStatus.UNAVAILABLE:
    case GrpcStatus.DATA_LOSS:
      return true;
    case GrpcStatus.RESOURCE_EXHAUSTED:
      return hasRetryInfo;
    default:
      return false;
  }
}

/** Socket and DNS errors worth another try: the collector may be restarting, or the network recovering. */
const RETRYABLE_NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'UND_ERR_SOCKET',
]);

export function isRetryableNetworkError(err: unknown): boolean {
  if (err === null || typeof err !== 'object') return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && RETRYABLE_NETWORK_CODES.has(code)) return true;
  // "socket hang up": the server closed the connection without answering ("All Other Responses": retry).
  return (err as { message?: unknown }).message === 'socket hang up';
}
