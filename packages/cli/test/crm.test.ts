import { join } from 'node:path';
import { PassThrough } from 'node:stream';

import { Bus } from '@cti/bus';
import { loadConfig } from '@cti/config';
import { CallCompleted, type CallCompleted as CallCompletedMessage, type CallLogged } from '@cti/contracts';
import { CrmSyncConfig, CRM_SYNC_STREAMS, RecordIds, startCrmSync, type CrmSync } from '@cti/crm-sync';
import { createLogger } from '@cti/logging';
import { clientOptionsFrom, SuiteCrmClient } from '@cti/suitecrm';
import { RECORDED_CLIENT_CREDENTIALS, startSuiteCrmSimulator, type SuiteCrmSimulator } from '@cti/suitecrm-simulator';
import { startNatsServer, waitFor, type NatsServerHandle } from '@cti/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runCli } from '../src/index.js';

const root = join(import.meta.dirname, '../../..');

function session(environment: Record<string, string>) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  return { io: { stdout, stderr, stdin: new PassThrough(), environment, cwd: root }, out: () => out, err: () => err };
}

describe('cti lookup', () => {
  let simulator: SuiteCrmSimulator;
  let environment: Record<string, string>;

  beforeAll(async () => {
    simulator = await startSuiteCrmSimulator({ seed: 'recorded' });
    environment = {
      SUITECRM_URL: simulator.url,
      SUITECRM_CLIENT_ID: RECORDED_CLIENT_CREDENTIALS.id,
      SUITECRM_CLIENT_SECRET: RECORDED_CLIENT_CREDENTIALS.secret,
      PHONE_DEFAULT_REGION: 'US',
    };
  });

  afterAll(async () => {
    await simulator.close();
  });

  it('prints one JSON object per match with --json', async () => {
    const run = session(environment);
    expect(await runCli(['lookup', '(555) 010-0008', '--json'], run.io)).toBe(0);
    const lines = run.out().trim().split('\n').map((line) => JSON.parse(line) as unknown);
    expect(lines).toEqual([
      { module: 'Contacts', id: '88a800f4-57bd-bb77-abee-6b13140532cb', name: 'Henry Hall', field: 'phone_work' },
      { module: 'Accounts', id: 'a8805c73-09be-9357-dc5e-6b13140946a8', name: 'Hall Logistics', field: 'phone_office' },
    ]);
  });

  it('prints a readable line per match', async () => {
    const run = session(environment);
    expect(await runCli(['lookup', '001 555 010 0001'], run.io)).toBe(0);
    expect(run.out()).toContain('Contacts  c3c2da96-f7da-cfe7-78a9-6b1314bc53e3  Alicia Anders  phone_work  (Acme Corp)');
    expect(run.out()).toContain('Leads     4e0e3dbd-d003-67c4-4ccc-6b13141f66bf  Paula Park  phone_mobile');
    expect(run.err()).toContain('2 match(es) for +15550100001');
  });

  it('reports no match as a result', async () => {
    const run = session(environment);
    expect(await runCli(['lookup', '+15550100123', '--json'], run.io)).toBe(0);
    expect(run.out()).toBe('');
    expect(run.err()).toContain('no match for +15550100123');
  });

  it('reads the client secret from a file', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const file = join(mkdtempSync(join(tmpdir(), 'cti-secret-')), 'secret');
    writeFileSync(file, `${RECORDED_CLIENT_CREDENTIALS.secret}\n`);
    const { SUITECRM_CLIENT_SECRET: _secret, ...rest } = environment;
    const run = session({ ...rest, SUITECRM_CLIENT_SECRET_FILE: file });
    expect(await runCli(['lookup', '+15550100005', '--json'], run.io)).toBe(0);
    expect(run.out()).toContain('Emma Evans');
  });

  it('rejects a number it cannot normalise', async () => {
    const run = session(environment);
    expect(await runCli(['lookup', '12'], run.io)).toBe(1);
    expect(run.err()).toContain('CTI_ERR_CRM_NUMBER_INVALID');
  });

  it('names the missing settings', async () => {
    const run = session({});
    expect(await runCli(['lookup', '+15550100005'], run.io)).toBe(1);
    expect(run.err()).toContain('SUITECRM_URL is missing');
    expect(run.err()).toContain('SUITECRM_CLIENT_SECRET or SUITECRM_CLIENT_SECRET_FILE');
  });

  it('reports a rejected client without its secret', async () => {
    const run = session({ ...environment, SUITECRM_CLIENT_SECRET: 'not-the-right-secret-value' });
    expect(await runCli(['lookup', '+15550100005'], run.io)).toBe(1);
    expect(run.err()).toContain('CTI_ERR_CRM_AUTH_REJECTED');
    expect(run.err()).not.toContain('not-the-right-secret-value');
  });

  it('asks for a number', async () => {
    const run = session(environment);
    expect(await runCli(['lookup'], run.io)).toBe(64);
    expect(run.err()).toContain('usage: cti lookup NUMBER [--json]');
  });
});

