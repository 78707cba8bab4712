/**
 * `zerotel doctor [dir]`: what the agent would do for the app in a directory — the supported modules installed
 * there and whether each would be instrumented, the effective configuration read from this environment (with its
 * warnings), and the problems that would leave the app without traces.
 *
 * Everything is read from disk and from the environment; nothing of the app is loaded or run.
 */
import fs = require('node:fs');
import { isBuiltin } from 'node:module';
import path = require('node:path');
import { parseArgs } from 'node:util';
import satisfies from 'semver/functions/satisfies';
import { readConfig, type AgentConfig, type Env } from '../config';
import { diag, LogLevel } from '../diag/logger';
import { resolveFileTarget } from '../exporters/file-exporter';
import { ALL_INSTRUMENTATIONS, selectInstrumentations } from '../instrumentation/registry';
import { defaultServiceName } from '../resource/detectors';
import type { InstrumentationDefinition } from '../instrumentation/types';
import { paint } from '../render/trace-tree';
import { EXIT, UsageError, useColor, type CliIo } from './io';

export const DOCTOR_USAGE = `Usage: zerotel doctor [options] [directory]

Says what the agent would do for the app in the directory (default: the current one): the supported modules
installed there and whether each will be instrumented, the configuration read from this environment, and
problems (agent not preloaded or loaded too late, unsupported versions, ES module notes). Exits with 1 when it
finds a problem.

Options:
  --json              print the findings as JSON
  --color, --no-color force colour on or off
  -h, --help          this help
`;

/** package.json "engines" of zerotel. */
export const SUPPORTED_NODE = '>=20.6.0';

export type ModuleStatus = 'instrumented' | 'unsupported-version' | 'disabled' | 'sdk-disabled' | 'alias';

export interface ModuleFinding {
  instrumentation: string;
  /** The module the hook matches ('pg-pool', '@redis/client', 'http'). */
  module: string;
  /** The directory name `require` finds it under; differs from `module` for an npm alias. */
  requiredAs: string;
  version: string;
  /** Relative to the app directory, or `built in`. */
  location: string;
  supportedVersions: string[];
  status: ModuleStatus;
  /** What gets patched, for the entries that apply. */
  patches: string[];
}

export interface Finding {
  level: 'problem' | 'note';
  message: string;
}

export interface AppInfo {
  name?: string;
  version?: string;
  type: 'module' | 'commonjs';
  /** The entry file, relative to the app directory, and where it was found. */
  entry?: string;
  entrySource?: string;
  esm: boolean;
  startScript?: string;
}

export interface DoctorReport {
  directory: string;
  node: { version: string; supportedRange: string; supported: boolean };
  app: AppInfo;
  modules: ModuleFinding[];
  /** Instrumentations none of whose modules is installed here (built-ins are always there). */
  notInstalled: string[];
  config: Array<[string, string]>;
  warnings: string[];
  findings: Finding[];
}

