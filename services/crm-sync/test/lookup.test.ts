import { CallerIdentified, CallerLookupReply, CallerLookupRequest, CallRinging, type CallerIdentified as CallerIdentifiedMessage } from '@cti/contracts';
import { numberFormats, RECORDED_LOOKUP_CASES } from '@cti/suitecrm-simulator';
import { waitFor } from '@cti/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { callRinging, startHarness, type Harness, type Instance } from './harness.js';

let harness: Harness;
let instance: Instance;

beforeAll(async () => {
  harness = await startHarness();
  instance = await harness.start();
  await instance.service.sync.fullSync();
});

afterAll(async () => {
  await harness.close();
});

describe('phone index', () => {
  it('answers every recorded lookup case from the index, whatever the format', async () => {
    for (const lookupCase of RECORDED_LOOKUP_CASES) {
      for (const format of numberFormats(lookupCase.number)) {
        const result = await instance.service.lookup.lookup(format);
        expect({ format, status: result.status }).toEqual({ format, status: 'ok' });
        if (result.status !== 'ok') {
          continue;
        }
        const found = result.matches.map((match) => ({ module: match.record.module, id: match.record.id, field: match.field }));
        expect({ format, found }).toEqual({ format, found: lookupCase.expected });
        if (lookupCase.expected.length > 0) {
          expect({ format, source: result.source }).toEqual({ format, source: 'index' });
        }
      }
    }
  });

  it('holds every phone number of the seed', () => {
    // 11 live contacts (Liam has two numbers), 5 accounts (three with two numbers), 5 leads (Oscar has two).
    expect(instance.service.index.size.records).toBe(21);
    expect(instance.service.index.complete).toBe(true);
  });

  it('is shared through the bucket with a second replica', async () => {
    const second = await harness.start('second');
    try {
      expect(second.service.index.size).toEqual(instance.service.index.size);
      const result = await second.service.lookup.lookup('(555) 010-0005');
      expect(result).toMatchObject({ status: 'ok', source: 'index' });
    } finally {
      await second.stop();
    }
  });

  it('falls back to a live query for a number it does not hold, then caches the answer', async () => {
    const before = harness.simulator.requests.length;
    const first = await instance.service.lookup.lookup('+1 555 010 0777');
    expect(first).toMatchObject({ status: 'ok', source: 'live', matches: [] });
    expect(harness.simulator.requests.length).toBeGreaterThan(before);
    const again = harness.simulator.requests.length;
    const second = await instance.service.lookup.lookup('5550100777');
    expect(second).toMatchObject({ status: 'ok', source: 'cache', matches: [] });
    expect(harness.simulator.requests.length).toBe(again);
  });

  it('finds a new contact live, writes it to the index and drops the cached no-match', async () => {
    expect(await instance.service.lookup.lookup('+15550100888')).toMatchObject({ source: 'live', matches: [] });
    harness.simulator.app.db.insert('Contacts', 'aa000000-0000-4000-8000-000000000888', {
      first_name: 'Nina',
      last_name: 'New',
      phone_mobile: '555 010 0888',
      date_modified: '2026-12-05 10:00:00',
    });
    await instance.service.sync.incrementalSync();
    const result = await instance.service.lookup.lookup('+15550100888');
    expect(result).toMatchObject({ status: 'ok', source: 'index' });
    expect(result.status === 'ok' ? result.matches[0]?.record.name : undefined).toBe('Nina New');
  });

  it('drops records deleted in SuiteCRM at the next full sync', async () => {
    harness.simulator.app.db.insert('Contacts', 'aa000000-0000-4000-8000-000000000999', { first_name: 'Gone', last_name: 'Soon', phone_work: '+1 555 010 0999', date_modified: '2026-12-05 10:00:00' });
    await instance.service.sync.incrementalSync();
    expect((await instance.service.lookup.lookup('+15550100999')).status === 'ok').toBe(true);
    harness.simulator.app.db.markDeleted('Contacts', 'aa000000-0000-4000-8000-000000000999');
    await instance.service.sync.fullSync();
    const result = await instance.service.lookup.lookup('+15550100999');
    expect(result).toMatchObject({ status: 'ok', source: 'live', matches: [] });
  });

  it('answers "unavailable" when the number is unknown and SuiteCRM is down', async () => {
    const stop = harness.simulator.faults.outage();
    try {
      const result = await instance.service.lookup.lookup('+15550100555');
      expect(result).toMatchObject({ status: 'unavailable', error: { code: 'CTI_ERR_CRM_UNAVAILABLE' } });
      // Known numbers are still looked up in memory.
      expect(await instance.service.lookup.lookup('+15550100005')).toMatchObject({ status: 'ok', source: 'index' });
    } finally {
      stop();
      // The failures opened the circuit breaker; the next tests need SuiteCRM again.
      await waitFor(() => instance.client.circuitState() !== 'open' || undefined, 'circuit breaker half open');
    }
  });

  it('rejects what is not a phone number', async () => {
    expect(await instance.service.lookup.lookup('anonymous')).toEqual({ status: 'invalid_number' });
    expect(await instance.service.lookup.lookup('101')).toEqual({ status: 'invalid_number' });
  });
});

