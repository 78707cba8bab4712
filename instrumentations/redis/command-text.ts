/**
 * Pure functions shared by the node-redis (`redis`) and `ioredis` instrumentations: the command name, the
 * `db.query.text` of a command or a batch, the database index as `db.namespace`, and the error classification.
 *
 * Redis semantic conventions (semantic-conventions docs/db/redis.md):
 * - `db.query.text` "SHOULD correspond to the syntax of the Redis CLI", e.g. `HMSET myhash field1 ? field2 ?`,
 *   and is collected by default only when sanitized (database-spans.md, "Sanitization of db.query.text").
 *   Our sanitized form keeps the command and its key — the first argument, when the command's first argument
 *   is a key — or a container command's subcommand (`SCRIPT LOAD`), and writes `?` for every other argument. `full` keeps every argument (opt-in), `none` collects none.
 * - `db.operation.name` of a transaction or pipeline is `MULTI` / `PIPELINE`, or `MULTI SET` / `PIPELINE SET`
 *   when every command in it is the same.
 * - `db.response.status_code` is the prefix of a Redis simple error (`ERR`, `WRONGTYPE`), and `error.type`
 *   SHOULD match it.
 *
 * Everything here is written for the per-command hot path: no intermediate arrays, strings built by
 * concatenation, Buffers never decoded except a bounded slice of a key (or, in `full` mode, of each argument).
 */
import { isError, isUint8Array } from '../../src/instrumentation/cross-realm';
import { truncateString } from '../../src/trace/attributes';
const charCodeAt: (this: string, index: number) => number = String.prototype.charCodeAt; // called as charCodeAt.call(s, i): why, at charCodeAt in src/exporters/otlp/protobuf-writer.ts

export type QueryTextMode = 'sanitized' | 'full' | 'none';

/** Longest key written into a sanitized `db.query.text` (characters, or bytes of a Buffer key). */
export const MAX_KEY_LENGTH = 256;
/** Longest single argument written in `full` mode. */
export const MAX_FULL_ARGUMENT_LENGTH = 1024;
/** A batch's `db.query.text` lists at most this many commands. */
export const MAX_BATCH_TEXT_COMMANDS = 64;

/** Marks an argument that was cut at its bound. */
const ELLIPSIS = '…';

/**
 * Commands whose first argument is a key (Redis `COMMAND` key specs with `begin_search index 1`), plus the
 * sharded and classic pub/sub commands, whose first argument is a channel name (an identifier like a key, not
 * a value). For any other command the first argument may be a value or a secret (`AUTH password`,
 * `ECHO message`, `EVAL script`) and is written as `?`.
 */
const FIRST_ARGUMENT_IS_KEY = new Set(
  (
    'APPEND BITCOUNT BITFIELD BITFIELD_RO BITPOS BLMOVE BLPOP BRPOP BRPOPLPUSH BZPOPMAX BZPOPMIN COPY DECR DECRBY ' +
    'DEL DUMP EXISTS EXPIRE EXPIREAT EXPIRETIME GEOADD GEODIST GEOHASH GEOPOS GEORADIUS GEORADIUSBYMEMBER ' +
    'GEORADIUSBYMEMBER_RO GEORADIUS_RO GEOSEARCH GEOSEARCHSTORE GET GETBIT GETDEL GETEX GETRANGE GETSET HDEL ' +
    'HEXISTS HEXPIRE HEXPIREAT HEXPIRETIME HGET HGETALL HGETDEL HGETEX HINCRBY HINCRBYFLOAT HKEYS HLEN HMGET HMSET ' +
    'HPERSIST HPEXPIRE HPEXPIREAT HPEXPIRETIME HPTTL HRANDFIELD HSCAN HSET HSETEX HSETNX HSTRLEN HTTL HVALS INCR ' +
    'INCRBY INCRBYFLOAT LCS LINDEX LINSERT LLEN LMOVE LPOP LPOS LPUSH LPUSHX LRANGE LREM LSET LTRIM MGET MOVE ' +
    'MSET MSETNX PERSIST PEXPIRE PEXPIREAT PEXPIRETIME PFADD PFCOUNT PFMERGE PSETEX PTTL RENAME RENAMENX RESTORE ' +
    'RPOP RPOPLPUSH RPUSH RPUSHX SADD SCARD SDIFF SDIFFSTORE SET SETBIT SETEX SETNX SETRANGE SINTER SINTERSTORE ' +
    'SISMEMBER SMEMBERS SMISMEMBER SMOVE SORT SORT_RO SPOP SRANDMEMBER SREM SSCAN STRLEN SUBSTR SUNION ' +
    'SUNIONSTORE TOUCH TTL TYPE UNLINK WATCH XACK XADD XAUTOCLAIM XCLAIM XDEL XLEN XPENDING XRANGE XREVRANGE ' +
    'XSETID XTRIM ZADD ZCARD ZCOUNT ZDIFFSTORE ZINCRBY ZINTERSTORE ZLEXCOUNT ZMSCORE ZPOPMAX ZPOPMIN ZRANDMEMBER ' +
    'ZRANGE ZRANGEBYLEX ZRANGEBYSCORE ZRANGESTORE ZRANK ZREM ZREMRANGEBYLEX ZREMRANGEBYRANK ZREMRANGEBYSCORE ' +
    'ZREVRANGE ZREVRANGEBYLEX ZREVRANGEBYSCORE ZREVRANK ZSCAN ZSCORE ZUNIONSTORE ' +
    'VADD VCARD VDIM VEMB VGETATTR VINFO VLINKS VRANDMEMBER VREM VSETATTR VSIM ' +
    'PUBLISH SPUBLISH SUBSCRIBE SSUBSCRIBE PSUBSCRIBE UNSUBSCRIBE SUNSUBSCRIBE PUNSUBSCRIBE'
  ).split(' '),
);

