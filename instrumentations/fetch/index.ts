/**
 * fetch: a CLIENT span for every request made with the global `fetch` (and with the npm `undici` package), with
 * the context injected into its headers. Node.js's fetch is undici built into the runtime, never loaded through
 * require or import, so this instrumentation listens to the diagnostics channels undici publishes
 * (`undici:request:*`) instead of patching. Subscribing is all that happens at startup; the handlers load on the
 * first request.
 */
import type { InstrumentationDefinition } from '../../src/instrumentation/types';

export const CHANNELS = [
  'undici:request:create',
  'undici:client:sendHeaders',
  'undici:request:headers',
  'undici:request:trailers',
  'undici:request:error',
] as const;

export const fetchInstrumentation: InstrumentationDefinition = {
  name: 'fetch',
  packageName: 'global fetch (undici)',
  modules: [],
  start() {
    const dc = require('node:diagnostics_channel') as typeof import('node:diagnostics_channel');
    let handlers: Record<string, (message: any) => void> | undefined;
    const subscriptions = CHANNELS.map((name) => {
      const listener = (message: unknown) => {
        if (handlers === undefined) handlers = require('./channels').handlers as Record<string, (message: any) => void>;
        handlers[name](message);
      };
      dc.subscribe(name, listener);
      return () => dc.unsubscribe(name, listener);
    });
    return () => {
      for (const unsubscribe of subscriptions) unsubscribe();
    };
  },
};
