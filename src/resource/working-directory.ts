/**
 * process.cwd(), or undefined when it throws: a process started in a directory that was removed (a deploy that
 * replaced the release directory under a shell still in it) has none, and Node.js runs the application all the
 * same. The agent once failed to start there at all.
 */
export function workingDirectory(): string | undefined {
  try {
    return process.cwd();
  } catch {
    return undefined;
  }
}
