/**
 * The agent's configuration: every OTEL_* variable zerotel reads, validated once at startup.
 * This module is the only reader of process.env. A bad value never throws: it produces one warning naming the
 * variable, the value and the fallback, and the agent runs on the fallback.
 *
 * Defaults follow the OpenTelemetry environment-variable specification
 * (specification/configuration/sdk-environment-variables.md) and the OTLP exporter specification
 * (specification/protocol/exporter.md).
 */
import { LOG_LEVEL_NAMES, LogLevel } from '../diag/logger';
import {
  type Env,
  Warnings,
  keepValidEntries,
  parseBoolean,
  parseEnum,
  parseInteger,
  parseKeyValueList,
  parseList,
  parseNameList,
  parseNumber,
  raw,
} from './parsers';

export type { Env } from './parsers';

export const KNOWN_EXPORTERS = ['otlp', 'console', 'file'] as const;
export const KNOWN_PROPAGATORS = ['tracecontext', 'baggage', 'b3', 'b3multi'] as const;
export const KNOWN_SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
export type SamplerName = (typeof KNOWN_SAMPLERS)[number];
export const KNOWN_PROTOCOLS = ['http/protobuf', 'http/json', 'grpc'] as const;
export type OtlpProtocol = (typeof KNOWN_PROTOCOLS)[number];
export const KNOWN_RESOURCE_DETECTORS = ['env', 'host', 'os', 'process', 'package'] as const;
export const REDIS_QUERY_TEXT_MODES = ['sanitized', 'full', 'none'] as const;
export type RedisQueryTextMode = (typeof REDIS_QUERY_TEXT_MODES)[number];
/** OTEL_INSTRUMENTATION_PG_POOL_CONNECT_SPANS: when a pool's checkout gets a `pg-pool.connect` span. */
export const PG_POOL_CONNECT_SPAN_MODES = ['waiting', 'always', 'never'] as const;
export type PgPoolConnectSpanMode = (typeof PG_POOL_CONNECT_SPAN_MODES)[number];

export interface SpanLimits {
  attributeCountLimit: number;
  attributeValueLengthLimit: number;
  eventCountLimit: number;
  linkCountLimit: number;
  attributePerEventCountLimit: number;
  attributePerLinkCountLimit: number;
}

export interface BatchConfig {
  scheduleDelayMillis: number;
  maxQueueSize: number;
  maxExportBatchSize: number;
  exportTimeoutMillis: number;
}

export interface OtlpConfig {
  protocol: OtlpProtocol;
  /** The URL requests go to: for HTTP the full path (…/v1/traces), for gRPC the server's origin. */
  endpoint: string;
  headers: Record<string, string>;
  timeoutMillis: number;
  compression: 'gzip' | 'none';
  certificateFile?: string;
  clientKeyFile?: string;
  clientCertificateFile?: string;
  /** gRPC only: plain-text connection (http:// endpoints are always insecure, https:// always TLS). */
  insecure: boolean;
}

export interface HttpInstrumentationConfig {
  serverRequestHeaders: string[];
  serverResponseHeaders: string[];
  clientRequestHeaders: string[];
  clientResponseHeaders: string[];
  /** Incoming paths that get no span: exact paths, or prefixes written with a trailing `*`. */
  serverExcludedPaths: string[];
}

