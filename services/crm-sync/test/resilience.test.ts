import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

import { CallCompleted, type CallLogged } from '@cti/contracts';
import { RECORDED_PASSWORD_CLIENT } from '@cti/suitecrm-simulator';
import { waitFor } from '@cti/testing';
import { afterEach, describe, expect, it } from 'vitest';

import { callCompleted, callRows, startHarness, storedMessages, type Harness } from './harness.js';

const harnesses: Harness[] = [];
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
    }
  }
  for (const harness of harnesses.splice(0)) {
    await harness.close();
  }
});

async function harnessWith(environment: Record<string, string> = {}) {
  const harness = await startHarness({ environment });
  harnesses.push(harness);
  return harness;
}

async function loggedCalls(harness: Harness): Promise<CallLogged[]> {
  return (await storedMessages(harness.bus, 'CRM', 'crm.call.logged.')) as CallLogged[];
}

async function waitLogged(harness: Harness, callIds: readonly string[], timeoutMs = 20_000): Promise<void> {
  await waitFor(
    async () => {
      const logged = new Set((await loggedCalls(harness)).map((message) => message.callId));
      return callIds.every((callId) => logged.has(callId)) || undefined;
    },
    `${callIds.length} calls logged`,
    { timeoutMs, intervalMs: 100 },
  );
}

async function expectLoggedOnce(harness: Harness, callIds: readonly string[]): Promise<void> {
  const logged = await loggedCalls(harness);
  for (const callId of callIds) {
    expect({ callId, rows: callRows(harness.simulator, 'pbx1', callId).length }).toEqual({ callId, rows: 1 });
    expect({ callId, messages: logged.filter((message) => message.callId === callId).length }).toEqual({ callId, messages: 1 });
  }
}

