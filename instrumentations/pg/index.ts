/**
 * pg (node-postgres) 8 and pg-pool 3: a CLIENT span per query and per connection set-up, an INTERNAL span for
 * the wait for a pooled connection, and the caller's context kept across callbacks, promises and Submittable
 * events. The native client (pg.native, with pg-native installed) is patched through its own file when it loads.
 */
import type { InstrumentationDefinition } from '../../src/instrumentation/types';

/**
 * pg 8 from 8.0.3: earlier 8.0 releases never finish connecting on the Node.js versions the agent supports (20.6
 * and later; the connection's stream handling broke with Node.js 14 and was fixed in 8.0.3), so there is nothing
 * of theirs to trace. test/pg/pg-oldest.test.ts runs 8.0.3 itself.
 */
const PG_VERSIONS = '>=8.0.3 <9';

export const pgInstrumentation: InstrumentationDefinition = {
  name: 'pg',
  packageName: 'pg, pg-pool',
  modules: [
    {
      name: 'pg',
      versions: PG_VERSIONS,
      patches: 'Client#query, Client#connect, its password step (and pg.Pool through pg-pool)',
      load: () => require('./patch').pgPatcher,
    },
    {
      name: 'pg',
      versions: PG_VERSIONS,
      file: 'lib/native/client.js',
      patches: 'native Client#query, Client#connect (pg.native, when pg-native is installed)',
      load: () => require('./patch').pgNativeClientPatcher,
    },
    {
      name: 'pg-pool',
      versions: '>=3 <4',
      patches: 'Pool#connect, Pool#query',
      load: () => require('./patch').pgPoolPatcher,
    },
  ],
};
