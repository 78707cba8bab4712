/**
 * A fault at patch time leaves the module exactly as it was. Real fixture packages
 * (test/fixtures/safety/node_modules/zerotel-fake-*) are loaded with Node's own `require` through the agent's
 * InstrumentationHooks (require-in-the-middle behind the lazy gate), with instrumentation definitions whose patch
 * code fails in the ways real ones do: it throws half-way, its undo throws too, it cannot be loaded, the library's
 * version is not supported, or the library froze what it exports. Every export and prototype method must then be
 * the module's own function (identity), every property as it was (keys and descriptors), the library must work,
 * and the diagnostic logger must say what failed.
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { InstrumentationDefinition, Patcher } from '../../src/instrumentation/types';

// The compiled agent, as the preload runs it: the framework loads some of its parts lazily with Node's require.
const DIST = path.join(__dirname, '..', '..', 'dist', 'src');
const { diag, LogLevel } = require(path.join(DIST, 'diag', 'logger')) as typeof import('../../src/diag/logger');
const { InstrumentationHooks } = require(path.join(DIST, 'instrumentation', 'hooks')) as typeof import('../../src/instrumentation/hooks');
const { isWrapped, unwrapMethod, wrapMethod } = require(path.join(DIST, 'instrumentation', 'wrap')) as typeof import('../../src/instrumentation/wrap');
type InstrumentationHooks = import('../../src/instrumentation/hooks').InstrumentationHooks;

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'safety');
const fixtureRequire = createRequire(path.join(FIXTURES, 'index.js'));
const LIB = 'zerotel-fake-lib';
const FROZEN = 'zerotel-fake-frozen';

interface LoadRecord {
  exports: any;
  connect: Function;
  query: Function;
  Client: Function;
  Base: Function;
  send: Function;
  close: Function;
  describe: Function;
}

const loads = (): LoadRecord[] => ((globalThis as any)[Symbol.for('zerotel-fake-lib.loads')] ??= []);

/** Requires a fixture package afresh (out of Node's cache), the way an application would. */
function freshRequire(name: string): any {
  const resolved = fixtureRequire.resolve(name);
  delete fixtureRequire.cache[resolved];
  return fixtureRequire(name);
}

/** Own keys with their descriptors, in order, described without the values' identity. */
function ownShape(target: object): string[] {
  return Reflect.ownKeys(target).map((key) => {
    const d = Object.getOwnPropertyDescriptor(target, key)!;
    const v = d.value;
    const value = typeof v === 'function' ? `function ${v.name}/${v.length}` : typeof v === 'object' && v !== null ? 'object' : String(v);
    return `${String(key)} e=${d.enumerable} w=${d.writable} c=${d.configurable} get=${d.get !== undefined} ${value}`;
  });
}

function libShape(lib: any) {
  return { exports: ownShape(lib), client: ownShape(lib.Client.prototype), base: ownShape(lib.Base.prototype), frozen: Object.isFrozen(lib.constants) };
}

/** The shape of an unpatched load, taken with no hook installed. */
let reference: ReturnType<typeof libShape>;
let hooks: InstrumentationHooks | undefined;
let logged: string[];

beforeEach(() => {
  reference = libShape(freshRequire(LIB));
  // out of the cache again, or the hooks would warn that the package was loaded before them
  delete fixtureRequire.cache[fixtureRequire.resolve(LIB)];
  logged = [];
  diag.reset();
  diag.level = LogLevel.DEBUG;
  diag.setSink((line) => logged.push(line));
});

afterEach(() => {
  hooks?.disable();
  hooks = undefined;
  diag.setSink(undefined);
  diag.level = LogLevel.WARN;
  diag.reset();
});

function definition(versions: string, load: () => Patcher, name = LIB): InstrumentationDefinition {
  return { name: 'fake', packageName: name, modules: [{ name, versions, patches: 'connect, Client#send, Base#describe', load }] };
}

/** Loads the package through the agent's hooks with `def` as the only instrumentation. */
function requireThroughHooks(def: InstrumentationDefinition, name = LIB): any {
  hooks = new InstrumentationHooks([def]);
  hooks.enable({ esm: false });
  return freshRequire(name);
}

/** Every export and method is the module's own function, every property as an unpatched load has it, and it works. */
function expectUntouched(lib: any): void {
  const own = loads().at(-1)!;
  expect(lib).toBe(own.exports);
  expect(lib.connect).toBe(own.connect);
  expect(lib.query).toBe(own.query);
  expect(lib.Client).toBe(own.Client);
  expect(lib.Client.prototype.send).toBe(own.send);
  expect(lib.Client.prototype.close).toBe(own.close);
  expect(lib.Client.prototype.describe).toBe(own.describe);
  expect(Object.prototype.hasOwnProperty.call(lib.Client.prototype, 'describe')).toBe(false);
  expect(libShape(lib)).toEqual(reference);
  // and it behaves as the library does
  expect(lib.connect('db', 5432)).toBe('connected to db:5432');
  const client = new lib.Client('c1');
  expect([client.send('hi'), client.describe(), client.close()]).toEqual(['c1 sent hi', 'Client(c1)', 'c1 closed']);
}

