/** On each wrapper zerotel made, the function it wraps (a non-enumerable property under this symbol). */
export const ORIGINAL = Symbol('zerotel.original');
