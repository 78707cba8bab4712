import { describe, expect, it } from 'vitest';
import { readConfig } from '../../src/config';
import { diag, LogLevel } from '../../src/diag/logger';
import { ALL_INSTRUMENTATIONS, selectInstrumentations } from '../../src/instrumentation/registry';

const read = (env: Record<string, string>) => readConfig(env);
type Config = ReturnType<typeof read>['config'];

/**
 * readConfig, then the agent's choice of instrumentations from it: the names in the two instrumentation lists
 * are checked there (where the instrumentations are known), and reported through diag, collected here as the
 * doctor collects them.
 */
function readAndSelect(env: Record<string, string>): { config: Config; warnings: string[]; selected: string[] } {
  const { config, warnings } = read(env);
  const captured: string[] = [];
  const level = diag.level;
  diag.level = LogLevel.WARN;
  diag.setSink((line) => captured.push(line.replace(/^zerotel warn: /, '').trimEnd()));
  try {
    const selected = selectInstrumentations(config).map((d) => d.name);
    return { config, warnings: [...warnings, ...captured], selected };
  } finally {
    diag.setSink(undefined);
    diag.level = level;
  }
}

const ALL = ALL_INSTRUMENTATIONS.map((d) => d.name);

describe('configuration defaults', () => {
  it('match the OpenTelemetry environment-variable specification', () => {
    const { config, warnings } = read({});
    expect(warnings).toEqual([]);
    expect(config.sdkDisabled).toBe(false);
    expect(config.logLevelName).toBe('warn');
    expect(config.tracesExporters).toEqual(['otlp']);
    expect(config.sampler).toBe('parentbased_always_on');
    expect(config.propagators).toEqual(['tracecontext', 'baggage']);
    expect(config.batch).toEqual({ scheduleDelayMillis: 5000, maxQueueSize: 2048, maxExportBatchSize: 512, exportTimeoutMillis: 30000 });
    expect(config.spanLimits).toEqual({
      attributeCountLimit: 128,
      attributeValueLengthLimit: Infinity,
      eventCountLimit: 128,
      linkCountLimit: 128,
      attributePerEventCountLimit: 128,
      attributePerLinkCountLimit: 128,
    });
    expect(config.otlp).toMatchObject({
      protocol: 'http/protobuf',
      endpoint: 'http://localhost:4318/v1/traces',
      headers: {},
      timeoutMillis: 10000,
      compression: 'none',
      insecure: false,
    });
    expect(config.resourceDetectors).toEqual(['env', 'host', 'os', 'process', 'package']);
    expect(config.exitFlushTimeoutMillis).toBe(1000);
  });
});