const wrapper = (original: (...args: any[]) => any) =>
  function (this: unknown) {
    return original.apply(this, arguments as any);
  };

/** Wraps three functions (one inherited from a base class), then fails on a part of the module that is not there. */
function patchThatThrowsHalfway(lib: any): void {
  wrapMethod(lib, 'connect', wrapper);
  wrapMethod(lib.Client.prototype, 'send', wrapper);
  wrapMethod(lib.Client.prototype, 'describe', wrapper);
  wrapMethod(lib.Pool.prototype, 'query', wrapper); // TypeError: lib.Pool is undefined
}

describe('a patch that fails', () => {
  it('control: a patch that succeeds does wrap (so the checks below can fail)', () => {
    const lib = requireThroughHooks(
      definition('>=2 <3', () => ({
        patch: (l: any) => {
          wrapMethod(l, 'connect', wrapper);
        },
        unpatch: (l: any) => unwrapMethod(l, 'connect'),
      })),
    );
    expect(isWrapped(lib.connect)).toBe(true);
    expect(lib.connect).not.toBe(loads().at(-1)!.connect);
    expect(logged.join('')).toMatch(/zerotel debug: instrumented zerotel-fake-lib@2\.3\.4 \(fake, require\)/);
  });

  it('throws half-way, its unpatch undoes it: the module is left exactly as it was, and the error is logged', () => {
    const lib = requireThroughHooks(
      definition('>=2 <3', () => ({
        patch: patchThatThrowsHalfway,
        unpatch: (l: any) => {
          unwrapMethod(l, 'connect');
          unwrapMethod(l.Client.prototype, 'send');
          unwrapMethod(l.Client.prototype, 'describe');
          unwrapMethod(l.Pool.prototype, 'query');
        },
      })),
    );
    expectUntouched(lib);
    const errors = logged.filter((l) => l.startsWith('zerotel error:'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^zerotel error: instrumenting zerotel-fake-lib@2\.3\.4 failed; it is left as it was TypeError: /);
  });

  it('throws half-way and its unpatch throws before undoing anything: the module is still left as it was', () => {
    const lib = requireThroughHooks(
      definition('>=2 <3', () => ({
        patch: patchThatThrowsHalfway,
        unpatch: (l: any) => {
          unwrapMethod(l.Pool.prototype, 'query'); // the same wrong assumption as the patch
          unwrapMethod(l, 'connect');
        },
      })),
    );
    expectUntouched(lib);
    expect(logged.filter((l) => l.startsWith('zerotel error:'))).toHaveLength(1);
  });

  it('cannot even be loaded: the module is left as it was, and the error is logged', () => {
    const lib = requireThroughHooks(
      definition('>=2 <3', () => {
        throw new Error('the patch code failed to load');
      }),
    );
    expectUntouched(lib);
    expect(logged.join('')).toContain('zerotel error: instrumenting zerotel-fake-lib@2.3.4 failed; it is left as it was Error: the patch code failed to load');
  });

  it('is for other versions: the module is left alone with a debug message, the patch code is never loaded', () => {
    let loaded = false;
    const lib = requireThroughHooks(
      definition('>=3 <4', () => {
        loaded = true;
        return { patch: patchThatThrowsHalfway, unpatch: () => undefined };
      }),
    );
    expectUntouched(lib);
    expect(loaded).toBe(false);
    expect(logged).toEqual(['zerotel debug: zerotel-fake-lib@2.3.4 is outside the supported range >=3 <4; left alone\n']);
  });

  it('meets a library that froze its exports: nothing is wrapped, nothing thrown, the library works', () => {
    const lib = requireThroughHooks(
      definition(
        '*',
        () => ({
          patch: (l: any) => {
            wrapMethod(l, 'connect', wrapper);
            wrapMethod(l.Client.prototype, 'send', wrapper);
          },
          unpatch: () => undefined,
        }),
        FROZEN,
      ),
      FROZEN,
    );
    expect(Object.isFrozen(lib)).toBe(true);
    expect(isWrapped(lib.connect)).toBe(false);
    expect(isWrapped(lib.Client.prototype.send)).toBe(false);
    expect(lib.connect()).toBe('connected');
    expect(new lib.Client().send('x')).toBe('sent x');
    expect(logged.filter((l) => l.startsWith('zerotel error:'))).toEqual([]);
    expect(logged.filter((l) => l.startsWith('zerotel debug: cannot wrap'))).toHaveLength(2);
  });
});
