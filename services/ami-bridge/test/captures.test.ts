import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { CallEvent } from '@cti/contracts';
import { CallCompleted, CallEnded } from '@cti/contracts';
import { describe, expect, it } from 'vitest';

import { DEFAULT_CALL_MODEL, normalizeAmi, normalizeRecording, summarize } from '../src/index.js';

const captures = join(import.meta.dirname, '../../../testdata/ami');

function recording(name: string): CallEvent[] {
  return normalizeRecording(readFileSync(join(captures, `${name}.jsonl`), 'utf8'), DEFAULT_CALL_MODEL);
}

/** One event as a line: time (s since connect), kind, agent, and the outcome where there is one. */
function line(event: CallEvent): string {
  const at = (Date.parse(event.occurredAt) / 1000).toFixed(1);
  switch (event.type) {
    case 'call.ringing':
    case 'call.held':
    case 'call.resumed':
      return `${at} ${event.type.slice(5)} ${event.extension}`;
    case 'call.answered':
      return `${at} answered ${event.extension} ring=${event.ringSeconds}`;
    case 'call.transferred':
      return `${at} transferred ${event.extension} ${event.transferType} to=${event.target.extension ?? event.target.number}`;
    case 'call.ended':
      return `${at} ended ${event.extension} ${event.disposition} ring=${event.ringSeconds} talk=${event.talkSeconds} by=${event.hangupBy} cause=${event.hangupCause}`;
    case 'call.completed':
      return `${at} completed ${event.disposition} ring=${event.ringSeconds} talk=${event.talkSeconds} by=${event.hangupBy} agent=${event.extension ?? '-'} agents=${event.agents.map((agent) => `${agent.extension}:${agent.disposition}`).join(',')}`;
    default:
      return 'unknown';
  }
}

/** The `.ami` file, read at once, yields the same events as its `.jsonl` recording, minus durations. */
function expectSameEventsFromAmi(name: string, events: readonly CallEvent[]): void {
  const fromAmi = normalizeAmi(readFileSync(join(captures, `${name}.ami`)), DEFAULT_CALL_MODEL, 0);
  const shape = (event: CallEvent) => ({ ...summarize(event), talkSeconds: undefined, id: event.id });
  expect(fromAmi.map(shape)).toEqual(events.map(shape));
}

const ALICE = { number: '+15550100001', name: 'Alice Example' };
const ANNA = { number: '101', name: 'Anna Lee' };

function inboundAnswered(name: string, callId: string) {
  const events = recording(name);
  expect(events.map(line)).toEqual([
    '0.0 ringing 101',
    '2.0 answered 101 ring=2',
    '5.0 ended 101 answered ring=2 talk=3 by=caller cause=16',
    '5.0 completed answered ring=2 talk=3 by=caller agent=101 agents=101:answered',
  ]);
  for (const event of events) {
    expect(event).toMatchObject({ callId, direction: 'inbound', caller: ALICE, callee: { number: '15550100100' }, did: '15550100100', pbx: 'pbx1' });
  }
  expect(events[0]).toMatchObject({ channel: expect.stringMatching(/^PJSIP\/101-/) });
  return events;
}

