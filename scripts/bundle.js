#!/usr/bin/env node
'use strict';
/**
 * Builds the agent's two load units from the compiled output (run after `tsc`; `npm run build` does both):
 *
 * - dist/preload.js — what the preload runs at startup: the modules dist/src/agent/start.js reaches through
 *   top-level requires.
 * - dist/runtime.js — everything else the agent can load (the SDK, exporters, propagators, every
 *   instrumentation's patch code) and the runtime dependencies it needs for hooking (require-in-the-middle,
 *   semver, shimmer), loaded as one file the first time the application loads an instrumented module.
 *
 * Why: on the machines we measure, Node.js spends about half a millisecond on each module file it loads
 * (resolve, stat, read, compile). The preload path is some twenty small modules, and the first instrumented
 * `require` pulled in some fifty more (semver alone is nineteen files): tens of milliseconds of an
 * application's startup, most of the agent's startup cost. One file costs one load.
 *
 * How it stays correct:
 * - Each of the agent's own modules is registered in Node's module cache under its real file name as it is
 *   evaluated, so anything that loads one of them from its own file (tests, the CLI) gets the same instance —
 *   one diag logger, one runtime, one set of hooks.
 * - Dependencies are private to the bundle (never put in Node's cache: the application may load its own copy
 *   of semver or debug, at another version, and must keep getting that). require-in-the-middle's `debug`
 *   dependency is replaced by a silent stand-in: loading `debug` touches process.stderr and a tty check on the
 *   startup path, and its output (DEBUG=require-in-the-middle) is of no use to the agent's users.
 * - A require the bundles do not hold (a Node.js built-in, import-in-the-middle, @grpc/grpc-js, a file
 *   only referred to by path such as the exit worker) goes to Node's own `require`, from the module's real file.
 */
const fs = require('node:fs');
const path = require('node:path');
const { builtinModules } = require('node:module');

const ROOT = path.join(__dirname, '..');
const DIST = path.join(ROOT, 'dist');
const ENTRY = path.join(DIST, 'src', 'agent', 'start.js');
/** The preload module that loads runtime.js (with its code cache). */
const CODE_CACHE = path.join(DIST, 'src', 'agent', 'code-cache.js');
/** Dependencies bundled into runtime.js. Everything else from node_modules is required as usual. */
const BUNDLED_DEPENDENCIES = new Set(['require-in-the-middle', 'module-details-from-path', 'semver', 'shimmer']);
/** Dependencies replaced by a stand-in inside the bundle. */
const STAND_INS = { debug: 'module.exports = function createDebug() { const log = function () {}; log.enabled = false; return log; };' };
/** Parts of dist that are not the agent (the command-line tool and its report code load on their own). */
const NOT_AGENT = [path.join(DIST, 'src', 'cli') + path.sep, path.join(DIST, 'src', 'report') + path.sep];