/** Redis module command families whose first argument is a key (RedisJSON, TimeSeries, Bloom) or an index name. */
const KEYED_MODULE_PREFIXES = ['JSON.', 'TS.', 'BF.', 'CF.', 'CMS.', 'TOPK.', 'TDIGEST.', 'FT.'];

const keyedModuleCommands = new Map<string, boolean>();

/**
 * The subcommands of Redis's container commands (`COMMAND DOCS` lists them), kept in sanitized `db.query.text`
 * (`SCRIPT LOAD ?`, `CLIENT SETINFO ? ?`): a fixed keyword says what the command did, and no value can pass as one,
 * since only these exact words are written. Any other first argument of these commands is `?`.
 */
const SUBCOMMANDS = new Map<string, Set<string>>(
  (
    [
      ['CLIENT', 'CACHING GETNAME GETREDIR ID INFO KILL LIST NO-EVICT NO-TOUCH PAUSE REPLY SETINFO SETNAME TRACKING TRACKINGINFO UNBLOCK UNPAUSE'],
      ['CONFIG', 'GET RESETSTAT REWRITE SET'],
      ['SCRIPT', 'DEBUG EXISTS FLUSH KILL LOAD'],
      ['FUNCTION', 'DELETE DUMP FLUSH KILL LIST LOAD RESTORE STATS'],
      ['OBJECT', 'ENCODING FREQ IDLETIME REFCOUNT'],
      ['MEMORY', 'DOCTOR MALLOC-STATS PURGE STATS USAGE'],
      ['XINFO', 'CONSUMERS GROUPS STREAM'],
      ['XGROUP', 'CREATE CREATECONSUMER DELCONSUMER DESTROY SETID'],
      ['PUBSUB', 'CHANNELS NUMPAT NUMSUB SHARDCHANNELS SHARDNUMSUB'],
      ['COMMAND', 'COUNT DOCS GETKEYS GETKEYSANDFLAGS INFO LIST'],
      ['CLUSTER', 'COUNTKEYSINSLOT GETKEYSINSLOT INFO KEYSLOT LINKS MYID MYSHARDID NODES REPLICAS SHARDS SLOTS'],
      ['ACL', 'CAT DELUSER DRYRUN GETUSER LIST LOAD LOG SAVE SETUSER USERS WHOAMI'],
      ['LATENCY', 'DOCTOR GRAPH HISTOGRAM HISTORY LATEST RESET'],
      ['SLOWLOG', 'GET LEN RESET'],
      ['MODULE', 'LIST LOAD LOADEX UNLOAD'],
    ] as const
  ).map(([command, words]) => [command, new Set(words.split(' '))]),
);

/** The subcommand a container command's first argument names, upper-cased, or undefined (then it is `?`). */
export function subcommandText(command: string, arg: unknown): string | undefined {
  const words = SUBCOMMANDS.get(command);
  if (words === undefined) return undefined;
  let word: string | undefined;
  if (typeof arg === 'string') word = arg;
  else if (isBytes(arg) && arg.length <= 32) word = decodeBounded(arg, 32);
  if (word === undefined || word.length > 32) return undefined;
  const upper = word.toUpperCase();
  return words.has(upper) ? upper : undefined;
}

/**
 * Whether the command's first argument is a key, kept in sanitized `db.query.text`. A container command's
 * subcommand is kept too (subcommandText); any other first argument may be a value or a secret.
 */
