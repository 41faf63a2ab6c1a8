import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { startReplayServer, type ReplayServer } from '@cti/pbx-replay';
import { startNatsServer, waitFor, type NatsServerHandle } from '@cti/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CAPTURES } from './helpers.js';

const serviceDirectory = join(import.meta.dirname, '..');
const SECRET = 'ami-secret-from-file-5d1c';

let nats: NatsServerHandle;
let replay: ReplayServer;
let child: ChildProcess | undefined;

beforeAll(async () => {
  nats = await startNatsServer();
  replay = await startReplayServer({ captures: [join(CAPTURES, 'inbound-answered.ami')], credentials: { username: 'cti', secret: SECRET } });
});

afterAll(async () => {
  if (child !== undefined && child.exitCode === null) {
    child.kill('SIGKILL');
  }
  await replay?.close();
  await nats?.dispose();
});

describe('ami-bridge service', () => {
  it('reports readiness and stops on SIGTERM', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'cti-ami-secret-'));
    const secretFile = join(directory, 'ami-secret');
    writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 });
    child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'src/main.ts'], {
      cwd: serviceDirectory,
      env: {
        PATH: process.env['PATH'] ?? '',
        NATS_URL: nats.url,
        PBX_ID: 'svc1',
        AMI_PORT: String(replay.port),
        AMI_USERNAME: 'cti',
        AMI_SECRET_FILE: secretFile,
        AMI_RECONNECT_MIN_MS: '50',
        AMI_RECONNECT_MAX_MS: '200',
        OPS_PORT: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)));

    const port = await waitFor(
      () => {
        const line = output.split('\n').find((text) => text.includes('"ops endpoints listening"'));
        return line === undefined ? undefined : (JSON.parse(line) as { port: number }).port;
      },
      'the ops endpoints',
      { timeoutMs: 20_000 },
    );
    const readyz = async () => {
      const response = await fetch(`http://127.0.0.1:${port}/readyz`);
      return { status: response.status, body: (await response.json()) as { checks: Record<string, string> } };
    };
    await waitFor(async () => (await readyz()).status === 200, 'readiness', { timeoutMs: 20_000 });
    expect((await readyz()).body.checks).toEqual({ nats: 'ok', ami: 'ok' });

    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/cti_ami_connected\{service="ami-bridge"\} 1/);
    expect(metrics).toContain('cti_ami_events_parsed_total');
    expect(metrics).toContain('cti_ami_reconnects_total');

    replay.dropClients();
    await replay.close();
    await waitFor(async () => (await readyz()).status === 503, 'not ready without the PBX');
    expect((await readyz()).body.checks['ami']).toMatch(/^not logged in/);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toContain('"ami logged in"');
    expect(output).toContain('"ami disconnected; reconnecting"');
    expect(output).not.toContain(SECRET);
  });
});
