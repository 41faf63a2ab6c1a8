import { CallCompleted, CallLogged, CallMissed, type CallLogged as CallLoggedMessage, type CallMissed as CallMissedMessage } from '@cti/contracts';
import { waitFor } from '@cti/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RecordIds } from '../src/ids.js';
import { callCompleted, callRows, startHarness, storedMessages, type Harness } from './harness.js';

const ALICIA = 'c3c2da96-f7da-cfe7-78a9-6b1314bc53e3';
const ALICE_AGENT = '70617ac6-ec84-d187-9386-6b13148e60eb';
const BOB_AGENT = '8f6423f9-757a-980d-7341-6b13145dcbe9';

let harness: Harness;
const logged: CallLoggedMessage[] = [];
const missed: CallMissedMessage[] = [];

beforeAll(async () => {
  harness = await startHarness();
  const instance = await harness.start();
  await instance.service.sync.fullSync();
  harness.bus.connection.subscribe(CallLogged.filter(), {
    callback: (_error, msg) => {
      logged.push(CallLogged.parse(msg.json()));
    },
  });
  harness.bus.connection.subscribe(CallMissed.filter(), {
    callback: (_error, msg) => {
      missed.push(CallMissed.parse(msg.json()));
    },
  });
});

afterAll(async () => {
  await harness.close();
});

async function logCall(overrides: Parameters<typeof callCompleted>[0]) {
  const event = callCompleted(overrides);
  await harness.bus.publish(CallCompleted, event);
  const message = await waitFor(() => logged.find((candidate) => candidate.callId === event.callId), `crm.call.logged of ${event.callId}`);
  const rows = callRows(harness.simulator, event.pbx, event.callId);
  expect(rows).toHaveLength(1);
  const row = rows[0];
  if (row === undefined) {
    throw new Error('no Calls row');
  }
  return { event, message, row };
}

const linked = (table: string, callId: string) =>
  harness.simulator
    .relationRows(table)
    .filter((row) => row.left === callId && !row.deleted)
    .map((row) => row.right)
    .sort();

