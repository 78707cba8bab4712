/**
 * Every instrumentation the agent has. Only these small declarations load at startup; each one's patch code
 * loads when its module is first required or imported.
 */
import type { AgentConfig } from '../config';
import { diag } from '../diag/logger';
import type { InstrumentationDefinition } from './types';
import { httpInstrumentation } from '../../instrumentations/http';
import { fetchInstrumentation } from '../../instrumentations/fetch';
import { expressInstrumentation } from '../../instrumentations/express';
import { pgInstrumentation } from '../../instrumentations/pg';
import { redisInstrumentation } from '../../instrumentations/redis';
import { ioredisInstrumentation } from '../../instrumentations/ioredis';

export const ALL_INSTRUMENTATIONS: readonly InstrumentationDefinition[] = [httpInstrumentation, fetchInstrumentation, expressInstrumentation, pgInstrumentation, redisInstrumentation, ioredisInstrumentation];

/**
 * Applies OTEL_NODE_ENABLED_INSTRUMENTATIONS (when set, only those) and then OTEL_NODE_DISABLED_INSTRUMENTATIONS.
 * Unknown names are ignored and the known ones in the same list still apply, with one warning per list. An
 * enabled list of nothing but unknown names enables nothing: falling back to all would trace what it meant to
 * leave out (database queries among it).
 */
export function selectInstrumentations(
  config: Pick<AgentConfig, 'enabledInstrumentations' | 'disabledInstrumentations'>,
  all: readonly InstrumentationDefinition[] = ALL_INSTRUMENTATIONS,
): InstrumentationDefinition[] {
  const known = new Set(all.map((d) => d.name));
  for (const [variable, names] of [
    ['OTEL_NODE_ENABLED_INSTRUMENTATIONS', config.enabledInstrumentations ?? []],
    ['OTEL_NODE_DISABLED_INSTRUMENTATIONS', config.disabledInstrumentations],
  ] as const) {
    const unknown = [...new Set(names.filter((name) => !known.has(name)))];
    if (unknown.length === 0) continue;
    const enablesNothing = variable === 'OTEL_NODE_ENABLED_INSTRUMENTATIONS' && unknown.length === new Set(names).size;
    diag.warn(
      `${variable} names ${unknown.map((name) => JSON.stringify(name)).join(', ')}, ` +
        `${unknown.length === 1 ? 'which is not an instrumentation' : 'which are not instrumentations'} (known: ${[...known].join(', ')}); ` +
        `ignoring ${unknown.length === 1 ? 'it' : 'them'}${enablesNothing ? ', so no instrumentation is enabled' : ''}`,
    );
  }
  return all.filter(
    (d) =>
      (config.enabledInstrumentations === undefined || config.enabledInstrumentations.includes(d.name)) &&
      !config.disabledInstrumentations.includes(d.name),
  );
}
