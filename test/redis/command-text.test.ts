import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  argumentText,
  BatchDescription,
  commandName,
  commandQueryText,
  databaseNamespace,
  endpointFromOptions,
  firstArgumentIsKey,
  subcommandText,
  firstErrorIn,
  MAX_BATCH_TEXT_COMMANDS,
  MAX_FULL_ARGUMENT_LENGTH,
  MAX_KEY_LENGTH,
  messagePrefix,
  recordRedisError,
  redisErrorPrefix,
  redisErrorType,
} from '../../instrumentations/redis/command-text';

/** Redis argument values as both clients accept them. */
const argument = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  fc.constant(null),
  fc.constant(undefined),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.object(),
);
const commandNames = fc.oneof(
  fc.constantFrom('GET', 'set', 'HSET', 'hget', 'AUTH', 'ECHO', 'EVAL', 'CONFIG', 'PUBLISH', 'JSON.SET', 'FT.SEARCH', 'CLIENT', 'MSET'),
  fc.string({ maxLength: 20 }),
);
const modes = fc.constantFrom('sanitized' as const, 'full' as const, 'none' as const);

describe('commandQueryText', () => {
  it('keeps the command and its key, and writes ? for every other argument', () => {
    expect(commandQueryText('sanitized', 'SET', ['SET', 'user:1', 'secret'], 1)).toBe('SET user:1 ?');
    expect(commandQueryText('sanitized', 'HSET', ['user:1', 'name', 'Ada', 'email', 'a@x'], 0)).toBe('HSET user:1 ? ? ? ?');
    expect(commandQueryText('sanitized', 'GET', ['GET', 'k'], 1)).toBe('GET k');
    expect(commandQueryText('sanitized', 'PING', ['PING'], 1)).toBe('PING');
    expect(commandQueryText('sanitized', 'JSON.SET', ['JSON.SET', 'doc', '$', '{}'], 1)).toBe('JSON.SET doc ? ?');
  });

  it('writes ? for a first argument that is not a key (secrets, scripts, messages)', () => {
    expect(commandQueryText('sanitized', 'AUTH', ['AUTH', 'user', 'hunter2'], 1)).toBe('AUTH ? ?');
    expect(commandQueryText('sanitized', 'ECHO', ['ECHO', 'hello'], 1)).toBe('ECHO ?');
    expect(commandQueryText('sanitized', 'EVAL', ['EVAL', 'return 1', '0'], 1)).toBe('EVAL ? ?');
    expect(commandQueryText('sanitized', 'CONFIG', ['CONFIG', 'requirepass', 'x'], 1)).toBe('CONFIG ? ?');
  });

  it("keeps a container command's subcommand, and only the known keywords", () => {
    expect(commandQueryText('sanitized', 'CONFIG', ['CONFIG', 'SET', 'requirepass', 'x'], 1)).toBe('CONFIG SET ? ?');
    expect(commandQueryText('sanitized', 'SCRIPT', ['load', 'return 1'], 0)).toBe('SCRIPT LOAD ?');
    expect(commandQueryText('sanitized', 'CLIENT', [Buffer.from('setinfo'), 'lib-name', 'ioredis'], 0)).toBe('CLIENT SETINFO ? ?');
    expect(commandQueryText('sanitized', 'CLIENT', ['hunter2'], 0)).toBe('CLIENT ?');
    expect(commandQueryText('sanitized', 'XGROUP', ['CREATE', 'stream', 'group', '$'], 0)).toBe('XGROUP CREATE ? ? ?');
    expect(subcommandText('GET', 'SET')).toBeUndefined();
    expect(subcommandText('CONFIG', 'x'.repeat(100))).toBeUndefined();
  });

  it('writes a Buffer key as text up to its bound, and never decodes a Buffer value', () => {
    expect(commandQueryText('sanitized', 'SET', [Buffer.from('bin:key'), Buffer.from([0xff, 0, 1])], 0)).toBe('SET bin:key ?');
    const longKey = Buffer.alloc(MAX_KEY_LENGTH + 10, 0x61);
    expect(commandQueryText('sanitized', 'GET', [longKey], 0)).toBe('GET ' + 'a'.repeat(MAX_KEY_LENGTH) + '…');
  });

  it('full: every argument, each bounded', () => {
    expect(commandQueryText('full', 'SET', ['SET', 'k', 'v', 'EX', 10], 1)).toBe('SET k v EX 10');
    const big = 'x'.repeat(MAX_FULL_ARGUMENT_LENGTH + 5);
    expect(commandQueryText('full', 'SET', ['k', big], 0)).toBe('SET k ' + 'x'.repeat(MAX_FULL_ARGUMENT_LENGTH) + '…');
    expect(commandQueryText('full', 'SET', ['k', { a: 1 }], 0)).toBe('SET k ?');
  });

  it('none: no text', () => {
    expect(commandQueryText('none', 'SET', ['SET', 'k', 'v'], 1)).toBeUndefined();
  });

  it('never throws, whatever the arguments', () => {
    fc.assert(
      fc.property(modes, commandNames, fc.array(argument, { maxLength: 12 }), fc.integer({ min: 0, max: 3 }), (mode, rawName, args, from) => {
        const name = commandName(rawName);
        const text = commandQueryText(mode, name, args, from);
        if (mode === 'none') expect(text).toBeUndefined();
        else expect(typeof text).toBe('string');
      }),
    );
  });

  it('sanitized: leaks no argument but the key, and writes one ? per other argument', () => {
    // Distinctive values that cannot appear in a command name or by accident.
    const secret = fc.string({ minLength: 1, maxLength: 20 }).map((s) => `«${s}»`);
    const secretArg = fc.oneof(secret, secret.map((s) => Buffer.from(s)));
    fc.assert(
      fc.property(commandNames, fc.string({ minLength: 1, maxLength: 30 }), fc.array(secretArg, { maxLength: 10 }), (rawName, key, rest) => {
        const name = commandName(rawName);
        const text = commandQueryText('sanitized', name, [name, key, ...rest], 1)!;
        for (const value of rest) expect(text).not.toContain(String(value));
        const keyed = firstArgumentIsKey(name);
        const expected = name + ' ' + (keyed ? argumentText(key, MAX_KEY_LENGTH) : (subcommandText(name, key) ?? '?')) + ' ?'.repeat(rest.length);
        expect(text).toBe(expected);
      }),
    );
  });
});

