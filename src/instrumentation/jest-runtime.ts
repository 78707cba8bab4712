/**
 * Jest's module registry. Jest runs each test file with a module system of its own (jest-runtime): it reads every
 * module's file and runs it in a vm context, never through Node's `Module._load`, so require-in-the-middle does
 * not see `require('pg')` in a test file, nor in the application code a test loads. jest-runtime itself is loaded
 * by Node's require, in each of Jest's worker processes; the hooks catch it there (hooks.ts) and wrap the one
 * method through which it loads every CommonJS module file, with the file's path in hand: `Runtime#_loadModule`
 * (Jest 27 to 30.3) or, from Jest 30.4, `loadModule` of the loader object each runtime keeps (`cjsLoader`, whose
 * class is not exported: its prototype is wrapped the first time a runtime is used). Each module loaded from a
 * node_modules directory then goes to the instrumentations as any required module does.
 *
 * Jest's ESM mode (`--experimental-vm-modules`) links ES modules through vm.SourceTextModule and is not covered.
 */
import { wrapMethod } from './wrap';

type AnyFunction = (...args: any[]) => any;

/** Given a module's exports and its file, returns the exports to use (patched in place, as a rule). Never throws. */
export type SandboxModuleLoaded = (exports: unknown, filename: string) => unknown;

/** `_loadModule(localModule, from, moduleName, modulePath, options, moduleRegistry)`; `loadModule` from 30.4. */
const LOADERS = ['_loadModule', 'loadModule'] as const;

/** Runtime methods through which a runtime is first used: where Jest 30.4+'s loader object is found. */
const ENTRY_METHODS = ['requireModule', 'requireInternalModule', 'requireModuleOrMock', 'requireActual'] as const;

function makeLoadModule(onLoaded: SandboxModuleLoaded) {
  return (original: AnyFunction) =>
    function loadModule(this: unknown, localModule: any, _from: unknown, _moduleName: unknown, modulePath: unknown, options: any): unknown {
      const result = original.apply(this, arguments as any);
      // Jest's own modules (its globals, the test framework) are loaded as internal modules: never ours.
      if (
        typeof modulePath === 'string' &&
        localModule !== null &&
        typeof localModule === 'object' &&
        (options === null || typeof options !== 'object' || options.isInternalModule !== true)
      ) {
        const exports = localModule.exports;
        const patched = onLoaded(exports, modulePath);
        if (patched !== exports) localModule.exports = patched;
      }
      return result;
    };
}

function makeEntry(wrapLoaderOf: (runtime: any) => void) {
  return (original: AnyFunction) =>
    function (this: unknown): unknown {
      wrapLoaderOf(this);
      return original.apply(this, arguments as any);
    };
}

/**
 * Wraps jest-runtime's module loading (its exports: the Runtime class as `default`). Returns whether it found a
 * method to wrap. Never throws: wrapMethod skips what is not there.
 */
export function hookJestRuntime(exports: any, onLoaded: SandboxModuleLoaded): boolean {
  const Runtime = typeof exports?.default === 'function' ? exports.default : exports;
  const proto = Runtime?.prototype;
  if (proto === null || typeof proto !== 'object') return false;
  const makeLoader = makeLoadModule(onLoaded);
  let wrapped = false;
  for (const name of LOADERS) {
    if (typeof proto[name] === 'function') wrapped = wrapMethod(proto, name, makeLoader) || wrapped;
  }
  if (wrapped || typeof proto.requireModule !== 'function') return wrapped;
  // Jest 30.4+: the loader is an object each runtime makes in its constructor, of a class not exported.
  let loaderWrapped = false;
  const wrapLoaderOf = (runtime: any): void => {
    if (loaderWrapped || runtime === null || typeof runtime !== 'object') return;
    const loader = runtime.cjsLoader;
    if (loader === null || typeof loader !== 'object') return;
    loaderWrapped = true;
    const loaderProto = Object.getPrototypeOf(loader);
    for (const name of LOADERS) if (typeof loaderProto?.[name] === 'function') wrapMethod(loaderProto, name, makeLoader);
  };
  const makeEntryWrapper = makeEntry(wrapLoaderOf);
  for (const name of ENTRY_METHODS) wrapped = wrapMethod(proto, name, makeEntryWrapper) || wrapped;
  return wrapped;
}