export interface AgentConfig {
  sdkDisabled: boolean;
  logLevel: LogLevel;
  logLevelName: string;
  serviceName: string | undefined;
  resourceAttributes: Array<[string, string]>;
  resourceDetectors: string[];
  resourceProcessCommandArgs: boolean;
  tracesExporters: string[];
  sampler: SamplerName;
  samplerRatio: number;
  propagators: string[];
  batch: BatchConfig;
  spanLimits: SpanLimits;
  otlp: OtlpConfig;
  enabledInstrumentations: string[] | undefined;
  disabledInstrumentations: string[];
  http: HttpInstrumentationConfig;
  expressMiddlewareSpans: boolean;
  dbStatementSanitizer: boolean;
  pgRequireParentSpan: boolean;
  pgSqlcommenter: boolean;
  pgPoolConnectSpans: PgPoolConnectSpanMode;
  redisQueryText: RedisQueryTextMode;
  /** Longest wait for the final export when a program ends (beforeExit / exit), milliseconds. */
  exitFlushTimeoutMillis: number;
  /** Longest wait for the flush on SIGTERM/SIGINT before the process ends, milliseconds. */
  shutdownTimeoutMillis: number;
  fileExporterPath: string | undefined;
  /** Force the ES module loader hook on or off; undefined lets the agent decide from the entry point. */
  esmHook: boolean | undefined;
  /** NODE_OPTIONS as given (to see whether the process was started with --import). */
  nodeOptions: string | undefined;
  /** Keep a V8 code cache of the agent's runtime bundle beside it (src/agent/code-cache.ts). */
  codeCache: boolean;
}

export interface ConfigResult {
  config: AgentConfig;
  warnings: string[];
}

const DEFAULT_HTTP_ENDPOINT = 'http://localhost:4318';
const DEFAULT_GRPC_ENDPOINT = 'http://localhost:4317';
const MAX_MILLIS = 2 ** 31 - 1; // setTimeout's limit
/** sdk-environment-variables.md, "Integer": values up to 2³¹ − 1 SHOULD be supported. */
const MAX_INTEGER = 2 ** 31 - 1;

/**
 * sdk-environment-variables.md, "Timeout": a non-negative number of milliseconds, zero meaning no limit (which
 * the specification lets an implementation read as the longest 32-bit duration: setTimeout's own limit).
 */
function timeoutValue(n: number): number {
  return n === 0 ? MAX_MILLIS : n;
}

function lowerList(env: Env, name: string): string[] {
  return (parseList(env, name) ?? []).map((s) => s.toLowerCase());
}

function readSpanLimits(env: Env, w: Warnings): SpanLimits {
  const nonNegative = { min: 0 };
  const generalCount = parseInteger(env, 'OTEL_ATTRIBUTE_COUNT_LIMIT', 128, nonNegative, w);
  const generalLength = parseInteger(env, 'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT', Infinity, nonNegative, w);
  return {
    attributeCountLimit: parseInteger(env, 'OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT', generalCount, nonNegative, w),
    attributeValueLengthLimit: parseInteger(env, 'OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT', generalLength, nonNegative, w),
    eventCountLimit: parseInteger(env, 'OTEL_SPAN_EVENT_COUNT_LIMIT', 128, nonNegative, w),
    linkCountLimit: parseInteger(env, 'OTEL_SPAN_LINK_COUNT_LIMIT', 128, nonNegative, w),
    attributePerEventCountLimit: parseInteger(env, 'OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT', 128, nonNegative, w),
    attributePerLinkCountLimit: parseInteger(env, 'OTEL_LINK_ATTRIBUTE_COUNT_LIMIT', 128, nonNegative, w),
  };
}

function readBatch(env: Env, w: Warnings): BatchConfig {
  // The delay is a Duration (zero allowed: export as soon as spans end), the timeout a Timeout (zero: none);
  // a queue or a batch of zero spans has no meaning, so those fall back to the default.
  const millis = { min: 0, max: MAX_MILLIS };
  const size = { min: 1, max: MAX_INTEGER };
  const batch: BatchConfig = {
    scheduleDelayMillis: parseInteger(env, 'OTEL_BSP_SCHEDULE_DELAY', 5000, millis, w),
    maxQueueSize: parseInteger(env, 'OTEL_BSP_MAX_QUEUE_SIZE', 2048, size, w),
    maxExportBatchSize: parseInteger(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 512, size, w),
    exportTimeoutMillis: timeoutValue(parseInteger(env, 'OTEL_BSP_EXPORT_TIMEOUT', 30000, millis, w)),
  };
  if (batch.maxExportBatchSize > batch.maxQueueSize) {
    // sdk.md, Batching processor: maxExportBatchSize "must be less than or equal to maxQueueSize".
    w.note(
      `OTEL_BSP_MAX_EXPORT_BATCH_SIZE (${batch.maxExportBatchSize}) is larger than OTEL_BSP_MAX_QUEUE_SIZE ` +
        `(${batch.maxQueueSize}); using ${batch.maxQueueSize}`,
    );
    batch.maxExportBatchSize = batch.maxQueueSize;
  }
  return batch;
}

