/**
 * ioredis 5 and 6: a CLIENT span per command (including commands queued while connecting), one per pipeline or
 * MULTI/EXEC, and spans for connects and reconnects. The Redis text and attribute rules are shared with the
 * node-redis instrumentation (instrumentations/redis/command-text.ts).
 */
import type { InstrumentationDefinition } from '../../src/instrumentation/types';

export const ioredisInstrumentation: InstrumentationDefinition = {
  name: 'ioredis',
  packageName: 'ioredis',
  modules: [
    {
      // 5.11+ and 6 also publish ioredis:* TracingChannels; they are not used (see patch.ts for why), so every
      // version is wrapped the same way. 6.0 keeps every method and argument the wrappers rely on.
      name: 'ioredis',
      versions: '>=5 <7',
      patches: 'Redis#sendCommand, Redis#connect (and #setStatus, #silentEmit, where its outcome is seen), Pipeline#exec, Pipeline#sendCommand (auto-pipelines)',
      load: () => require('./patch').ioredisPatcher,
    },
  ],
};
