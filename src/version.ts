/** The agent's version, from its own package.json (used in telemetry.sdk.version and the User-Agent). */
function readVersion(): string {
  // Compiled this file is dist/src/version.js; under the test runner it is src/version.ts.
  for (const candidate of ['../../package.json', '../package.json']) {
    try {
      const pkg = require(candidate);
      if (pkg.name === 'zerotel') return pkg.version as string;
    } catch {
      // try the next place
    }
  }
  return '0.0.0';
}

export const VERSION: string = readVersion();