/** The TRACES-specific variable wins over the general one (exporter.md, "Configuration Options"). */
function pick(env: Env, suffix: string): { name: string; value: string | undefined } {
  const specific = `OTEL_EXPORTER_OTLP_TRACES_${suffix}`;
  const v = raw(env, specific);
  if (v !== undefined) return { name: specific, value: v };
  const general = `OTEL_EXPORTER_OTLP_${suffix}`;
  return { name: general, value: raw(env, general) };
}

/**
 * As `pick`, for a value that must parse: a TRACES-specific value that does not is ignored with a warning, as
 * if it were not set (sdk-environment-variables.md, "Numeric" and "Enum"), so the general variable still counts.
 * `parse` returns undefined for an invalid value, with the reason in `why`.
 */
function pickParsed<T>(
  env: Env,
  suffix: string,
  fallback: T,
  parse: (value: string) => T | undefined,
  why: string,
  w: Warnings,
): T {
  const specific = `OTEL_EXPORTER_OTLP_TRACES_${suffix}`;
  const general = `OTEL_EXPORTER_OTLP_${suffix}`;
  for (const name of [specific, general]) {
    const v = raw(env, name);
    if (v === undefined) continue;
    const parsed = parse(v);
    if (parsed !== undefined) return parsed;
    if (name === specific) w.note(`${name}=${JSON.stringify(v)} ${why}; using ${general} or the default instead`);
    else w.bad(name, v, why, fallback);
  }
  return fallback;
}

function parseProtocol(v: string): OtlpProtocol | undefined {
  const lower = v.toLowerCase();
  return (KNOWN_PROTOCOLS as readonly string[]).includes(lower) ? (lower as OtlpProtocol) : undefined;
}

function parseCompression(v: string): 'gzip' | 'none' | undefined {
  const lower = v.toLowerCase();
  return lower === 'gzip' || lower === 'none' ? lower : undefined;
}

function parseTimeoutText(v: string): number | undefined {
  if (!/^\+?\d+$/.test(v)) return undefined;
  const n = Number(v);
  return n <= MAX_MILLIS ? timeoutValue(n) : undefined;
}

function appendTracesPath(base: URL): string {
  // exporter.md, "Endpoint URLs for OTLP/HTTP": the signal path is appended to the base URL's path.
  const path = base.pathname.endsWith('/') ? base.pathname + 'v1/traces' : base.pathname + '/v1/traces';
  return `${base.protocol}//${base.host}${path}${base.search}`;
}

function readEndpoint(env: Env, protocol: OtlpProtocol, insecure: boolean, w: Warnings): string {
  const isGrpc = protocol === 'grpc';
  const specificName = 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT';
  const generalName = 'OTEL_EXPORTER_OTLP_ENDPOINT';
  for (const name of [specificName, generalName]) {
    const v = raw(env, name);
    if (v === undefined) continue;
    let text = v;
    // A gRPC endpoint may be written host:port, or as a gRPC name in the dns scheme (`dns:///host:port`, the
    // authority of the DNS server ignored: the system resolver answers); INSECURE then chooses the scheme.
    if (isGrpc) {
      const dns = /^dns:(?:\/\/[^/]*\/)?(.+)$/i.exec(text);
      if (dns !== null) text = dns[1];
      if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) text = (insecure ? 'http://' : 'https://') + text;
    }
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      w.bad(name, v, 'is not a URL', 'the next setting or the default');
      continue;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      w.bad(name, v, 'is not an http:// or https:// URL', 'the next setting or the default');
      continue;
    }
    if (isGrpc) return `${url.protocol}//${url.host}`;
    // The signal-specific endpoint is used exactly as given; the general one gets /v1/traces.
    return name === specificName ? url.href : appendTracesPath(url);
  }
  if (isGrpc) return DEFAULT_GRPC_ENDPOINT;
  return appendTracesPath(new URL(DEFAULT_HTTP_ENDPOINT));
}