export function firstArgumentIsKey(command: string): boolean {
  if (FIRST_ARGUMENT_IS_KEY.has(command)) return true;
  if (command.indexOf('.') <= 0) return false;
  let keyed = keyedModuleCommands.get(command);
  if (keyed === undefined) {
    keyed = false;
    for (let i = 0; i < KEYED_MODULE_PREFIXES.length; i++) {
      if (command.startsWith(KEYED_MODULE_PREFIXES[i])) {
        keyed = true;
        break;
      }
    }
    // Bounded: command names come from code, but a program could send many distinct made-up ones.
    if (keyedModuleCommands.size < 1024) keyedModuleCommands.set(command, keyed);
  }
  return keyed;
}

const upperNames = new Map<string, string>();

/**
 * The command name for span names and `db.operation.name`, upper-cased so that a command has one name whichever
 * client sent it (ioredis names commands `get`, node-redis `GET`; Redis itself is case-insensitive).
 */
export function commandName(name: unknown): string {
  if (typeof name === 'string') {
    let upper = upperNames.get(name);
    if (upper === undefined) {
      upper = name.length > 64 ? name.slice(0, 64).toUpperCase() : name.toUpperCase();
      if (upperNames.size < 1024) upperNames.set(name, upper);
    }
    return upper;
  }
  if (isBytes(name)) return decodeBounded(name, 64).toUpperCase();
  return 'UNKNOWN';
}

function isBytes(value: unknown): value is Uint8Array {
  return isUint8Array(value);
}

/** A Buffer's first `limit` bytes as UTF-8, with `…` when it was longer. */
function decodeBounded(bytes: Uint8Array, limit: number): string {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length <= limit) return buf.toString('utf8');
  return buf.toString('utf8', 0, limit) + ELLIPSIS;
}

/** An argument as written into `db.query.text`, at most `limit` long; `?` for anything that is not a scalar. */
export function argumentText(arg: unknown, limit: number): string {
  switch (typeof arg) {
    case 'string':
      return arg.length <= limit ? arg : truncateString(arg, limit) + ELLIPSIS;
    case 'number':
    case 'bigint':
    case 'boolean':
      return String(arg);
    default:
      if (isBytes(arg)) return decodeBounded(arg, limit);
      // ioredis accepts nested arrays; the first element stands for the argument.
      if (Array.isArray(arg) && arg.length > 0 && !Array.isArray(arg[0])) return argumentText(arg[0], limit);
      return '?';
  }
}

/** ' ?' repeated n times, for the common small n without building the string each time. */
const PLACEHOLDER_RUNS: string[] = [''];
for (let i = 1; i <= 32; i++) PLACEHOLDER_RUNS.push(PLACEHOLDER_RUNS[i - 1] + ' ?');

function placeholders(n: number): string {
  return n < PLACEHOLDER_RUNS.length ? PLACEHOLDER_RUNS[n] : ' ?'.repeat(n);
}

/**
 * `db.query.text` for one command: `name` (already from commandName) and its arguments `args[from..]`.
 * `args` is array-like so that node-redis argument arrays (name at 0, so `from` = 1) and ioredis
 * `Command.args` (`from` = 0) are read in place. Returns undefined in `none` mode. Never throws for any input.
 */
export function commandQueryText(mode: QueryTextMode, name: string, args: ArrayLike<unknown> | undefined, from: number): string | undefined {
  if (mode === 'none') return undefined;
  const count = args == null || typeof args.length !== 'number' ? 0 : Math.max(0, args.length - from);
  if (count === 0) return name;
  if (mode === 'full') {
    let text = name;
    for (let i = 0; i < count; i++) text += ' ' + argumentText(args![from + i], MAX_FULL_ARGUMENT_LENGTH);
    return text;
  }
  if (firstArgumentIsKey(name)) return name + ' ' + argumentText(args![from], MAX_KEY_LENGTH) + placeholders(count - 1);
  const subcommand = subcommandText(name, args![from]);
  return subcommand === undefined ? name + placeholders(count) : name + ' ' + subcommand + placeholders(count - 1);
}

/**
 * Accumulates a batch (MULTI/EXEC or pipeline) command by command: the operation name (`MULTI SET` when every
 * command is SET) and `db.query.text` (one text when they are all the same, else joined with `; `, per
 * database-spans.md on batch query texts; at most MAX_BATCH_TEXT_COMMANDS of them).
 */
