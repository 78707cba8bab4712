/**
 * http / https: a SERVER span for every incoming request, a CLIENT span for every outgoing one, with the
 * W3C context read from and written to the headers. Node.js built-ins: every version this agent supports.
 */
import type { InstrumentationDefinition } from '../../src/instrumentation/types';

export const httpInstrumentation: InstrumentationDefinition = {
  name: 'http',
  packageName: 'node:http, node:https',
  modules: [
    {
      name: 'http',
      versions: '*',
      patches: 'Server#emit("request", "checkContinue", "checkExpectation", "clientError"), request(), get()',
      load: () => require('./patch').httpPatcher,
    },
    {
      name: 'https',
      versions: '*',
      patches: 'Server#emit("request", "checkContinue", "checkExpectation", "clientError"), request(), get()',
      load: () => require('./patch').httpsPatcher,
    },
  ],
};