function readOtlp(env: Env, w: Warnings): OtlpConfig {
  const protocol = pickParsed(env, 'PROTOCOL', 'http/protobuf' as OtlpProtocol, parseProtocol, `is not one of ${KNOWN_PROTOCOLS.join(', ')}`, w);

  const insecureSetting = pick(env, 'INSECURE');
  let insecure = false;
  if (insecureSetting.value !== undefined) {
    insecure = parseBoolean({ [insecureSetting.name]: insecureSetting.value }, insecureSetting.name, false, w);
  }

  // Headers: general first, then the TRACES ones, which win key by key.
  const headers: Record<string, string> = {};
  for (const name of ['OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_EXPORTER_OTLP_TRACES_HEADERS']) {
    for (const [k, v] of parseKeyValueList(env, name, w)) {
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k)) {
        w.note(`${name}: skipping header ${JSON.stringify(k)}, which is not a valid header name`);
        continue;
      }
      // RFC 9110 field-value: no control characters (a line break, NUL, DEL), which would make every export fail
      // as it is sent.
      if (/[\x00-\x08\x0a-\x1f\x7f]/.test(v)) {
        w.note(`${name}: skipping header ${JSON.stringify(k)}, whose value has a character not allowed in an HTTP header`);
        continue;
      }
      // The value was percent-encoded UTF-8 (W3C Baggage's value rules). Node.js writes each character of a header
      // string as one byte, so a value with characters beyond ASCII is handed over as the string of its UTF-8
      // bytes: the collector gets exactly the bytes that were encoded (é as C3 A9, not E9; € at all).
      headers[k.toLowerCase()] = /[^\x00-\x7f]/.test(v) ? Buffer.from(v, 'utf8').toString('latin1') : v;
    }
  }

  const timeoutMillis = pickParsed(env, 'TIMEOUT', 10000, parseTimeoutText, `is not a number of milliseconds from 0 (no limit) to ${MAX_MILLIS}`, w);
  const compression = pickParsed(env, 'COMPRESSION', 'none' as 'gzip' | 'none', parseCompression, 'is not one of gzip, none', w);

  return {
    protocol,
    endpoint: readEndpoint(env, protocol, insecure, w),
    headers,
    timeoutMillis,
    compression,
    certificateFile: pick(env, 'CERTIFICATE').value,
    clientKeyFile: pick(env, 'CLIENT_KEY').value,
    clientCertificateFile: pick(env, 'CLIENT_CERTIFICATE').value,
    insecure,
  };
}

function readSampler(env: Env, w: Warnings): { sampler: SamplerName; ratio: number } {
  const sampler = parseEnum(env, 'OTEL_TRACES_SAMPLER', KNOWN_SAMPLERS, 'parentbased_always_on', w);
  let ratio = 1;
  if (sampler === 'traceidratio' || sampler === 'parentbased_traceidratio') {
    const v = raw(env, 'OTEL_TRACES_SAMPLER_ARG');
    if (v === undefined) w.note(`OTEL_TRACES_SAMPLER=${sampler} without OTEL_TRACES_SAMPLER_ARG; using ratio 1.0`);
    else ratio = parseNumber(env, 'OTEL_TRACES_SAMPLER_ARG', 1, 0, 1, w);
  }
  return { sampler, ratio };
}

/**
 * OTEL_NODE_ENABLED_INSTRUMENTATIONS. A value of separators only (`,`) names nothing: read as an empty list it
 * would turn every instrumentation off, so it counts as unset, with a warning. Unknown names are reported where
 * the names are known (src/instrumentation/registry.ts, selectInstrumentations).
 */
