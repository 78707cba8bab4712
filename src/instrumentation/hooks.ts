/**
 * Module-load hooks: require-in-the-middle for CommonJS, import-in-the-middle for ES modules (its loader hook is
 * registered by the agent when the application uses ESM). Both lead to `onModuleLoaded`, which finds the
 * instrumentations declared for the module, checks the version, loads the patch code and applies it once per
 * exports object — so a module reached by both `require` and `import` is patched once. Jest's own module system,
 * which Node's hooks never see, is reached through a hook on jest-runtime (jest-runtime.ts).
 *
 * Every hook is wrapped in try/catch and returns the original exports: a failing instrumentation leaves its
 * module as it was and the application goes on.
 */
import fs = require('node:fs');
import path = require('node:path');
import { diag } from '../diag/logger';
import type { InstrumentationDefinition, InstrumentationModule, ModuleInfo, Patcher } from './types';
import { ORIGINAL } from './original-symbol';
import { versionInRange } from './version-range';
const charCodeAt: (this: string, index: number) => number = String.prototype.charCodeAt; // called as charCodeAt.call(s, i): why, at charCodeAt in src/exporters/otlp/protobuf-writer.ts

interface Entry {
  definition: InstrumentationDefinition;
  module: InstrumentationModule;
  /** The name the hooks report for this module ('express/lib/router/layer' for a file inside a package). */
  hookName: string;
  patcher?: Patcher;
  patched: WeakSet<object>;
}

interface Applied {
  entry: Entry;
  target: any;
  info: ModuleInfo;
}

const BUILTINS = new Set(['http', 'https', 'http2', 'net', 'dns', 'fs', 'child_process']);

/** The package the API bridge (src/agent/api-bridge.ts) hooks. */
const API_PACKAGE = '@opentelemetry/api';

/** Jest's module system, hooked so that the modules Jest loads for a test file are instrumented (jest-runtime.ts). */
const JEST_RUNTIME = 'jest-runtime';
const NODE_MODULES = `${path.sep}node_modules${path.sep}`;

/** A file inside an installed package: the package's name, its directory, and the file's path inside it. */
interface PackageFile {
  pkg: string;
  basedir: string;
  inner: string;
}

/** Which package a file belongs to, from the last node_modules directory in its path (pnpm's layout too). */
function packageFileOf(filename: string): PackageFile | undefined {
  const at = filename.lastIndexOf(NODE_MODULES);
  if (at === -1) return undefined;
  const start = at + NODE_MODULES.length;
  let end = filename.indexOf(path.sep, start);
  if (end !== -1 && charCodeAt.call(filename, start) === 64 /* @ */) end = filename.indexOf(path.sep, end + 1);
  if (end === -1) return undefined;
  return {
    pkg: filename.slice(start, end).split(path.sep).join('/'),
    basedir: filename.slice(0, end),
    inner: filename.slice(end + 1).split(path.sep).join('/'),
  };
}

/**
 * The ES module entry of a package directory: its package.json `exports` for `.`, read as Node.js reads it for an
 * import (the first key, in the object's order, that is one of the conditions an import has), or undefined when
 * it has none. (Its package.json is read once: packageJsonOf.)
 */
const IMPORT_CONDITIONS = new Set(['node', 'import', 'module-sync', 'default']);
function esmEntryOf(basedir: string): string | undefined {
  let target: unknown = packageJsonOf(basedir)?.exports;
  if (target !== null && typeof target === 'object' && !Array.isArray(target) && '.' in (target as object)) target = (target as any)['.'];
  for (let depth = 0; depth < 8 && target !== null && typeof target === 'object' && !Array.isArray(target); depth++) {
    const conditions = target as Record<string, unknown>;
    const key = Object.keys(conditions).find((k) => IMPORT_CONDITIONS.has(k));
    target = key === undefined ? undefined : conditions[key];
  }
  return typeof target === 'string' ? path.join(basedir, target) : undefined;
}

