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
    const wrapper = makeWrapper(original);
    markWrapper(wrapper, original);
    shimmer.wrap(target, name, () => wrapper as any);
    return target[name] === wrapper;
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
    shimmer.unwrap(target, name);
    if (target[name] === current) {
      // shimmer could not restore it (property redefined since): put the original back ourselves.
      Object.defineProperty(target, name, { value: current[ORIGINAL], configurable: true, writable: true, enumerable: Object.prototype.propertyIsEnumerable.call(target, name) });
    }
  } catch (err) {
    diag.debug(`cannot unwrap ${name}`, err);
  }
}