function readEnabledInstrumentations(env: Env, w: Warnings): string[] | undefined {
  const name = 'OTEL_NODE_ENABLED_INSTRUMENTATIONS';
  const names = parseList(env, name)?.map((s) => s.toLowerCase());
  if (names === undefined || names.length > 0) return names;
  w.note(`${name}=${JSON.stringify(raw(env, name))} names nothing; using all instrumentations instead`);
  return undefined;
}

/**
 * A list of header names to record. A name that is not an RFC 9110 token (`bad header`, `x:y`) names no header a
 * request can carry, and as an attribute key (`http.request.header.<name>`) it would be malformed: it is
 * dropped, with one warning for the list, and the other names are recorded.
 */
function readHeaderNames(env: Env, name: string, w: Warnings): string[] {
  return keepValidEntries(
    env,
    name,
    lowerList(env, name),
    (h) => /^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(h),
    (dropped, n) => `lists ${n === 1 ? 'a name that is not an HTTP header name' : 'names that are not HTTP header names'} (${dropped})`,
    w,
  );
}

/**
 * OTEL_INSTRUMENTATION_HTTP_SERVER_EXCLUDED_PATHS: exact paths, or prefixes written with a trailing `*`, matched
 * against the request's path without its query (instrumentations/http/patch.ts, isExcluded). An entry that can
 * never match is a typo that would leave a health check traced with no sign why, so it is dropped with a warning:
 * one without the leading `/` (`health`), with a `*` anywhere but at the end (a glob in mid-path matches only
 * itself), or with a query or fragment (`/health?full=1`). The other entries apply.
 */