/** The main file of a package directory, as Node resolves it (package.json `main`, else index.js); cached. */
const mainFiles = new Map<string, string | undefined>();
function mainFileOf(basedir: string): string | undefined {
  let main = mainFiles.get(basedir);
  if (main === undefined && !mainFiles.has(basedir)) {
    try {
      main = require.resolve(basedir);
    } catch {
      main = undefined;
    }
    mainFiles.set(basedir, main);
  }
  return main;
}

function stripNodePrefix(name: string): string {
  return name.startsWith('node:') ? name.slice(5) : name;
}

function normaliseHookName(name: string): string {
  // require-in-the-middle reports internal files with the platform separator; match on '/'.
  let n = stripNodePrefix(name).split(path.sep).join('/');
  if (n.endsWith('.js')) n = n.slice(0, -3);
  // require-in-the-middle names a directory's index file after the directory: `lib/client/index.js` is
  // reported as `lib/client`, so a declaration may name either.
  if (n.endsWith('/index')) n = n.slice(0, -6);
  return n;
}

/** Each package directory's package.json, read once (undefined when it is absent or not JSON). */
const packageJsons = new Map<string, any>();
function packageJsonOf(basedir: string): any {
  if (packageJsons.has(basedir)) return packageJsons.get(basedir);
  let pkg: any;
  try {
    pkg = JSON.parse(fs.readFileSync(path.join(basedir, 'package.json'), 'utf8'));
  } catch {
    pkg = undefined;
  }
  packageJsons.set(basedir, pkg);
  return pkg;
}

function packageVersion(basedir: string): string | undefined {
  const version = packageJsonOf(basedir)?.version;
  return typeof version === 'string' ? version : undefined;
}

/** The package a require id names: `pg/lib/client` → `pg`, `@redis/client/dist` → `@redis/client`, `node:http` → `http`. */
function packageOf(id: string): string {
  const name = id.startsWith('node:') ? id.slice(5) : id;
  const slash = name.indexOf('/');
  if (slash === -1) return name;
  if (charCodeAt.call(name, 0) !== 64 /* @ */) return name.slice(0, slash);
  const second = name.indexOf('/', slash + 1);
  return second === -1 ? name : name.slice(0, second);
}

/** Whether the package.json nearest to the application's main script lists `name` among its dependencies. */
export function applicationDependsOn(entry: string, name: string): boolean {
  let dir = path.dirname(path.resolve(entry));
  for (let i = 0; i < 64; i++) {
    const pkg = packageJsonOf(dir);
    if (pkg !== undefined) {
      for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
        const deps = pkg[field];
        if (deps !== null && typeof deps === 'object' && Object.prototype.hasOwnProperty.call(deps, name)) return true;
      }
      return false;
    }
    const parent = path.dirname(dir);
    if (parent === dir) return false;
    dir = parent;
  }
  return false;
}

/**
 * Points the ES module bindings of the built-ins (`import { request } from 'node:http'`, `import * as http`) at the
 * CommonJS exports as they are now. Node.js gives an ES module a built-in's exports as they were when the built-in
 * was first imported, and updates them only through `module.syncBuiltinESMExports()`. An ES module imported by a
 * CommonJS application (a CommonJS entry or launcher that `import()`s the real application, as process managers
 * do) can import node:http before anything requires it; when a CommonJS package (express) then requires it and
 * the agent patches it, the ES module's `request` and `get` would stay Node's own and make no spans. Called once
 * per patched built-in. It updates every built-in's bindings, not only ours, as Node does whenever anyone calls it:
 * an application that changed a built-in's CommonJS exports sees that change in its imports too.
 */
function syncBuiltinImports(): void {
  try {
    (require('node:module') as typeof import('node:module')).syncBuiltinESMExports();
  } catch (err) {
    diag.debug('could not update the ES module bindings of the built-ins', err);
  }
}

/** Whether `target[key] = value` would work (not a frozen or read-only property, nor a non-extensible object). */
function assignable(target: object, key: string): boolean {
  const descriptor = Object.getOwnPropertyDescriptor(target, key);
  if (descriptor === undefined) return Object.isExtensible(target);
  return descriptor.writable === true || typeof descriptor.set === 'function';
}