describe('cti dlq replay of a crm-sync dead letter', () => {
  let nats: NatsServerHandle;
  let simulator: SuiteCrmSimulator;
  let bus: Bus;
  let client: SuiteCrmClient;
  let service: CrmSync;
  let environment: Record<string, string>;

  beforeAll(async () => {
    nats = await startNatsServer();
    simulator = await startSuiteCrmSimulator({ seed: 'recorded' });
    environment = {
      NATS_URL: nats.url,
      SUITECRM_URL: simulator.url,
      SUITECRM_CLIENT_ID: RECORDED_CLIENT_CREDENTIALS.id,
      SUITECRM_CLIENT_SECRET: RECORDED_CLIENT_CREDENTIALS.secret,
      SUITECRM_MAX_RETRIES: '0',
      SUITECRM_CIRCUIT_OPEN_MS: '100',
      CRM_MAX_DELIVERIES: '2',
      CRM_RETRY_BACKOFF_MS: '500',
      LOG_LEVEL: 'silent',
    };
    const config = loadConfig(CrmSyncConfig, environment);
    const logger = createLogger({ service: 'crm-sync', level: 'silent' });
    bus = await Bus.connect(config, { name: 'crm-sync', logger });
    await bus.ensureStreams([...CRM_SYNC_STREAMS, 'AUDIT', 'DLQ']);
    client = new SuiteCrmClient(clientOptionsFrom(config));
    service = await startCrmSync({ bus, client, config, logger, runIndexSync: false });
  });

  afterAll(async () => {
    await service.stop();
    await bus.drain();
    await client.close();
    await simulator.close();
    await nats.dispose();
  });

  function completed(callId: string): CallCompletedMessage {
    const startedAt = new Date(Date.now() - 60_000).toISOString();
    return {
      v: 1,
      id: `call.completed:pbx1:${callId}`,
      type: 'call.completed',
      callId,
      pbx: 'pbx1',
      direction: 'inbound',
      caller: { number: '+15550100005' },
      callee: { number: '101' },
      occurredAt: new Date().toISOString(),
      disposition: 'answered',
      ringSeconds: 2,
      talkSeconds: 30,
      hangupBy: 'caller',
      hangupCause: 16,
      startedAt,
      endedAt: new Date().toISOString(),
      extension: '101',
      agents: [{ extension: '101', disposition: 'answered', ringSeconds: 2, talkSeconds: 30 }],
    };
  }

  const rowsOf = (callId: string) => simulator.rows('Calls').filter((row) => row.id === RecordIds.pbxCall('pbx1', callId) && !row.deleted);

  async function loggedCount(callId: string): Promise<number> {
    const info = await bus.jsm.streams.info('CRM');
    let count = 0;
    for (let sequence = info.state.first_seq; info.state.messages > 0 && sequence <= info.state.last_seq; sequence += 1) {
      const stored = await bus.jsm.streams.getMessage('CRM', { seq: sequence }).catch(() => null);
      if (stored?.subject.startsWith('crm.call.logged.') === true && (stored.json() as CallLogged).callId === callId) {
        count += 1;
      }
    }
    return count;
  }

  async function deadLetters(): Promise<number> {
    return (await bus.jsm.streams.info('DLQ')).state.messages;
  }

  it('logs the call once when an operator replays it, and not again on a second replay', async () => {
    // The create reaches SuiteCRM, the answer is lost, then SuiteCRM fails until the message is dead.
    // The outage starts with the lost answer itself: a redelivery must not slip in between.
    let stopOutage = () => {};
    simulator.faults.dropAfterCreate({ onUsedUp: () => (stopOutage = simulator.faults.outage({ status: 503 })) });
    await bus.publish(CallCompleted, completed('1796500000.1'));
    await waitFor(() => simulator.requests.some((request) => request.route === 'POST module' && request.status === 'dropped') || undefined, 'the lost answer');
    await waitFor(async () => (await deadLetters()) === 1 || undefined, 'the dead letter', { timeoutMs: 30_000 });
    expect(rowsOf('1796500000.1')).toHaveLength(1);
    expect(await loggedCount('1796500000.1')).toBe(0);

    const list = session(environment);
    expect(await runCli(['dlq', 'list', '--consumer', 'crm-sync-calls'], list.io)).toBe(0);
    const listed = JSON.parse(list.out().trim()) as { consumer: string; deliveries: number; error: { code?: string } };
    expect(listed).toMatchObject({ consumer: 'crm-sync-calls', deliveries: 2 });
    expect(listed.error.code).toMatch(/^CTI_ERR_CRM/);

    stopOutage();
    const replay = session(environment);
    expect(await runCli(['dlq', 'replay', '--consumer', 'crm-sync-calls'], replay.io)).toBe(0);
    await waitFor(async () => (await loggedCount('1796500000.1')) === 1 || undefined, 'the replayed call logged');
    expect(rowsOf('1796500000.1')).toHaveLength(1);
    expect(await deadLetters()).toBe(0);

    const again = session(environment);
    expect(await runCli(['dlq', 'replay', '--consumer', 'crm-sync-calls'], again.io)).toBe(0);
    expect(again.err()).toContain('0 dead letter(s) replayed');
    expect(rowsOf('1796500000.1')).toHaveLength(1);
    expect(await loggedCount('1796500000.1')).toBe(1);
  });
});
