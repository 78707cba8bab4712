/**
 * The `zerotel` command (bin/zerotel.js): `run`, `report` and `doctor`. Arguments are read with Node.js's own
 * util.parseArgs; nothing here runs at startup of an instrumented app (the agent never loads this code).
 */
import { agentVersion } from '../version';
import { doctorCommand } from './doctor';
import { EXIT, processIo, UsageError, type CliIo } from './io';
import { reportCommand } from './report-command';
import { runCommand } from './run-command';

export const USAGE = `Usage: zerotel <command> [options]

Commands:
  run [--] <command...>     run a command (npm test, node app.js, npx vitest) with the agent preloaded in every
                            Node.js process it starts; trace files go to .zerotel/run-<time>/; prints a report
  report <file|dir...>      read trace files and print a report (--json, --junit, --fail-on)
  doctor [dir]              what the agent would do for the app in a directory, and what stands in its way

Run zerotel <command> --help for the options of each. Exit codes: the command's own (run), 2 for bad arguments,
3 when a --fail-on rule trips, 1 when doctor finds a problem.
`;

const COMMANDS: Record<string, (args: string[], io: CliIo) => Promise<number>> = {
  run: runCommand,
  report: reportCommand,
  doctor: doctorCommand,
};

/** Runs the command line and returns the exit code; never throws. */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    io.out(USAGE);
    return name === undefined ? EXIT.USAGE : EXIT.OK;
  }
  if (name === '-v' || name === '--version') {
    io.out(`zerotel ${agentVersion()}\n`);
    return EXIT.OK;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    io.err(`zerotel: unknown command ${JSON.stringify(name)}\n\n${USAGE}`);
    return EXIT.USAGE;
  }
  try {
    return await command(rest, io);
  } catch (err) {
    // parseArgs reports unknown or malformed options with these codes.
    const code = (err as NodeJS.ErrnoException).code;
    if (err instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))) {
      io.err(`${(err as Error).message}\nSee zerotel ${name} --help.\n`);
      return EXIT.USAGE;
    }
    io.err(`zerotel ${name} failed: ${(err as Error)?.stack ?? String(err)}\n`);
    return 1;
  }
}

/** The executable's entry: runs main() on this process's arguments and sets the exit code. */
export function cli(): void {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    () => {
      process.exitCode = 1;
    },
  );
}