describe('every recorded call yields the events its README describes', () => {
  it('inbound-answered: 101 answers after 2 s, the caller hangs up after 3 s', () => {
    const events = inboundAnswered('inbound-answered', '1796412664.10');
    expectSameEventsFromAmi('inbound-answered', events);
    expect(CallEnded.check(events[2])).toBe(true);
    expect(CallCompleted.parse(events[3])).toMatchObject({ hangupCause: 16, hangupCauseText: 'Normal Clearing', agents: [{ extension: '101', ringSeconds: 2, talkSeconds: 3 }] });
  });

  it('inbound-answered.admin: the read=all session yields the same call despite the dialplan events', () => {
    const events = inboundAnswered('inbound-answered.admin', '1796412664.10');
    expectSameEventsFromAmi('inbound-answered.admin', events);
  });

  it('inbound-answered-timestamps: the Timestamp header gives the same durations from the .ami file', () => {
    const events = inboundAnswered('inbound-answered-timestamps', '1796416169.31');
    const fromAmi = normalizeAmi(readFileSync(join(captures, 'inbound-answered-timestamps.ami')), DEFAULT_CALL_MODEL, 0);
    expect(fromAmi.map((event) => summarize(event))).toEqual(events.map((event) => summarize(event)));
    expect(fromAmi[0]?.occurredAt).toBe(new Date(1796416169251).toISOString());
    expect(fromAmi.at(-1)).toMatchObject({ type: 'call.completed', talkSeconds: 3, ringSeconds: 2 });
  });

  it('inbound-busy: 101 rejects after 1.5 s, the call ends busy', () => {
    const events = recording('inbound-busy');
    expect(events.map(line)).toEqual([
      '0.0 ringing 101',
      '1.5 ended 101 busy ring=1.5 talk=0 by=agent cause=17',
      '1.5 completed busy ring=1.5 talk=0 by=agent agent=- agents=101:busy',
    ]);
    expect(events.every((event) => event.callId === '1796412688.14' && event.direction === 'inbound')).toBe(true);
    expectSameEventsFromAmi('inbound-busy', events);
  });

  it('ringgroup: 101, 102 and 103 ring, 102 answers, the others end answered elsewhere', () => {
    const events = recording('ringgroup');
    expect(events.map(line)).toEqual([
      '0.0 ringing 103',
      '0.0 ringing 101',
      '0.0 ringing 102',
      '2.0 answered 102 ring=2',
      '2.0 ended 101 answered_elsewhere ring=2 talk=0 by=system cause=26',
      '2.0 ended 103 answered_elsewhere ring=2 talk=0 by=system cause=26',
      '5.0 ended 102 answered ring=2 talk=3 by=caller cause=16',
      '5.0 completed answered ring=2 talk=3 by=caller agent=102 agents=101:answered_elsewhere,102:answered,103:answered_elsewhere',
    ]);
    // Ten channels, one call: the Local pairs merged into the agents' legs.
    expect(new Set(events.map((event) => event.callId))).toEqual(new Set(['1796412732.20']));
    expect(events.every((event) => event.did === '15550100200' && event.caller.number === ALICE.number)).toBe(true);
    expect(events.find((event) => event.type === 'call.answered')).toMatchObject({ extension: '102', channel: 'PJSIP/102-00000017' });
    expectSameEventsFromAmi('ringgroup', events);
  });

  it('queue: both members ring, 101 answers after a 2 s hold, the caller hangs up', () => {
    const events = recording('queue');
    expect(events.map(line)).toEqual([
      '0.0 ringing 101',
      '0.0 ringing 102',
      '2.0 answered 101 ring=2',
      '2.0 ended 102 answered_elsewhere ring=2 talk=0 by=system cause=26',
      '5.0 ended 101 answered ring=2 talk=3 by=caller cause=16',
      '5.0 completed answered ring=2 talk=3 by=caller agent=101 agents=101:answered,102:answered_elsewhere',
    ]);
    expect(events[0]?.queue).toEqual({ name: '400' });
    expect(events.at(-1)?.queue).toEqual({ name: '400', holdSeconds: 2 });
    expect(events.every((event) => event.callId === '1796412741.30' && event.did === '15550100300')).toBe(true);
    expectSameEventsFromAmi('queue', events);
  });

  it('queue-abandon: nobody answers for 15 s, the caller abandons at 19 s', () => {
    const events = recording('queue-abandon');
    expect(events.map(line)).toEqual([
      '0.0 ringing 101',
      '0.0 ringing 102',
      '15.0 ended 102 missed ring=15 talk=0 by=system cause=16',
      '15.0 ended 101 missed ring=15 talk=0 by=system cause=16',
      '19.0 completed abandoned ring=19 talk=0 by=caller agent=- agents=101:missed,102:missed',
    ]);
    expect(events.at(-1)?.queue).toEqual({ name: '400', holdSeconds: 19 });
    expectSameEventsFromAmi('queue-abandon', events);
  });

  it('outbound-click-to-dial: 101 answers, the number answers, the external party hangs up', () => {
    const events = recording('outbound-click-to-dial');
    expect(events.map(line)).toEqual([
      '0.0 ringing 101',
      '2.0 answered 101 ring=2',
      '7.0 ended 101 answered ring=2 talk=3 by=caller cause=16',
      '7.0 completed answered ring=4 talk=3 by=caller agent=101 agents=101:answered',
    ]);
    for (const event of events) {
      expect(event).toMatchObject({ callId: '1796412755.37', direction: 'outbound', caller: ANNA, callee: { number: '15550100099' }, originateRequestId: 'c2d-0001' });
      expect(event.did).toBeUndefined();
    }
    // Without the recorder's Originate, the .ami still knows the request once OriginateResponse arrives.
    const fromAmi = normalizeAmi(readFileSync(join(captures, 'outbound-click-to-dial.ami')), DEFAULT_CALL_MODEL, 0);
    expect(fromAmi.map((event) => [event.type, event.direction, event.originateRequestId])).toEqual([
      ['call.ringing', 'outbound', undefined],
      ['call.answered', 'outbound', undefined],
      ['call.ended', 'outbound', 'c2d-0001'],
      ['call.completed', 'outbound', 'c2d-0001'],
    ]);
  });

  it('outbound-click-to-dial-local: the Local pair optimises away and 101 hangs up', () => {
    const events = recording('outbound-click-to-dial-local');
    expect(events.map(line)).toEqual([
      '0.0 ringing 101',
      '2.0 answered 101 ring=2',
      '7.0 ended 101 answered ring=2 talk=3 by=agent cause=16',
      '7.0 completed answered ring=4 talk=3 by=agent agent=101 agents=101:answered',
    ]);
    expect(events.every((event) => event.callId === '1796413203.4' && event.direction === 'outbound' && event.originateRequestId === 'c2d-0003')).toBe(true);
    expect(events[0]).toMatchObject({ caller: ANNA, channel: 'PJSIP/101-00000000' });
  });

  it('outbound-click-to-dial-rejected: 101 rejects, no outbound leg, the attempt fails', () => {
    const events = recording('outbound-click-to-dial-rejected');
    expect(events.map(line)).toEqual([
      '0.0 ringing 101',
      '2.0 ended 101 busy ring=2 talk=0 by=agent cause=17',
      '2.0 completed failed ring=2 talk=0 by=agent agent=- agents=101:busy',
    ]);
    expect(events.every((event) => event.originateRequestId === 'c2d-0002' && event.direction === 'outbound')).toBe(true);
    expectSameEventsFromAmi('outbound-click-to-dial-rejected', events);
  });

  it('internal: 101 calls 102, 102 answers, 101 hangs up', () => {
    const events = recording('internal');
    expect(events.map(line)).toEqual([
      '0.0 ringing 102',
      '2.0 answered 102 ring=2',
      '5.0 ended 102 answered ring=2 talk=3 by=caller cause=16',
      '5.0 completed answered ring=2 talk=3 by=caller agent=102 agents=102:answered',
    ]);
    for (const event of events) {
      expect(event).toMatchObject({ callId: '1796412765.39', direction: 'internal', caller: ANNA, callee: { number: '102', name: 'Ben Ortiz' } });
    }
    expectSameEventsFromAmi('internal', events);
  });

  for (const name of ['blind-transfer', 'blind-transfer-ami']) {
    it(`${name}: 101 answers and transfers to 102, who talks until the caller hangs up`, () => {
      const events = recording(name);
      expect(events.map(line)).toEqual([
        '0.0 ringing 101',
        '1.5 answered 101 ring=1.5',
        '4.0 transferred 101 blind to=102',
        '4.0 ended 101 answered ring=1.5 talk=2.5 by=agent cause=16',
        '4.0 ringing 102',
        '6.0 answered 102 ring=2',
        '9.0 ended 102 answered ring=2 talk=3 by=caller cause=16',
        '9.0 completed answered ring=1.5 talk=5.5 by=caller agent=102 agents=101:answered,102:answered',
      ]);
      expect(new Set(events.map((event) => event.callId)).size).toBe(1);
      expect(events.find((event) => event.type === 'call.transferred')).toMatchObject({ target: { extension: '102', context: 'from-internal-xfer' } });
      expectSameEventsFromAmi(name, events);
    });
  }

  it('concurrent-inbound: two overlapping calls stay apart', () => {
    const events = recording('concurrent-inbound');
    expect(events.map((event) => `${event.callId} ${line(event)}`)).toEqual([
      '1796416190.33 0.0 ringing 101',
      '1796416191.35 1.0 ringing 102',
      '1796416190.33 2.0 answered 101 ring=2',
      '1796416191.35 3.0 answered 102 ring=2',
      '1796416190.33 6.0 ended 101 answered ring=2 talk=4 by=caller cause=16',
      '1796416190.33 6.0 completed answered ring=2 talk=4 by=caller agent=101 agents=101:answered',
      '1796416191.35 8.5 ended 102 answered ring=2 talk=5.5 by=agent cause=16',
      '1796416191.35 8.5 completed answered ring=2 talk=5.5 by=agent agent=102 agents=102:answered',
    ]);
    expect(events.filter((event) => event.callId === '1796416191.35').every((event) => event.caller.name === 'Carlos Rivera' && event.did === '15550100102')).toBe(true);
    expectSameEventsFromAmi('concurrent-inbound', events);
  });

  it('load: 50 queue calls, each answered by one of five agents, 10 calls each', () => {
    const events = recording('load');
    const completed = events.filter((event): event is Extract<CallEvent, { type: 'call.completed' }> => event.type === 'call.completed');
    expect(completed).toHaveLength(50);
    expect(new Set(completed.map((event) => event.callId)).size).toBe(50);
    expect(new Set(completed.map((event) => event.caller.number)).size).toBe(50);
    for (const event of completed) {
      expect(event).toMatchObject({ direction: 'inbound', disposition: 'answered', hangupBy: 'agent', talkSeconds: 4, queue: { name: '401' }, did: '15550100301' });
    }
    const perAgent = new Map<string, number>();
    for (const event of completed) {
      perAgent.set(event.extension ?? '', (perAgent.get(event.extension ?? '') ?? 0) + 1);
    }
    expect(Object.fromEntries(perAgent)).toEqual({ '201': 10, '202': 10, '203': 10, '204': 10, '205': 10 });
    const holds = completed.map((event) => event.queue?.holdSeconds ?? 0);
    expect(Math.min(...holds)).toBe(1);
    expect(Math.max(...holds)).toBe(7);
    expect(events.map((event) => event.type).sort()).toEqual(
      [...Array(50).fill('call.ringing'), ...Array(50).fill('call.answered'), ...Array(50).fill('call.ended'), ...Array(50).fill('call.completed')].sort(),
    );
    expect(new Set(events.map((event) => event.id)).size).toBe(200);
    expectSameEventsFromAmi('load', events);
  });

  it('protocol-channels-status: the inbound call to 101 and 102 calling 103', () => {
    const events = recording('protocol-channels-status');
    expect(events.map((event) => `${event.callId} ${event.direction} ${line(event)}`)).toEqual([
      '1796412934.64 inbound 0.0 ringing 101',
      '1796412934.64 inbound 1.0 answered 101 ring=1',
      '1796412935.66 internal 1.0 ringing 103',
      '1796412935.66 internal 2.1 answered 103 ring=1',
      '1796412934.64 inbound 4.1 ended 101 answered ring=1 talk=3.1 by=caller cause=16',
      '1796412934.64 inbound 4.1 completed answered ring=1 talk=3.1 by=caller agent=101 agents=101:answered',
      '1796412935.66 internal 4.1 ended 103 answered ring=1 talk=2 by=caller cause=16',
      '1796412935.66 internal 4.1 completed answered ring=1 talk=2 by=caller agent=103 agents=103:answered',
    ]);
  });

  // Logins, Command, permissions, shutdowns and restarts carry no call, and a failed Originate
  // to a missing extension never reaches anybody.
  for (const name of [
    'protocol-login-ping',
    'protocol-login-failure',
    'protocol-challenge-login',
    'protocol-command-admin',
    'protocol-command-cti-denied',
    'protocol-cti-action-permissions',
    'protocol-originate-failure',
    'protocol-shutdown-admin',
    'protocol-shutdown-cti',
    'protocol-restart-admin',
    'protocol-restart-cti',
  ]) {
    it(`${name}: no call events`, () => {
      expect(recording(name)).toEqual([]);
      expect(normalizeAmi(readFileSync(join(captures, `${name}.ami`)), DEFAULT_CALL_MODEL, 0)).toEqual([]);
    });
  }
});