describe('call logging', () => {
  it('logs an answered inbound call with its contact, agent and links', async () => {
    const startedAt = '2026-12-04T19:30:45.250Z';
    const { event, message, row } = await logCall({ startedAt, endedAt: '2026-12-04T19:31:45.000Z', talkSeconds: 42 });
    expect(row.id).toBe(RecordIds.pbxCall('pbx1', event.callId));
    expect(message.recordId).toBe(row.id);
    expect(message).toMatchObject({ status: 'Held', parent: { module: 'Contacts', id: ALICIA }, assignedUserId: ALICE_AGENT });
    expect(row.values).toMatchObject({
      name: 'Inbound call from Alicia Anders',
      direction: 'Inbound',
      status: 'Held',
      // Stored as sent, in SuiteCRM's database format, seconds included.
      date_start: '2026-12-04 19:30:45',
      date_end: '2026-12-04 19:31:45',
      duration_hours: '0',
      duration_minutes: '1',
      parent_type: 'Contacts',
      parent_id: ALICIA,
      assigned_user_id: ALICE_AGENT,
    });
    const description = row.values['description'] ?? '';
    expect(description).toContain('Inbound call, answered.');
    expect(description).toContain('Caller: +1 555 010 0001');
    expect(description).toContain('Dialled number: 15550100100');
    expect(description).toContain('Agent: extension 101');
    expect(description).toContain('Ring time: 3 s');
    expect(description).toContain('Talk time: 42 s');
    expect(description).toContain('Hung up by: caller (cause 16, Normal Clearing)');
    // parent_id alone does not link the contact: the by-link routes did.
    expect(linked('calls_contacts', row.id)).toEqual([ALICIA]);
    expect(linked('calls_leads', row.id)).toEqual(['4e0e3dbd-d003-67c4-4ccc-6b13141f66bf']);
    expect(linked('calls_users', row.id)).toEqual([ALICE_AGENT]);
  });

  it('logs a missed call as Not Held and tells every agent who was rung', async () => {
    const { event, message, row } = await logCall({
      caller: { number: '(555) 010-0005' },
      did: '15550100200',
      disposition: 'missed',
      talkSeconds: 0,
      ringSeconds: 20,
      extension: undefined,
      hangupBy: 'caller',
      hangupCause: 127,
      agents: [
        { extension: '101', disposition: 'missed', ringSeconds: 20, talkSeconds: 0 },
        { extension: '102', disposition: 'missed', ringSeconds: 20, talkSeconds: 0 },
      ],
    });
    expect(message.status).toBe('Not Held');
    expect(row.values).toMatchObject({ name: 'Missed call from Emma Evans', status: 'Not Held', duration_minutes: '0', assigned_user_id: ALICE_AGENT });
    expect(linked('calls_users', row.id)).toEqual([ALICE_AGENT, BOB_AGENT].sort());
    const notices = await waitFor(() => {
      const found = missed.filter((notice) => notice.callId === event.callId);
      return found.length === 2 ? found : undefined;
    }, 'two call.missed');
    expect(notices.map((notice) => notice.extension).sort()).toEqual(['101', '102']);
    expect(notices[0]).toMatchObject({ disposition: 'missed', crmRecordId: row.id, pbx: 'pbx1' });
  });

  it('logs a busy call and an abandoned queue call as Not Held', async () => {
    const busy = await logCall({ disposition: 'busy', talkSeconds: 0, hangupCause: 17, extension: undefined, agents: [{ extension: '101', disposition: 'busy', ringSeconds: 1.5, talkSeconds: 0 }] });
    expect(busy.row.values['status']).toBe('Not Held');
    expect(busy.row.values['description']).toContain('Inbound call, busy.');
    const abandoned = await logCall({
      disposition: 'abandoned',
      talkSeconds: 0,
      extension: undefined,
      queue: { name: '400', holdSeconds: 33 },
      agents: [{ extension: '102', disposition: 'missed', ringSeconds: 30, talkSeconds: 0 }],
    });
    expect(abandoned.row.values['status']).toBe('Not Held');
    expect(abandoned.row.values['assigned_user_id']).toBe(BOB_AGENT);
    expect(abandoned.row.values['description']).toContain('Queue: 400, waited 33 s');
  });

  it('logs an outbound call to an account as its parent, without an account link', async () => {
    const { row } = await logCall({
      direction: 'outbound',
      caller: { number: '102' },
      callee: { number: '15550100100' },
      extension: '102',
      talkSeconds: 300,
      agents: [{ extension: '102', disposition: 'answered', ringSeconds: 0, talkSeconds: 300 }],
    });
    expect(row.values).toMatchObject({ name: 'Outbound call to Acme Corp', direction: 'Outbound', parent_type: 'Accounts', duration_minutes: '5', assigned_user_id: BOB_AGENT });
    expect(linked('calls_contacts', row.id)).toEqual([]);
  });

  it('logs a lead as parent and links it', async () => {
    const { row } = await logCall({ caller: { number: '+1 555 010 0201' } });
    expect(row.values).toMatchObject({ parent_type: 'Leads', parent_id: 'd7e13f29-7f5a-0c3b-2e8d-6b1314c3e2f0', name: 'Inbound call from Lena Lead' });
    expect(linked('calls_leads', row.id)).toEqual(['d7e13f29-7f5a-0c3b-2e8d-6b1314c3e2f0']);
  });

  it('logs an unknown caller without a parent, named by the number', async () => {
    const { row, message } = await logCall({ caller: { number: '+1 555 010 0321' } });
    expect(row.values['parent_id'] ?? null).toBeNull();
    expect(row.values['name']).toBe('Inbound call from +1 555 010 0321');
    expect(message.parent).toBeUndefined();
  });

  it('keeps the name within 50 characters', async () => {
    harness.simulator.app.db.insert('Contacts', 'aa000000-0000-4000-8000-000000000050', {
      first_name: 'Maximiliane-Konstantina',
      last_name: 'von Hohenzollern-Sigmaringen',
      phone_mobile: '+1 555 010 0050',
      date_modified: '2026-12-05 10:00:00',
    });
    const { row } = await logCall({ caller: { number: '+15550100050' } });
    expect([...(row.values['name'] ?? '')].length).toBeLessThanOrEqual(50);
    expect(row.values['name']).toMatch(/^Inbound call from Maximiliane-Konstantina von Hoh.*…$/);
  });

  it('does not log internal calls', async () => {
    const event = callCompleted({ direction: 'internal', caller: { number: '101' }, callee: { number: '102' } });
    await harness.bus.publish(CallCompleted, event);
    const after = callCompleted({ caller: { number: '+15550100003' } });
    await harness.bus.publish(CallCompleted, after);
    await waitFor(() => logged.find((candidate) => candidate.callId === after.callId), 'the next call');
    expect(callRows(harness.simulator, 'pbx1', event.callId)).toHaveLength(0);
  });

  it('logs a call once however often it is delivered', async () => {
    const event = callCompleted({ caller: { number: '+15550100004' } });
    await harness.bus.publish(CallCompleted, event);
    await waitFor(() => logged.find((candidate) => candidate.callId === event.callId), 'first logging');
    // The same call again under other message ids, as a resync or a second PBX bridge might send it.
    await harness.bus.publish(CallCompleted, { ...event, id: `${event.id}:again` });
    await harness.bus.publish(CallCompleted, { ...event, id: `${event.id}:third` });
    const marker = callCompleted({ caller: { number: '+15550100003' } });
    await harness.bus.publish(CallCompleted, marker);
    await waitFor(() => logged.find((candidate) => candidate.callId === marker.callId), 'a later call');
    await waitFor(() => harness.logs.lines.filter((line) => line['msg'] === 'call logged in SuiteCRM' && line['outcome'] === 'existing').length >= 2 || undefined, 'two redeliveries handled');
    expect(callRows(harness.simulator, event.pbx, event.callId)).toHaveLength(1);
    const stored = (await storedMessages(harness.bus, 'CRM', 'crm.call.logged.')) as CallLoggedMessage[];
    expect(stored.filter((candidate) => candidate.callId === event.callId)).toHaveLength(1);
    const rowId = RecordIds.pbxCall(event.pbx, event.callId);
    expect(harness.simulator.relationRows('calls_contacts').filter((row) => row.left === rowId)).toHaveLength(1);
  });
});
