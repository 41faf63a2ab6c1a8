import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { CallCompleted } from '@cti/contracts';
import { startNatsServer, waitFor, type NatsServerHandle } from '@cti/testing';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { EXIT_CONFIG } from '../src/index.js';

const packageDirectory = join(dirname(fileURLToPath(import.meta.url)), '..');
const demoService = join(packageDirectory, 'test/fixtures/demo-service.ts');
const NATS_PASSWORD = 'nats-pw-from-file-7f3a9c';
const API_TOKEN = 'api-token-from-file-b81d2e';

interface RunningChild {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function startDemo(environment: Record<string, string>): RunningChild {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', demoService], {
    cwd: packageDirectory,
    env: { PATH: process.env['PATH'] ?? '', ...environment },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

function secretFile(name: string, content: string): string {
  const directory = mkdtempSync(join(tmpdir(), 'cti-secret-'));
  const path = join(directory, name);
  writeFileSync(path, `${content}\n`, { mode: 0o600 });
  return path;
}

let server: NatsServerHandle;
const running: RunningChild[] = [];

beforeAll(async () => {
  server = await startNatsServer({
    config: `authorization { users = [ { user: demo, password: "${NATS_PASSWORD}" } ] }`,
  });
});

afterAll(async () => {
  for (const demo of running) {
    if (demo.child.exitCode === null) {
      demo.child.kill('SIGKILL');
    }
  }
  await server?.dispose();
});

describe('runService', () => {
  it('stops with exit 78 naming a missing variable', async () => {
    const demo = startDemo({ NATS_URL: server.url });
    running.push(demo);
    expect(await demo.exited).toBe(EXIT_CONFIG);
    expect(demo.output()).toContain('DEMO_API_TOKEN is missing: token the demo service requires (set DEMO_API_TOKEN or DEMO_API_TOKEN_FILE)');
  });

  it('uses secrets given only as files and logs none of them', async () => {
    const demo = startDemo({
      NATS_URL: server.url,
      NATS_USER: 'demo',
      NATS_PASSWORD_FILE: secretFile('nats', NATS_PASSWORD),
      DEMO_API_TOKEN_FILE: secretFile('token', API_TOKEN),
    });
    running.push(demo);
    await waitFor(() => demo.output().includes('"msg":"demo ready"'), 'the demo service to be ready', { timeoutMs: 20_000 });
    demo.child.kill('SIGTERM');
    expect(await demo.exited).toBe(0);

    const output = demo.output();
    expect(output).toContain(`"tokenLength":${API_TOKEN.length}`);
    expect(output).toContain('"msg":"nats connected"');
    expect(output).not.toContain(NATS_PASSWORD);
    expect(output).not.toContain(API_TOKEN);
    expect(output).not.toContain('+15550100001');
    expect(output).toContain('+1*******001');
  });

  it('finishes and acks the message in flight on SIGTERM', async () => {
    const demo = startDemo({
      NATS_URL: server.url,
      NATS_USER: 'demo',
      NATS_PASSWORD: NATS_PASSWORD,
      DEMO_API_TOKEN: API_TOKEN,
      DEMO_HANDLER_DELAY_MS: '1500',
    });
    running.push(demo);
    await waitFor(() => demo.output().includes('"msg":"demo ready"'), 'the demo service to be ready', { timeoutMs: 20_000 });

    const connection = await connect({ servers: server.url, user: 'demo', pass: NATS_PASSWORD });
    try {
      const message = CallCompleted.parse({
        v: 1,
        id: 'sigterm-1',
        type: 'call.completed',
        callId: '1796412664.10',
        pbx: 'pbx1',
        direction: 'inbound',
        caller: { number: '+15550100001' },
        callee: { number: '15550100100' },
        occurredAt: '2026-12-04T10:00:05.000Z',
        startedAt: '2026-12-04T10:00:00.000Z',
        endedAt: '2026-12-04T10:00:05.000Z',
        disposition: 'answered',
        ringSeconds: 2,
        talkSeconds: 3,
        hangupBy: 'caller',
        hangupCause: 16,
        agents: [],
      });
      await jetstream(connection).publish(CallCompleted.subjectOf(message), JSON.stringify(message), { msgID: message.id });
      await waitFor(() => demo.output().includes('"msg":"handler started"'), 'the handler to start');

      demo.child.kill('SIGTERM');
      expect(await demo.exited).toBe(0);

      const output = demo.output();
      const finishedAt = output.indexOf('"msg":"handler finished"');
      const drainedAt = output.indexOf('"msg":"shutdown complete"');
      expect(finishedAt).toBeGreaterThan(-1);
      expect(drainedAt).toBeGreaterThan(finishedAt);

      const info = await (await jetstreamManager(connection)).consumers.info('CALLS', 'demo');
      expect(info.ack_floor.stream_seq).toBe(1);
      expect(info.num_ack_pending).toBe(0);
      expect(info.num_redelivered).toBe(0);

      const audit = await (await jetstreamManager(connection)).streams.getMessage('AUDIT', { last_by_subj: 'audit.demo-service.config_loaded' });
      const event = audit?.json<{ details: { configFingerprint: string } }>();
      expect(event?.details.configFingerprint).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      await connection.close();
    }
  });
});