describe('commandName', () => {
  it('upper-cases names so both clients name a command alike', () => {
    expect(commandName('get')).toBe('GET');
    expect(commandName('GET')).toBe('GET');
    expect(commandName(Buffer.from('hset'))).toBe('HSET');
    expect(commandName(undefined)).toBe('UNKNOWN');
  });
  it('never throws', () => {
    fc.assert(
      fc.property(argument, (name) => {
        expect(typeof commandName(name)).toBe('string');
      }),
    );
  });
});

describe('BatchDescription', () => {
  it('names a batch of one command MULTI <cmd>, of mixed commands MULTI, and joins texts with "; "', () => {
    const same = new BatchDescription('sanitized');
    same.add('SET', ['a', '1'], 0);
    same.add('SET', ['b', '2'], 0);
    expect(same.operationName('MULTI')).toBe('MULTI SET');
    expect(same.queryText()).toBe('SET a ?; SET b ?');
    expect(same.batchSize()).toBe(2);

    const mixed = new BatchDescription('sanitized');
    mixed.add('GET', ['a'], 0);
    mixed.add('INCR', ['n'], 0);
    expect(mixed.operationName('PIPELINE')).toBe('PIPELINE');
  });

  it('uses one text when every command has the same text', () => {
    const b = new BatchDescription('sanitized');
    b.add('INCR', ['n'], 0);
    b.add('INCR', ['n'], 0);
    expect(b.queryText()).toBe('INCR n');
  });

  it('models a pipeline of one command as that command, with no batch size; an empty batch has size 0', () => {
    const one = new BatchDescription('sanitized');
    one.add('GET', ['a'], 0);
    expect(one.operationName('PIPELINE')).toBe('GET');
    expect(one.operationName('MULTI')).toBe('MULTI GET');
    expect(one.batchSize()).toBeUndefined();
    const empty = new BatchDescription('sanitized');
    expect(empty.operationName('MULTI')).toBe('MULTI');
    expect(empty.batchSize()).toBe(0);
    expect(empty.queryText()).toBeUndefined();
  });

  it('lists at most MAX_BATCH_TEXT_COMMANDS commands, and none in mode none', () => {
    const b = new BatchDescription('sanitized');
    for (let i = 0; i < MAX_BATCH_TEXT_COMMANDS + 10; i++) b.add('GET', ['k' + i], 0);
    expect(b.queryText()!.split('; ')).toHaveLength(MAX_BATCH_TEXT_COMMANDS);
    expect(b.batchSize()).toBe(MAX_BATCH_TEXT_COMMANDS + 10);
    const none = new BatchDescription('none');
    none.add('GET', ['k'], 0);
    expect(none.queryText()).toBeUndefined();
  });
});

