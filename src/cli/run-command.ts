/**
 * `zerotel run [options] [--] <command…>`: runs a command with the agent preloaded in every Node.js process it
 * starts, the spans written to trace files in a run directory, and the report printed when it ends.
 *
 * The preload travels in NODE_OPTIONS (`--require <register.js>`), which every Node.js process reads at start
 * and hands on to its own children: npm and npx, test runners and their workers, the app the tests start.
 * register.js registers the ES module hook itself when the process's entry is an ES module, so the one flag
 * covers CommonJS and ESM alike.
 *
 * The report goes to stderr: stdout stays exactly the command's own, so pipes and redirections keep working.
 */
import { spawn } from 'node:child_process';
import fs = require('node:fs');
import os = require('node:os');
import path = require('node:path');
import { parseArgs } from 'node:util';
import { EXIT, UsageError, useColor, type CliIo } from './io';
import { produceReport, readReportSettings, REPORT_OPTIONS } from './report-command';
import { renderReportText } from './report-text';

export const RUN_USAGE = `Usage: zerotel run [options] [--] <command> [args...]

Runs the command with the agent preloaded in every Node.js process it starts (NODE_OPTIONS=--require
<zerotel>/register.js, added to any NODE_OPTIONS already set), spans written as trace files into a run
directory, and prints the report (on stderr) when the command ends. The exit code is the command's, or 3
when a --fail-on rule trips.

Options:
  --out <dir>         the run directory (default: .zerotel/run-<time>/ under the current directory)
  --fail-on <rule>    exit with code 3 when the rule trips (repeatable); see zerotel report --help
  --junit <path>      also write a JUnit XML file: a test case per HTTP route, one per --fail-on rule
  --slowest <n>       how many of the slowest traces to draw (default 5; 0 for none)
  --quiet             print no report, only the verdicts of rules that tripped
  --color, --no-color force colour on or off (default: on when stderr is a terminal and NO_COLOR is unset)
  -h, --help          this help

Examples:
  zerotel run npm test
  zerotel run --fail-on error-spans --fail-on 'p95>500ms' --junit traces.xml -- npx vitest run
`;

const RUN_OPTIONS = {
  ...REPORT_OPTIONS,
  out: { type: 'string' },
  quiet: { type: 'boolean' },
} as const;

/** Signals passed on to the command. A Ctrl-C in a terminal reaches the command directly as well. */
const FORWARDED_SIGNALS: NodeJS.Signals[] = process.platform === 'win32' ? ['SIGINT', 'SIGTERM'] : ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];

/** The package's register.js (this file is dist/src/cli/run-command.js, or src/cli/run-command.ts in tests). */
export function registerPath(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, 'register.js');
    if (fs.existsSync(candidate) && fs.existsSync(path.join(dir, 'package.json'))) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error(`zerotel's register.js was not found above ${__dirname}`);
}