const TOP_LEVEL_REQUIRE = /^(?:const|let|var) [\w$]+ = (?:__importStar\(|__importDefault\()?require\("([^"]+)"\)/gm;
const ANY_REQUIRE = /\brequire\((['"])([^'"\n]+)\1\)/g;

const isBuiltin = (request) => request.startsWith('node:') || builtinModules.includes(request.split('/')[0]);

function packageName(request) {
  const parts = request.split('/');
  return request.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** The key of a file: its path relative to dist for the agent's own, `npm:<path under node_modules>` for a dependency. */
function keyOf(file) {
  const at = file.lastIndexOf(`${path.sep}node_modules${path.sep}`);
  if (at !== -1) return 'npm:' + file.slice(at + 14).split(path.sep).join('/');
  return path.relative(DIST, file).split(path.sep).join('/');
}

/**
 * Walks the graph from `file`. `follow(request)` says whether a require is followed into the bundle being built.
 * Returns Map key -> { file, source, requires: { request: key } }.
 */
function collect(entries, { topLevelOnly, skip }) {
  const modules = new Map();
  const visit = (file) => {
    const key = keyOf(file);
    if (modules.has(key) || skip.has(key)) return key;
    const source = fs.readFileSync(file, 'utf8');
    const entry = { file, source, requires: {} };
    modules.set(key, entry);
    const pattern = topLevelOnly ? TOP_LEVEL_REQUIRE : ANY_REQUIRE;
    for (const match of source.matchAll(pattern)) {
      const request = topLevelOnly ? match[1] : match[2];
      if (isBuiltin(request)) continue;
      const relative = request.startsWith('.');
      const external = !relative && !request.startsWith('/');
      const isDependencyFile = key.startsWith('npm:');
      if (external && !isDependencyFile && !BUNDLED_DEPENDENCIES.has(packageName(request)) && STAND_INS[request] === undefined) continue;
      if (external && isDependencyFile && !BUNDLED_DEPENDENCIES.has(packageName(request)) && STAND_INS[request] === undefined) continue;
      if (STAND_INS[request] !== undefined) {
        entry.requires[request] = 'stand-in:' + request;
        continue;
      }
      let target;
      try {
        target = require.resolve(request, { paths: [path.dirname(file)] });
      } catch {
        continue; // an optional require that does not resolve here: left to Node at run time
      }
      if (!target.endsWith('.js') || NOT_AGENT.some((dir) => target.startsWith(dir))) continue;
      if (topLevelOnly && keyOf(target).startsWith('npm:')) continue;
      entry.requires[request] = visit(target);
    }
    return key;
  };
  for (const e of entries) visit(e);
  return modules;
}

const LOADER = `
const Module = require('node:module');
const path = require('node:path');
const fallbackRequire = Module.createRequire(__filename);
const privateInstances = Object.create(null);
function load(key, parent) {
  if (key.startsWith('stand-in:')) return standIns[key.slice(9)]();
  const own = !key.startsWith('npm:');
  if (own) {
    // Loaded already, by the other bundle or from its file.
    const cached = Module._cache[path.join(__dirname, key)];
    if (cached !== undefined) return cached.exports;
  }
  const definition = definitions[key];
  if (definition === undefined) return other(key, parent);
  const [requires, body] = definition;
  if (!own) {
    // A dependency: private to the bundle, never in Node's module cache.
    const known = privateInstances[key];
    if (known !== undefined) return known.exports;
    const mod = { exports: {}, id: key, loaded: false };
    privateInstances[key] = mod;
    const localRequire = (request) => (requires[request] !== undefined ? load(requires[request], mod) : fallbackRequire(request));
    localRequire.resolve = fallbackRequire.resolve;
    localRequire.cache = Module._cache;
    body.call(mod.exports, mod.exports, localRequire, mod, __filename, __dirname);
    mod.loaded = true;
    return mod.exports;
  }
  // One of the agent's own modules: registered under its real file name, so every loader shares one instance.
  const filename = path.join(__dirname, key);
  const mod = new Module(filename, module);
  mod.filename = filename;
  mod.paths = Module._nodeModulePaths(path.dirname(filename));
  Module._cache[filename] = mod;
  const localRequire = function require(request) {
    const target = requires[request];
    return target !== undefined ? load(target, mod) : mod.require(request);
  };
  localRequire.resolve = (request, options) => Module._resolveFilename(request, mod, false, options);
  localRequire.cache = Module._cache;
  localRequire.main = process.mainModule;
  try {
    body.call(mod.exports, mod.exports, localRequire, mod, filename, path.dirname(filename));
  } catch (err) {
    delete Module._cache[filename];
    throw err;
  }
  mod.loaded = true;
  return mod.exports;
}
`;

/**
 * A module's source as it goes into a bundle: comments removed and every non-ASCII character written as a \u
 * escape. Node.js keeps a script's source for the life of the process (functions compile lazily from it, and
 * Function#toString reads it), and a source with one character above U+00FF is held as a two-byte string: with
 * the comments' dashes and arrows, runtime.js was 1.1 MB of heap for 0.58 M characters. TypeScript's own
 * printer removes the comments (a parse, not a pattern: regular expressions and strings that contain comment
 * markers stay intact); the escapes mean the same in strings, templates and regular expressions.
 */
function compact(source, file) {
  const ts = require('typescript');
  const out = ts.transpileModule(source, {
    fileName: file,
    compilerOptions: { removeComments: true, target: ts.ScriptTarget.ESNext, module: ts.ModuleKind.Preserve, sourceMap: false, allowJs: true },
    reportDiagnostics: false,
  }).outputText;
  return withoutIndentation(ts, out, file).replace(/[^\x00-\x7f]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

/**
 * The source without the printer's indentation, which was 83 KB of runtime.js's 466 KB. Held for the life of the
 * process, the source is part of the live heap that V8 sizes the old generation from: under the load benchmark
 * the old generation grew to ~3.5 times what was live before each full collection (measured with --trace-gc on
 * the `hello` app), so every kilobyte held is several of peak memory. Lines that begin inside a template literal
 * (or a string continued with a backslash) keep their leading spaces: there they are part of a string.
 */
function withoutIndentation(ts, source, file) {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.ESNext, false, ts.ScriptKind.JS);
  const templates = [];
  (function visit(node) {
    const kind = node.kind;
    if (kind === ts.SyntaxKind.TemplateExpression || kind === ts.SyntaxKind.NoSubstitutionTemplateLiteral || kind === ts.SyntaxKind.StringLiteral) {
      templates.push([node.getStart(sf), node.end]);
      return;
    }
    ts.forEachChild(node, visit);
  })(sf);
  let out = '';
  let lineStart = 0;
  let t = 0;
  while (lineStart < source.length) {
    let lineEnd = source.indexOf('\n', lineStart);
    if (lineEnd === -1) lineEnd = source.length - 1;
    while (t < templates.length && templates[t][1] <= lineStart) t++;
    const inTemplate = t < templates.length && templates[t][0] < lineStart;
    const line = source.slice(lineStart, lineEnd + 1);
    out += inTemplate ? line : line.replace(/^[ \t]+/, '');
    lineStart = lineEnd + 1;
  }
  return out;
}

function definitionsSource(modules) {
  let out = 'const definitions = {\n';
  for (const [key, { file, source, requires }] of modules) {
    const body = compact(source.replace(/^\/\/# sourceMappingURL=.*$/m, ''), file);
    out += `${JSON.stringify(key)}: [${JSON.stringify(requires)}, function (exports, require, module, __filename, __dirname) {\n${body}\n}],\n`;
  }
  return out + '};\n';
}

function standInsSource(modules) {
  const used = new Set();
  for (const { requires } of modules.values()) for (const k of Object.values(requires)) if (k.startsWith('stand-in:')) used.add(k.slice(9));
  let out = 'const standIns = {\n';
  for (const name of used) out += `${JSON.stringify(name)}: () => { const module = { exports: {} }; ${STAND_INS[name]} return module.exports; },\n`;
  return out + '};\n';
}

// preload.js: the top-level graph of start.js.
const preload = collect([ENTRY], { topLevelOnly: true, skip: new Set() });
// runtime.js: everything the agent's modules can require (lazily too), minus what preload.js holds.
const runtimeEntries = [];
for (const { file } of preload.values()) runtimeEntries.push(file);
const everything = collect(runtimeEntries, { topLevelOnly: false, skip: new Set() });
const runtime = new Map([...everything].filter(([key]) => !preload.has(key)));
if (!preload.has(keyOf(CODE_CACHE))) throw new Error('bundle: src/agent/code-cache.js must be a top-level require of the preload graph');
// Lazy requires of preload modules point into runtime.js.
for (const [key, entry] of preload) entry.requires = everything.get(key).requires;

const HEADER = `'use strict';\n// Generated by scripts/bundle.js from the compiled agent: do not edit. See that script for why and how.\n`;

const runtimeSource =
  HEADER + LOADER + standInsSource(runtime) + definitionsSource(runtime) +
  `function other(key) { throw new Error('zerotel bundle: no module ' + key); }\nmodule.exports = { load, has: (key) => definitions[key] !== undefined || key.startsWith('stand-in:') };\n`;
fs.writeFileSync(path.join(DIST, 'runtime.js'), runtimeSource);
// Names runtime.js's content in the name of its V8 code cache (src/agent/code-cache.ts): V8 itself only checks a
// cache against the source's length.
const runtimeBuildId = require('node:crypto').createHash('sha256').update(runtimeSource).digest('hex').slice(0, 16);
fs.writeFileSync(
  path.join(DIST, 'preload.js'),
  HEADER + LOADER + standInsSource(preload) + definitionsSource(preload) +
    `let runtime;\nfunction other(key, parent) {\n  if (runtime === undefined) runtime = load(${JSON.stringify(keyOf(CODE_CACHE))}).loadBundle(path.join(__dirname, 'runtime.js'), module, ${JSON.stringify(runtimeBuildId)});\n  return runtime.load(key, parent);\n}\n` +
    `module.exports = load(${JSON.stringify(keyOf(ENTRY))});\n`,
);
process.stdout.write(`bundled ${preload.size} modules into dist/preload.js and ${runtime.size} into dist/runtime.js\n`);
