import { describe, expect, it } from 'vitest';
import { ALL_INSTRUMENTATIONS } from '../../src/instrumentation/registry';
import { versionInRange } from '../../src/instrumentation/version-range';

const satisfies = require('semver/functions/satisfies') as (version: string, range: string, options?: object) => boolean;

const DECLARED = [...new Set(ALL_INSTRUMENTATIONS.flatMap((d) => d.modules.map((m) => m.versions)))].filter((r) => r !== '*');
// Ranges of the same form with other bounds, and ranges of other forms (which semver answers).
const OTHERS = ['>=1.2 <3.4', '>=0.0.1 <0.1', '>=4.6.0 <4.6.1', '>=10 <10', '^5.0.0', '~1.2.3', '4.x', '>=1 <2 || >=4', '>=1', '>= 1 < 2', '>=01 <2', '*'];

/** Versions around every bound: each bound's numbers, one less and one more, with prereleases and odd forms. */
function versionsAround(ranges: string[]): string[] {
  const versions = new Set(['0.0.0', '1.0.0', '99.99.99', '9007199254740991.0.0', '1.0', 'v5.0.0', '=5.0.0', ' 5.0.0', '05.0.0', 'garbage', '']);
  for (const range of ranges) {
    for (const bound of range.match(/\d+(?:\.\d+){0,2}/g) ?? []) {
      const [a = 0, b = 0, c = 0] = bound.split('.').map(Number);
      for (const [x, y, z] of [
        [a, b, c],
        [a, b, c + 1],
        [a, b + 1, 0],
        [a + 1, 0, 0],
        [a, b, Math.max(c - 1, 0)],
        [a, Math.max(b - 1, 0), 99],
        [Math.max(a - 1, 0), 99, 99],
      ]) {
        versions.add(`${x}.${y}.${z}`);
        versions.add(`${x}.${y}.${z}-0`);
        versions.add(`${x}.${y}.${z}-rc.1`);
        versions.add(`${x}.${y}.${z}+build.7`);
      }
    }
  }
  return [...versions];
}

describe('versionInRange', () => {
  it('covers every range the instrumentations declare', () => {
    expect(DECLARED.length).toBeGreaterThan(3);
  });

  it('answers as semver.satisfies with prereleases included, for every declared range and others', () => {
    const ranges = [...DECLARED, ...OTHERS];
    const versions = versionsAround(ranges);
    const differing: string[] = [];
    for (const range of ranges) {
      for (const version of versions) {
        const ours = versionInRange(version, range);
        if (ours !== satisfies(version, range, { includePrerelease: true })) differing.push(`${JSON.stringify(version)} in ${range}: ${ours}`);
      }
    }
    expect(differing).toEqual([]);
  });

  it('answers the declared form without semver, and the bounds as semver reads them', () => {
    expect(versionInRange('5.1.0', '>=4.6.0 <6')).toBe(true);
    expect(versionInRange('4.6.0', '>=4.6.0 <6')).toBe(true);
    expect(versionInRange('4.5.99', '>=4.6.0 <6')).toBe(false);
    expect(versionInRange('6.0.0', '>=4.6.0 <6')).toBe(false);
    // prerelease versions go to semver: 6.0.0-beta is below 6.0.0 but not below `<6` (read as <6.0.0-0)
    expect(versionInRange('6.0.0-beta.1', '>=4.6.0 <6')).toBe(false);
    expect(versionInRange('5.0.0-beta.1', '>=4.6.0 <6')).toBe(true);
    expect(versionInRange('4.6.0-rc.1', '>=4.6.0 <6')).toBe(false);
  });
});
