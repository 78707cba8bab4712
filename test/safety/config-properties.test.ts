/**
 * Property-based tests of the configuration parser (fast-check): for arbitrary environments — the real OTEL_*
 * names zerotel reads, with arbitrary values (unicode, lone surrogates, control characters, huge strings, and
 * near-misses of valid values) — `readConfig` never throws, every warning is about a variable that was set and
 * names it first, and every value it returns is inside its valid domain, so nothing downstream (the exporter,
 * the batch processor, timers, HTTP headers) can be handed something it would throw on.
 * test/unit/config.test.ts has the example-based table (one garbage value per variable, with the fallback).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  KNOWN_EXPORTERS,
  KNOWN_PROPAGATORS,
  KNOWN_PROTOCOLS,
  KNOWN_RESOURCE_DETECTORS,
  KNOWN_SAMPLERS,
  readConfig,
  PG_POOL_CONNECT_SPAN_MODES,
  REDIS_QUERY_TEXT_MODES,
  type AgentConfig,
} from '../../src/config';
import { LOG_LEVEL_NAMES } from '../../src/diag/logger';

/** Every variable the parser reads: the literal names in its source, and the OTLP ones it composes. */
const VARIABLES: string[] = (() => {
  const source = fs.readFileSync(path.join(__dirname, '..', '..', 'src', 'config', 'index.ts'), 'utf8');
  const names = new Set(source.match(/\bOTEL_[A-Z0-9_]*[A-Z0-9]\b/g));
  for (const suffix of ['PROTOCOL', 'ENDPOINT', 'HEADERS', 'TIMEOUT', 'COMPRESSION', 'INSECURE', 'CERTIFICATE', 'CLIENT_KEY', 'CLIENT_CERTIFICATE']) {
    names.add(`OTEL_EXPORTER_OTLP_${suffix}`);
    names.add(`OTEL_EXPORTER_OTLP_TRACES_${suffix}`);
  }
  names.add('NODE_OPTIONS');
  return [...names].filter((n) => n !== 'OTEL_EXPORTER_OTLP_' && n !== 'OTEL_EXPORTER_OTLP_TRACES_').sort();
})();

const MAX_MILLIS = 2 ** 31 - 1;
/** What Node.js accepts in an HTTP header value (RFC 9110 field-value: HTAB, SP, VCHAR, obs-text). */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

/** Values close to valid ones: the parser's edges. */
const NEAR_MISSES = [
  'true', 'false', 'TRUE', ' False ', '1', '0', '-0', '+5', '-1', '00012', '1e3', '0x10', '2.5', 'NaN', 'Infinity', '-Infinity',
  '2147483647', '2147483648', '9007199254740993', '99999999999999999999', '', ' ', '\t', 'none', 'all', 'None,otlp',
  'otlp,console,file,zipkin', 'tracecontext,baggage,b3,b3multi,xray', 'grpc', 'http/json', 'HTTP/PROTOBUF', 'udp', 'gzip',
  'zstd', 'always_on', 'traceidratio', 'parentbased_traceidratio', '0.5', '1.0000001', 'debug', 'verbose', 'full',
  'sanitized', 'http://localhost:4318', 'https://collector.example:443/otlp/', 'collector:4317', 'http://[::1]:4318',
  'http://[::1', 'ftp://x', 'http://user:pass@host/v1/traces', 'k=v', 'k=v,k2=v2', 'a%20b=c%2Cd', '%zz=1', '=v', 'k=',
  'x-api-key=secret,bad key=v', 'k=%E2%82%AC', 'k=%C3%A9', 'k=%0D%0Ainjected', 'k=%00', 'k=%7F', 'service.name=svc',
  'env,host,gcp', 'http,PG,express', '/health,/internal/*', 'x-request-id,Content-Type,bad header',
];

const piece = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...NEAR_MISSES) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c)), maxLength: 10 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.constantFrom('\u0000', '\uD800', '\uDFFF', '\uFFFF', '\u202E', '\u00A0', 'é', '€', '😀', '\r\n', '\u2028') },
);

/** A value: one piece, a list of pieces, a key=value list, or something huge. */
const value = fc.oneof(
  { weight: 4, arbitrary: piece },
  { weight: 2, arbitrary: fc.array(piece, { maxLength: 6 }).map((parts) => parts.join(',')) },
  { weight: 2, arbitrary: fc.array(fc.tuple(piece, piece), { maxLength: 6 }).map((kv) => kv.map(([k, v]) => `${k}=${v}`).join(',')) },
  { weight: 1, arbitrary: fc.tuple(piece, fc.integer({ min: 1000, max: 40_000 })).map(([p, n]) => (p === '' ? 'x' : p).repeat(Math.ceil(n / Math.max(1, p.length)))) },
);

