/**
 * The bridge to @opentelemetry/api. When the application loads its own copy of the API (resolved from the
 * application, as it does), the agent registers its tracer provider, context manager and propagator there, so
 * that spans the application makes by hand join the agent's traces, parent and child both ways.
 *
 * It hooks the API's loading instead of resolving it at startup: no cost for applications that do not use it,
 * and the registration lands in exactly the copy the application loaded. The API keeps its globals on
 * `globalThis` per major version, so registering through the CommonJS or the ESM build serves both.
 *
 * Our objects implement the API's interfaces as they are (see src/api/types.ts); nothing is adapted.
 */
import { diag } from '../diag/logger';
import { applicationDependsOn } from '../instrumentation/hooks';
import type { InstrumentationDefinition, ModuleInfo, Patcher } from '../instrumentation/types';
import type { Sdk } from './sdk';

interface ApiModule {
  trace: { setGlobalTracerProvider(provider: unknown): boolean };
  context: { setGlobalContextManager(manager: unknown): boolean };
  propagation: { setGlobalPropagator(propagator: unknown): boolean };
}

const API_PACKAGE = '@opentelemetry/api';
let getSdk: (() => Sdk) | undefined;
const registered = new WeakSet<object>();

/** What the bridge registers: the agent's SDK, built when the application first loads the API. */
export function setBridgeTarget(sdk: () => Sdk): void {
  getSdk = sdk;
}

function registerWith(api: ApiModule, info: ModuleInfo): void {
  if (getSdk === undefined || registered.has(api)) return;
  if (typeof api?.trace?.setGlobalTracerProvider !== 'function') return;
  registered.add(api);
  const sdk = getSdk();
  const { contextManager } = require('../context/global') as typeof import('../context/global');
  const okTrace = api.trace.setGlobalTracerProvider(sdk.provider);
  const okContext = api.context.setGlobalContextManager(contextManager);
  const okPropagation = api.propagation.setGlobalPropagator(sdk.propagator);
  if (okTrace && okContext && okPropagation) {
    diag.debug(`registered with @opentelemetry/api ${info.version}`);
  } else {
    diag.warn(
      `@opentelemetry/api ${info.version} already had a global ` +
        [okTrace ? '' : 'tracer provider', okContext ? '' : 'context manager', okPropagation ? '' : 'propagator']
          .filter(Boolean)
          .join(', ') +
        ' (another OpenTelemetry SDK set up in the application?); spans made through it may not join zerotel\'s traces',
    );
  }
}

const patcher: Patcher = {
  patch(api: ApiModule, info: ModuleInfo) {
    registerWith(api, info);
  },
  unpatch() {
    // Registration with the API cannot be undone without disabling the application's own use of it.
  },
};

export const apiBridgeDefinition: InstrumentationDefinition = {
  name: '@opentelemetry/api',
  packageName: '@opentelemetry/api',
  modules: [{ name: '@opentelemetry/api', versions: '>=1.0.0 <2', patches: 'global tracer provider, context manager and propagator', load: () => patcher }],
};

/**
 * OTEL_SDK_DISABLED=true turns tracing off but "has no effect on propagators configured through the
 * OTEL_PROPAGATORS variable" (sdk-environment-variables.md). Nothing of the agent's runs then, so the only user of
 * a propagator is the application's own code through @opentelemetry/api: when the application's package.json
 * depends on the API, the configured propagators are registered there (as the API keeps its globals per major
 * version on globalThis, through the CommonJS build for an ES module application too). Nothing is hooked: an
 * application that turned the agent off pays for one package.json read, and the API's loading only if it uses it.
 */
export function registerPropagatorsOnly(propagators: readonly string[], entry: string | undefined): void {
  try {
    if (entry === undefined || entry === '' || !applicationDependsOn(entry, API_PACKAGE)) return;
    const { createRequire } = require('node:module') as typeof import('node:module');
    const path = require('node:path') as typeof import('node:path');
    const api = createRequire(path.resolve(entry))(API_PACKAGE) as Partial<ApiModule> | undefined;
    if (typeof api?.propagation?.setGlobalPropagator !== 'function') return;
    const { LazyPropagator } = require('../propagators/lazy-propagator') as typeof import('../propagators/lazy-propagator');
    if (api.propagation.setGlobalPropagator(new LazyPropagator(propagators))) diag.debug(`propagators registered with ${API_PACKAGE}`);
    else diag.warn(`${API_PACKAGE} already had a global propagator; OTEL_PROPAGATORS is not applied to it`);
  } catch (err) {
    diag.debug(`could not register the propagators with ${API_PACKAGE}`, err);
  }
}
