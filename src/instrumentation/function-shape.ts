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
  // Own enumerable properties, and symbol-keyed ones such as util.promisify.custom.
  const keys: Array<string | symbol> = Object.keys(original);
  for (const sym of Object.getOwnPropertySymbols(original)) keys.push(sym);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    if (typeof key === 'symbol' && key.description?.startsWith('zerotel.')) continue;
    try {
      (wrapper as any)[key] = (original as any)[key];
    } catch {
      // a getter-only property: skip it
    }
  }
}
