import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { EXIT_CONFIG } from '@cti/runtime';
import { startNatsServer, waitFor, type NatsServerHandle } from '@cti/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { signPayload } from '../src/signature.js';
import { deliver, fixture, send } from './harness.js';

const serviceDirectory = join(dirname(fileURLToPath(import.meta.url)), '..');
const NEW_SECRET = 'whsec_service_test_new_8c2f41';
const OLD_SECRET = 'whsec_service_test_old_19ab7e';

interface RunningService {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

let nats: NatsServerHandle;
let directory: string;
const started: RunningService[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
  directory = mkdtempSync(join(tmpdir(), 'cti-webhook-service-'));
});

afterAll(async () => {
  for (const service of started) {
    if (service.child.exitCode === null && service.child.signalCode === null) {
      service.child.kill('SIGKILL');
    }
  }
  await nats?.dispose();
  rmSync(directory, { recursive: true, force: true });
});

function startService(environment: Record<string, string>): RunningService {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'src/main.ts'], {
    cwd: serviceDirectory,
    env: { PATH: process.env['PATH'] ?? '', NATS_URL: nats.url, WEBHOOK_HTTP_HOST: '127.0.0.1', WEBHOOK_HTTP_PORT: '0', ...environment },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const service = { child, output: () => output, exited };
  started.push(service);
  return service;
}

describe('webhook-ingress process', () => {
  it('refuses to start without a webhook secret', async () => {
    const service = startService({});
    expect(await service.exited).toBe(EXIT_CONFIG);
    expect(service.output()).toContain('ELEVENLABS_WEBHOOK_SECRETS is missing');
  });

  it('refuses a signature window longer than the duplicate window', async () => {
    const service = startService({
      ELEVENLABS_WEBHOOK_SECRETS: NEW_SECRET,
      ELEVENLABS_SIGNATURE_MAX_AGE_SECONDS: '3600',
      ELEVENLABS_SIGNATURE_MAX_FUTURE_SECONDS: '300',
    });
    expect(await service.exited).toBe(EXIT_CONFIG);
    expect(service.output()).toContain('more than the 3600 s duplicate window of the AI stream');
    expect(service.output()).not.toContain(NEW_SECRET);
  });

  it('serves with secrets from a file and stops on SIGTERM', async () => {
    const secretsFile = join(directory, 'webhook-secrets');
    writeFileSync(secretsFile, `# rotated 2026-01\n${NEW_SECRET}\n${OLD_SECRET}\n`, { mode: 0o600 });
    const service = startService({ ELEVENLABS_WEBHOOK_SECRETS_FILE: secretsFile });

    const listening = await waitFor(
      () => service.output().split('\n').find((line) => line.includes('"msg":"webhook endpoint listening"')),
      'the service to listen',
      { timeoutMs: 30_000 },
    );
    const { port, secretCount } = JSON.parse(listening) as { port: number; secretCount: number };
    expect(secretCount).toBe(2);
    const url = `http://127.0.0.1:${port}`;
    expect((await send(url, { method: 'GET', path: '/readyz' })).status).toBe(200);

    const body = fixture('post_call_transcription.outbound_sip').body;
    const response = await deliver(url, body, signPayload(body, OLD_SECRET, Date.now() / 1000));
    expect(response.status).toBe(200);
    expect(response.json()).toEqual({ status: 'stored' });
    const metrics = await send(url, { method: 'GET', path: '/metrics' });
    expect(metrics.text).toContain('cti_webhook_signatures_verified_total{secret="1",service="webhook-ingress"} 1');

    service.child.kill('SIGTERM');
    expect(await service.exited).toBe(0);
    for (const secret of [NEW_SECRET, OLD_SECRET, '+14155550177']) {
      expect(service.output()).not.toContain(secret);
    }
  });
});