export class BatchDescription {
  count = 0;
  /** The shared command name, or null once two differ. */
  private _name: string | null | undefined = undefined;
  private _text: string | undefined = undefined;
  private _firstText: string | undefined = undefined;
  private _allSameText = true;

  constructor(readonly mode: QueryTextMode) {}

  add(name: string, args: ArrayLike<unknown> | undefined, from: number): void {
    this.count++;
    if (this._name === undefined) this._name = name;
    else if (this._name !== name) this._name = null;
    if (this.mode === 'none' || this.count > MAX_BATCH_TEXT_COMMANDS) {
      if (this.count > MAX_BATCH_TEXT_COMMANDS) this._allSameText = false;
      return;
    }
    const text = commandQueryText(this.mode, name, args, from)!;
    if (this._firstText === undefined) {
      this._firstText = text;
      this._text = text;
    } else {
      if (text !== this._firstText) this._allSameText = false;
      this._text += '; ' + text;
    }
  }

  /**
   * `MULTI` / `PIPELINE`, or `MULTI SET` when every command is SET (redis.md, db.operation.name). A pipeline
   * of one command is that command: "requests to batch APIs that contain only one operation SHOULD be modeled
   * as single operations" (database-spans.md, db.operation.batch.size); a MULTI of one stays a transaction.
   */
  operationName(kind: 'MULTI' | 'PIPELINE'): string {
    if (typeof this._name !== 'string') return kind;
    return kind === 'PIPELINE' && this.count === 1 ? this._name : kind + ' ' + this._name;
  }

  /** `db.operation.batch.size`: never 1 (database-spans.md), 0 for an empty batch. */
  batchSize(): number | undefined {
    return this.count === 1 ? undefined : this.count;
  }