describe('crm-sync when SuiteCRM fails', () => {
  it('gets a new token on a 401 and logs the call', async () => {
    const harness = await harnessWith();
    await harness.start();
    const first = callCompleted();
    await harness.bus.publish(CallCompleted, first);
    await waitLogged(harness, [first.callId]);
    const tokensBefore = harness.simulator.requests.filter((request) => request.route === 'POST access_token').length;
    harness.simulator.oauth.revokeAll();
    const second = callCompleted();
    await harness.bus.publish(CallCompleted, second);
    await waitLogged(harness, [second.callId]);
    expect(harness.simulator.requests.filter((request) => request.route === 'POST access_token').length).toBe(tokensBefore + 1);
    await expectLoggedOnce(harness, [first.callId, second.callId]);
  });

  it('waits as long as Retry-After says on 429', async () => {
    const harness = await harnessWith();
    await harness.start();
    harness.simulator.faults.rateLimit({ retryAfterSeconds: 1, times: 1, route: 'POST module' });
    const event = callCompleted();
    await harness.bus.publish(CallCompleted, event);
    await waitLogged(harness, [event.callId]);
    const creates = harness.simulator.requests.filter((request) => request.route === 'POST module');
    expect(creates.map((request) => request.status)).toEqual([429, 201]);
    expect((creates[1]?.at ?? 0) - (creates[0]?.at ?? 0)).toBeGreaterThanOrEqual(950);
    await expectLoggedOnce(harness, [event.callId]);
  });

  it('keeps calls through a long 503 outage and logs each once afterwards', async () => {
    const harness = await harnessWith();
    const instance = await harness.start();
    const stop = harness.simulator.faults.outage({ status: 503 });
    const events = Array.from({ length: 6 }, (_value, index) => callCompleted({ caller: { number: `+1555010000${(index % 6) + 1}` } }));
    const sequences: number[] = [];
    for (const event of events) {
      sequences.push((await harness.bus.publish(CallCompleted, event)).sequence);
    }
    // Eight deliveries: with the production backoff (1 s, 5 s, 15 s, 60 s, then 300 s) that is
    // more than 15 minutes of outage; the test backoff runs it in well under a second.
    await waitFor(
      () =>
        sequences.every((sequence) =>
          harness.logs.lines.some((line) => line['msg'] === 'message handler failed, will retry' && line['sequence'] === sequence && Number(line['delivery']) >= 8),
        ) || undefined,
      'eight failed deliveries of every call',
      { timeoutMs: 20_000 },
    );
    expect(await instance.service.readiness[1]?.check()).toMatch(/circuit breaker open|no SuiteCRM token/);
    stop();
    await waitLogged(harness, events.map((event) => event.callId));
    await expectLoggedOnce(harness, events.map((event) => event.callId));
    expect((await harness.bus.jsm.streams.info('DLQ')).state.messages).toBe(0);
    expect(await instance.service.readiness[1]?.check()).toBe(true);
  });

  it('leaves one record when the connection dies between create and answer', async () => {
    const harness = await harnessWith();
    await harness.start();
    harness.simulator.faults.dropAfterCreate({ times: 3 });
    const events = [callCompleted(), callCompleted(), callCompleted()];
    for (const event of events) {
      await harness.bus.publish(CallCompleted, event);
    }
    await waitLogged(harness, events.map((event) => event.callId));
    await expectLoggedOnce(harness, events.map((event) => event.callId));
    expect(harness.simulator.requests.filter((request) => request.route === 'POST module' && request.status === 'dropped')).toHaveLength(3);
  });

  it('leaves one record when crm-sync crashes between create and ack', async () => {
    const harness = await harnessWith({ CRM_ACK_WAIT_MS: '2000' });
    const root = join(import.meta.dirname, '../../..');
    const startProcess = async (): Promise<ChildProcess> => {
      const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', join(root, 'services/crm-sync/src/main.ts')], {
        cwd: root,
        env: { ...process.env, ...harness.environment, OPS_PORT: '0', LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let output = '';
      child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
      child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
      await waitFor(() => output.includes('"msg":"crm-sync running"') || undefined, `crm-sync started (${output.slice(-500)})`, { timeoutMs: 30_000, intervalMs: 100 });
      return child;
    };

    const first = await startProcess();
    // SuiteCRM stores the call, then the answer never comes: crm-sync dies waiting for it.
    harness.simulator.faults.stallAfterCreate();
    const event = callCompleted();
    await harness.bus.publish(CallCompleted, event);
    await waitFor(() => callRows(harness.simulator, 'pbx1', event.callId).length === 1 || undefined, 'the record stored in SuiteCRM');
    const exited = new Promise((resolve) => first.once('exit', resolve));
    first.kill('SIGKILL');
    await exited;

    const second = await startProcess();
    await waitLogged(harness, [event.callId], 30_000);
    await expectLoggedOnce(harness, [event.callId]);
    second.kill('SIGTERM');
  }, 90_000);

  it('logs each call once with two replicas racing on the same calls', async () => {
    const harness = await harnessWith();
    await harness.start('replica-a');
    await harness.start('replica-b');
    // Creates take a while, so two replicas creating the same record overlap.
    harness.simulator.faults.add({ route: 'POST module', delayMs: 60 });
    harness.simulator.faults.dropAfterCreate({ times: 2 });
    const events = Array.from({ length: 12 }, () => callCompleted());
    for (const event of events) {
      // Each call twice under different message ids, as two PBX bridges or a resync could send it.
      await harness.bus.publish(CallCompleted, event);
      await harness.bus.publish(CallCompleted, { ...event, id: `${event.id}:second-bridge` });
    }
    await waitLogged(harness, events.map((event) => event.callId));
    await waitFor(
      () => harness.logs.lines.filter((line) => line['msg'] === 'call logged in SuiteCRM').length >= events.length * 2 || undefined,
      'both deliveries of every call handled',
      { timeoutMs: 20_000 },
    );
    await expectLoggedOnce(harness, events.map((event) => event.callId));
    // Every second create of a call was refused, as "already exist" or by the primary key.
    const refused = harness.simulator.requests.filter((request) => request.route === 'POST module' && request.status === 400);
    expect(refused.length).toBeGreaterThanOrEqual(events.length - 2);
    const instances = new Set(harness.logs.lines.filter((line) => line['msg'] === 'call logged in SuiteCRM').map((line) => line['instance']));
    expect(instances).toEqual(new Set(['replica-a', 'replica-b']));
  });

  it('sends a call to the dead-letter stream after the maximum deliveries, with its reason', async () => {
    const harness = await harnessWith({ CRM_MAX_DELIVERIES: '3' });
    await harness.start();
    harness.simulator.faults.outage({ status: 503 });
    const event = callCompleted();
    await harness.bus.publish(CallCompleted, event);
    await waitFor(async () => (await harness.bus.jsm.streams.info('DLQ')).state.messages === 1 || undefined, 'one dead letter');
    const [letter] = (await storedMessages(harness.bus, 'DLQ', 'dlq.CALLS.crm-sync-calls')) as { deliveries: number; error: { code?: string; message: string } }[];
    expect(letter?.deliveries).toBe(3);
    expect(letter?.error.code).toMatch(/^CTI_ERR_(CRM|CRMSYNC)_/);
  });

  it('keeps secrets, tokens, raw CRM bodies and phone numbers out of the logs', async () => {
    const wrongPassword = 'wrong-password-Xy7-never-logged';
    const harness = await harnessWith({
      SUITECRM_CLIENT_ID: RECORDED_PASSWORD_CLIENT.id,
      SUITECRM_CLIENT_SECRET: RECORDED_PASSWORD_CLIENT.secret,
      SUITECRM_GRANT_TYPE: 'password',
      SUITECRM_USERNAME: 'admin',
      SUITECRM_PASSWORD: wrongPassword,
    });
    const instance = await harness.start();
    await waitFor(() => harness.logs.lines.some((line) => line['msg'] === 'suitecrm token request failed') || undefined, 'token failure logged');
    expect(await instance.service.readiness[1]?.check()).toBe('no SuiteCRM token: CTI_ERR_CRM_AUTH_REJECTED');
    const event = callCompleted();
    await harness.bus.publish(CallCompleted, event);
    await waitFor(() => harness.logs.lines.some((line) => line['msg'] === 'message handler failed, will retry') || undefined, 'a failed delivery logged');

    const text = harness.logs.text();
    expect(text).not.toContain(wrongPassword);
    expect(text).not.toContain(RECORDED_PASSWORD_CLIENT.secret);
    expect(text).toContain('The password is invalid: [REDACTED]');
    expect(text).not.toMatch(/eyJ[\w-]+\.[\w-]+\./);
    expect(text).not.toContain('"errors"');
    expect(text).not.toMatch(/\+1555010\d{4}|5550100\d{3}/);
  });
});
