/**
 * Loads dist/runtime.js (the agent's code beyond startup, see scripts/bundle.js) with a V8 code cache, so that a
 * process does not compile its ~380 KB again each time it starts.
 *
 * Why: compiling runtime.js is most of what the agent adds to an application's start. It happens the first time
 * the application loads an instrumented module (usually `http`), and measured on Node 20 it took ~5 ms of the
 * ~9 ms that first `require('http')` gained under the agent; loading runtime.js took 9.4–15.6 ms without its cache
 * and 2.6–3.9 ms with it (timed in the process, an express 5 app's start). V8 checks a cache before it uses one
 * (its own version, the flags the process runs with, the source's length) and compiles afresh when the cache does
 * not fit, so a cache from another Node.js version or another build is never used.
 *
 * Where: in a `.code-cache` directory beside runtime.js, inside the agent's own package, never in a shared
 * directory such as the system's temporary one (anyone who can write there could hand the process code to run;
 * whoever can write to the package's directory can change its code anyway). The file name holds what V8 does not
 * check itself: the build (a hash of runtime.js that scripts/bundle.js computes), the file's size and modification
 * time (a runtime.js patched in place after installation), the V8 version and the architecture; and, for a
 * process started with options beyond those that load code (`--require`, `--import`, `-e`…), a hash of those
 * options: V8 rejects a cache made under other V8 flags (`--max-old-space-size` on Node.js 20 and 22,
 * `--stack-size`, `--perf-basic-prof`…), so each set of options gets a cache of its own, and a service started
 * with flags and a script started without them, sharing one installation, both keep theirs. (V8's own key for
 * this, `v8.cachedDataVersionTag()`, costs ~3 ms of startup to ask for: node:v8 has to load.)
 *
 * When: a process that finds no cache makes one once its start is done (on the first turn of the event loop after
 * runtime.js loaded, by which time the agent has patched the modules the application loads at startup, so their
 * compiled code is in it): about 1 ms to serialise and a write of 80–180 KB (more the later the cache is made),
 * in a file renamed into place so that processes starting at the same time never read half a file. A process that
 * finds a cache V8 rejects makes a new one in its place the same way: a cache made by a process whose V8 flags
 * the options did not show (flags set with `v8.setFlagsFromString`, a copy of the package moved to a machine with
 * other CPU features) or a damaged file would otherwise cost every later start the whole compile (seen: a
 * benchmark run with `--perf-basic-prof` in NODE_OPTIONS left a cache that every later process rejected). A build
 * keeps at most MAX_CACHES_PER_BUILD caches, the oldest going first. A directory that cannot be written (a
 * read-only image, another user's installation) just means no cache. OTEL_NODE_CODE_CACHE=false turns all of this
 * off: runtime.js is then loaded by `require`, as without the cache.
 */
import * as fs from 'node:fs';
import Module from 'node:module';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { diag } from '../diag/logger';

const CACHE_DIRECTORY = '.code-cache';
/** Caches of one build kept at once (one per set of options that processes start with), the oldest going first. */
const MAX_CACHES_PER_BUILD = 8;

let enabled = true;
/** '' for a process started with no options beyond those that load code, else `-o` and a hash of the others. */
let optionsKey = '';

/**
 * Set from the configuration (OTEL_NODE_CODE_CACHE, and NODE_OPTIONS for the options key) before anything loads
 * runtime.js.
 */
export function setCodeCacheOptions(on: boolean, nodeOptions: string | undefined): void {
  enabled = on;
  optionsKey = on ? optionsKeyOf(process.execArgv, nodeOptions) : '';
}

/**
 * Options whose value is code to load or run, never a V8 flag: they do not change what V8 compiles, and keying
 * caches by them would give each script its own cache. Their values go with them; every other word that is not an
 * option (another option's value) is dropped too. (A Set, not a regular expression: this runs at every start, and
 * compiling one cost more than the rest of the key, ~0.3 ms in a CPU profile.)
 */
const CODE_OPTIONS = new Set(['-r', '--require', '--import', '--loader', '--experimental-loader', '-e', '--eval', '-p', '--print']);
const charCodeAt: (this: string, index: number) => number = String.prototype.charCodeAt; // why: charCodeAt in src/exporters/otlp/protobuf-writer.ts
const DASH = 0x2d;

/**
 * The part of the cache's file name that stands for the process's options (execArgv and NODE_OPTIONS): '' when
 * there are none but those that load code, else `-o` and an FNV-1a hash of them in order.
 */
export function optionsKeyOf(execArgv: readonly string[], nodeOptions: string | undefined): string {
  const words = nodeOptions === undefined ? execArgv : [...execArgv, ...nodeOptions.split(' ')];
  let hash = 0x811c9dc5;
  let any = false;
  for (let w = 0; w < words.length; w++) {
    const word = words[w];
    if (charCodeAt.call(word, 0) !== DASH) continue;
    const equals = word.indexOf('=');
    if (CODE_OPTIONS.has(equals === -1 ? word : word.slice(0, equals))) {
      if (equals === -1) w++; // its value, even one that starts with a dash (`-e -1`)
      continue;
    }
    any = true;
    for (let i = 0; i < word.length; i++) hash = Math.imul(hash ^ charCodeAt.call(word, i), 0x01000193);
    hash = Math.imul(hash ^ 0x20, 0x01000193);
  }
  return any ? `-o${(hash >>> 0).toString(16).padStart(8, '0')}` : '';
}