function readExcludedPaths(env: Env, w: Warnings): string[] {
  const name = 'OTEL_INSTRUMENTATION_HTTP_SERVER_EXCLUDED_PATHS';
  return keepValidEntries(
    env,
    name,
    parseList(env, name) ?? [],
    (p) => p.startsWith('/') && !/[?#]/.test(p) && !p.slice(0, -1).includes('*'),
    (dropped) => `lists ${dropped}, which can match no request path (a path starts with /, and * may only end a prefix)`,
    w,
  );
}

export function readConfig(env: Env = process.env): ConfigResult {
  const w = new Warnings();
  // warn, not the specification's info: at info the agent says its configuration in one line at startup, which a
  // healthy service should not print unasked (src/diag/logger.ts).
  const logLevelName = parseEnum(env, 'OTEL_LOG_LEVEL', Object.keys(LOG_LEVEL_NAMES), 'warn', w);
  const { sampler, ratio } = readSampler(env, w);
  const exporters = parseNameList(env, 'OTEL_TRACES_EXPORTER', KNOWN_EXPORTERS, ['otlp'], w);
  // A value other than true or false keeps the sanitizer on: a typo must not start recording literals.
  const dbStatementSanitizer = parseBoolean(env, 'OTEL_INSTRUMENTATION_COMMON_DB_STATEMENT_SANITIZER_ENABLED', true, w, true);
  const config: AgentConfig = {
    sdkDisabled: parseBoolean(env, 'OTEL_SDK_DISABLED', false, w),
    logLevel: LOG_LEVEL_NAMES[logLevelName],
    logLevelName,
    serviceName: raw(env, 'OTEL_SERVICE_NAME'),
    resourceAttributes: readResourceAttributes(env, w),
    resourceDetectors: readDetectors(env, w),
    resourceProcessCommandArgs: parseBoolean(env, 'OTEL_NODE_RESOURCE_PROCESS_COMMAND_ARGS', false, w),
    tracesExporters: exporters,
    sampler,
    samplerRatio: ratio,
    propagators: parseNameList(env, 'OTEL_PROPAGATORS', KNOWN_PROPAGATORS, ['tracecontext', 'baggage'], w),
    batch: readBatch(env, w),
    spanLimits: readSpanLimits(env, w),
    otlp: readOtlp(env, w),
    enabledInstrumentations: readEnabledInstrumentations(env, w),
    disabledInstrumentations: lowerList(env, 'OTEL_NODE_DISABLED_INSTRUMENTATIONS'),
    http: {
      serverRequestHeaders: readHeaderNames(env, 'OTEL_INSTRUMENTATION_HTTP_SERVER_CAPTURE_REQUEST_HEADERS', w),
      serverResponseHeaders: readHeaderNames(env, 'OTEL_INSTRUMENTATION_HTTP_SERVER_CAPTURE_RESPONSE_HEADERS', w),
      clientRequestHeaders: readHeaderNames(env, 'OTEL_INSTRUMENTATION_HTTP_CLIENT_CAPTURE_REQUEST_HEADERS', w),
      clientResponseHeaders: readHeaderNames(env, 'OTEL_INSTRUMENTATION_HTTP_CLIENT_CAPTURE_RESPONSE_HEADERS', w),
      serverExcludedPaths: readExcludedPaths(env, w),
    },
    expressMiddlewareSpans: parseBoolean(env, 'OTEL_INSTRUMENTATION_EXPRESS_MIDDLEWARE_SPANS', false, w),
    dbStatementSanitizer,
    pgRequireParentSpan: parseBoolean(env, 'OTEL_INSTRUMENTATION_PG_REQUIRE_PARENT_SPAN', false, w),
    pgSqlcommenter: parseBoolean(env, 'OTEL_INSTRUMENTATION_PG_SQLCOMMENTER_ENABLED', false, w),
    pgPoolConnectSpans: parseEnum(env, 'OTEL_INSTRUMENTATION_PG_POOL_CONNECT_SPANS', PG_POOL_CONNECT_SPAN_MODES, 'waiting', w),
    // The common switch covers every database, Redis included, as in the other agents that have it; the Redis
    // variable, when set, says more precisely what to record and wins.
    redisQueryText: parseEnum(env, 'OTEL_INSTRUMENTATION_REDIS_QUERY_TEXT', REDIS_QUERY_TEXT_MODES, dbStatementSanitizer ? 'sanitized' : 'full', w),
    exitFlushTimeoutMillis: parseInteger(env, 'OTEL_NODE_EXIT_FLUSH_TIMEOUT', 1000, { min: 0, max: 60000 }, w),
    shutdownTimeoutMillis: parseInteger(env, 'OTEL_NODE_SHUTDOWN_TIMEOUT', 5000, { min: 0, max: 120000 }, w),
    fileExporterPath: raw(env, 'OTEL_EXPORTER_FILE_PATH'),
    esmHook: raw(env, 'OTEL_NODE_ESM_HOOK') === undefined ? undefined : parseBoolean(env, 'OTEL_NODE_ESM_HOOK', false, w),
    nodeOptions: raw(env, 'NODE_OPTIONS'),
    codeCache: parseBoolean(env, 'OTEL_NODE_CODE_CACHE', true, w),
  };
  return { config, warnings: w.messages };
}

function readResourceAttributes(env: Env, w: Warnings): Array<[string, string]> {
  const pairs = parseKeyValueList(env, 'OTEL_RESOURCE_ATTRIBUTES', w, true);
  // An empty service.name names nothing: the next source (the package.json, then the default) names the service.
  return pairs.filter(([k, v]) => {
    if (k !== 'service.name' || v !== '') return true;
    w.note('OTEL_RESOURCE_ATTRIBUTES: service.name is empty; ignored');
    return false;
  });
}

function readDetectors(env: Env, w: Warnings): string[] {
  const all = [...KNOWN_RESOURCE_DETECTORS];
  // `all` is one more name of the list; unknown names, `none` and the default are parseNameList's.
  const named = parseNameList(env, 'OTEL_NODE_RESOURCE_DETECTORS', [...all, 'all'], all, w);
  return named.includes('all') ? all : named;
}

/** The environment, for the one place that must hand it on whole (the CLI starting child processes). */
export function processEnvironment(): NodeJS.ProcessEnv {
  return process.env;
}
