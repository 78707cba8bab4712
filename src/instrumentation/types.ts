/**
 * How an instrumentation is declared. Each lives in `instrumentations/<name>/`: `index.ts` is the declaration
 * below (small, loaded at startup), `patch.ts` the wrapping (loaded only when its module is first loaded),
 * `attributes.ts` pure functions from library objects to span names and attributes.
 */

export interface ModuleInfo {
  /** The module name as the hook saw it ('pg', 'http', 'express/lib/router/layer.js'). */
  name: string;
  /** The package version, or the Node.js version for built-ins. */
  version: string;
  /** The package directory; undefined for built-ins. */
  basedir: string | undefined;
  /** 'commonjs' when reached through require, 'module' when through an ESM import of an ES module. */
  format: 'commonjs' | 'module';
}

export interface Patcher {
  /** Wraps the module's functions in place. Must be idempotent; may throw (the framework catches). */
  patch(moduleExports: any, info: ModuleInfo): void;
  /** Undoes patch(). */
  unpatch(moduleExports: any, info: ModuleInfo): void;
}

export interface InstrumentationModule {
  /** Module name as written in require()/import: 'pg', 'express', '@redis/client', 'http'. */
  name: string;
  /** Supported versions (semver range) of that module; '*' for Node.js built-ins. */
  versions: string;
  /** A file inside the package to hook instead of its main entry ('lib/router/layer.js'). */
  file?: string;
  /** What is patched, in a few words (README table, `zerotel doctor`). */
  patches: string;
  /** Loads the patch code. Called the first time the module is loaded. */
  load(): Patcher;
}

export interface InstrumentationDefinition {
  /** The name users write in OTEL_NODE_ENABLED_INSTRUMENTATIONS / OTEL_NODE_DISABLED_INSTRUMENTATIONS. */
  name: string;
  /** The npm package users know it by (for the README and doctor). */
  packageName: string;
  modules: InstrumentationModule[];
  /**
   * For instrumentations of things that are not loaded through require/import (global fetch, whose undici is
   * built into Node.js): called once when the agent starts; returns a function that stops it. Must be cheap —
   * subscribe to a diagnostics channel and load the real code on the first message.
   */
  start?(): () => void;
}
