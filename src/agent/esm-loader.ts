/**
 * The ESM side of the preload. CommonJS applications need nothing here (require-in-the-middle sees their modules),
 * so this runs only when the application uses ES modules: an `.mjs` (`.mts`) entry, a `.js` (`.ts`) entry whose
 * package says `"type": "module"` or whose source uses import/export syntax, a `-e` script with that syntax, or a
 * process started with `--import`/`--loader`.
 * OTEL_NODE_ESM_HOOK=true|false overrides the guess.
 *
 * Where Node.js runs `module.registerHooks` hooks in the application's own thread correctly, import-in-the-middle's
 * hook is registered there. Elsewhere (all of Node.js 20, older 22 and 24) it could only be registered with
 * `module.register`, which runs it in a loader thread: measured on Node 20, a one-line ES module started ~110 ms
 * later under the agent and one importing 140 modules ~320 ms later, most of it that thread's start and its
 * round trip per imported module. There the agent uses no loader at all: every package it instruments is
 * CommonJS, which Node loads through its CommonJS loader even for an import, and the hooks instrument it there
 * (InstrumentationHooks._hookModuleLoad).
 */
import fs = require('node:fs');
import path = require('node:path');
import { diag } from '../diag/logger';

const ESM_FLAGS = /(?:^|\s)(?:--import|--loader|--experimental-loader|--input-type=module|--experimental-default-type=module)\b/;
// A top-level import or export statement (not `import(` — a dynamic import is legal in CommonJS too — nor
// TypeScript's `import x = require('x')`, which compiles to CommonJS).
const ESM_SYNTAX = /^\s*(?:import\s*(?:(?![\w$]+\s*=)[\w*{$]|["'])|export\s+(?:default|const|let|var|function|class|async|\{|\*))/m;

/** The "type" of the nearest package.json; undefined when it has none (or there is none). */
function nearestPackageType(dir: string): string | undefined {
  for (let i = 0; i < 64; i++) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
      return typeof pkg.type === 'string' ? pkg.type : undefined;
    } catch {
      // no package.json here (or unreadable): look further up
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
  return undefined;
}

function resolveEntry(entry: string): string | undefined {
  const abs = path.resolve(entry);
  try {
    if (fs.statSync(abs).isFile()) return abs;
  } catch {
    // not a file as given: Node would try extensions and index files
  }
  try {
    return require.resolve(abs);
  } catch {
    return undefined;
  }
}

/** Whether this process's application is (or starts as) an ES module application. */
export function applicationUsesEsm(nodeOptions: string | undefined, setting: boolean | undefined): boolean {
  if (setting !== undefined) return setting;
  if (ESM_FLAGS.test(process.execArgv.join(' ')) || (nodeOptions !== undefined && ESM_FLAGS.test(nodeOptions))) return true;
  const entry = process.argv[1];
  if (entry === undefined || entry === '') {
    // `node -e`/`-p`: Node.js 22.7+ runs a script with module syntax as an ES module (--input-type=module is seen
    // above). Node keeps the script in process._eval, set before the preload runs.
    const script = (process as { _eval?: unknown })._eval;
    return typeof script === 'string' && ESM_SYNTAX.test(script);
  }
  const file = resolveEntry(entry);
  if (file === undefined) return false;
  const ext = path.extname(file);
  if (ext === '.mjs' || ext === '.mts') return true;
  if (ext === '.cjs' || ext === '.cts') return false;
  const type = nearestPackageType(path.dirname(file));
  if (type === 'module') return true;
  // An explicit "type": "commonjs" turns Node's syntax detection off.
  if (type === 'commonjs') return false;
  if (ext === '.js' || ext === '' || ext === '.ts') {
    // Node.js 22+ runs a .js file with module syntax as ESM even without "type": "module", and a .ts file (type
    // stripping, on by default from 22.18 and in 24) the same way.
    try {
      const fd = fs.openSync(file, 'r');
      const buf = Buffer.alloc(16384);
      const n = fs.readSync(fd, buf, 0, buf.length, 0);
      fs.closeSync(fd);
      return ESM_SYNTAX.test(buf.toString('utf8', 0, n));
    } catch {
      return false;
    }
  }
  return false;
}

/**
 * How ES module imports will be instrumented: import-in-the-middle's hook for the given module names, where
 * Node.js runs `module.registerHooks` hooks correctly (22.22.3+, 24.11.1+, 25.1+: import-in-the-middle's
 * `supportsSyncHooks` knows the versions), in the application's own thread; elsewhere through the CommonJS loader,
 * with no loader thread (see above).
 */
export function registerEsmLoader(include: Array<string | RegExp>): 'import-hook' | 'commonjs-loader' {
  try {
    const mod = require('node:module') as typeof import('node:module') & { registerHooks?: unknown };
    if (typeof mod.registerHooks === 'function' && registerInThread(include)) return 'import-hook';
  } catch (err) {
    diag.debug('ES module hook: the in-thread hook is not available', err);
  }
  diag.debug('ES module imports: instrumented through the CommonJS loader (no loader thread)');
  return 'commonjs-loader';
}

/** The in-thread hook, where this Node.js runs it correctly; false means "use the loader thread instead". */
function registerInThread(include: Array<string | RegExp>): boolean {
  try {
    // ES modules, loaded with require(): every Node.js that has module.registerHooks can do that. The version
    // check is a module of its own with no imports; the hook's module graph (a parser among it) is loaded only
    // where it will be used.
    const { supportsSyncHooks } = require('import-in-the-middle/supports-sync-hooks.mjs') as { supportsSyncHooks(): boolean };
    if (!supportsSyncHooks()) return false;
    const hooks = require('import-in-the-middle/register-hooks.mjs') as { register(options: { include: Array<string | RegExp> }): void };
    hooks.register({ include });
    keepBuiltinsBuiltin();
    diag.debug('ES module hook: in-thread (module.registerHooks)');
    return true;
  } catch (err) {
    diag.debug('ES module hook: the in-thread hook could not be registered, using the CommonJS loader', err);
    return false;
  }
}

/**
 * import-in-the-middle's in-thread resolve hook (3.6) answers 'commonjs' as the format of any module without a file
 * extension that is required from a module with no file name (parent URL ''), so that extensionless CLI scripts
 * run as CommonJS. A built-in's URL (`node:fs`) has no extension either: Node.js then reads it as a file named
 * `fs` and throws ENOENT, and the application dies — on any require of a built-in from `node -e` (under
 * --require), from a `new Module()` given no file name, or through `Module._load(id)` without a parent. This hook,
 * registered after import-in-the-middle's so that it sees its answer, puts a built-in's format back. Node.js's own
 * resolution never answers 'commonjs' for a `node:` URL, so nothing else is touched.
 */
function keepBuiltinsBuiltin(): void {
  const { registerHooks } = require('node:module') as { registerHooks(hooks: { resolve: Function }): unknown };
  registerHooks({
    resolve(specifier: string, context: unknown, nextResolve: (specifier: string, context: unknown) => { url: string; format?: string }) {
      const result = nextResolve(specifier, context);
      if (result.format === 'commonjs' && typeof result.url === 'string' && result.url.startsWith('node:')) {
        return { ...result, format: 'builtin' };
      }
      return result;
    },
  });
}