/** The gate looks like the function it stands in for (name, length), as any wrapper of ours must. */
function markGate<F extends Function>(gate: F, original: Function): F {
  try {
    Object.defineProperty(gate, 'name', { value: original.name, configurable: true });
    Object.defineProperty(gate, 'length', { value: original.length, configurable: true });
  } catch {
    // keep the gate's own
  }
  return gate;
}

function isObjectLike(v: unknown): v is object {
  return v !== null && (typeof v === 'object' || typeof v === 'function');
}

export interface HookOptions {
  /**
   * How ES module imports are instrumented: through import-in-the-middle's hook (`import-hook`, which needs its
   * loader hook registered), through the CommonJS loader that Node loads imported CommonJS packages with
   * (`commonjs-loader`, see _hookModuleLoad), or not at all (false: a CommonJS application, whose modules
   * require-in-the-middle sees).
   */
  esm: false | 'import-hook' | 'commonjs-loader';
  /** The application's main script, from which `commonjs-loader` looks for @opentelemetry/api. */
  entry?: string;
  /**
   * For a CommonJS application (`esm` false): instrument the packages it loads with `import()`, which reach Node's
   * CommonJS loader as an ES module's imports do (_hookModuleLoad). Off when OTEL_NODE_ESM_HOOK=false.
   */
  dynamicImports?: boolean;
}

export class InstrumentationHooks {
  private readonly _byName = new Map<string, Entry[]>();
  private readonly _applied: Applied[] = [];
  private _ritm: { unhook(): void } | undefined;
  private _iitm: { unhook(): void } | undefined;
  private _stops: Array<() => void> = [];
  /**
   * Packages with an instrumentation (not built-ins): the only ones a module loaded by Jest, or imported by its
   * file path, is looked up for.
   */
  private readonly _packages = new Set<string>();
  /** What was wrapped in jest-runtime, for disable(). */
  private readonly _sandboxWraps: Array<[target: object, name: string]> = [];
  private _enabled = false;

  constructor(readonly definitions: readonly InstrumentationDefinition[]) {
    for (const definition of definitions) {
      for (const module of definition.modules) {
        const hookName =
          module.file === undefined ? module.name : `${module.name}/${module.file.replace(/\.js$/, '').replace(/\/index$/, '')}`;
        const key = normaliseHookName(hookName);
        let list = this._byName.get(key);
        if (list === undefined) this._byName.set(key, (list = []));
        list.push({ definition, module, hookName, patched: new WeakSet() });
        if (!BUILTINS.has(module.name)) this._packages.add(module.name);
      }
    }
  }

  /** Names to give the hooks: each module once, built-ins also with their `node:` prefix. */
  get hookNames(): string[] {
    const names = new Set<string>();
    for (const entries of this._byName.values()) {
      for (const e of entries) {
        names.add(e.hookName);
        if (BUILTINS.has(e.hookName)) names.add('node:' + e.hookName);
      }
    }
    if (this._packages.size > 0) names.add(JEST_RUNTIME);
    return [...names];
  }