class ReplyError extends Error {
  override get name() {
    return 'ReplyError';
  }
}
class ErrorReply extends Error {}
class ClientClosedError extends Error {}
class MultiErrorReply extends ErrorReply {
  constructor(
    readonly replies: unknown[],
    readonly errorIndexes: number[],
  ) {
    super(`${errorIndexes.length} commands failed`);
  }
}

describe('errors', () => {
  it('takes the reply prefix as db.response.status_code / error.type', () => {
    expect(redisErrorPrefix(new ReplyError('WRONGTYPE Operation against a key'))).toBe('WRONGTYPE');
    expect(redisErrorPrefix(new ErrorReply('ERR unknown command'))).toBe('ERR');
    expect(redisErrorPrefix(new MultiErrorReply(['OK', new ErrorReply('NOSCRIPT No matching script')], [1]))).toBe('NOSCRIPT');
    expect(redisErrorType(new ReplyError('CLUSTERDOWN The cluster is down'))).toBe('CLUSTERDOWN');
  });

  it('uses the class of errors that are not replies', () => {
    expect(redisErrorPrefix(new ClientClosedError('The client is closed'))).toBeUndefined();
    expect(redisErrorType(new ClientClosedError('The client is closed'))).toBe('ClientClosedError');
    const withName = new Error('Command timed out');
    withName.name = 'TimeoutError';
    expect(redisErrorType(withName)).toBe('TimeoutError');
    expect(redisErrorType(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe('ECONNREFUSED');
    expect(redisErrorType('a string')).toBe('_OTHER');
  });

  it('messagePrefix reads only a leading upper-case word', () => {
    expect(messagePrefix('ERR x')).toBe('ERR');
    expect(messagePrefix('BUSYGROUP Consumer Group name already exists')).toBe('BUSYGROUP');
    expect(messagePrefix('Connection is closed.')).toBeUndefined();
    expect(messagePrefix('ERRx')).toBeUndefined();
    expect(messagePrefix('OOM')).toBe('OOM');
  });

  it('never throw', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        expect(typeof redisErrorType(value)).toBe('string');
        redisErrorPrefix(value);
        messagePrefix(value);
      }),
    );
  });

  it('recordRedisError marks the span failed', () => {
    const calls: unknown[][] = [];
    const span = {
      recordException: (e: unknown) => calls.push(['exception', e]),
      setAttribute: (k: string, v: string) => calls.push([k, v]),
      setStatus: (s: unknown) => calls.push(['status', s]),
    };
    const err = new ReplyError('WRONGTYPE bad');
    recordRedisError(span, err);
    expect(calls).toEqual([
      ['exception', err],
      ['db.response.status_code', 'WRONGTYPE'],
      ['error.type', 'WRONGTYPE'],
      ['status', { code: 2, message: 'WRONGTYPE bad' }],
    ]);
  });

  it('firstErrorIn finds an error in replies or one level down (an EXEC reply)', () => {
    const e = new ErrorReply('ERR x');
    expect(firstErrorIn(['OK', e])).toBe(e);
    expect(firstErrorIn(['OK', ['QUEUED'], [1, e]])).toBe(e);
    expect(firstErrorIn(['OK'])).toBeUndefined();
    expect(firstErrorIn(undefined)).toBeUndefined();
  });
});

describe('databaseNamespace and endpoints', () => {
  it('writes the database index as a string', () => {
    expect(databaseNamespace(0)).toBe('0');
    expect(databaseNamespace(15)).toBe('15');
    expect(databaseNamespace(42)).toBe('42');
    expect(databaseNamespace('3')).toBe('3');
    expect(databaseNamespace(-1)).toBeUndefined();
    expect(databaseNamespace(1.5)).toBeUndefined();
    expect(databaseNamespace('x')).toBeUndefined();
  });

  it('reads host/port or a socket path from options', () => {
    expect(endpointFromOptions({ host: 'cache', port: 6380 }, 'localhost')).toEqual({ address: 'cache', port: 6380 });
    expect(endpointFromOptions({}, 'localhost')).toEqual({ address: 'localhost', port: 6379 });
    expect(endpointFromOptions({ path: '/tmp/redis.sock', host: 'x' }, 'localhost')).toEqual({ address: '/tmp/redis.sock', port: undefined });
    expect(endpointFromOptions(undefined, 'localhost')).toEqual({ address: 'localhost', port: 6379 });
    expect(endpointFromOptions({ port: 'nope' }, 'localhost')).toEqual({ address: 'localhost', port: undefined });
  });
});
