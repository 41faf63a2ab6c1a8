import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

import { waitFor } from '@cti/testing';

export const ROOT = join(import.meta.dirname, '../../..');

/** A service started as `node src/main.ts`, as in production but from its TypeScript sources. */
export interface ServiceProcess {
  name: string;
  child: ChildProcess;
  /** Everything the process wrote, stdout and stderr. */
  output(): string;
  exited: Promise<number | null>;
  /** Parsed log lines with this `msg`. */
  logLines(message: string): Record<string, unknown>[];
  stop(): Promise<number | null>;
}

export function startService(name: string, environment: Record<string, string>): ServiceProcess {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'src/main.ts'], {
    cwd: join(ROOT, 'services', name),
    env: { PATH: process.env['PATH'] ?? '', LOG_LEVEL: 'info', ...environment },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const logLines = (message: string) =>
    output
      .split('\n')
      .filter((line) => line.includes(`"msg":${JSON.stringify(message)}`))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return {
    name,
    child,
    output: () => output,
    exited,
    logLines,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
      }
      return exited;
    },
  };
}

/** Waits for a log line with this `msg` and returns it. */
export function waitForLog(service: ServiceProcess, message: string, timeoutMs = 30_000): Promise<Record<string, unknown>> {
  return waitFor(
    () => {
      if (service.child.exitCode !== null) {
        throw new Error(`${service.name} exited with ${service.child.exitCode}:\n${service.output().slice(-3000)}`);
      }
      return service.logLines(message)[0];
    },
    `${service.name} to log "${message}"`,
    { timeoutMs },
  );
}

/** GET /readyz of a service: its status code and the state of each check. */
export async function readiness(baseUrl: string): Promise<{ status: number; checks: Record<string, string> }> {
  const response = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(3000) });
  const body = (await response.json()) as { checks: Record<string, string> };
  return { status: response.status, checks: body.checks };
}

export async function scrape(baseUrl: string): Promise<string> {
  const response = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(5000) });
  if (response.status !== 200) {
    throw new Error(`GET ${baseUrl}/metrics returned ${response.status}`);
  }
  return response.text();
}
