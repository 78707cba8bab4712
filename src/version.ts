/**
 * The agent's version, from its own package.json (telemetry.sdk.version, the User-Agent, tracer versions). Read on
 * first use, not when this module loads: the startup path has no need for it.
 */
let version: string | undefined;

export function agentVersion(): string {
  if (version === undefined) version = readVersion();
  return version;
}

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