  queryText(): string | undefined {
    if (this.mode === 'none' || this._text === undefined) return undefined;
    return this._allSameText ? this._firstText : this._text;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Errors

/** Class names both clients give to an error reply from the server. */
const REPLY_ERROR_CLASSES = new Set(['ReplyError', 'ErrorReply', 'SimpleError', 'BlobError']);

function className(err: object): string | undefined {
  const ctor = (err as { constructor?: { name?: unknown } }).constructor;
  return typeof ctor?.name === 'string' ? ctor.name : undefined;
}

/**
 * The prefix of a Redis error reply (`WRONGTYPE Operation against a key…` → `WRONGTYPE`), for
 * `db.response.status_code`; undefined for errors that are not replies from the server (connection closed,
 * timeouts, aborts). For node-redis's MultiErrorReply, the prefix of the first failed command.
 */
export function redisErrorPrefix(err: unknown): string | undefined {
  if (err === null || typeof err !== 'object') return undefined;
  const e = err as { name?: unknown; message?: unknown; replies?: unknown; errorIndexes?: unknown };
  const cls = className(err);
  if (cls === 'MultiErrorReply' && Array.isArray(e.replies) && Array.isArray(e.errorIndexes) && e.errorIndexes.length > 0) {
    return redisErrorPrefix(e.replies[e.errorIndexes[0] as number]);
  }
  if (!(cls !== undefined && REPLY_ERROR_CLASSES.has(cls)) && !(typeof e.name === 'string' && REPLY_ERROR_CLASSES.has(e.name))) {
    return undefined;
  }
  return messagePrefix(e.message);
}

/** The leading upper-case word of an error reply's message (the RESP simple error "code"). */
export function messagePrefix(message: unknown): string | undefined {
  if (typeof message !== 'string') return undefined;
  let end = 0;
  const max = Math.min(message.length, 32);
  while (end < max) {
    const c = charCodeAt.call(message, end);
    // A-Z, 0-9, '_' and '-' (CLUSTERDOWN, NOSCRIPT, BUSYGROUP, ERR, WRONGTYPE, NOPERM…)
    if ((c >= 65 && c <= 90) || (c >= 48 && c <= 57 && end > 0) || c === 95 || (c === 45 && end > 0)) end++;
    else break;
  }
  if (end === 0) return undefined;
  if (end < message.length && charCodeAt.call(message, end) !== 32) return undefined;
  return message.slice(0, end);
}

/**
 * `error.type` (redis.md: SHOULD match db.response.status_code, else the canonical exception name): the error
 * reply's prefix; else the error's own name when it has one (`AbortError`, `MaxRetriesPerRequestError`); else
 * its class name (node-redis errors such as `ClientClosedError` keep `name` = `Error`); else its code; else its
 * name (`Error`); else `_OTHER`.
 */
export function redisErrorType(err: unknown): string {
  const prefix = redisErrorPrefix(err);
  if (prefix !== undefined) return prefix;
  if (err !== null && typeof err === 'object') {
    const e = err as { name?: unknown; code?: unknown };
    if (typeof e.name === 'string' && e.name !== '' && e.name !== 'Error') return e.name;
    const cls = className(err);
    if (cls !== undefined && cls !== '' && cls !== 'Error' && cls !== 'Object') return cls;
    if (typeof e.code === 'string' && e.code !== '') return e.code;
    if (typeof e.name === 'string' && e.name !== '') return e.name;
  }
  return '_OTHER';
}

// ---------------------------------------------------------------------------------------------------------------
// Database index

const NAMESPACES: string[] = [];
for (let i = 0; i < 16; i++) NAMESPACES.push(String(i));

/** `db.namespace`: the database index as a string (redis.md), or undefined when it is not a valid index. */
export function databaseNamespace(index: unknown): string | undefined {
  if (typeof index === 'number') {
    if (!Number.isInteger(index) || index < 0) return undefined;
    return index < 16 ? NAMESPACES[index] : String(index);
  }
  if (typeof index === 'string' && /^\d{1,9}$/.test(index)) return String(Number(index));
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Span attributes shared by both clients

/** Where a client connects: `server.address` / `server.port` (a UNIX socket path has no port). */
export interface RedisEndpoint {
  address: string | undefined;
  port: number | undefined;
}

/**
 * The attributes of a command or batch span, all known when it starts (redis.md lists them among those
 * "important for sampling decisions" that SHOULD be given at span creation). Undefined values are skipped.
 */
export function redisSpanAttributes(
  endpoint: RedisEndpoint,
  operationName: string,
  namespace: string | undefined,
  queryText: string | undefined,
  batchSize: number | undefined,
): Record<string, string | number | undefined> {
  return {
    'db.system.name': 'redis',
    'db.operation.name': operationName,
    'db.namespace': namespace,
    'server.address': endpoint.address,
    'server.port': endpoint.port,
    'db.query.text': queryText,
    'db.operation.batch.size': batchSize,
  };
}

/** The attributes of a `redis connect` / `redis reconnect` span. */
export function redisConnectAttributes(endpoint: RedisEndpoint, namespace: string | undefined): Record<string, string | number | undefined> {
  return {
    'db.system.name': 'redis',
    'db.namespace': namespace,
    'server.address': endpoint.address,
    'server.port': endpoint.port,
  };
}

/** The minimal span surface the error recording needs (our spans and the API's). */
interface ErrorSink {
  recordException(exception: unknown): void;
  setAttribute(key: string, value: string): unknown;
  setStatus(status: { code: 2; message?: string }): unknown;
}

/**
 * Marks a span as failed: the `exception` event, `error.type`, `db.response.status_code` for an error reply
 * (redis.md: every Redis error prefix is an error), and status ERROR with the message.
 */
export function recordRedisError(span: ErrorSink, err: unknown): void {
  span.recordException(err);
  const prefix = redisErrorPrefix(err);
  if (prefix !== undefined) span.setAttribute('db.response.status_code', prefix);
  span.setAttribute('error.type', prefix ?? redisErrorType(err));
  const message = err !== null && typeof err === 'object' && typeof (err as { message?: unknown }).message === 'string'
    ? (err as { message: string }).message
    : undefined;
  span.setStatus(message === undefined ? { code: 2 } : { code: 2, message });
}

/** The first error in a batch's replies (an EXEC reply holds the errors of the commands that failed in it). */
export function firstErrorIn(replies: unknown): unknown {
  if (!Array.isArray(replies)) return undefined;
  for (let i = 0; i < replies.length; i++) {
    const r = replies[i];
    if (isError(r)) return r;
    if (Array.isArray(r)) {
      for (let j = 0; j < r.length; j++) if (isError(r[j])) return r[j];
    }
  }
  return undefined;
}

/** An endpoint from host/port/path options (node-redis `options.socket`, ioredis `options`). */
export function endpointFromOptions(options: unknown, defaultHost: string): RedisEndpoint {
  if (options === null || typeof options !== 'object') return { address: defaultHost, port: 6379 };
  const o = options as { host?: unknown; port?: unknown; path?: unknown };
  if (typeof o.path === 'string' && o.path !== '') return { address: o.path, port: undefined };
  const address = typeof o.host === 'string' && o.host !== '' ? o.host : defaultHost;
  const portNumber = typeof o.port === 'number' ? o.port : typeof o.port === 'string' ? Number(o.port) : 6379;
  return { address, port: Number.isInteger(portNumber) && portNumber > 0 && portNumber < 65536 ? portNumber : undefined };
}
