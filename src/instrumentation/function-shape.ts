/**
 * Makes `wrapper` look like `original` to code that inspects it: the same `name` and `length` (express tells
 * error handlers apart by arity), and the same own enumerable properties (some libraries hang data on
 * functions). Never throws: a property that cannot be defined is left as it is.
 */
export function copyFunctionShape(wrapper: Function, original: Function): void {
  try {
    Object.defineProperty(wrapper, 'name', { value: original.name, configurable: true });
    Object.defineProperty(wrapper, 'length', { value: original.length, configurable: true });
  } catch {
    // a frozen or exotic function: the wrapper keeps its own name and length
  }
  const keys = Object.keys(original);
  for (let i = 0; i < keys.length; i++) {
    try {
      (wrapper as any)[keys[i]] = (original as any)[keys[i]];
    } catch {
      // a getter-only property: skip it
    }
  }
}