/** One NODE_OPTIONS word: quoted when it holds spaces or quotes (Node.js reads double quotes and \\ escapes there). */
function nodeOptionsWord(value: string): string {
  return /[\s"'\\]/.test(value) ? `"${value.replace(/[\\"]/g, (c) => '\\' + c)}"` : value;
}

/** NODE_OPTIONS with the preload added at the end, unless it is already there. */
export function withPreload(existing: string | undefined, register: string): string {
  const current = existing?.trim() ?? '';
  if (current.includes(register)) return current;
  const flag = `--require ${nodeOptionsWord(register)}`;
  return current === '' ? flag : `${current} ${flag}`;
}

/** OTEL_TRACES_EXPORTER with `file` in it: the report reads the files. Whatever else was chosen stays. */
export function withFileExporter(existing: string | undefined): string {
  const names = (existing ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '' && s.toLowerCase() !== 'none');
  if (!names.some((n) => n.toLowerCase() === 'file')) names.push('file');
  return names.join(',');
}

export function runDirectoryName(at: Date): string {
  return `run-${at.toISOString().replace(/:/g, '-').replace('.', '-')}`;
}

/** Splits `run`'s own options from the command: the command starts at `--` or at the first word that is not an option. */
function splitCommand(args: string[]): { own: string[]; command: string[] } {
  const { tokens } = parseArgs({ args, options: RUN_OPTIONS, allowPositionals: true, strict: false, tokens: true });
  const first = tokens.find((t) => t.kind === 'positional' || t.kind === 'option-terminator');
  if (first === undefined) return { own: args, command: [] };
  return {
    own: args.slice(0, first.index),
    command: args.slice(first.kind === 'option-terminator' ? first.index + 1 : first.index),
  };
}

interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  spawnError?: NodeJS.ErrnoException;
}

function runChild(command: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<Finished> {
  // `zerotel run "npm test"`: one word with spaces is a shell command line.
  const viaShell = command.length === 1 && /\s/.test(command[0]);
  const child = spawn(command[0], command.slice(1), {
    stdio: 'inherit',
    env,
    cwd,
    shell: viaShell || process.platform === 'win32',
  });
  const forward = (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
  return new Promise((resolve) => {
    let done = false;
    const finish = (result: Finished) => {
      if (done) return;
      done = true;
      for (const signal of FORWARDED_SIGNALS) process.removeListener(signal, forward);
      resolve(result);
    };
    child.once('error', (err: NodeJS.ErrnoException) => {
      // Only failures to start end the run here; a failed kill() also lands on 'error' and changes nothing.
      if (child.pid === undefined) finish({ code: null, signal: null, spawnError: err });
    });
    child.once('close', (code, signal) => finish({ code, signal }));
  });
}

function commandExitCode(finished: Finished): number {
  if (finished.spawnError !== undefined) return finished.spawnError.code === 'ENOENT' ? EXIT.NOT_FOUND : EXIT.CANNOT_EXECUTE;
  if (finished.signal !== null) return 128 + (os.constants.signals[finished.signal] ?? 0);
  return finished.code ?? 1;
}

/** Removes `dir` if it is empty; whether it did. */
function removeIfEmpty(dir: string): boolean {
  try {
    if (fs.readdirSync(dir).length > 0) return false;
    fs.rmdirSync(dir);
    return true;
  } catch {
    return false;
  }
}

export async function runCommand(args: string[], io: CliIo): Promise<number> {
  const { own, command } = splitCommand(args);
  const { values } = parseArgs({ args: own, options: RUN_OPTIONS, allowPositionals: false, strict: true });
  if (values.help) {
    io.out(RUN_USAGE);
    return EXIT.OK;
  }
  if (command.length === 0) throw new UsageError('zerotel run: name the command to run, e.g. zerotel run npm test');
  const settings = readReportSettings(values);
  const color = useColor(values, io.stderrIsTTY, io.env);

  const runDir = path.resolve(io.cwd, values.out ?? path.join('.zerotel', runDirectoryName(new Date())));
  const madeRunDir = !fs.existsSync(runDir);
  fs.mkdirSync(runDir, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...io.env,
    NODE_OPTIONS: withPreload(io.env.NODE_OPTIONS, registerPath()),
    OTEL_TRACES_EXPORTER: withFileExporter(io.env.OTEL_TRACES_EXPORTER),
    // A trailing separator makes it a directory: one file per process.
    OTEL_EXPORTER_FILE_PATH: runDir + path.sep,
  };
  const relative = path.relative(io.cwd, runDir);
  const shownDir = relative === '' ? '.' : relative.startsWith('..') || path.isAbsolute(relative) ? runDir : relative;
  if (!values.quiet) io.err(`zerotel: running ${command.join(' ')} with tracing; trace files go to ${shownDir}${path.sep}\n`);

  const finished = await runChild(command, env, io.cwd);
  const exitCode = commandExitCode(finished);
  if (finished.spawnError !== undefined) {
    if (madeRunDir) removeIfEmpty(runDir);
    io.err(`zerotel run: cannot run ${command[0]}: ${finished.spawnError.message}\n`);
    return exitCode;
  }

  const outcome = await produceReport([runDir], settings, io);
  // A run that wrote no trace file leaves no empty directory behind (and no hint pointing at one).
  const kept = !(madeRunDir && removeIfEmpty(runDir));
  const how = finished.signal !== null ? `was ended by ${finished.signal}` : `exited with code ${finished.code}`;
  if (!values.quiet) {
    io.err('\n' + renderReportText(outcome.report, outcome.gates, color));
    io.err(`\nzerotel: the command ${how}${kept ? `; see this report again with: zerotel report ${shownDir}` : ''}\n`);
  } else {
    for (const g of outcome.gates) if (g.tripped) io.err(`zerotel: --fail-on ${g.rule} tripped: ${g.detail}\n`);
    // The verdict replaces the command's exit code: say what that was.
    if (outcome.tripped) io.err(`zerotel: the command ${how}; exiting with code ${EXIT.GATE}\n`);
  }
  if (outcome.report.summary.spans === 0) {
    io.err(
      'zerotel: no spans were recorded. Did the command start Node.js processes (>= 20.6) that handled requests or ' +
        'queries? Run zerotel doctor in the app directory to see what the agent would do.\n',
    );
  }
  if (outcome.tripped) {
    if (!values.quiet) io.err(`zerotel: a --fail-on rule tripped: exiting with code ${EXIT.GATE}\n`);
    return EXIT.GATE;
  }
  return exitCode;
}
