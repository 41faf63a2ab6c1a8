import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

import { waitFor } from '@cti/testing';

import { root } from './secured-nats.js';

/** One JSON log line of a service (pino), with the fields the tests read. */
export type LogLine = Record<string, unknown> & { msg?: string; level?: number | string };

/** A service or CLI process started from its TypeScript entry point, with its output. */
export interface RunningProcess {
  name: string;
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** The JSON lines of the output. */
  lines(): LogLine[];
  /** Waits for a log line with this message, and returns it. */
  waitForLog(message: string, timeoutMs?: number): Promise<LogLine>;
  readonly exited: Promise<number | null>;
  /** Sends SIGTERM and waits for the exit; SIGKILL after 10 s. */
  stop(): Promise<number | null>;
}

/**
 * Starts `node --conditions=source --import tsx <entry>` in `directory` (relative to the
 * repository root) with exactly the given environment plus PATH, as a container would get it.
 */
export function startProcess(name: string, directory: string, entry: string, args: readonly string[], environment: Record<string, string>): RunningProcess {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', entry, ...args], {
    cwd: join(root, directory),
    env: { PATH: process.env['PATH'] ?? '', ...environment },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const lines = (): LogLine[] =>
    output.split('\n').flatMap((text) => {
      if (!text.startsWith('{')) {
        return [];
      }
      try {
        return [JSON.parse(text) as LogLine];
      } catch {
        return [];
      }
    });

  return {
    name,
    child,
    output: () => output,
    lines,
    waitForLog: (message, timeoutMs = 30_000) =>
      waitFor(
        () => {
          if (child.exitCode !== null) {
            throw new Error(`${name} exited with code ${child.exitCode}:\n${output.slice(-3000)}`);
          }
          return lines().find((line) => line.msg === message);
        },
        `${name} to log "${message}"`,
        { timeoutMs, intervalMs: 20 },
      ),
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) {
        return child.exitCode;
      }
      const killTimer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.kill('SIGTERM');
      const code = await exited;
      clearTimeout(killTimer);
      return code;
    },
  };
}

/**
 * NATS errors a process logged: the client reports a permission violation of the server as a
 * connection error, and a refused JetStream API request fails the call that made it.
 */
export function natsErrors(process: RunningProcess): string[] {
  return process
    .output()
    .split('\n')
    .filter((line) => /permissions? violation|authorization violation|nats connection error/i.test(line));
}