const environment = fc.dictionary(fc.constantFrom(...VARIABLES), value, { maxKeys: 12 });

const isBlank = (v: string | undefined) => v === undefined || v.trim() === '';
const isInt = (n: number, min: number, max: number) => Number.isSafeInteger(n) && n >= min && n <= max;
const isLimit = (n: number) => n === Infinity || isInt(n, 0, Number.MAX_SAFE_INTEGER);
const subsetOf = (list: readonly string[], known: readonly string[]) => list.every((x) => known.includes(x)) && new Set(list).size === list.length;

/** Every way a configuration could be outside its domain, as messages (empty when it is inside). */
function domainViolations(c: AgentConfig): string[] {
  const bad: string[] = [];
  const check = (ok: boolean, what: string) => {
    if (!ok) bad.push(what);
  };
  check(typeof c.sdkDisabled === 'boolean', 'sdkDisabled');
  check(LOG_LEVEL_NAMES[c.logLevelName] === c.logLevel, 'logLevel');
  check(c.serviceName === undefined || (typeof c.serviceName === 'string' && c.serviceName !== '' && c.serviceName === c.serviceName.trim()), 'serviceName');
  check(c.resourceAttributes.every(([k, v]) => typeof k === 'string' && k !== '' && typeof v === 'string'), 'resourceAttributes');
  check(subsetOf(c.resourceDetectors, KNOWN_RESOURCE_DETECTORS), 'resourceDetectors');
  check(typeof c.resourceProcessCommandArgs === 'boolean', 'resourceProcessCommandArgs');
  check(subsetOf(c.tracesExporters, KNOWN_EXPORTERS), 'tracesExporters');
  check((KNOWN_SAMPLERS as readonly string[]).includes(c.sampler), 'sampler');
  check(typeof c.samplerRatio === 'number' && c.samplerRatio >= 0 && c.samplerRatio <= 1, 'samplerRatio');
  check(subsetOf(c.propagators, KNOWN_PROPAGATORS), 'propagators');
  const b = c.batch;
  check(isInt(b.scheduleDelayMillis, 0, MAX_MILLIS), 'batch.scheduleDelayMillis');
  check(isInt(b.maxQueueSize, 1, 2 ** 31 - 1), 'batch.maxQueueSize');
  check(isInt(b.maxExportBatchSize, 1, b.maxQueueSize), 'batch.maxExportBatchSize');
  check(isInt(b.exportTimeoutMillis, 1, MAX_MILLIS), 'batch.exportTimeoutMillis');
  for (const [k, n] of Object.entries(c.spanLimits)) check(isLimit(n), `spanLimits.${k}`);
  const o = c.otlp;
  check((KNOWN_PROTOCOLS as readonly string[]).includes(o.protocol), 'otlp.protocol');
  let url: URL | undefined;
  try {
    url = new URL(o.endpoint);
  } catch {
    url = undefined;
  }
  check(url !== undefined && (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '', `otlp.endpoint ${o.endpoint}`);
  for (const [k, v] of Object.entries(o.headers)) {
    check(HEADER_NAME.test(k), `otlp.headers name ${JSON.stringify(k)}`);
    check(HEADER_VALUE.test(v), `otlp.headers[${JSON.stringify(k)}] value ${JSON.stringify(v)}`);
  }
  check(isInt(o.timeoutMillis, 1, MAX_MILLIS), 'otlp.timeoutMillis');
  check(o.compression === 'gzip' || o.compression === 'none', 'otlp.compression');
  check(typeof o.insecure === 'boolean', 'otlp.insecure');
  for (const f of [o.certificateFile, o.clientKeyFile, o.clientCertificateFile]) check(f === undefined || (typeof f === 'string' && f !== ''), 'otlp files');
  check(c.enabledInstrumentations === undefined || c.enabledInstrumentations.every((s) => s !== '' && s === s.toLowerCase()), 'enabledInstrumentations');
  check(c.disabledInstrumentations.every((s) => s !== '' && s === s.toLowerCase()), 'disabledInstrumentations');
  for (const list of [c.http.serverRequestHeaders, c.http.serverResponseHeaders, c.http.clientRequestHeaders, c.http.clientResponseHeaders]) {
    check(list.every((h) => HEADER_NAME.test(h)), 'http captured header names');
  }
  check(c.http.serverExcludedPaths.every((p) => typeof p === 'string' && p !== ''), 'http.serverExcludedPaths');
  for (const k of ['expressMiddlewareSpans', 'dbStatementSanitizer', 'pgRequireParentSpan', 'pgSqlcommenter'] as const) check(typeof c[k] === 'boolean', k);
  check((REDIS_QUERY_TEXT_MODES as readonly string[]).includes(c.redisQueryText), 'redisQueryText');
  check((PG_POOL_CONNECT_SPAN_MODES as readonly string[]).includes(c.pgPoolConnectSpans), 'pgPoolConnectSpans');
  check(isInt(c.exitFlushTimeoutMillis, 0, 60_000), 'exitFlushTimeoutMillis');
  check(isInt(c.shutdownTimeoutMillis, 0, 120_000), 'shutdownTimeoutMillis');
  check(c.fileExporterPath === undefined || (typeof c.fileExporterPath === 'string' && c.fileExporterPath !== ''), 'fileExporterPath');
  check(c.esmHook === undefined || typeof c.esmHook === 'boolean', 'esmHook');
  return bad;
}

const RUNS = { numRuns: 1500 };

describe('readConfig on arbitrary environments', () => {
  it(`reads a list of ${VARIABLES.length} real variable names (the test covers what the parser reads)`, () => {
    expect(VARIABLES).toContain('OTEL_BSP_MAX_QUEUE_SIZE');
    expect(VARIABLES).toContain('OTEL_EXPORTER_OTLP_TRACES_HEADERS');
    expect(VARIABLES).toContain('OTEL_INSTRUMENTATION_REDIS_QUERY_TEXT');
    expect(VARIABLES.length).toBeGreaterThan(40);
  });

  it('never throws, and gives the same answer twice', () => {
    fc.assert(
      fc.property(environment, (env) => {
        const first = readConfig(env);
        expect(readConfig(env)).toEqual(first);
      }),
      RUNS,
    );
  });

  it('warns only about variables that are set, each warning starting with the name of one', () => {
    fc.assert(
      fc.property(environment, (env) => {
        for (const warning of readConfig(env).warnings) {
          expect(warning, 'a warning that does not start with a variable name').toMatch(/^OTEL_[A-Z0-9_]+/);
          // (a default batch size clamped to a smaller OTEL_BSP_MAX_QUEUE_SIZE is reported naming both)
          const named = (warning.match(/\bOTEL_[A-Z0-9_]*[A-Z0-9]\b/g) ?? []).filter((n) => !isBlank(env[n]));
          expect(named, `a warning about no variable that is set: ${warning.slice(0, 200)}`).not.toEqual([]);
        }
      }),
      RUNS,
    );
  });

  it('keeps every value inside its valid domain', () => {
    fc.assert(
      fc.property(environment, (env) => {
        expect(domainViolations(readConfig(env).config)).toEqual([]);
      }),
      RUNS,
    );
  });

  it('skips an OTLP header whose value Node.js could not send, instead of failing every export (found by the properties above)', () => {
    for (const bad of ['a%0Db', '%7F', 'tab%09ok%01', '%00']) {
      const { config, warnings } = readConfig({ OTEL_EXPORTER_OTLP_HEADERS: `api-key=${bad},team=a%20b,accent=caf%C3%A9,euro=%E2%82%AC` });
      // CR, DEL and other controls Node.js refuses; é and € go out as their UTF-8 bytes (one latin1 character each)
      expect(config.otlp.headers).toEqual({ team: 'a b', accent: 'caf\u00c3\u00a9', euro: '\u00e2\u0082\u00ac' });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/^OTEL_EXPORTER_OTLP_HEADERS: skipping header "api-key"/);
    }
  });

  it('is left at its defaults, silently, by variables that are blank', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.constantFrom(...VARIABLES)), fc.constantFrom('', ' ', '\t', '  \n '), (names, blank) => {
        const env: Record<string, string> = {};
        for (const n of names) env[n] = blank;
        const { config, warnings } = readConfig(env);
        expect(warnings).toEqual([]);
        expect({ ...config, nodeOptions: undefined }).toEqual({ ...readConfig({}).config, nodeOptions: undefined });
      }),
      { numRuns: 200 },
    );
  });
});
