import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface NatsServerOptions {
  /** Extra configuration file content (accounts, users, permissions), appended to the defaults. */
  config?: string;
  /** Port to listen on; a free one by default. Restarts reuse the port. */
  port?: number;
  /** Directory for the config and the JetStream store, kept by `dispose`; a temporary one by default. */
  directory?: string;
}

export interface NatsServerHandle {
  url: string;
  port: number;
  storeDir: string;
  pid: number;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s); the store is kept for a restart. */
  stop(): Promise<void>;
  /** Starts the server again on the same port and store, after `stop`. */
  restart(): Promise<void>;
  /** Stops the server and removes its store, unless the caller gave the directory. */
  dispose(): Promise<void>;
}

/** Path of the nats-server binary: NATS_SERVER_BIN, then PATH, then Debian's location. */
export function natsServerBinary(): string {
  const candidates = [process.env['NATS_SERVER_BIN'], ...(process.env['PATH'] ?? '').split(':').map((dir) => join(dir, 'nats-server')), '/usr/sbin/nats-server', '/usr/bin/nats-server'];
  const found = candidates.find((candidate): candidate is string => candidate !== undefined && candidate !== '' && existsSync(candidate));
  if (found === undefined) {
    throw new Error('nats-server not found: install it (apt-get install -y nats-server) or set NATS_SERVER_BIN');
  }
  return found;
}

const LISTEN_PATTERN = /Listening for client connections on [^:\s]+:(\d+)/;
const READY_PATTERN = /Server is ready/;

function launch(binary: string, configPath: string): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ['-c', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    let output = '';
    let port: number | undefined;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`nats-server did not become ready in 15 s:\n${output.slice(-2000)}`));
    }, 15_000);

    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      output += chunk;
      const listen = LISTEN_PATTERN.exec(output);
      if (listen?.[1] !== undefined) {
        port = Number(listen[1]);
      }
      if (port !== undefined && READY_PATTERN.test(output)) {
        clearTimeout(timer);
        child.stderr?.removeAllListeners('data');
        child.stderr?.resume();
        resolve({ child, port });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited with code ${String(code)} before it was ready:\n${output.slice(-2000)}`));
    });
  });
}

function waitForExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const killTimer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(killTimer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * Starts a private nats-server with JetStream on 127.0.0.1, with its own temporary store, so a
 * test suite depends on neither a shared server nor another suite.
 */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServerHandle> {
  const binary = natsServerBinary();
  const temporary = options.directory === undefined;
  const directory = options.directory ?? mkdtempSync(join(tmpdir(), 'cti-nats-'));
  mkdirSync(directory, { recursive: true });
  const storeDir = join(directory, 'store');
  const configPath = join(directory, 'nats.conf');

  const writeConfig = (port: number) =>
    writeFileSync(
      configPath,
      [`listen: "127.0.0.1:${port}"`, `jetstream { store_dir: ${JSON.stringify(storeDir)} }`, options.config ?? ''].join('\n'),
    );

  // Port -1 lets nats-server pick a free port itself; the log line tells which.
  writeConfig(options.port ?? -1);
  const launched = await launch(binary, configPath);
  const { port } = launched;
  let { child } = launched;
  writeConfig(port);

  const handle: NatsServerHandle = {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    pid: child.pid ?? -1,
    async stop() {
      await waitForExit(child);
    },
    async restart() {
      await waitForExit(child);
      ({ child } = await launch(binary, configPath));
      handle.pid = child.pid ?? -1;
    },
    async dispose() {
      await waitForExit(child);
      if (temporary) {
        rmSync(directory, { recursive: true, force: true });
      }
    },
  };
  return handle;
}
