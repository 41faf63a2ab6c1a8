import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { RECORDED_CLIENT_CREDENTIALS, recordedLatency, startSuiteCrmSimulator } from '../src/index.js';

const root = join(import.meta.dirname, '../../..');
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
    }
  }
});

function startProcess(args: string[], environment: Record<string, string> = {}): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', join(root, 'packages/suitecrm-simulator/src/main.ts'), ...args], {
    cwd: root,
    env: { ...process.env, ...environment },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const line = output.split('\n').find((candidate) => candidate.includes('"listening"'));
      if (line !== undefined) {
        resolve({ child, url: (JSON.parse(line) as { url: string }).url });
      }
    });
    child.once('exit', (code) => reject(new Error(`simulator exited with ${String(code)} before listening`)));
  });
}

async function token(url: string, secret = RECORDED_CLIENT_CREDENTIALS.secret, clientId = RECORDED_CLIENT_CREDENTIALS.id): Promise<Response> {
  return fetch(`${url}/Api/access_token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret }).toString(),
  });
}

describe('suitecrm-simulator process', () => {
  it('serves the demo CRM and stops on SIGTERM', async () => {
    const { child, url } = await startProcess(['--seed', 'demo', '--latency', 'none'], { SUITECRM_CLIENT_SECRET: '' });
    const response = await token(url);
    expect(response.status).toBe(200);
    const { access_token: accessToken } = (await response.json()) as { access_token: string };
    const users = await fetch(`${url}/Api/V8/module/Users?filter[phone_work][eq]=102&filter[status][eq]=Active&fields[Users]=first_name,last_name&page[size]=5`, {
      headers: { authorization: `Bearer ${accessToken}` },
    });
    const body = (await users.json()) as { data: { attributes: { first_name: string } }[] };
    expect(body.data.map((user) => user.attributes.first_name)).toEqual(['Ben']);
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = await exited;
    expect(code).toBe(0);
  }, 60_000);

  it('takes its client from the command line and faults over HTTP', async () => {
    const { url } = await startProcess(['--seed', 'empty', '--latency', '0', '--admin', '--client-id', 'c0ffee00-0000-4000-8000-000000000001'], {
      SUITECRM_CLIENT_SECRET: 'process-test-secret-value',
    });
    expect((await token(url)).status).toBe(500);
    expect((await token(url, 'process-test-secret-value', 'c0ffee00-0000-4000-8000-000000000001')).status).toBe(200);
    const added = await fetch(`${url}/__simulator/faults`, { method: 'POST', body: JSON.stringify({ status: 503, retryAfter: '7' }) });
    expect(added.status).toBe(201);
    const failed = await token(url, 'process-test-secret-value', 'c0ffee00-0000-4000-8000-000000000001');
    expect(failed.status).toBe(503);
    expect(failed.headers.get('retry-after')).toBe('7');
    await fetch(`${url}/__simulator/faults`, { method: 'DELETE' });
    expect((await token(url, 'process-test-secret-value', 'c0ffee00-0000-4000-8000-000000000001')).status).toBe(200);
  }, 60_000);

  it('rejects a client id without a secret', async () => {
    await expect(startProcess(['--client-id', 'c0ffee00-0000-4000-8000-000000000001'], { SUITECRM_CLIENT_SECRET: '' })).rejects.toThrow(/exited with 64/);
  }, 60_000);
});

describe('simulator faults and latency', () => {
  it('answers SuiteCRM 8 paths under /legacy and nothing at /Api', async () => {
    const simulator = await startSuiteCrmSimulator({ basePath: '/legacy' });
    try {
      expect((await token(simulator.url)).status).toBe(404);
      expect((await token(`${simulator.url}/legacy`)).status).toBe(200);
    } finally {
      await simulator.close();
    }
  });

  it('ends an outage after its period', async () => {
    let now = 0;
    const simulator = await startSuiteCrmSimulator({ clock: () => now });
    try {
      simulator.faults.outage({ forMs: 1000 });
      expect((await token(simulator.url)).status).toBe(503);
      now = 1000;
      expect((await token(simulator.url)).status).toBe(200);
    } finally {
      await simulator.close();
    }
  });

  it('models the recorded latency', () => {
    let seed = 1;
    const random = () => {
      seed = (seed * 16_807) % 2_147_483_647;
      return seed / 2_147_483_647;
    };
    const model = recordedLatency({ random });
    const sorted = (route: string) => Array.from({ length: 2001 }, () => model(route, 'Contacts')).sort((left, right) => left - right);
    const lookups = sorted('GET module/{module}');
    const creates = sorted('POST module');
    // Medians of the recording: 17.5 ms for a lookup, 33 ms for a create; p90 about 1.09 times that.
    expect(lookups[1000]).toBeGreaterThan(16.5);
    expect(lookups[1000]).toBeLessThan(18.5);
    expect(creates[1000]).toBeGreaterThan(31);
    expect(creates[1000]).toBeLessThan(35);
    expect((lookups[1800] ?? 0) / (lookups[1000] ?? 1)).toBeLessThan(1.2);
  });
});
