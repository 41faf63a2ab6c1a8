import type { Writable } from 'node:stream';

/** Where a command writes; tests pass collectors instead of the process streams. */
export interface CommandIo {
  stdout: Writable;
  stderr: Writable;
  stdin: NodeJS.ReadableStream;
  environment: Record<string, string | undefined>;
  /** Working directory the operator ran `pnpm cti` from. */
  cwd: string;
  /**
   * Read `.env` and the running stack's `.data/stack.env` under `environment`, as `pnpm cti`
   * does. Off in tests, which pass their whole environment.
   */
  environmentFiles?: boolean;
}

export interface Command {
  /** Words that select the command, e.g. `['dlq', 'list']`. */
  name: readonly string[];
  summary: string;
  usage: string;
  /** Runs the command and returns the exit status. */
  run(args: string[], io: CommandIo): Promise<number>;
}

/** A usage error: the command line itself is wrong. Exit status 64 (EX_USAGE). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const EXIT_USAGE = 64;
