/**
 * What a command reads and writes besides files: the two output streams, whether they are terminals, the
 * environment and the working directory. Commands take it as a parameter so tests can run them in-process.
 */
import { processEnvironment } from '../config';

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export function processIo(): CliIo {
  return {
    out: (text) => void process.stdout.write(text),
    err: (text) => void process.stderr.write(text),
    stdoutIsTTY: process.stdout.isTTY === true,
    stderrIsTTY: process.stderr.isTTY === true,
    env: processEnvironment(),
    cwd: process.cwd(),
  };
}

/** Colour for a stream: `--color` / `--no-color` win, then NO_COLOR (https://no-color.org), then "is it a terminal". */
export function useColor(flags: { color?: boolean; 'no-color'?: boolean }, isTTY: boolean, env: NodeJS.ProcessEnv): boolean {
  if (flags['no-color'] === true) return false;
  if (flags.color === true) return true;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return isTTY;
}

/** Exit codes shared by the commands (documented in src/cli/README.md). */
export const EXIT = {
  OK: 0,
  /** doctor: problems found. */
  PROBLEMS: 1,
  /** Bad arguments, a bad --fail-on rule, or report inputs that do not exist or hold no trace file. */
  USAGE: 2,
  /** A --fail-on rule tripped. */
  GATE: 3,
  /** run: the command could not be executed (permission, not a program). */
  CANNOT_EXECUTE: 126,
  /** run: the command was not found. */
  NOT_FOUND: 127,
} as const;

export class UsageError extends Error {}
