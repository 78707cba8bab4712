/**
 * The one way instrumentations wrap functions: through shimmer, leniently (a missing or non-function target is
 * skipped with a debug message, never an exception), idempotently (a function we already wrapped is left
 * alone, so a module reached by both `require` and `import` is wrapped once), and invisibly (the wrapper keeps
 * the original's name, length and properties; shimmer's own markers are non-enumerable).
 */
import shimmer from 'shimmer';
import { diag } from '../diag/logger';
import { copyFunctionShape } from './function-shape';

type AnyFunction = (...args: any[]) => any;

import { ORIGINAL } from './original-symbol';

export { ORIGINAL };

// shimmer logs through console.error by default; route its complaints to our logger instead.
shimmer({ logger: (msg: string) => diag.debug(`shimmer: ${msg}`) });

export function isWrapped(fn: unknown): boolean {
  return typeof fn === 'function' && (fn as any)[ORIGINAL] !== undefined;
}

export function originalOf<T>(fn: T): T {
  let f: any = fn;
  while (typeof f === 'function' && f[ORIGINAL] !== undefined) f = f[ORIGINAL];
  return f as T;
}

/** Wrappers put on an object that only inherited the method: unwrapping removes them instead of leaving a copy. */
const overInherited = new WeakSet<Function>();

/**
 * While the framework applies a patch, the place of every function wrapMethod wraps, so that a patch that fails
 * half-way can be undone whole even when its own unpatch fails (src/instrumentation/hooks.ts).
 */
let journal: Array<[target: object, name: string]> | undefined;

/** Runs `fn`, recording into `record` every wrap it makes. */
export function recordingWraps<T>(record: Array<[target: object, name: string]>, fn: () => T): T {
  const previous = journal;
  journal = record;
  try {
    return fn();
  } finally {
    journal = previous;
  }
}

/** Marks `wrapper` as ours and makes it look like `original`. For wrappers not installed by wrapMethod. */
export function markWrapper<F extends Function>(wrapper: F, original: Function): F {
  copyFunctionShape(wrapper, original);
  Object.defineProperty(wrapper, ORIGINAL, { value: original, enumerable: false, configurable: true });
  return wrapper;
}

/**
 * Replaces `target[name]` by `makeWrapper(original)`. Returns whether it wrapped. Never throws.
 */
export function wrapMethod(target: any, name: string, makeWrapper: (original: AnyFunction) => AnyFunction): boolean {
  try {
    if (target === null || (typeof target !== 'object' && typeof target !== 'function')) {
      diag.debug(`cannot wrap ${name}: no object to wrap it on`);
      return false;
    }
    const original = target[name];
    if (typeof original !== 'function') {
      diag.debug(`cannot wrap ${name}: it is not a function`);
      return false;
    }
    if (isWrapped(original)) return false;
    const inherited = !Object.prototype.hasOwnProperty.call(target, name);
    const wrapper = makeWrapper(original);
    markWrapper(wrapper, original);
    shimmer.wrap(target, name, () => wrapper as any);
    if (target[name] !== wrapper) return false;
    if (inherited) overInherited.add(wrapper);
    if (journal !== undefined) journal.push([target, name]);
    return true;
  } catch (err) {
    diag.debug(`cannot wrap ${name}`, err);
    return false;
  }
}

/** Puts back what wrapMethod replaced. Never throws. */
export function unwrapMethod(target: any, name: string): void {
  try {
    const current = target?.[name];
    if (!isWrapped(current)) return;
    const original = current[ORIGINAL];
    shimmer.unwrap(target, name);
    if (target[name] === current) {
      // shimmer could not restore it (property redefined since): put the original back ourselves.
      Object.defineProperty(target, name, { value: original, configurable: true, writable: true, enumerable: Object.prototype.propertyIsEnumerable.call(target, name) });
    }
    // A method the object inherited is inherited again, not left behind as an own copy.
    if (overInherited.has(current) && target[name] === original && Object.getPrototypeOf(target)?.[name] === original) delete target[name];
  } catch (err) {
    diag.debug(`cannot unwrap ${name}`, err);
  }
}