describe('configuration values', () => {
  it('reads valid values of every kind', () => {
    const { config, warnings } = read({
      OTEL_SDK_DISABLED: 'TRUE',
      OTEL_LOG_LEVEL: 'Debug',
      OTEL_SERVICE_NAME: 'checkout',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=prod,team=a%20b%2Cc',
      OTEL_TRACES_EXPORTER: 'console,otlp,console',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
      OTEL_PROPAGATORS: 'b3multi, tracecontext ,b3',
      OTEL_BSP_SCHEDULE_DELAY: '200',
      OTEL_BSP_MAX_QUEUE_SIZE: '100',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '10',
      OTEL_BSP_EXPORT_TIMEOUT: '1000',
      OTEL_ATTRIBUTE_COUNT_LIMIT: '10',
      OTEL_SPAN_EVENT_COUNT_LIMIT: '5',
      OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '64',
      OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: '20',
      OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http, PG',
      OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'pg',
    });
    expect(warnings).toEqual([]);
    expect(config.sdkDisabled).toBe(true);
    expect(config.logLevelName).toBe('debug');
    expect(config.serviceName).toBe('checkout');
    expect(config.resourceAttributes).toEqual([
      ['deployment.environment.name', 'prod'],
      ['team', 'a b,c'],
    ]);
    expect(config.tracesExporters).toEqual(['console', 'otlp']);
    expect(config.sampler).toBe('parentbased_traceidratio');
    expect(config.samplerRatio).toBe(0.25);
    expect(config.propagators).toEqual(['b3multi', 'tracecontext', 'b3']);
    expect(config.batch).toEqual({ scheduleDelayMillis: 200, maxQueueSize: 100, maxExportBatchSize: 10, exportTimeoutMillis: 1000 });
    expect(config.spanLimits.attributeCountLimit).toBe(20);
    expect(config.spanLimits.attributeValueLengthLimit).toBe(64);
    expect(config.spanLimits.eventCountLimit).toBe(5);
    expect(config.spanLimits.attributePerEventCountLimit).toBe(128);
    expect(config.enabledInstrumentations).toEqual(['http', 'pg']);
    expect(config.disabledInstrumentations).toEqual(['pg']);
  });

  it('resolves OTLP endpoints: the general one gets /v1/traces, the TRACES one is used as given', () => {
    expect(read({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).config.otlp.endpoint).toBe('http://collector:4318/v1/traces');
    expect(read({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://x.example/otlp/' }).config.otlp.endpoint).toBe('https://x.example/otlp/v1/traces');
    expect(
      read({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:9999/custom' }).config.otlp.endpoint,
    ).toBe('http://b:9999/custom');
    expect(read({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }).config.otlp.endpoint).toBe('http://localhost:4317');
    expect(read({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4317' }).config.otlp.endpoint).toBe('https://collector:4317');
    expect(
      read({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4317', OTEL_EXPORTER_OTLP_INSECURE: 'true' }).config.otlp.endpoint,
    ).toBe('http://collector:4317');
    expect(read({ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }).config.otlp.protocol).toBe('http/json');
    // gRPC names in the dns scheme, with and without the DNS server's authority.
    const grpc = (endpoint: string, insecure = 'false') =>
      read({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_EXPORTER_OTLP_INSECURE: insecure }).config.otlp.endpoint;
    expect(grpc('dns:///collector:4317')).toBe('https://collector:4317');
    expect(grpc('dns://8.8.8.8/collector.example:4317', 'true')).toBe('http://collector.example:4317');
    expect(grpc('dns:collector:4317', 'true')).toBe('http://collector:4317');
  });

  it('takes a valid TRACES timeout, compression and insecure flag over the general ones (exporter.md: the signal-specific option wins)', () => {
    const both = read({
      OTEL_EXPORTER_OTLP_TIMEOUT: '3000',
      OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '7000',
      OTEL_EXPORTER_OTLP_COMPRESSION: 'none',
      OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: 'gzip',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4317',
      OTEL_EXPORTER_OTLP_INSECURE: 'false',
      OTEL_EXPORTER_OTLP_TRACES_INSECURE: 'true',
    });
    expect(both.warnings).toEqual([]);
    expect(both.config.otlp.timeoutMillis).toBe(7000);
    expect(both.config.otlp.compression).toBe('gzip');
    expect(both.config.otlp.endpoint).toBe('http://collector:4317');
    // And the general ones where no TRACES option is set.
    const general = read({ OTEL_EXPORTER_OTLP_TIMEOUT: '3000', OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip' });
    expect(general.config.otlp.timeoutMillis).toBe(3000);
    expect(general.config.otlp.compression).toBe('gzip');
  });

  it('merges OTLP headers with the TRACES ones winning per key, percent-decoded', () => {
    const { config, warnings } = read({
      OTEL_EXPORTER_OTLP_HEADERS: 'api-key=general,x-team=a%3Db',
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'API-Key=traces',
    });
    expect(warnings).toEqual([]);
    expect(config.otlp.headers).toEqual({ 'api-key': 'traces', 'x-team': 'a=b' });
  });
});

/**
 * Every variable given garbage: one warning that names the variable, the value and the fallback, and the
 * fallback is what is used.
 */
const GARBAGE: Array<[string, string, (c: Config, selectedInstrumentations: string[]) => unknown, unknown]> = [
  ['OTEL_SDK_DISABLED', 'yes please', (c) => c.sdkDisabled, false],
  ['OTEL_LOG_LEVEL', 'loud', (c) => c.logLevelName, 'warn'],
  ['OTEL_TRACES_SAMPLER', 'sometimes', (c) => c.sampler, 'parentbased_always_on'],
  ['OTEL_BSP_SCHEDULE_DELAY', '-5', (c) => c.batch.scheduleDelayMillis, 5000],
  ['OTEL_BSP_MAX_QUEUE_SIZE', '0', (c) => c.batch.maxQueueSize, 2048],
  ['OTEL_BSP_EXPORT_TIMEOUT', '-1', (c) => c.batch.exportTimeoutMillis, 30000],
  ['OTEL_BSP_MAX_QUEUE_SIZE', 'lots', (c) => c.batch.maxQueueSize, 2048],
  ['OTEL_BSP_MAX_QUEUE_SIZE', '1e99', (c) => c.batch.maxQueueSize, 2048],
  ['OTEL_BSP_MAX_EXPORT_BATCH_SIZE', '2.5', (c) => c.batch.maxExportBatchSize, 512],
  ['OTEL_BSP_EXPORT_TIMEOUT', '99999999999999999999', (c) => c.batch.exportTimeoutMillis, 30000],
  ['OTEL_ATTRIBUTE_COUNT_LIMIT', '-1', (c) => c.spanLimits.attributeCountLimit, 128],
  ['OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT', 'long', (c) => c.spanLimits.attributeValueLengthLimit, Infinity],
  ['OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT', 'x', (c) => c.spanLimits.attributeCountLimit, 128],
  ['OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT', '-3', (c) => c.spanLimits.attributeValueLengthLimit, Infinity],
  ['OTEL_SPAN_EVENT_COUNT_LIMIT', 'NaN', (c) => c.spanLimits.eventCountLimit, 128],
  ['OTEL_SPAN_LINK_COUNT_LIMIT', '1.5', (c) => c.spanLimits.linkCountLimit, 128],
  ['OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT', 'many', (c) => c.spanLimits.attributePerEventCountLimit, 128],
  ['OTEL_LINK_ATTRIBUTE_COUNT_LIMIT', '-', (c) => c.spanLimits.attributePerLinkCountLimit, 128],
  ['OTEL_EXPORTER_OTLP_PROTOCOL', 'carrier-pigeon', (c) => c.otlp.protocol, 'http/protobuf'],
  ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'udp', (c) => c.otlp.protocol, 'http/protobuf'],
  ['OTEL_EXPORTER_OTLP_ENDPOINT', 'not a url', (c) => c.otlp.endpoint, 'http://localhost:4318/v1/traces'],
  ['OTEL_EXPORTER_OTLP_ENDPOINT', 'ftp://collector', (c) => c.otlp.endpoint, 'http://localhost:4318/v1/traces'],
  ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', '::::', (c) => c.otlp.endpoint, 'http://localhost:4318/v1/traces'],
  ['OTEL_EXPORTER_OTLP_TIMEOUT', 'soon', (c) => c.otlp.timeoutMillis, 10000],
  ['OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', '-1', (c) => c.otlp.timeoutMillis, 10000],
  ['OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', '0x10', (c) => c.otlp.timeoutMillis, 10000],
  ['OTEL_EXPORTER_OTLP_COMPRESSION', 'zstd', (c) => c.otlp.compression, 'none'],
  ['OTEL_EXPORTER_OTLP_TRACES_COMPRESSION', 'brotli', (c) => c.otlp.compression, 'none'],
  ['OTEL_EXPORTER_OTLP_INSECURE', 'maybe', (c) => c.otlp.insecure, false],
  ['OTEL_EXPORTER_OTLP_TRACES_INSECURE', 'yes', (c) => c.otlp.insecure, false],
  ['OTEL_EXPORTER_OTLP_HEADERS', 'no-equals-sign', (c) => c.otlp.headers, {}],
  ['OTEL_EXPORTER_OTLP_HEADERS', 'bad%zzkey=v', (c) => c.otlp.headers, {}],
  ['OTEL_EXPORTER_OTLP_TRACES_HEADERS', 'bad header=v', (c) => c.otlp.headers, {}],
  ['OTEL_RESOURCE_ATTRIBUTES', '=novalue,broken', (c) => c.resourceAttributes, []],
  ['OTEL_RESOURCE_ATTRIBUTES', 'good=1,broken,also=2', (c) => c.resourceAttributes, []],
  ['OTEL_RESOURCE_ATTRIBUTES', 'good=1,bad=%zz', (c) => c.resourceAttributes, []],
  ['OTEL_TRACES_EXPORTER', 'zipkin', (c) => c.tracesExporters, ['otlp']],
  ['OTEL_PROPAGATORS', 'xray', (c) => c.propagators, ['tracecontext', 'baggage']],
  ['OTEL_NODE_RESOURCE_DETECTORS', 'gcp', (c) => c.resourceDetectors, ['env', 'host', 'os', 'process', 'package']],
  ['OTEL_NODE_RESOURCE_PROCESS_COMMAND_ARGS', '1', (c) => c.resourceProcessCommandArgs, false],
  ['OTEL_INSTRUMENTATION_EXPRESS_MIDDLEWARE_SPANS', 'some', (c) => c.expressMiddlewareSpans, false],
  ['OTEL_INSTRUMENTATION_COMMON_DB_STATEMENT_SANITIZER_ENABLED', 'nah', (c) => c.dbStatementSanitizer, true],
  ['OTEL_INSTRUMENTATION_PG_REQUIRE_PARENT_SPAN', 'y', (c) => c.pgRequireParentSpan, false],
  ['OTEL_INSTRUMENTATION_PG_SQLCOMMENTER_ENABLED', 'on', (c) => c.pgSqlcommenter, false],
  ['OTEL_INSTRUMENTATION_REDIS_QUERY_TEXT', 'everything', (c) => c.redisQueryText, 'sanitized'],
  ['OTEL_INSTRUMENTATION_PG_POOL_CONNECT_SPANS', 'sometimes', (c) => c.pgPoolConnectSpans, 'waiting'],
  ['OTEL_NODE_EXIT_FLUSH_TIMEOUT', '-1', (c) => c.exitFlushTimeoutMillis, 1000],
  ['OTEL_NODE_SHUTDOWN_TIMEOUT', 'forever', (c) => c.shutdownTimeoutMillis, 5000],
  ['OTEL_NODE_ESM_HOOK', 'auto-ish', (c) => c.esmHook, false],
  // Unknown instrumentation names are ignored; the known ones in the same list still apply.
  ['OTEL_NODE_ENABLED_INSTRUMENTATIONS', 'http,htp,PG', (_c, selected) => selected, ['http', 'pg']],
  ['OTEL_NODE_ENABLED_INSTRUMENTATIONS', 'htp', (_c, selected) => selected, []],
  ['OTEL_NODE_ENABLED_INSTRUMENTATIONS', ' , ,', (_c, selected) => selected, ALL],
  ['OTEL_NODE_DISABLED_INSTRUMENTATIONS', 'pg,nosuch,NoSuch', (_c, selected) => selected, ALL.filter((n) => n !== 'pg')],
  ['OTEL_NODE_DISABLED_INSTRUMENTATIONS', 'everything', (_c, selected) => selected, ALL],
  // Names that are not RFC 9110 tokens are dropped; the valid ones are recorded.
  ['OTEL_INSTRUMENTATION_HTTP_SERVER_CAPTURE_REQUEST_HEADERS', 'X-Request-ID,bad header,x:y', (c) => c.http.serverRequestHeaders, ['x-request-id']],
  ['OTEL_INSTRUMENTATION_HTTP_SERVER_CAPTURE_RESPONSE_HEADERS', 'content-type,(x)', (c) => c.http.serverResponseHeaders, ['content-type']],
  ['OTEL_INSTRUMENTATION_HTTP_CLIENT_CAPTURE_REQUEST_HEADERS', 'x y', (c) => c.http.clientRequestHeaders, []],
  ['OTEL_INSTRUMENTATION_HTTP_CLIENT_CAPTURE_RESPONSE_HEADERS', 'server,\u00e9t\u00e9,a/b', (c) => c.http.clientResponseHeaders, ['server']],
  // Entries that can match no request path are dropped; the others still exclude.
  ['OTEL_INSTRUMENTATION_HTTP_SERVER_EXCLUDED_PATHS', 'health,/metrics,/api/*/x,/ready?full=1,/internal/*', (c) => c.http.serverExcludedPaths, ['/metrics', '/internal/*']],
  ['OTEL_INSTRUMENTATION_HTTP_SERVER_EXCLUDED_PATHS', '*', (c) => c.http.serverExcludedPaths, []],
  // sdk-environment-variables.md, "Boolean": anything but true or false is false, whatever the default.
  ['OTEL_NODE_CODE_CACHE', '0', (c) => c.codeCache, false],
  ['OTEL_SDK_DISABLED', ' true', (c) => c.sdkDisabled, false],
];

/**
 * Variables whose every value is a valid one to the configuration (a name, a file path, Node's own options): a
 * file that cannot be read is reported where it is read. Blank, each is unset.
 */
const FREE_FORM = [
  'OTEL_SERVICE_NAME',
  'OTEL_TRACES_SAMPLER_ARG',
  'OTEL_EXPORTER_FILE_PATH',
  'OTEL_EXPORTER_OTLP_CERTIFICATE',
  'OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE',
  'OTEL_EXPORTER_OTLP_CLIENT_KEY',
  'OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY',
  'OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE',
  'OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE',
  'NODE_OPTIONS',
];

describe('OTLP header values', () => {
  it('are sent as the UTF-8 bytes that were percent-encoded; control characters are refused', () => {
    const { config, warnings } = read({ OTEL_EXPORTER_OTLP_HEADERS: 'x-uni=%C3%A9t%C3%A9,x-euro=%E2%82%AC,x-bad=a%0Ab,x-plain=ok' });
    expect(Buffer.from(config.otlp.headers['x-uni'], 'latin1')).toEqual(Buffer.from([0xc3, 0xa9, 0x74, 0xc3, 0xa9]));
    expect(Buffer.from(config.otlp.headers['x-euro'], 'latin1')).toEqual(Buffer.from('€', 'utf8'));
    expect(config.otlp.headers['x-plain']).toBe('ok');
    expect(config.otlp.headers['x-bad']).toBeUndefined();
    expect(warnings).toEqual(['OTEL_EXPORTER_OTLP_HEADERS: skipping header "x-bad", whose value has a character not allowed in an HTTP header']);
  });
});

describe('configuration given garbage', () => {
  for (const [name, value, get, fallback] of GARBAGE) {
    it(`${name}=${JSON.stringify(value)} warns once and falls back`, () => {
      const { config, warnings, selected } = readAndSelect({ [name]: value });
      expect(get(config, selected)).toEqual(fallback);
      expect(warnings).toHaveLength(1);
      for (const warning of warnings) expect(warning.startsWith(name)).toBe(true);
    });
  }

  it('treats empty and blank values as unset, without warnings', () => {
    const env: Record<string, string> = {};
    for (const name of [...GARBAGE.map(([n]) => n), ...FREE_FORM]) env[name] = '  ';
    const { config, warnings, selected } = readAndSelect(env);
    expect(warnings).toEqual([]);
    expect(config).toEqual(read({}).config);
    expect(selected).toEqual(ALL);
  });

  it('says which names in the instrumentation lists are unknown, once per list, and what it does instead', () => {
    const known = `(known: ${ALL.join(', ')})`;
    expect(readAndSelect({ OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,htp,HTP,expres' }).warnings).toEqual([
      `OTEL_NODE_ENABLED_INSTRUMENTATIONS names "htp", "expres", which are not instrumentations ${known}; ignoring them`,
    ]);
    expect(readAndSelect({ OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'htp' }).warnings).toEqual([
      `OTEL_NODE_ENABLED_INSTRUMENTATIONS names "htp", which is not an instrumentation ${known}; ignoring it, so no instrumentation is enabled`,
    ]);
    expect(readAndSelect({ OTEL_NODE_ENABLED_INSTRUMENTATIONS: ',' }).warnings).toEqual([
      'OTEL_NODE_ENABLED_INSTRUMENTATIONS="," names nothing; using all instrumentations instead',
    ]);
    expect(readAndSelect({ OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'nosuch,redis' })).toMatchObject({
      warnings: [`OTEL_NODE_DISABLED_INSTRUMENTATIONS names "nosuch", which is not an instrumentation ${known}; ignoring it`],
      selected: ALL.filter((n) => n !== 'redis'),
    });
  });

  it('says which captured header names are not header names, once per variable, and records the rest', () => {
    const { config, warnings } = read({
      OTEL_INSTRUMENTATION_HTTP_SERVER_CAPTURE_REQUEST_HEADERS: 'x-a, bad header ,,x:y,X-B,',
      OTEL_INSTRUMENTATION_HTTP_CLIENT_CAPTURE_RESPONSE_HEADERS: 'x y',
    });
    expect(config.http.serverRequestHeaders).toEqual(['x-a', 'x-b']);
    expect(config.http.clientResponseHeaders).toEqual([]);
    expect(warnings).toEqual([
      'OTEL_INSTRUMENTATION_HTTP_SERVER_CAPTURE_REQUEST_HEADERS="x-a, bad header ,,x:y,X-B," lists names that are not HTTP header names ("bad header", "x:y"); using "x-a,x-b" instead',
      'OTEL_INSTRUMENTATION_HTTP_CLIENT_CAPTURE_RESPONSE_HEADERS="x y" lists a name that is not an HTTP header name ("x y"); using nothing instead',
    ]);
    // Empty entries (a doubled or trailing comma) name nothing and cost nothing: skipped in silence, as in every
    // other list the agent reads.
    expect(read({ OTEL_INSTRUMENTATION_HTTP_SERVER_CAPTURE_RESPONSE_HEADERS: ',x-a,,x-b,' })).toMatchObject({
      warnings: [],
      config: { http: { serverResponseHeaders: ['x-a', 'x-b'] } },
    });
  });

  it('says which excluded paths can match no request, and excludes the rest', () => {
    const { config, warnings } = read({ OTEL_INSTRUMENTATION_HTTP_SERVER_EXCLUDED_PATHS: 'health,/metrics,/api/*/x,/ready?full=1,/internal/*' });
    expect(config.http.serverExcludedPaths).toEqual(['/metrics', '/internal/*']);
    expect(warnings).toEqual([
      'OTEL_INSTRUMENTATION_HTTP_SERVER_EXCLUDED_PATHS="health,/metrics,/api/*/x,/ready?full=1,/internal/*" lists "health", "/api/*/x", "/ready?full=1", which can match no request path (a path starts with /, and * may only end a prefix); using "/metrics,/internal/*" instead',
    ]);
    expect(read({ OTEL_INSTRUMENTATION_HTTP_SERVER_EXCLUDED_PATHS: '/,/*,/a*' })).toMatchObject({ warnings: [], config: { http: { serverExcludedPaths: ['/', '/*', '/a*'] } } });
  });

  it('OTEL_EXPORTER_FILE_PATH: empty is unset; any path is kept as given, its directories made when first written', () => {
    // README: "Directories are created as needed; a path that cannot be written loses the spans with a warning
    // saying why" -- which the exporter finds out when it writes (test/cli/file-exporter.test.ts, and the preload
    // test with many bad values, which writes under a directory that did not exist).
    expect(read({ OTEL_EXPORTER_FILE_PATH: '' })).toEqual(read({}));
    const missing = read({ OTEL_TRACES_EXPORTER: 'file', OTEL_EXPORTER_FILE_PATH: '/no/such/dir/traces.jsonl' });
    expect(missing.warnings).toEqual([]);
    expect(missing.config.fileExporterPath).toBe('/no/such/dir/traces.jsonl');
  });

  it('a missing or out-of-range sampler ratio warns and samples everything', () => {
    for (const arg of [undefined, '1.5', '-0.1', 'half']) {
      const env: Record<string, string> = { OTEL_TRACES_SAMPLER: 'traceidratio' };
      if (arg !== undefined) env.OTEL_TRACES_SAMPLER_ARG = arg;
      const { config, warnings } = read(env);
      expect(config.samplerRatio).toBe(1);
      expect(warnings.join()).toMatch(/OTEL_TRACES_SAMPLER_ARG/);
    }
  });

  it('a sampler ratio must be a decimal number', () => {
    for (const arg of ['0x0', '0b1', 'Infinity', '1/2', '.5.']) {
      const { config, warnings } = read({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: arg });
      expect(config.samplerRatio).toBe(1);
      expect(warnings.join()).toContain('OTEL_TRACES_SAMPLER_ARG');
    }
    for (const [arg, ratio] of [['0.25', 0.25], ['.5', 0.5], ['1', 1], ['0', 0], ['2.5e-1', 0.25]] as const) {
      expect(read({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: arg }).config.samplerRatio).toBe(ratio);
    }
  });

  it('an invalid TRACES-specific OTLP value is ignored, so the general one still counts', () => {
    const protocol = read({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/xml' });
    expect(protocol.config.otlp.protocol).toBe('http/json');
    expect(protocol.warnings).toEqual([
      'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL="http/xml" is not one of http/protobuf, http/json, grpc; using OTEL_EXPORTER_OTLP_PROTOCOL or the default instead',
    ]);
    const compression = read({ OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip', OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: 'zstd' });
    expect(compression.config.otlp.compression).toBe('gzip');
    const timeout = read({ OTEL_EXPORTER_OTLP_TIMEOUT: '2000', OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: 'abc' });
    expect(timeout.config.otlp.timeoutMillis).toBe(2000);
    // Both invalid: the default.
    expect(read({ OTEL_EXPORTER_OTLP_TIMEOUT: '-4', OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: 'abc' }).config.otlp.timeoutMillis).toBe(10000);
  });

  it('a timeout of zero means no limit; a schedule delay of zero is allowed; sizes go up to 2^31 - 1', () => {
    const { config, warnings } = read({
      OTEL_EXPORTER_OTLP_TIMEOUT: '0',
      OTEL_BSP_EXPORT_TIMEOUT: '0',
      OTEL_BSP_SCHEDULE_DELAY: '0',
      OTEL_BSP_MAX_QUEUE_SIZE: '4000000',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '2147483647',
    });
    expect(config.otlp.timeoutMillis).toBe(2 ** 31 - 1);
    expect(config.batch).toEqual({ scheduleDelayMillis: 0, maxQueueSize: 4000000, maxExportBatchSize: 4000000, exportTimeoutMillis: 2 ** 31 - 1 });
    expect(warnings).toEqual([
      'OTEL_BSP_MAX_EXPORT_BATCH_SIZE (2147483647) is larger than OTEL_BSP_MAX_QUEUE_SIZE (4000000); using 4000000',
    ]);
  });

  it('booleans: only case-insensitive true is true; other values are false with a warning, but the sanitizer stays on', () => {
    expect(read({ OTEL_SDK_DISABLED: 'True' }).config.sdkDisabled).toBe(true);
    const padded = read({ OTEL_SDK_DISABLED: ' true ' });
    expect(padded.config.sdkDisabled).toBe(false);
    expect(padded.warnings).toEqual(['OTEL_SDK_DISABLED=" true " is not true or false; using false instead']);
    expect(read({ OTEL_NODE_CODE_CACHE: 'FALSE' }).config.codeCache).toBe(false);
    expect(read({ OTEL_NODE_CODE_CACHE: 'off' }).config.codeCache).toBe(false);
    const sanitizer = read({ OTEL_INSTRUMENTATION_COMMON_DB_STATEMENT_SANITIZER_ENABLED: 'yes' });
    expect(sanitizer.config.dbStatementSanitizer).toBe(true);
    expect(sanitizer.warnings.join()).toContain('using true instead');
  });

  it('OTEL_RESOURCE_ATTRIBUTES with any bad entry is ignored whole; an empty service.name is ignored', () => {
    const bad = read({ OTEL_RESOURCE_ATTRIBUTES: 'good=1,broken,also=2' });
    expect(bad.config.resourceAttributes).toEqual([]);
    expect(bad.warnings).toEqual(['OTEL_RESOURCE_ATTRIBUTES: "broken" is not key=value; the whole value is ignored']);
    const empty = read({ OTEL_RESOURCE_ATTRIBUTES: 'service.name=,team=a' });
    expect(empty.config.resourceAttributes).toEqual([['team', 'a']]);
    expect(empty.warnings).toEqual(['OTEL_RESOURCE_ATTRIBUTES: service.name is empty; ignored']);
  });

  it('the common DB statement sanitizer switch off records Redis arguments too, unless the Redis variable is set', () => {
    const off = { OTEL_INSTRUMENTATION_COMMON_DB_STATEMENT_SANITIZER_ENABLED: 'false' };
    expect(read({}).config.redisQueryText).toBe('sanitized');
    expect(read(off).config.redisQueryText).toBe('full');
    expect(read({ ...off, OTEL_INSTRUMENTATION_REDIS_QUERY_TEXT: 'sanitized' }).config.redisQueryText).toBe('sanitized');
    expect(read({ ...off, OTEL_INSTRUMENTATION_REDIS_QUERY_TEXT: 'none' }).config.redisQueryText).toBe('none');
    // A typo in the common switch keeps it on, and so Redis stays sanitized.
    expect(read({ OTEL_INSTRUMENTATION_COMMON_DB_STATEMENT_SANITIZER_ENABLED: 'flase' }).config.redisQueryText).toBe('sanitized');
  });

  it('clamps a batch size larger than the queue to the queue size', () => {
    const { config, warnings } = read({ OTEL_BSP_MAX_QUEUE_SIZE: '100', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '500' });
    expect(config.batch.maxExportBatchSize).toBe(100);
    expect(warnings.join()).toContain('OTEL_BSP_MAX_EXPORT_BATCH_SIZE');
  });

  it('"none" alone empties a list; with other values it is ignored with a warning', () => {
    expect(read({ OTEL_TRACES_EXPORTER: 'none' }).config.tracesExporters).toEqual([]);
    expect(read({ OTEL_PROPAGATORS: 'none' }).config.propagators).toEqual([]);
    const mixed = read({ OTEL_PROPAGATORS: 'none,b3' });
    expect(mixed.config.propagators).toEqual(['b3']);
    expect(mixed.warnings.join()).toContain('"none"');
  });

  it('never throws, whatever the environment holds', () => {
    const weird = ['\u0000', '\uffff'.repeat(10000), '%', '=,=,=', '9'.repeat(400), '-0', ' , , ', 'true,false'];
    for (const name of [...GARBAGE.map(([n]) => n), ...FREE_FORM]) {
      for (const value of weird) expect(() => readAndSelect({ [name]: value })).not.toThrow();
    }
  });
});
