import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';

import { terminalSafe } from './terminal.js';

export interface StackChild {
  name: string;
  process: ChildProcess;
  logPath: string;
  /** Last lines of the log, for the message when the child fails. */
  tail(): string[];
  exited: Promise<number | null>;
  /** Sends SIGTERM and waits; SIGKILL after the grace time. */
  stop(graceMs?: number): Promise<void>;
}

export interface ChildOptions {
  name: string;
  command: string;
  args: string[];
  cwd: string;
  environment: Record<string, string>;
  logDirectory: string;
  /** Where warnings and errors of the child are echoed for the operator. */
  console: Writable;
  /** Called with each stdout line, e.g. to read the address a child prints. */
  onLine?: (line: string) => void;
}

const LEVELS_SHOWN = new Set(['warn', 'error', 'fatal', 40, 50, 60]);
const TAIL_LINES = 20;

/** Formats a JSON log line as one short human line, or returns undefined if it is not worth showing. */
function consoleLine(name: string, line: string): string | undefined {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.trim() === '' ? undefined : `[${name}] ${line}`;
  }
  if (!LEVELS_SHOWN.has(entry['level'] as string | number)) {
    return undefined;
  }
  const error = entry['err'] as { message?: string } | undefined;
  return `[${name}] ${String(entry['level'])}: ${String(entry['msg'] ?? '')}${error?.message === undefined ? '' : ` (${error.message})`}`;
}

/** Starts a child process whose output goes to `<logDirectory>/<name>.log`. */
export function startChild(options: ChildOptions): StackChild {
  mkdirSync(options.logDirectory, { recursive: true });
  const logPath = join(options.logDirectory, `${options.name}.log`);
  const log = createWriteStream(logPath, { flags: 'a' });
  const child = spawn(options.command, options.args, { cwd: options.cwd, env: options.environment, stdio: ['ignore', 'pipe', 'pipe'] });
  const tail: string[] = [];

  const follow = (stream: NodeJS.ReadableStream | null, fromStdout: boolean) => {
    if (stream === null) {
      return;
    }
    createInterface({ input: stream }).on('line', (line) => {
      log.write(`${line}\n`);
      tail.push(line);
      if (tail.length > TAIL_LINES) {
        tail.shift();
      }
      if (fromStdout) {
        options.onLine?.(line);
      }
      const shown = consoleLine(options.name, line);
      if (shown !== undefined) {
        options.console.write(`${terminalSafe(shown)}\n`);
      }
    });
  };
  follow(child.stdout, true);
  follow(child.stderr, false);

  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      log.end();
      resolve(code);
    });
  });

  return {
    name: options.name,
    process: child,
    logPath,
    tail: () => [...tail],
    exited,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) {
        return;
      }
      const killTimer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      child.kill('SIGTERM');
      await exited;
      clearTimeout(killTimer);
    },
  };
}