  /**
   * The ESM loader's include list: the package names (import-in-the-middle matches bare specifiers), and a pattern
   * for the files an instrumented package's entry can be (an `index` file at its top or one directory down), for
   * imports by path: vitest, for one, resolves a test's dependencies itself and imports the file
   * (`import('/app/node_modules/pg/esm/index.mjs')`), which no bare name matches. Which of the files that pattern
   * lets through really is the entry, `_onEsmFileLoaded` decides.
   */
  get esmInclude(): Array<string | RegExp> {
    const include: Array<string | RegExp> = this.esmIncludeNames;
    if (this._packages.size > 0) {
      const names = [...this._packages].map((name) => name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
      include.push(new RegExp(`/node_modules/(?:${names.join('|')})/(?:[^/]+/)?index\\.[cm]?js$`));
    }
    return include;
  }

  /** Package names for the import hook (import-in-the-middle matches on specifiers). */
  get esmIncludeNames(): string[] {
    const names = new Set<string>();
    for (const entries of this._byName.values()) {
      for (const e of entries) {
        if (e.module.file !== undefined) continue;
        names.add(e.module.name);
        if (BUILTINS.has(e.module.name)) names.add('node:' + e.module.name);
      }
    }
    return [...names];
  }

  enable(options: HookOptions): void {
    this._enabled = true;
    for (const definition of this.definitions) {
      if (definition.start === undefined) continue;
      try {
        this._stops.push(definition.start());
      } catch (err) {
        diag.error(`the ${definition.name} instrumentation could not start; it is off`, err);
      }
    }
    this._instrumentAlreadyLoaded();
    this._deferRequireHook(this.hookNames);
    // A CommonJS application's `import()` of a package reaches Node's CommonJS loader the same way as an ES
    // module's import: the loader's hook serves both. Under import-in-the-middle's hook too: another
    // import-in-the-middle loader in the process (@sentry/node registers one, as does the OpenTelemetry
    // auto-instrumentation's `register`) wraps the packages before ours can, and its wrappers report to its own
    // copy of import-in-the-middle, never to our Hook; Node still loads the CommonJS package underneath through
    // Module._load. Whichever sees a package's exports first patches them; the other finds them patched.
    if (options.esm !== false || options.dynamicImports === true) this._hookModuleLoad();
    if (options.esm === 'commonjs-loader') this._requireForEsm(options.entry);
    if (options.esm === 'import-hook') {
      try {
        const IITM = require('import-in-the-middle') as typeof import('import-in-the-middle');
        const HookClass = (IITM.Hook ?? (IITM as any).default) as typeof IITM.Hook;
        this._iitm = new HookClass(this.esmIncludeNames, {}, (exported: any, name: string, basedir: string | void) =>
          this.onModuleImported(exported, name, basedir === undefined ? undefined : (basedir as string)),
        );
        if (typeof (IITM as any).addHook === 'function') {
          (IITM as any).addHook(this._onEsmFileLoaded);
          this._removeEsmFileHook = () => (IITM as any).removeHook?.(this._onEsmFileLoaded);
        }
      } catch (err) {
        diag.error('could not install the import hook; ES modules will not be instrumented', err);
      }
      this._requireLoadedBuiltins();
    }
  }

  /**
   * Under the import hook, an instrumented built-in that was loaded before the agent started (the application
   * imported node:http, then the agent in code) will never pass the hook again: it is required now, which patches
   * it and points the ES module bindings at the wrappers (syncBuiltinImports). One that is not loaded yet is left to
   * the hook, so that a program that never loads it never loads its instrumentation.
   */
  private _requireLoadedBuiltins(): void {
    const loaded = (process as { moduleLoadList?: unknown }).moduleLoadList;
    if (!Array.isArray(loaded)) return;
    for (const [key, entries] of this._byName) {
      if (!BUILTINS.has(key) || !entries.some((e) => e.module.file === undefined) || !loaded.includes('NativeModule ' + key)) continue;
      try {
        require('node:' + key);
      } catch (err) {
        diag.debug(`could not load ${key}, which was loaded before the agent`, err);
      }
    }
  }

  /**
   * A light gate in front of require-in-the-middle, on `Module.prototype.require` (and `process.getBuiltinModule`).
   *
   * - require-in-the-middle resolves the file name of every module required, to find out whether it is one it
   *   hooks: for an application loading express, pg and redis (some 1,300 modules) that doubles Node's own
   *   resolution work — tens of milliseconds of startup (bench/startup.js). The gate sends it only the requires
   *   that can concern an instrumentation: a package name we instrument (`express`, `pg/lib/x`, `node:http`), a
   *   path into a node_modules directory, or a relative require made from inside a package whose internal files
   *   we hook (@redis/client's `dist/lib/client`). Every other require goes straight to Node.
   * - require-in-the-middle (with its `debug` dependency) takes a few milliseconds to load, so it is loaded on the
   *   first require that reaches it: a program that never loads an instrumented module never pays for it.
   */
  private _deferRequireHook(names: string[]): void {
    const Module = require('node:module') as any;
    const proto = Module.prototype;
    const originalRequire = proto.require;
    const originalGetBuiltin = (process as any).getBuiltinModule;
    const packages = new Set(names.map(packageOf));
    // Relative requires from inside these packages may load a hooked internal file.
    const internalDirs = [...new Set(this.definitions.flatMap((d) => d.modules.filter((m) => m.file !== undefined).map((m) => m.name)))].map(
      (name) => `${path.sep}node_modules${path.sep}${name.split('/').join(path.sep)}${path.sep}`,
    );
    let hookedRequire: ((...args: unknown[]) => unknown) | undefined;
    let hookedGetBuiltin: ((...args: unknown[]) => unknown) | undefined;
    const install = () => {
      // An application that froze `process` after the agent started (Object.freeze(process), a hardening step)
      // leaves the gate on getBuiltinModule for good: assigning it would throw into the application's require,
      // which it once did. Then getBuiltinModule stays untraced, and require-in-the-middle's own assignment,
      // made after it has hooked require, fails inside _installRequireHook.
      const builtin = typeof originalGetBuiltin === 'function' && assignable(process, 'getBuiltinModule');
      // require-in-the-middle wraps whatever is in place when it is made: make it wrap Node's own functions, then
      // put the gate back in front.
      proto.require = originalRequire;
      if (builtin) (process as any).getBuiltinModule = originalGetBuiltin;
      this._installRequireHook(names);
      hookedRequire = proto.require;
      hookedGetBuiltin = builtin ? (process as any).getBuiltinModule : originalGetBuiltin;
      proto.require = gate;
      if (builtin) (process as any).getBuiltinModule = gateBuiltin;
    };
    const concerns = (parent: { filename?: unknown } | undefined, id: string): boolean => {
      if (packages.has(packageOf(id))) return true;
      // A package reached by a path rather than its name (`/srv/app/node_modules/pg`, a symlinked install).
      if (id.includes('node_modules')) return true;
      if (charCodeAt.call(id, 0) !== 46 /* . */ || internalDirs.length === 0) return false;
      const from = parent !== undefined && parent !== null && typeof parent.filename === 'string' ? parent.filename : '';
      for (let i = 0; i < internalDirs.length; i++) if (from.includes(internalDirs[i])) return true;
      return false;
    };
    const gate = markGate(function require(this: { filename?: unknown } | undefined, id: string) {
      if (typeof id === 'string' && concerns(this, id)) {
        if (hookedRequire === undefined) install();
        return hookedRequire!.apply(this, arguments as unknown as unknown[]);
      }
      return originalRequire.apply(this, arguments);
    }, originalRequire);
    const gateBuiltin = markGate(function getBuiltinModule(this: unknown, id: string) {
      if (typeof id === 'string' && packages.has(packageOf(id))) {
        if (hookedGetBuiltin === undefined) install();
        return hookedGetBuiltin!.apply(this, arguments as unknown as unknown[]);
      }
      return originalGetBuiltin.apply(this, arguments);
    }, originalGetBuiltin ?? gate);
    proto.require = gate;
    if (typeof originalGetBuiltin === 'function') (process as any).getBuiltinModule = gateBuiltin;
    this._undoGate = () => {
      if (proto.require === gate) proto.require = originalRequire;
      if ((process as any).getBuiltinModule === gateBuiltin) (process as any).getBuiltinModule = originalGetBuiltin;
    };
  }

  private _undoGate: (() => void) | undefined;
  private _removeEsmFileHook: (() => void) | undefined;
  private _undoModuleLoad: (() => void) | undefined;

  /**
   * ES modules without a loader thread. Where import-in-the-middle's hook can only be registered with
   * `module.register` (Node.js 20; 22 before 22.22.3; 24 before 24.11.1), Node runs it in a loader thread of its
   * own, which costs ~60 ms to start and a round trip between threads for every module the application imports
   * (on Node 20, a hook that does nothing made a one-line ES module start 59 ms later and one importing 140
   * modules 241 ms later). Every package we instrument is CommonJS, and Node loads a CommonJS module that an ES
   * module imports with `Module._load(filename)` — not through `require`, which require-in-the-middle watches.
   * This wrapper hands such a load of an instrumented package's file to the instrumentations, as a require of it
   * would have been; the other loads pass straight through (`require()` calls, which always have a parent, first).
   */
  private _hookModuleLoad(): void {
    const Module = require('node:module') as any;
    const original = Module._load;
    if (typeof original !== 'function') return;
    const hooks = this;
    const load = markGate(function _load(this: unknown, request: unknown, parent: unknown) {
      const exports = original.apply(this, arguments);
      if (parent == null && typeof request === 'string' && request.includes(NODE_MODULES)) {
        return hooks._onPackageFileLoaded(exports, request, true);
      }
      return exports;
    }, original);
    Module._load = load;
    this._undoModuleLoad = () => {
      if (Module._load === load) Module._load = original;
    };
  }

  /**
   * What an ES module application imports that never passes through Module._load, required at startup so that it
   * is instrumented all the same: the instrumented built-ins (an ES module's `import http from 'node:http'`, or
   * `import { request }`, gets Node's facade of the exports as they are at its first import: patched by then),
   * and @opentelemetry/api when the application's package.json depends on it (its ES module build loads no
   * CommonJS at all; the API keeps its globals per major version, so registering through the CommonJS build
   * serves the ES module build). Not merely when it is installed: it is often there for some dependency's sake,
   * and loading it takes ~25 ms (Node 20).
   */
  private _requireForEsm(entry: string | undefined): void {
    for (const [key, entries] of this._byName) {
      if (!BUILTINS.has(key) || !entries.some((e) => e.module.file === undefined)) continue;
      try {
        require('node:' + key);
      } catch (err) {
        diag.debug(`could not load ${key} for ES module imports`, err);
      }
    }
    if (entry === undefined || !this._byName.has(API_PACKAGE) || !applicationDependsOn(entry, API_PACKAGE)) return;
    try {
      const { createRequire } = require('node:module') as typeof import('node:module');
      createRequire(entry)(API_PACKAGE);
    } catch (err) {
      diag.debug(`${API_PACKAGE} is in the application's package.json but could not be loaded`, err);
    }
  }

  /**
   * Every module the ESM loader wrapped, by URL: an instrumented package's entry imported by its file path (see
   * esmInclude) is instrumented as `import 'pkg'` would be. Imports by name come here too and are patched once.
   */
  private readonly _onEsmFileLoaded = (loadUrl: unknown, namespace: any): void => {
    try {
      if (!this._enabled || typeof loadUrl !== 'string' || !loadUrl.startsWith('file:') || !loadUrl.includes('/node_modules/')) return;
      const { fileURLToPath } = require('node:url') as typeof import('node:url');
      const filename = fileURLToPath(loadUrl);
      const file = packageFileOf(filename);
      if (file === undefined || !this._packages.has(file.pkg)) return;
      if (filename !== mainFileOf(file.basedir) && filename !== esmEntryOf(file.basedir)) return;
      this.onModuleImported(namespace, file.pkg, file.basedir);
    } catch (err) {
      diag.error(`instrumenting ${String(loadUrl)} (ESM) failed; it is left as it was`, err);
    }
  };

  private _installRequireHook(names: string[]): void {
    const Module = require('node:module') as { prototype: { require: unknown } };
    const before = Module.prototype.require;
    try {
      const { Hook } = require('require-in-the-middle') as typeof import('require-in-the-middle');
      this._ritm = new Hook(names, { internals: false }, ((exports: unknown, name: string, basedir?: string) =>
        this.onModuleLoaded(exports, name, basedir, 'commonjs')) as any);
    } catch (err) {
      if (Module.prototype.require !== before && !assignable(process, 'getBuiltinModule')) {
        // require is hooked; only process.getBuiltinModule, frozen with `process`, could not be (see install in
        // _deferRequireHook).
        diag.warn('process is frozen: modules loaded through process.getBuiltinModule are not instrumented (require is)');
      } else diag.error('could not install the require hook; CommonJS modules will not be instrumented', err);
    }
  }

  /** Removes the hooks and undoes every patch. */
  disable(): void {
    this._enabled = false;
    this._undoGate?.();
    this._undoGate = undefined;
    this._undoModuleLoad?.();
    this._undoModuleLoad = undefined;
    try {
      this._ritm?.unhook();
      this._iitm?.unhook();
    } catch (err) {
      diag.debug('unhooking failed', err);
    }
    this._removeEsmFileHook?.();
    this._removeEsmFileHook = undefined;
    this._ritm = this._iitm = undefined;
    for (const stop of this._stops.splice(0)) {
      try {
        stop();
      } catch (err) {
        diag.debug('stopping an instrumentation failed', err);
      }
    }
    if (this._sandboxWraps.length > 0) {
      const { unwrapMethod } = require('./wrap') as typeof import('./wrap');
      for (const [target, name] of this._sandboxWraps.splice(0).reverse()) unwrapMethod(target, name);
    }
    let builtinUnpatched = false;
    for (const applied of this._applied.splice(0).reverse()) {
      try {
        applied.entry.patcher?.unpatch(applied.target, applied.info);
        applied.entry.patched.delete(applied.target);
        if (applied.info.basedir === undefined && applied.info.format === 'commonjs') builtinUnpatched = true;
      } catch (err) {
        diag.debug(`unpatching ${applied.info.name} failed`, err);
      }
    }
    if (builtinUnpatched) syncBuiltinImports();
  }

  /**
   * The require hook. Returns the exports it was given, patched in place where an instrumentation applies.
   * `track`: remember the patch for disable(); not for the modules of a Jest test file, which die with its
   * module registry and would otherwise be kept alive here for the whole run.
   */
  onModuleLoaded(exports: any, name: string, basedir: string | undefined, format: 'commonjs' | 'module', track = true): any {
    try {
      const key = normaliseHookName(name);
      if (key === JEST_RUNTIME) {
        this._hookJestRuntime(exports);
        return exports;
      }
      const entries = this._byName.get(key);
      if (entries === undefined || !isObjectLike(exports)) return exports;
      for (const entry of entries) this._apply(entry, exports, name, basedir, format, track);
    } catch (err) {
      diag.error(`instrumenting ${name} failed; it is left as it was`, err);
    }
    return exports;
  }

  private _hookJestRuntime(exports: unknown): void {
    const { hookJestRuntime } = require('./jest-runtime') as typeof import('./jest-runtime');
    const { recordingWraps } = require('./wrap') as typeof import('./wrap');
    const hooked = recordingWraps(this._sandboxWraps, () => hookJestRuntime(exports, this._onJestModuleLoaded));
    if (hooked) diag.debug('instrumenting the modules Jest loads for its test files');
    else diag.debug('jest-runtime has no module loader we know; modules Jest loads are not instrumented');
  }

  /**
   * A module file Jest loaded: named as require-in-the-middle would name it (the package for its main file,
   * `package/path/in/it` for another file) and handed to the instrumentations. Cheap for the thousands of files
   * that concern none: one search for node_modules in the path and a set lookup.
   */
  private readonly _onJestModuleLoaded = (exports: unknown, filename: string): unknown => this._onPackageFileLoaded(exports, filename, false);

  /**
   * A module file loaded by its file name (by Jest, or by Node for an ES module's import): named as
   * require-in-the-middle would name it (the package for its main file, `package/path/in/it` for another file)
   * and handed to the instrumentations. `track`: see onModuleLoaded. Cheap for the files that concern none: one
   * search for node_modules in the path and a set lookup.
   */
  private _onPackageFileLoaded(exports: unknown, filename: string, track: boolean): unknown {
    try {
      if (!this._enabled) return exports;
      const file = packageFileOf(filename);
      if (file === undefined || !this._packages.has(file.pkg)) return exports;
      const name = filename === mainFileOf(file.basedir) ? file.pkg : file.pkg + '/' + file.inner;
      return this.onModuleLoaded(exports, name, file.basedir, 'commonjs', track);
    } catch (err) {
      diag.error(`instrumenting ${filename} failed; it is left as it was`, err);
      return exports;
    }
  }

  /**
   * The import hook. For a CommonJS module or a Node.js built-in the namespace's `default` is the real exports
   * object, which is patched (once, even if `require` reaches it too); named exports that were copies of
   * functions we wrapped are then pointed at the wrappers, so `import { request } from 'node:http'` is traced
   * like `http.request`. An ES module without a default object is patched through its namespace.
   */
  onModuleImported(namespace: any, name: string, basedir: string | undefined): void {
    try {
      const entries = this._byName.get(normaliseHookName(name));
      if (entries === undefined || namespace === null || typeof namespace !== 'object') return;
      const def = namespace.default;
      const target = isObjectLike(def) ? def : namespace;
      for (const entry of entries) this._apply(entry, target, name, basedir, 'module');
      if (target !== namespace) {
        for (const key of Object.keys(namespace)) {
          if (key === 'default') continue;
          const patched = (target as any)[key];
          if (typeof patched === 'function' && patched !== namespace[key] && patched[ORIGINAL] === namespace[key]) {
            namespace[key] = patched;
          }
        }
      }
    } catch (err) {
      diag.error(`instrumenting ${name} (ESM) failed; it is left as it was`, err);
    }
  }

  private _apply(entry: Entry, target: any, name: string, basedir: string | undefined, format: 'commonjs' | 'module', track = true): void {
    if (entry.patched.has(target)) return;
    const isBuiltin = basedir === undefined;
    const version = isBuiltin ? process.versions.node : packageVersion(basedir);
    const label = `${entry.module.name}${version === undefined ? '' : '@' + version}`;
    if (version === undefined) {
      diag.debug(`${label}: no version found in ${basedir}/package.json; not instrumented`);
      return;
    }
    if (entry.module.versions !== '*') {
      if (!versionInRange(version, entry.module.versions)) {
        diag.debug(`${label} is outside the supported range ${entry.module.versions}; left alone`);
        return;
      }
    }
    const info: ModuleInfo = { name, version, basedir, format };
    let patcher = entry.patcher;
    const wraps: Array<[target: object, name: string]> = [];
    // Loaded here, not at startup (it loads shimmer): the patch code is about to load it anyway.
    const { recordingWraps, unwrapMethod } = require('./wrap') as typeof import('./wrap');
    try {
      if (patcher === undefined) patcher = entry.patcher = entry.module.load();
      entry.patched.add(target);
      const loaded = patcher;
      recordingWraps(wraps, () => loaded.patch(target, info));
      if (isBuiltin && format === 'commonjs') syncBuiltinImports();
      if (track) this._applied.push({ entry, target, info });
      diag.debug(`instrumented ${label} (${entry.definition.name}, ${format === 'commonjs' ? 'require' : 'import'})`);
    } catch (err) {
      diag.error(`instrumenting ${label} failed; it is left as it was`, err);
      try {
        patcher?.unpatch(target, info);
      } catch {
        // a second failure while undoing: what the patch wrapped is put back below all the same
      }
      // Whatever the patch wrapped goes back, even if its unpatch failed or missed it: the module is left as it was.
      for (let i = wraps.length - 1; i >= 0; i--) unwrapMethod(wraps[i][0], wraps[i][1]);
    }
  }

  /**
   * Instrumented packages loaded before the agent started (by another preload, or by the application before it
   * required the agent in code) are patched now, as require-in-the-middle would patch them at the application's
   * next require of them anyway — and as an ES module's import of them on Node.js 20, which takes them from the
   * cache without passing any hook, never would. What was made with them before may still escape (an object
   * built, a function a package copied at load), hence the warning, once per package.
   */
  private _instrumentAlreadyLoaded(): void {
    const cache = require.cache;
    const warned = new Set<string>();
    for (const file of Object.keys(cache)) {
      const pkg = packageFileOf(file)?.pkg;
      if (pkg === undefined || !this._packages.has(pkg)) continue;
      const loaded = cache[file];
      // a module still being loaded (a cycle through the agent's require) is left to the hooks
      if (loaded !== undefined && loaded.loaded) this._onPackageFileLoaded(loaded.exports, file, true);
      if (warned.has(pkg) || !this._byName.has(pkg)) continue;
      warned.add(pkg);
      diag.warn(
        `${pkg} was loaded before zerotel: it is instrumented from now on, but what the application made with it before ` +
          `may not be traced. Start the agent first: node --require zerotel/register app.js (or put it first in NODE_OPTIONS)`,
      );
    }
  }
}
