/**
 * pg (node-postgres) 8 and pg-pool 3: a CLIENT span per query and per connection set-up, an INTERNAL span for
 * the wait for a pooled connection, and the caller's context kept across callbacks, promises and Submittable
 * events. The native client (pg.native, with pg-native installed) is patched through its own file when it loads.
 */
import type { InstrumentationDefinition } from '../../src/instrumentation/types';

export const pgInstrumentation: InstrumentationDefinition = {
  name: 'pg',
  packageName: 'pg, pg-pool',
  modules: [
    {
      name: 'pg',
      versions: '>=8 <9',
      patches: 'Client#query, Client#connect, its password step (and pg.Pool through pg-pool)',
      load: () => require('./patch').pgPatcher,
    },
    {
      name: 'pg',
      versions: '>=8 <9',
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