/**
 * Loads the bundle `file` as a CommonJS module registered in Node's module cache under its own name (as
 * `require(file)` would), compiled from its code cache when there is one that fits. `buildId` identifies the
 * bundle's content (scripts/bundle.js). Throws what evaluating the bundle throws, as `require` would.
 */
export function loadBundle(file: string, parent: NodeModule, buildId: string): unknown {
  if (!enabled) return parent.require(file);
  let script: vm.Script;
  let cachePath: string | undefined;
  let cached: Buffer | undefined;
  let buildPrefix = '';
  try {
    // The bundles are ASCII only (scripts/bundle.js): read as latin1 they are the same string, made without
    // UTF-8 decoding (~0.3 ms for runtime.js, against 0.4–1 ms as UTF-8).
    const source = fs.readFileSync(file, 'latin1');
    const stat = fs.statSync(file);
    const stamp = `${buildId}-${stat.size}-${Math.trunc(stat.mtimeMs)}`;
    buildPrefix = `${path.basename(file, '.js')}-${stamp}-`;
    cachePath = path.join(path.dirname(file), CACHE_DIRECTORY, `${buildPrefix}${process.versions.v8}-${process.arch}${optionsKey}.bin`);
    cached = readIfPresent(cachePath);
    script = new vm.Script(Module.wrap(source), { filename: file, cachedData: cached });
  } catch (err) {
    // Anything unexpected before the bundle runs: load it the ordinary way.
    diag.debug(`code cache: not used for ${file}`, err);
    return parent.require(file);
  }
  const exports = evaluate(script, file, parent);
  const rejected = cached !== undefined && script.cachedDataRejected === true;
  if (rejected) diag.debug(`code cache: V8 rejected ${cachePath} (other V8 flags, or a damaged file); compiled ${file} afresh and will replace it`);
  else if (cached !== undefined) diag.debug(`code cache: compiled ${file} from ${cachePath}`);
  if (cached === undefined || rejected) {
    const target = cachePath;
    setImmediate(() => writeCache(script, target, buildPrefix, file)).unref();
  }
  return exports;
}

function readIfPresent(file: string): Buffer | undefined {
  try {
    return fs.readFileSync(file);
  } catch {
    return undefined;
  }
}

/** Runs the compiled module wrapper as Node's loader would, with the module in Node's cache while it runs. */
function evaluate(script: vm.Script, file: string, parent: NodeModule): unknown {
  const Ctor = Module as unknown as {
    new (id: string, parent: NodeModule): NodeModule;
    _cache: Record<string, NodeModule>;
    _nodeModulePaths(dir: string): string[];
  };
  const mod = new Ctor(file, parent) as NodeModule & { filename: string; paths: string[]; loaded: boolean };
  mod.filename = file;
  mod.paths = Ctor._nodeModulePaths(path.dirname(file));
  Ctor._cache[file] = mod;
  try {
    const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
    wrapper.call(mod.exports, mod.exports, Module.createRequire(file), mod, file, path.dirname(file));
  } catch (err) {
    delete Ctor._cache[file];
    throw err;
  }
  mod.loaded = true;
  return mod.exports;
}

/** Writes the cache of `script` to `target` (through a temporary file and a rename), and removes other builds'. */
function writeCache(script: vm.Script, target: string, buildPrefix: string, file: string): void {
  const dir = path.dirname(target);
  const temporary = `${target}.${process.pid}.tmp`;
  try {
    const data = script.createCachedData();
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(temporary, data);
    fs.renameSync(temporary, target);
    diag.debug(`code cache: wrote ${target} (${data.length} bytes)`);
  } catch (err) {
    diag.debug(`code cache: could not write ${target}; ${file} will be compiled at each start`, err);
    try {
      fs.rmSync(temporary, { force: true });
    } catch {
      // nothing more to do
    }
    return;
  }
  removeOtherBuilds(dir, buildPrefix, path.basename(file, '.js'));
}

/**
 * Caches of earlier builds of the same bundle can never fit again: they go. Caches of this build for other V8
 * versions or other options stay (one installation run by two Node.js versions, or by processes started with
 * different flags), at most MAX_CACHES_PER_BUILD of them: the least recently written go first.
 */
function removeOtherBuilds(dir: string, buildPrefix: string, base: string): void {
  try {
    const ours: Array<{ name: string; mtimeMs: number }> = [];
    for (const name of fs.readdirSync(dir)) {
      if (!name.startsWith(base + '-') || !name.endsWith('.bin')) continue;
      if (!name.startsWith(buildPrefix)) fs.rmSync(path.join(dir, name), { force: true });
      else ours.push({ name, mtimeMs: fs.statSync(path.join(dir, name)).mtimeMs });
    }
    if (ours.length <= MAX_CACHES_PER_BUILD) return;
    ours.sort((a, b) => a.mtimeMs - b.mtimeMs);
    for (let i = 0; i < ours.length - MAX_CACHES_PER_BUILD; i++) fs.rmSync(path.join(dir, ours[i].name), { force: true });
  } catch (err) {
    diag.debug('code cache: could not tidy its directory', err);
  }
}
