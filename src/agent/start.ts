/**
 * The agent's entry, called by register.js. Reads the configuration, and unless the SDK is disabled, this is a
 * second copy of the agent, or this is not the main thread, builds and starts the agent. Never throws.
 */
import { readConfig } from '../config';
import { LogLevel, diag } from '../diag/logger';
import { Agent } from './agent';
import { registerPropagatorsOnly } from './api-bridge';
import { setCodeCacheOptions } from './code-cache';
import { agentVersion } from '../version';

/** Where the running agent announces itself, shared by every copy of zerotel in the process. */
const AGENT_KEY = Symbol.for('zerotel.agent');

interface AgentMark {
  readonly version: string;
  path: string;
  agent: Agent | undefined;
}

export function runningAgent(): Agent | undefined {
  return ((globalThis as any)[AGENT_KEY] as AgentMark | undefined)?.agent;
}

/**
 * Whether this is the main thread. `process.chdir` is Node's own `wrappedChdir` only on the main thread (workers
 * get a stub), which answers without loading node:worker_threads (about 3 ms of startup); anything else asks
 * worker_threads itself.
 */
function isMainThread(): boolean {
  if (process.chdir.name === 'wrappedChdir') return true;
  return (require('node:worker_threads') as typeof import('node:worker_threads')).isMainThread;
}

/**
 * Whether the command line gives zerotel's register as a module loader and never as a preload: then this is Node's
 * loader thread, the agent's only copy, and the application's thread has none. (A preload runs in the loader
 * thread too, which is why the flags are read rather than the thread.) Only called off the main thread.
 */
function givenAsLoader(nodeOptions: string | undefined): boolean {
  try {
    const path = require('node:path') as typeof import('node:path');
    const { fileURLToPath } = require('node:url') as typeof import('node:url');
    let register: string | undefined;
    const isOurs = (value: string): boolean => {
      if (/zerotel[\\/]register(?:\.js)?$/.test(value)) return true;
      try {
        // the package resolves itself by its name (package.json "exports")
        register ??= require.resolve('zerotel/register');
        return path.resolve(value.startsWith('file:') ? fileURLToPath(value) : value) === register;
      } catch {
        return false;
      }
    };
    const flags = [...process.execArgv, ...(nodeOptions ?? '').split(/\s+/).filter((f) => f !== '')];
    let asLoader = false;
    for (let i = 0; i < flags.length; i++) {
      const m = /^(--loader|--experimental-loader|--require|-r|--import)(?:=(.*))?$/.exec(flags[i]);
      if (m === null) continue;
      const value = m[2] ?? flags[++i];
      if (value === undefined || !isOurs(value.replace(/^["']|["']$/g, ''))) continue;
      if (m[1] !== '--loader' && m[1] !== '--experimental-loader') return false;
      asLoader = true;
    }
    return asLoader;
  } catch {
    return false;
  }
}

export function start(): Agent | undefined {
  try {
    const { config, warnings } = readConfig();
    diag.level = config.logLevel;
    setCodeCacheOptions(config.codeCache, config.nodeOptions);
    const existing = (globalThis as any)[AGENT_KEY] as AgentMark | undefined;
    if (existing !== undefined) {
      diag.debug(
        `zerotel ${existing.version} (${existing.path}) is already running in this process; ` +
          `this copy (${agentVersion()}, ${__filename}) steps aside`,
      );
      return undefined;
    }
    const mark: AgentMark = {
      get version() {
        return agentVersion();
      },
      path: __filename,
      agent: undefined,
    };
    Object.defineProperty(globalThis, AGENT_KEY, { value: mark, enumerable: false, configurable: true, writable: false });
    for (const warning of warnings) diag.warn(warning);

    // Worker threads share the process with the main thread's agent; a second agent per worker would double
    // the cost and the exports. (The agent's own exit worker is one of them.)
    if (!isMainThread()) {
      if (givenAsLoader(config.nodeOptions)) {
        diag.warn(
          'zerotel was given to Node.js as a module loader (--loader/--experimental-loader): Node.js runs loaders in a ' +
            'thread of their own, so the application is not traced. Preload it instead: --import zerotel/register (or --require).',
        );
      } else diag.debug('not starting in a worker thread');
      return undefined;
    }
    if (config.sdkDisabled) {
      diag.debug('OTEL_SDK_DISABLED=true: zerotel does nothing in this process but apply OTEL_PROPAGATORS');
      registerPropagatorsOnly(config.propagators, process.argv[1]);
      return undefined;
    }
    const agent = new Agent(config);
    mark.agent = agent;
    // At `info`, one line a user can check when traces do not arrive; the default (`warn`) keeps a healthy agent silent.
    if (diag.level >= LogLevel.INFO) diag.info(`zerotel ${agentVersion()} started: ${agent.describe()}`);
    return agent;
  } catch (err) {
    diag.error('the agent could not start; the application runs without it', err);
    return undefined;
  }
}