const PRELOAD_FLAG = /(?:^|\s)(?:--require|-r|--import)(?:=|\s+)["']?([^\s"']*zerotel[\\/]register(?:\.js)?|[^\s"']*[\\/]register\.js)["']?/;
/** A CommonJS entry loading an ES module: `import(…)`, or a require of an .mjs file. */
const LOADS_ES_MODULE = /\bimport\s*\(|\brequire\s*\(\s*['"][^'"]+\.mjs['"]/;
/** zerotel's register given as a module loader: Node runs loaders in a thread of their own, where the agent traces nothing. */
const LOADER_FLAG = /(?:^|\s)(?:--loader|--experimental-loader)(?:=|\s+)["']?[^\s"']*zerotel[\\/]register(?:\.js)?["']?/;
const ZEROTEL_RUN = /(?:^|[\s;&|])(?:npx\s+)?zerotel\s+run\b/;
const FLAGS_WITH_VALUE = new Set(['-r', '--require', '--import', '--loader', '--experimental-loader', '-e', '--eval', '-p', '--print', '--env-file', '--conditions', '-C', '--input-type']);

function readJson(file: string): any {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

function isOurPreload(text: string | undefined): boolean {
  if (text === undefined) return false;
  const m = PRELOAD_FLAG.exec(text);
  if (m === null) return false;
  // A bare `…/register.js` only counts when it is zerotel's own (ts-node and others have one too).
  return /zerotel[\\/]register/.test(m[1]) || isZerotelRegister(m[1]);
}

function isZerotelRegister(file: string): boolean {
  const pkg = readJson(path.join(path.dirname(file), 'package.json'));
  return pkg?.name === 'zerotel';
}

/** The script a `node …` command line runs: the first word after `node` that is not a flag or a flag's value. */
export function entryOfCommand(command: string): string | undefined {
  const words = command.split(/\s+/).filter((w) => w !== '');
  const at = words.findIndex((w) => w === 'node' || w.endsWith('/node') || w === 'nodemon');
  if (at === -1) return undefined;
  for (let i = at + 1; i < words.length; i++) {
    const w = words[i];
    if (w === '&&' || w === ';' || w === '|') return undefined;
    if (w.startsWith('-')) {
      if (FLAGS_WITH_VALUE.has(w)) i++;
      continue;
    }
    return w.replace(/^["']|["']$/g, '');
  }
  return undefined;
}

function findApp(dir: string): { app: AppInfo; pkg: any } {
  const pkg = readJson(path.join(dir, 'package.json')) ?? {};
  const scripts: Record<string, string> = pkg.scripts !== null && typeof pkg.scripts === 'object' ? pkg.scripts : {};
  const type = pkg.type === 'module' ? 'module' : 'commonjs';
  let startScript = typeof scripts.start === 'string' ? scripts.start : undefined;
  let entry: string | undefined;
  let entrySource: string | undefined;
  if (startScript !== undefined) {
    entry = entryOfCommand(startScript);
    if (entry !== undefined) entrySource = 'the start script';
  } else if (fs.existsSync(path.join(dir, 'server.js'))) {
    // npm's own default: with no start script, `npm start` runs `node server.js`.
    startScript = 'node server.js';
    entry = 'server.js';
    entrySource = "npm's default start (server.js)";
  }
  if (entry === undefined && typeof pkg.main === 'string') {
    entry = pkg.main;
    entrySource = 'package.json "main"';
  }
  if (entry === undefined) {
    for (const candidate of ['index.js', 'index.mjs', 'app.js', 'main.js']) {
      if (fs.existsSync(path.join(dir, candidate))) {
        entry = candidate;
        entrySource = 'a guess from the files present';
        break;
      }
    }
  }
  const ext = entry !== undefined ? path.extname(entry) : '';
  const esm = ext === '.mjs' || ext === '.mts' || (type === 'module' && ext !== '.cjs' && ext !== '.cts');
  return {
    app: {
      name: typeof pkg.name === 'string' ? pkg.name : undefined,
      version: typeof pkg.version === 'string' ? pkg.version : undefined,
      type,
      entry,
      entrySource,
      esm,
      startScript,
    },
    pkg,
  };
}

interface InstalledPackage {
  requiredAs: string;
  name: string;
  version: string;
  dir: string;
}

/** node_modules directories from `dir` up to the root, nearest first: where `require` looks. */
function nodeModulesChain(dir: string): string[] {
  const out: string[] = [];
  let current = path.resolve(dir);
  for (;;) {
    const nm = path.join(current, 'node_modules');
    if (fs.existsSync(nm)) out.push(nm);
    const parent = path.dirname(current);
    if (parent === current) return out;
    current = parent;
  }
}

function listPackages(nodeModules: string): Array<{ requiredAs: string; dir: string }> {
  const out: Array<{ requiredAs: string; dir: string }> = [];
  let entries: string[];
  try {
    entries = fs.readdirSync(nodeModules);
  } catch {
    return out;
  }
  for (const entry of entries) {
    if (entry.startsWith('.')) continue;
    if (entry.startsWith('@')) {
      let scoped: string[] = [];
      try {
        scoped = fs.readdirSync(path.join(nodeModules, entry));
      } catch {
        // unreadable scope directory: nothing in it counts
      }
      for (const name of scoped) out.push({ requiredAs: `${entry}/${name}`, dir: path.join(nodeModules, entry, name) });
    } else out.push({ requiredAs: entry, dir: path.join(nodeModules, entry) });
  }
  return out;
}

/**
 * Installed copies of the modules the agent hooks: in each node_modules up the chain, and one level down inside
 * the packages there (a version that could not be hoisted, such as the @redis/client of an older redis).
 */
function findInstalled(dir: string, moduleNames: Set<string>): InstalledPackage[] {
  const found: InstalledPackage[] = [];
  const seen = new Set<string>();
  const consider = (requiredAs: string, pkgDir: string) => {
    const pkg = readJson(path.join(pkgDir, 'package.json'));
    if (pkg === undefined || typeof pkg.name !== 'string' || typeof pkg.version !== 'string') return;
    if (!moduleNames.has(requiredAs) && !moduleNames.has(pkg.name)) return;
    let real = pkgDir;
    try {
      real = fs.realpathSync(pkgDir);
    } catch {
      // keep the path as found
    }
    if (seen.has(real)) return;
    seen.add(real);
    found.push({ requiredAs, name: pkg.name, version: pkg.version, dir: pkgDir });
  };
  for (const nm of nodeModulesChain(dir)) {
    for (const { requiredAs, dir: pkgDir } of listPackages(nm)) {
      consider(requiredAs, pkgDir);
      for (const nested of listPackages(path.join(pkgDir, 'node_modules'))) consider(nested.requiredAs, nested.dir);
    }
  }
  return found;
}

function moduleFindings(dir: string, config: AgentConfig, enabled: Set<string>): { modules: ModuleFinding[]; notInstalled: string[] } {
  const packageNames = new Set<string>();
  for (const def of ALL_INSTRUMENTATIONS) for (const m of def.modules) if (!isBuiltin(m.name)) packageNames.add(m.name);
  const installed = findInstalled(dir, packageNames);
  const modules: ModuleFinding[] = [];
  const notInstalled: string[] = [];
  const statusFor = (def: InstrumentationDefinition, inRange: boolean, alias: boolean): ModuleStatus => {
    if (config.sdkDisabled) return 'sdk-disabled';
    if (!enabled.has(def.name)) return 'disabled';
    if (alias) return 'alias';
    return inRange ? 'instrumented' : 'unsupported-version';
  };
  for (const def of ALL_INSTRUMENTATIONS) {
    const names = [...new Set(def.modules.map((m) => m.name))];
    let any = false;
    if (names.length === 0) {
      // Not a module at all (global fetch, reached through diagnostics channels): part of every Node.js.
      modules.push({
        instrumentation: def.name,
        module: def.packageName,
        requiredAs: def.packageName,
        version: process.versions.node,
        location: 'built in',
        supportedVersions: ['*'],
        status: statusFor(def, true, false),
        patches: ['diagnostics channels'],
      });
      continue;
    }
    for (const name of names) {
      const entries = def.modules.filter((m) => m.name === name);
      const ranges = [...new Set(entries.map((e) => e.versions))];
      if (isBuiltin(name)) {
        any = true;
        modules.push({
          instrumentation: def.name,
          module: `node:${name}`,
          requiredAs: name,
          version: process.versions.node,
          location: 'built in',
          supportedVersions: ranges,
          status: statusFor(def, true, false),
          patches: [...new Set(entries.map((e) => e.patches))],
        });
        continue;
      }
      for (const pkg of installed.filter((p) => p.name === name || p.requiredAs === name)) {
        any = true;
        const applying = entries.filter((e) => satisfies(pkg.version, e.versions, { includePrerelease: true }));
        modules.push({
          instrumentation: def.name,
          module: name,
          requiredAs: pkg.requiredAs,
          version: pkg.version,
          location: path.relative(dir, pkg.dir) || '.',
          supportedVersions: ranges,
          status: statusFor(def, applying.length > 0, pkg.requiredAs !== name),
          patches: [...new Set(applying.map((e) => e.patches))],
        });
      }
    }
    if (!any) notInstalled.push(def.name);
  }
  return { modules, notInstalled };
}

function serviceName(config: AgentConfig, app: AppInfo): string {
  if (config.serviceName !== undefined) return `${config.serviceName} (OTEL_SERVICE_NAME)`;
  const fromAttributes = config.resourceDetectors.includes('env') ? config.resourceAttributes.find(([k]) => k === 'service.name') : undefined;
  if (fromAttributes !== undefined) return `${fromAttributes[1]} (OTEL_RESOURCE_ATTRIBUTES)`;
  if (config.resourceDetectors.includes('package') && app.name !== undefined) return `${app.name} (package.json name)`;
  return `${defaultServiceName()} (set OTEL_SERVICE_NAME)`;
}

function describeExporter(name: string, config: AgentConfig, dir: string): string {
  if (name === 'otlp') return `otlp (${config.otlp.protocol} → ${config.otlp.endpoint})`;
  if (name === 'file') {
    const target = resolveFileTarget(config.fileExporterPath, dir, 0, new Date(0));
    const where = target.perProcess ? `${path.dirname(target.file)}${path.sep}traces-<pid>-<time>.jsonl` : `${target.file} (appended)`;
    return `file (${where})`;
  }
  return name;
}

function effectiveConfig(config: AgentConfig, app: AppInfo, dir: string, enabled: string[]): Array<[string, string]> {
  const lines: Array<[string, string]> = [
    ['agent', config.sdkDisabled ? 'disabled (OTEL_SDK_DISABLED=true)' : 'on'],
    ['service.name', serviceName(config, app)],
    ['exporters', config.tracesExporters.map((e) => describeExporter(e, config, dir)).join(', ') || 'none'],
    ['sampler', config.sampler + (config.sampler.endsWith('traceidratio') ? ` (ratio ${config.samplerRatio})` : '')],
    ['propagators', config.propagators.join(', ') || 'none'],
    ['instrumentations', enabled.join(', ') || 'none'],
    [
      'batch',
      `every ${config.batch.scheduleDelayMillis} ms or ${config.batch.maxExportBatchSize} spans; queue ${config.batch.maxQueueSize}; ` +
        `export timeout ${config.batch.exportTimeoutMillis} ms`,
    ],
    ['ES module hook', config.esmHook === undefined ? `decided per process (for this app: ${app.esm ? 'on' : 'off'})` : config.esmHook ? 'on (OTEL_NODE_ESM_HOOK)' : 'off (OTEL_NODE_ESM_HOOK)'],
    ['exit flush', `up to ${config.exitFlushTimeoutMillis} ms at exit, ${config.shutdownTimeoutMillis} ms on SIGTERM/SIGINT`],
    ['log level', config.logLevelName],
  ];
  if (config.http.serverExcludedPaths.length > 0) lines.push(['untraced paths', config.http.serverExcludedPaths.join(', ')]);
  // The instrumentations' own settings, for those that are on: what decides which spans they make and what they
  // record (a span that is not there is more often one of these than a fault).
  if (enabled.includes('express')) {
    lines.push(['express', `middleware spans ${config.expressMiddlewareSpans ? 'on' : 'off'} (OTEL_INSTRUMENTATION_EXPRESS_MIDDLEWARE_SPANS)`]);
  }
  if (enabled.includes('pg')) {
    lines.push([
      'pg',
      `pool checkout spans ${config.pgPoolConnectSpans}; query text ${config.dbStatementSanitizer ? 'sanitized' : 'as written'}; ` +
        `sqlcommenter ${config.pgSqlcommenter ? 'on' : 'off'}; ${config.pgRequireParentSpan ? 'no root spans' : 'root spans too'}`,
    ]);
  }
  if (enabled.includes('redis') || enabled.includes('ioredis')) lines.push(['redis', `query text ${config.redisQueryText}`]);
  return lines;
}

/**
 * The packages an app requires to get instrumented code: the hooked modules and the packages users know them by
 * (`redis` for `@redis/client`). Built-ins are left out: loading one before the agent does not hide it.
 */
function instrumentedPackageNames(): string[] {
  const names = new Set<string>();
  for (const def of ALL_INSTRUMENTATIONS) {
    if (def.modules.length === 0) continue;
    for (const m of def.modules) names.add(m.name);
    for (const word of def.packageName.split(/[\s,()]+/)) if (/^(?:@[a-z0-9-]+\/)?[a-z0-9][a-z0-9._-]*$/.test(word)) names.add(word);
  }
  return [...names].filter((n) => !isBuiltin(n));
}

/** Instrumented packages that the entry file requires or imports before it loads the agent itself. */
function loadedBeforeAgent(source: string, moduleNames: string[]): { agentAt: number; before: string[] } | undefined {
  const agentAt = source.search(/(?:require\s*\(\s*|import\s*(?:[^'"]*from\s*)?)['"]zerotel(?:\/register)?['"]/);
  if (agentAt === -1) return undefined;
  const before = moduleNames.filter((name) => {
    const escaped = name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    const at = source.search(new RegExp(`(?:require\\s*\\(\\s*|from\\s*|import\\s*)['"]${escaped}(?:/[^'"]*)?['"]`));
    return at !== -1 && at < agentAt;
  });
  return { agentAt, before };
}

function preloadFindings(dir: string, app: AppInfo, config: AgentConfig, pkg: any, findings: Finding[]): void {
  const viaNodeOptions = isOurPreload(config.nodeOptions);
  const scripts: Record<string, string> = pkg.scripts !== null && typeof pkg.scripts === 'object' ? pkg.scripts : {};
  const start = app.startScript;
  const startPreloads = start !== undefined && (isOurPreload(start) || ZEROTEL_RUN.test(start));
  const asLoader = [config.nodeOptions, start].find((text) => text !== undefined && LOADER_FLAG.test(text));
  if (viaNodeOptions) findings.push({ level: 'note', message: 'NODE_OPTIONS preloads the agent: every Node.js process started from this environment is traced.' });
  else if (startPreloads) findings.push({ level: 'note', message: `The start script preloads the agent: ${JSON.stringify(start)}.` });
  else if (asLoader !== undefined) {
    findings.push({
      level: 'problem',
      message:
        `${asLoader === start ? 'The start script' : 'NODE_OPTIONS'} gives the agent to Node.js as a module loader (--loader): Node.js runs loaders ` +
        `in a thread of their own, where the agent traces nothing. Preload it instead: --import zerotel/register (or --require zerotel/register).`,
    });
  } else if (start !== undefined) {
    const entry = app.entry ?? 'app.js';
    const flag = app.esm ? '--import' : '--require';
    findings.push({
      level: 'problem',
      message:
        `The agent is not preloaded: \`npm start\` runs ${JSON.stringify(start)} and NODE_OPTIONS has no --require zerotel/register. ` +
        `Start the app with \`node ${flag} zerotel/register ${entry}\` (or NODE_OPTIONS="${flag} zerotel/register", or \`zerotel run npm start\`).`,
    });
  } else {
    findings.push({
      level: 'note',
      message: 'No start script: make sure whatever starts the app runs `node --require zerotel/register <entry>` or sets NODE_OPTIONS="--require zerotel/register".',
    });
  }
  const testScript = scripts.test;
  if (typeof testScript === 'string' && !viaNodeOptions && !isOurPreload(testScript) && !ZEROTEL_RUN.test(testScript) && !/no test specified/.test(testScript)) {
    findings.push({ level: 'note', message: `To trace the test suite (${JSON.stringify(testScript)}), run it as \`zerotel run npm test\`.` });
  }

  testRunnerFindings(dir, typeof testScript === 'string' ? testScript : '', findings);

  if (app.entry === undefined) return;
  let source: string;
  try {
    source = fs.readFileSync(path.resolve(dir, app.entry), 'utf8');
  } catch {
    return;
  }
  if (!app.esm && config.esmHook === undefined && LOADS_ES_MODULE.test(source)) {
    findings.push({
      level: 'note',
      message:
        `${app.entry} is CommonJS and loads ES modules (import(), or require() of an .mjs file). Their imports of node:http and ` +
        `node:https are instrumented once anything requires those modules, as express and the other CommonJS frameworks do; if ` +
        `the ES modules serve or call HTTP with node:http alone, set OTEL_NODE_ESM_HOOK=true.`,
    });
  }
  const inCode = loadedBeforeAgent(source, instrumentedPackageNames());
  if (inCode === undefined) return;
  if (app.esm) {
    findings.push({
      level: 'problem',
      message:
        `${app.entry} imports the agent in code. Imports are evaluated in order, and every module imported before the agent ` +
        `is loaded before it starts: it instruments them then, but what they did or copied before (a function taken from ` +
        `node:http, a client already made) is not traced. Preload it instead with \`node --import zerotel/register ${app.entry}\`.`,
    });
  } else if (inCode.before.length > 0) {
    findings.push({
      level: 'problem',
      message:
        `The agent is loaded too late: ${app.entry} requires ${inCode.before.join(', ')} before it requires zerotel; the agent ` +
        `instruments them when it starts, but what they did or copied before is not traced. Require zerotel/register first, ` +
        `or better, preload it with --require.`,
    });
  } else {
    findings.push({ level: 'note', message: `${app.entry} requires the agent before any instrumented module: that works, though --require is safer.` });
  }
}

const VITEST_CONFIGS = ['vitest.config.ts', 'vitest.config.mts', 'vitest.config.js', 'vitest.config.mjs', 'vitest.config.cjs', 'vitest.config.cts'];
const WORKER_THREAD_POOL = /\bpool\s*:\s*['"](threads|vmThreads)['"]/;

/**
 * What the test runner the test script names means for tracing its suite: vitest's thread pools run tests in
 * worker threads, where the agent does not run; Jest's ES module mode links modules the agent cannot see.
 */
function testRunnerFindings(dir: string, testScript: string, findings: Finding[]): void {
  let pool = /\bvitest\b[^;&|]*--pool[=\s]+(threads|vmThreads)\b/.exec(testScript)?.[1];
  if (pool === undefined && /\bvitest\b/.test(testScript)) {
    for (const name of VITEST_CONFIGS) {
      try {
        pool = WORKER_THREAD_POOL.exec(fs.readFileSync(path.join(dir, name), 'utf8'))?.[1];
      } catch {
        continue;
      }
      break;
    }
  }
  if (pool !== undefined) {
    findings.push({
      level: 'note',
      message: `vitest runs the tests in worker threads (pool ${pool}), where the agent does not run: their queries and requests are not traced. vitest's default pool, forks, is traced.`,
    });
  }
  if (/\bjest\b/.test(testScript) && /--experimental-vm-modules\b/.test(testScript)) {
    findings.push({
      level: 'note',
      message: 'Jest runs in its ES module mode (--experimental-vm-modules): the modules it links as ES modules are not instrumented; those it loads as CommonJS are.',
    });
  }
}

export function diagnose(dir: string, env: Env): DoctorReport {
  const directory = path.resolve(dir);
  const { config, warnings } = readConfig(env);
  const { app, pkg } = findApp(directory);
  const findings: Finding[] = [];

  // selectInstrumentations reports unknown names through diag: collect them as warnings, not stderr lines.
  const captured: string[] = [];
  const level = diag.level;
  diag.level = LogLevel.WARN;
  diag.setSink((line) => captured.push(line.replace(/^zerotel \w+: /, '').trimEnd()));
  let enabledDefs: InstrumentationDefinition[];
  try {
    enabledDefs = selectInstrumentations(config);
  } finally {
    diag.setSink(undefined);
    diag.level = level;
  }
  const allWarnings = [...warnings, ...captured];
  const enabled = new Set(enabledDefs.map((d) => d.name));

  const nodeSupported = satisfies(process.versions.node, SUPPORTED_NODE);
  if (!nodeSupported) {
    findings.push({ level: 'problem', message: `Node.js ${process.versions.node} is older than zerotel supports (${SUPPORTED_NODE}): the agent will not work here.` });
  }
  if (config.sdkDisabled) findings.push({ level: 'problem', message: 'OTEL_SDK_DISABLED=true: the agent does nothing.' });
  if (config.tracesExporters.length === 0) {
    findings.push({ level: 'note', message: 'OTEL_TRACES_EXPORTER=none: spans are made and context propagates, but nothing is exported.' });
  }
  for (const w of allWarnings) findings.push({ level: 'problem', message: `Configuration: ${w}.` });

  preloadFindings(directory, app, config, pkg, findings);

  const { modules, notInstalled } = moduleFindings(directory, config, enabled);
  for (const m of modules) {
    if (m.status === 'unsupported-version') {
      findings.push({
        level: 'problem',
        message: `${m.module} ${m.version} (${m.location}) is outside the supported versions (${m.supportedVersions.join(' or ')}): it will not be traced.`,
      });
    } else if (m.status === 'alias') {
      findings.push({
        level: 'note',
        message:
          `${m.module} ${m.version} is installed under the npm alias ${JSON.stringify(m.requiredAs)} (${m.location}): ` +
          `require('${m.requiredAs}') is not instrumented, because hooks match the name a module is required by.`,
      });
    } else if (m.status === 'disabled') {
      findings.push({ level: 'note', message: `${m.module} is installed, but the ${m.instrumentation} instrumentation is turned off (OTEL_NODE_ENABLED/DISABLED_INSTRUMENTATIONS).` });
    }
  }

  if (app.esm) {
    const where = app.entry !== undefined ? `${app.entry} is an ES module` : 'package.json says "type": "module"';
    if (config.esmHook === false) {
      findings.push({ level: 'problem', message: `${where}, but OTEL_NODE_ESM_HOOK=false: imports will not be instrumented.` });
    } else {
      findings.push({
        level: 'note',
        message:
          `${where}. \`--require zerotel/register\` covers it: the agent sees the ES module entry and instruments its imports, ` +
          `with no loader thread (import-in-the-middle's hook in the application's thread where Node.js can run it there, ` +
          `Node's CommonJS loader elsewhere). \`--import zerotel/register\` gives the same ` +
          `result for this app; the difference is that with --import the hook is always registered, even for a CommonJS entry, ` +
          `and that tools which only accept --import flags can use it.`,
      });
    }
  }

  return {
    directory,
    node: { version: process.versions.node, supportedRange: SUPPORTED_NODE, supported: nodeSupported },
    app,
    modules,
    notInstalled,
    config: effectiveConfig(config, app, directory, enabledDefs.map((d) => d.name)),
    warnings: allWarnings,
    findings,
  };
}

const STATUS_TEXT: Record<ModuleStatus, string> = {
  instrumented: 'instrumented',
  'unsupported-version': 'NOT instrumented: unsupported version',
  disabled: 'not instrumented: turned off',
  'sdk-disabled': 'not instrumented: OTEL_SDK_DISABLED',
  alias: 'not instrumented: npm alias',
};

export function renderDoctor(report: DoctorReport, color: boolean): string {
  const lines: string[] = [];
  const heading = (text: string) => lines.push('', paint(color, '1', text));
  lines.push(paint(color, '1', `zerotel doctor — ${report.directory}`));
  lines.push(`  Node.js ${report.node.version} (zerotel supports ${report.node.supportedRange}${report.node.supported ? '' : paint(color, '31;1', ': NOT SUPPORTED')})`);
  const app = report.app;
  const appName = app.name !== undefined ? `${app.name}${app.version ? ' ' + app.version : ''}` : '(no package.json name)';
  lines.push(`  app ${appName}, ${app.esm ? 'ES modules' : 'CommonJS'}${app.entry !== undefined ? `, entry ${app.entry} (from ${app.entrySource})` : ', entry unknown'}`);

  heading('Modules');
  const rows = report.modules.map((m) => {
    const ok = m.status === 'instrumented';
    const mark = ok ? paint(color, '32', '✓') : paint(color, '31', '✗');
    const name = m.requiredAs !== m.module && !m.module.startsWith('node:') && m.location !== 'built in' ? `${m.requiredAs} → ${m.module}` : m.module;
    const status = ok ? STATUS_TEXT[m.status] : paint(color, '31', STATUS_TEXT[m.status]);
    return { mark, cells: [m.instrumentation, name, m.version, m.location], status, range: m.supportedVersions.join(' | ') };
  });
  const widths = [0, 1, 2, 3].map((i) => Math.max(0, ...rows.map((r) => r.cells[i].length)));
  for (const r of rows) {
    lines.push(`  ${r.mark} ${r.cells.map((c, i) => c.padEnd(widths[i])).join('  ')}  ${r.status} ${paint(color, '2', `(supports ${r.range})`)}`);
  }
  if (report.notInstalled.length > 0) lines.push(paint(color, '2', `  not installed here: ${report.notInstalled.join(', ')}`));

  heading('Configuration (from this environment)');
  const keyWidth = Math.max(...report.config.map(([k]) => k.length));
  for (const [k, v] of report.config) lines.push(`  ${k.padEnd(keyWidth)}  ${v}`);

  const problems = report.findings.filter((f) => f.level === 'problem');
  const notes = report.findings.filter((f) => f.level === 'note');
  heading(problems.length === 0 ? 'Problems: none' : `Problems (${problems.length})`);
  for (const f of problems) lines.push(`  ${paint(color, '31;1', '✗')} ${f.message}`);
  if (notes.length > 0) {
    heading('Notes');
    for (const f of notes) lines.push(`  • ${f.message}`);
  }
  return lines.join('\n') + '\n';
}

export async function doctorCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { json: { type: 'boolean' }, color: { type: 'boolean' }, 'no-color': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    io.out(DOCTOR_USAGE);
    return EXIT.OK;
  }
  if (positionals.length > 1) throw new UsageError('zerotel doctor: give at most one directory');
  const dir = path.resolve(io.cwd, positionals[0] ?? '.');
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UsageError(`zerotel doctor: ${dir} is not a directory`);
  const report = diagnose(dir, io.env);
  if (values.json) io.out(JSON.stringify(report, null, 2) + '\n');
  else io.out(renderDoctor(report, useColor(values, io.stdoutIsTTY, io.env)));
  return report.findings.some((f) => f.level === 'problem') ? EXIT.PROBLEMS : EXIT.OK;
}
