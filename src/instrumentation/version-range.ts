/**
 * Whether a loaded module's version is in an instrumentation's declared range: the answer of
 * `semver.satisfies(version, range, { includePrerelease: true })`, without semver's range parser where the answer
 * is plain arithmetic.
 *
 * Why: semver's Range compiles a dozen regular expressions the first time it parses a range, ~3 ms of an
 * express application's start (measured on Node.js 20: 3.3 ms of the 6.5 ms that instrumenting express took),
 * to answer what three numbers answer. The ranges the instrumentations declare have one form, `>=A <B`, each
 * bound a whole or partial version (`>=4.6.0 <6`, `>=8 <9`); the modules' versions are release versions
 * (`5.1.0`). For a release version, semver's reading of a partial bound with prereleases included (`>=8` is
 * `>=8.0.0-0`, `<9` is `<9.0.0-0`) orders it exactly as the bound padded with zeros (`8.0.0`, `9.0.0`): no release
 * version lies between `9.0.0-0` and `9.0.0`. Anything else — a prerelease or build version, another form of
 * range — goes to semver itself. test/unit/version-range.test.ts compares the two over every declared range.
 */

/** A version number part as semver accepts it: no leading zeros, small enough to be exact. */
const PART = '(0|[1-9]\\d{0,14})';
const RELEASE = new RegExp(`^${PART}\\.${PART}\\.${PART}$`);
const BOUNDED_RANGE = new RegExp(`^>=${PART}(?:\\.${PART})?(?:\\.${PART})? <${PART}(?:\\.${PART})?(?:\\.${PART})?$`);

/** A range read as [lower major, minor, patch, upper major, minor, patch], or null for one only semver reads. */
const boundsByRange = new Map<string, number[] | null>();

function boundsOf(range: string): number[] | null {
  let bounds = boundsByRange.get(range);
  if (bounds === undefined) {
    const m = BOUNDED_RANGE.exec(range);
    bounds = m === null ? null : m.slice(1, 7).map((part) => (part === undefined ? 0 : Number(part)));
    boundsByRange.set(range, bounds);
  }
  return bounds;
}

/** -1, 0 or 1 as version (a, b, c) orders against the three numbers of `bounds` from `at`. */
function compareParts(a: number, b: number, c: number, bounds: number[], at: number): number {
  if (a !== bounds[at]) return a < bounds[at] ? -1 : 1;
  if (b !== bounds[at + 1]) return b < bounds[at + 1] ? -1 : 1;
  if (c !== bounds[at + 2]) return c < bounds[at + 2] ? -1 : 1;
  return 0;
}

let semverSatisfies: ((version: string, range: string, options?: object) => boolean) | undefined;

export function versionInRange(version: string, range: string): boolean {
  const bounds = boundsOf(range);
  const release = bounds === null ? null : RELEASE.exec(version);
  if (bounds !== null && release !== null) {
    const a = Number(release[1]);
    const b = Number(release[2]);
    const c = Number(release[3]);
    return compareParts(a, b, c, bounds, 0) >= 0 && compareParts(a, b, c, bounds, 3) < 0;
  }
  if (semverSatisfies === undefined) semverSatisfies = require('semver/functions/satisfies');
  return semverSatisfies!(version, range, { includePrerelease: true });
}