describe('rpc.crm.lookup', () => {
  it('answers with ranked matches, links and the source', async () => {
    const reply = await harness.bus.request(CallerLookupRequest, CallerLookupReply, { v: 1, number: '+1 555 010 0008', requestedBy: 'webhook-ingress' }, 5000);
    expect(reply.status).toBe('ok');
    expect(reply.number).toBe('+15550100008');
    expect(reply.source).toBe('index');
    expect(reply.matches.map((match) => [match.module, match.name, match.field])).toEqual([
      ['Contacts', 'Henry Hall', 'phone_work'],
      ['Accounts', 'Hall Logistics', 'phone_office'],
    ]);
    expect(reply.matches[0]?.url).toContain('record=88a800f4-57bd-bb77-abee-6b13140532cb');
  });

  it('answers "no match" as a result, not an error', async () => {
    const reply = await harness.bus.request(CallerLookupRequest, CallerLookupReply, { v: 1, number: '+1 555 010 0444', requestedBy: 'agent-7' }, 5000);
    expect(reply.error).toBeUndefined();
    expect(reply).toMatchObject({ status: 'ok', matches: [], source: 'live' });
  });

  it('answers invalid numbers with their status', async () => {
    const reply = await harness.bus.request(CallerLookupRequest, CallerLookupReply, { v: 1, number: 'restricted', requestedBy: 'push-gateway' }, 5000);
    expect(reply).toMatchObject({ status: 'invalid_number', matches: [], error: { code: 'CTI_ERR_CRM_NUMBER_INVALID' } });
  });
});

describe('call.ringing', () => {
  it('publishes crm.caller.identified with the matches for the rung extension', async () => {
    const received: CallerIdentifiedMessage[] = [];
    const subscription = harness.bus.connection.subscribe(CallerIdentified.filter({ pbx: 'pbx1', extension: '102' }), {
      callback: (_error, msg) => {
        received.push(CallerIdentified.parse(msg.json()));
      },
    });
    try {
      const ringing = callRinging({ extension: '102', caller: { number: '+15550100009' } });
      await harness.bus.publish(CallRinging, { ...ringing, id: `call.ringing:pbx1:${ringing.callId}:102` });
      const message = await waitFor(() => received[0], 'crm.caller.identified');
      expect(message.callId).toBe(ringing.callId);
      expect(message.number).toBe('+15550100009');
      expect(message.source).toBe('index');
      expect(message.matches.map((match) => match.name)).toEqual(['Ivy Ito', 'Jack Jones']);
      expect(message.lookupMs).toBeLessThan(1000);
    } finally {
      subscription.unsubscribe();
    }
  });

  it('skips ringing events that are too old for a screen pop', async () => {
    const before = (await harness.bus.jsm.streams.info('CRM')).state.messages;
    const ringing = callRinging({ occurredAt: new Date(Date.now() - 10 * 60_000).toISOString() });
    await harness.bus.publish(CallRinging, ringing);
    const after = await harness.bus.publish(CallRinging, callRinging({ caller: { number: '+15550100005' } }));
    expect(after.duplicate).toBe(false);
    await waitFor(async () => (await harness.bus.jsm.streams.info('CRM')).state.messages === before + 1 || undefined, 'one identification');
    const last = await harness.bus.jsm.streams.getMessage('CRM', { last_by_subj: 'crm.caller.identified.pbx1.101' });
    expect(last).not.toBeNull();
    expect(CallerIdentified.parse(last?.json()).callId).not.toBe(ringing.callId);
  });
});
