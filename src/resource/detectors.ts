/**
 * Resource detection from the configuration and the running process. Precedence, highest first
 * (resource/sdk.md#specifying-resource-information-via-an-environment-variable): OTEL_SERVICE_NAME, then
 * OTEL_RESOURCE_ATTRIBUTES, then the detectors, then the defaults (`unknown_service:<executable>`).
 */
import fs = require('node:fs');
import os = require('node:os');
import path = require('node:path');
import type { Attributes } from '../api/types';
import type { AgentConfig } from '../config';
import { diag } from '../diag/logger';
import { agentVersion } from '../version';
import { Resource } from './resource';
import { workingDirectory } from './working-directory';

/** semantic-conventions: host.arch values. */
const ARCH: Record<string, string> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm32',
  ia32: 'x86',
  ppc: 'ppc32',
  ppc64: 'ppc64',
  s390x: 's390x',
};

/** semantic-conventions: os.type values. */
const OS_TYPE: Record<string, string> = {
  linux: 'linux',
  darwin: 'darwin',
  win32: 'windows',
  freebsd: 'freebsd',
  netbsd: 'netbsd',
  openbsd: 'openbsd',
  sunos: 'solaris',
  aix: 'aix',
};

function detectHost(out: Attributes): void {
  out['host.name'] = os.hostname();
  out['host.arch'] = ARCH[process.arch] ?? process.arch;
}

function detectOs(out: Attributes): void {
  out['os.type'] = OS_TYPE[process.platform] ?? process.platform;
  out['os.version'] = os.release();
}

/** `unknown_service:node`, or the name of whatever executable runs the process (a renamed or versioned node). */
export function defaultServiceName(): string {
  return `unknown_service:${path.basename(process.execPath)}`;
}

function detectProcess(out: Attributes, withArgs: boolean): void {
  out['process.pid'] = process.pid;
  out['process.executable.name'] = path.basename(process.execPath);
  out['process.executable.path'] = process.execPath;
  if (process.argv[1] !== undefined) out['process.command'] = process.argv[1];
  // The whole command line can hold secrets (tokens passed as flags): only when asked for.
  if (withArgs) out['process.command_args'] = [process.argv0, ...process.execArgv, ...process.argv.slice(1)];
  out['process.runtime.name'] = 'nodejs';
  out['process.runtime.version'] = process.versions.node;
  out['process.runtime.description'] = 'Node.js';
  try {
    out['process.owner'] = os.userInfo().username;
  } catch {
    // no passwd entry for this uid (common in containers)
  }
}

/** The nearest package.json with a name, from the main script's directory upwards. */
export function findApplicationPackage(start: string | undefined): { name?: string; version?: string } | undefined {
  if (start === undefined) return undefined;
  let dir = path.dirname(path.resolve(start));
  for (let i = 0; i < 32; i++) {
    const file = path.join(dir, 'package.json');
    try {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8'));
      if (pkg !== null && typeof pkg === 'object' && typeof pkg.name === 'string' && pkg.name !== '') {
        return {
          name: pkg.name,
          version: typeof pkg.version === 'string' && pkg.version !== '' ? pkg.version : undefined,
        };
      }
    } catch {
      // absent or unreadable: keep walking up
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return undefined;
}

/**
 * Where to look for the application's package.json: from the main script, unless that script is a tool's,
 * inside a node_modules directory (`jest`, `vitest`, `mocha`, `ts-node`, pm2's process container, npm's own
 * scripts): then the application is the project the tool was started in, and the search starts in the working
 * directory (it once named every span of a test run `jest` or `vitest`).
 */
export function applicationPackageStart(mainScript: string | undefined, cwd: string | undefined): string | undefined {
  if (mainScript === undefined || mainScript === '') return undefined;
  // Without a working directory (removed before the process started) only an absolute main script can be found;
  // Node.js gives process.argv[1] absolute.
  if (cwd === undefined && !path.isAbsolute(mainScript)) return undefined;
  const resolved = cwd === undefined ? path.normalize(mainScript) : path.resolve(cwd, mainScript);
  if (!resolved.includes(`${path.sep}node_modules${path.sep}`)) return resolved;
  return cwd === undefined ? undefined : path.join(cwd, 'package.json');
}

export function detectResourceAttributes(config: AgentConfig): Attributes {
  const detectors = config.resourceDetectors;
  const out: Attributes = {
    // The service's semantic conventions: with no name given, `unknown_service:` and process.executable.name.
    'service.name': defaultServiceName(),
    'telemetry.sdk.name': 'zerotel',
    'telemetry.sdk.language': 'nodejs',
    'telemetry.sdk.version': agentVersion(),
  };
  const run = (name: string, fn: () => void) => {
    if (!detectors.includes(name)) return;
    try {
      fn();
    } catch (err) {
      diag.debug(`resource detector ${name} failed`, err);
    }
  };
  run('host', () => detectHost(out));
  run('os', () => detectOs(out));
  run('process', () => detectProcess(out, config.resourceProcessCommandArgs));
  run('package', () => {
    const pkg = findApplicationPackage(applicationPackageStart(process.argv[1], workingDirectory()));
    if (pkg?.name !== undefined) out['service.name'] = pkg.name;
    if (pkg?.version !== undefined) out['service.version'] = pkg.version;
  });
  if (detectors.includes('env')) {
    for (const [key, value] of config.resourceAttributes) out[key] = value;
  }
  if (config.serviceName !== undefined) out['service.name'] = config.serviceName;
  return out;
}

export function createResource(config: AgentConfig): Resource {
  return new Resource(() => detectResourceAttributes(config));
}
