/**
 * The README's table of supported modules, generated from the instrumentations' own declarations, so the version
 * ranges live in one place (each `instrumentations/<name>/index.ts`). `npm run readme` writes it into the README;
 * a unit test fails when the README is out of date.
 */
import type { InstrumentationDefinition } from './types';

/** Per module name, the ranges declared for it, without those another of its ranges already covers. */
function rangesByModule(definition: InstrumentationDefinition): Array<[string, string[]]> {
  const subset = require('semver/ranges/subset') as (sub: string, dom: string) => boolean;
  const byName = new Map<string, string[]>();
  for (const m of definition.modules) {
    const list = byName.get(m.name) ?? [];
    if (!list.includes(m.versions)) list.push(m.versions);
    byName.set(m.name, list);
  }
  return [...byName].map(([name, ranges]) => [
    name,
    ranges.filter((r, i) => r === '*' || !ranges.some((other, j) => j !== i && other !== r && subset(r, other))),
  ]);
}

export function supportTable(definitions: readonly InstrumentationDefinition[]): string {
  const lines = [
    '| name | traces | module: supported versions | patches | details |',
    '| --- | --- | --- | --- | --- |',
  ];
  for (const d of definitions) {
    const versions =
      d.modules.length === 0
        ? 'built into Node.js'
        : rangesByModule(d)
            .map(([name, ranges]) => `\`${name}\` ${ranges.map((r) => (r === '*' ? 'built-in' : `\`${r}\``)).join(', ')}`)
            .join('<br>');
    const patches = d.modules.length === 0 ? 'diagnostics channels, no patching' : [...new Set(d.modules.map((m) => m.patches))].join('; ');
    lines.push(`| \`${d.name}\` | ${d.packageName} | ${versions} | ${patches} | [instrumentations/${d.name}](instrumentations/${d.name}/README.md) |`);
  }
  return lines.join('\n');
}

/** Replaces what is between `<!-- instrumentations:start -->` and `<!-- instrumentations:end -->`. */
export function withSupportTable(readme: string, definitions: readonly InstrumentationDefinition[]): string {
  const start = '<!-- instrumentations:start -->';
  const end = '<!-- instrumentations:end -->';
  const a = readme.indexOf(start);
  const b = readme.indexOf(end);
  if (a === -1 || b === -1 || b < a) throw new Error('README has no instrumentations markers');
  return readme.slice(0, a + start.length) + '\n' + supportTable(definitions) + '\n' + readme.slice(b);
}
