/**
 * express 4 and 5: `http.route` on the server span (renamed `{method} {route}`), and INTERNAL spans for the
 * middleware, routers and request handlers a request runs through.
 *
 * Only the `express` entry is hooked; everything else is reached from its exports (see patch.ts), so the
 * router of express 4 (express/lib/router) and of express 5 (the `router` package) are both covered.
 * Express 4 below 4.6 called `layer.handle` directly and is left alone.
 */
import type { InstrumentationDefinition } from '../../src/instrumentation/types';

export const expressInstrumentation: InstrumentationDefinition = {
  name: 'express',
  packageName: 'express',
  modules: [
    {
      name: 'express',
      versions: '>=4.6.0 <6',
      patches: 'Router#use/#route/#param, Layer#handle_request/#handle_error (handleRequest/handleError in 5), application.lazyrouter (4), response.end',
      load: () => require('./patch').expressPatcher,
    },
  ],
};
