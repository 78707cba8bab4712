/**
 * node-redis (`redis` 4, 5 and 6, whose client is `@redis/client` 1.x, 5.x and 6.x): a CLIENT span per command,
 * one per MULTI/EXEC or pipeline, and spans for connects and reconnects.
 *
 * Every version is wrapped, 5.12+ included, although 5.12 publishes its own diagnostics_channel
 * TracingChannels: their messages carry arguments the library has already redacted by its own rules (the key
 * of HGET, TTL, MGET… is lost, `full` cannot be honoured, a MULTI's commands are not published at all), and
 * subscribing costs more CPU per command than the wrapper (bench/redis-approaches.js; channels.ts is that
 * channel-based implementation, kept for the comparison).
 */
import type { InstrumentationDefinition } from '../../src/instrumentation/types';

export const redisInstrumentation: InstrumentationDefinition = {
  name: 'redis',
  packageName: 'redis (@redis/client)',
  modules: [
    {
      // 1.x attaches the command methods to RedisClient when client/index.js loads: the executor they get is
      // wrapped here, in commander.js, which client/index.js requires first.
      name: '@redis/client',
      file: 'dist/lib/commander.js',
      versions: '>=1 <2',
      patches: 'attachCommands (the command executor), transformCommandArguments',
      load: () => require('./patch').commanderPatcher,
    },
    {
      name: '@redis/client',
      // require-in-the-middle names a directory's index file after the directory.
      file: 'dist/lib/client',
      versions: '>=1 <7',
      patches: 'RedisClient#sendCommand, connect, emit, MULTI/pipeline executors (1.x: also SELECT, scripts, functions)',
      load: () => require('./patch').clientPatcher,
    },
    {
      // A pool task that waits for a client would otherwise run in the context of the task before it.
      name: '@redis/client',
      file: 'dist/lib/client/pool.js',
      versions: '>=5 <7',
      patches: "RedisClientPool#execute (a waiting task keeps its caller's context)",
      load: () => require('./patch').poolPatcher,
    },
  ],
};
