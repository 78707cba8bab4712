/**
 * Type checks that hold for values made in another realm. Jest runs test files, and the libraries they load, in a
 * vm context of its own (jest-runtime.ts): an error a library made there is an instance of that context's
 * `Error`, not of ours, and `instanceof Error` is false for it (seen: a failed MULTI of node-redis, loaded by a
 * Jest test, went unmarked).
 */
import { types } from 'node:util';

const nativeIsError: ((value: unknown) => boolean) | undefined = (Error as { isError?: (value: unknown) => boolean }).isError;

/** An Error of any realm (Error.isError where Node.js has it, 24 on; util.types.isNativeError before). */
export const isError: (value: unknown) => value is Error =
  typeof nativeIsError === 'function'
    ? (value: unknown): value is Error => nativeIsError(value) || value instanceof Error
    : (value: unknown): value is Error => types.isNativeError(value) || value instanceof Error;

/** A Uint8Array (a Buffer included) of any realm. */
export function isUint8Array(value: unknown): value is Uint8Array {
  return types.isUint8Array(value);
}
