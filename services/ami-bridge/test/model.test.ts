import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { AmiFramer, AmiMessage } from '@cti/ami';
import { CallAnswered, CallCompleted, CallEnded, CallHeld, CallResumed, CallRinging, CallTransferred, type CallEvent, type MessageContract } from '@cti/contracts';
import { describe, expect, it } from 'vitest';

import { DEFAULT_CALL_MODEL, normalizeAmi, normalizeRecording, parseChannel } from '../src/index.js';
import { CAPTURES, captureMessages, event, recordedMessages, rewrite, snapshot, tracking, type Snapshot } from './helpers.js';

const CONTRACTS: Record<CallEvent['type'], MessageContract> = {
  'call.ringing': CallRinging,
  'call.answered': CallAnswered,
  'call.held': CallHeld,
  'call.resumed': CallResumed,
  'call.transferred': CallTransferred,
  'call.ended': CallEnded,
  'call.completed': CallCompleted,
};

function expectValid(events: readonly CallEvent[]): void {
  for (const emitted of events) {
    const contract = CONTRACTS[emitted.type];
    expect(contract.check(emitted), `${emitted.type} ${emitted.id} matches its contract`).toBe(true);
  }
}

const naming = { extensionPattern: /^[0-9]{2,6}$/, agentLocalContexts: ['from-queue', 'from-internal'] };

describe('channel names', () => {
  it('reads agent phones, Local halves and trunks', () => {
    expect(parseChannel('PJSIP/101-0000000b', naming)).toEqual({ kind: 'phone', technology: 'PJSIP', extension: '101' });
    expect(parseChannel('SIP/102-00000001', naming)).toEqual({ kind: 'phone', technology: 'SIP', extension: '102' });
    expect(parseChannel('IAX2/103-4521', naming)).toEqual({ kind: 'phone', technology: 'IAX2', extension: '103' });
    expect(parseChannel('Local/101@from-queue-00000003;1', naming)).toEqual({
      kind: 'local',
      extension: '101',
      context: 'from-queue',
      pair: 'Local/101@from-queue-00000003',
      half: 1,
    });
    expect(parseChannel('Local/101@from-internal-00000000;2', naming)).toMatchObject({ kind: 'local', extension: '101', half: 2 });
    expect(parseChannel('Local/999@some-app-00000001;1', naming)).toMatchObject({ kind: 'local', extension: undefined });
    expect(parseChannel('PJSIP/pstn-trunk-0000000a', naming)).toEqual({ kind: 'external', technology: 'PJSIP', endpoint: 'pstn-trunk' });
    expect(parseChannel('DAHDI/1-1', naming)).toMatchObject({ kind: 'external', technology: 'DAHDI' });
  });
});

describe('call model', () => {
  it('every event of every capture matches its contract', () => {
    for (const name of readdirSync(CAPTURES).filter((file) => file.endsWith('.jsonl'))) {
      expectValid(normalizeRecording(readFileSync(join(CAPTURES, name), 'utf8'), DEFAULT_CALL_MODEL));
    }
  });

  it('gives the same ids on every run and different ids per PBX', () => {
    const text = readFileSync(join(CAPTURES, 'queue.jsonl'), 'utf8');
    const first = normalizeRecording(text, DEFAULT_CALL_MODEL).map((emitted) => emitted.id);
    const second = normalizeRecording(text, DEFAULT_CALL_MODEL).map((emitted) => emitted.id);
    const other = normalizeRecording(text, { ...DEFAULT_CALL_MODEL, pbx: 'pbx-b' });
    expect(second).toEqual(first);
    expect(new Set(first).size).toBe(first.length);
    expect(first[0]).toBe('pbx1:1796412741.30:ringing:101:1');
    expect(other.every((emitted) => emitted.pbx === 'pbx-b' && emitted.id.startsWith('pbx-b:'))).toBe(true);
  });

  it('reports hold and resume of an answered agent, and counts the held time', () => {
    const { tracker, events } = tracking();
    const agent = 'PJSIP/101-0000000b';
    for (const message of recordedMessages('inbound-answered')) {
      if (message.event === 'HangupRequest') {
        // The recorded call lasted from 2.0 s to 5.0 s; 101 holds twice in between.
        const channel = { channel: agent, uniqueid: '1796412664.11', linkedid: '1796412664.10', number: '101', name: 'Anna Lee' };
        tracker.handle(event('Hold', 2.5, snapshot(channel)));
        tracker.handle(event('Hold', 2.6, snapshot(channel)));
        tracker.handle(event('Unhold', 3.0, snapshot(channel)));
        tracker.handle(event('Hold', 3.5, snapshot(channel)));
        tracker.handle(event('Unhold', 4.0, snapshot(channel)));
      }
      tracker.handle(message);
    }
    expect(events.map((emitted) => [emitted.type, emitted.extension])).toEqual([
      ['call.ringing', '101'],
      ['call.answered', '101'],
      ['call.held', '101'],
      ['call.resumed', '101'],
      ['call.held', '101'],
      ['call.resumed', '101'],
      ['call.ended', '101'],
      ['call.completed', '101'],
    ]);
    expect(events.filter((emitted) => emitted.type === 'call.held').map((emitted) => emitted.id)).toEqual([
      'pbx1:1796412664.10:held:101:1:1',
      'pbx1:1796412664.10:held:101:1:2',
    ]);
    expect(events.find((emitted) => emitted.type === 'call.ended')).toMatchObject({ holdSeconds: 1, talkSeconds: 3 });
    expect(events.at(-1)).toMatchObject({ holdSeconds: 1 });
    expectValid(events);
  });

  it('follows an attended transfer into the consultation call', () => {
    const { tracker, events } = tracking();
    const trunk: Snapshot = { channel: 'PJSIP/pstn-trunk-00000001', uniqueid: '1800000000.1', linkedid: '1800000000.1', context: 'from-pstn', exten: '15550100100', number: '+15550100001', name: 'Alice Example' };
    const first: Snapshot = { channel: 'PJSIP/101-00000002', uniqueid: '1800000000.2', linkedid: '1800000000.1', number: '101', name: 'Anna Lee' };
    const consult: Snapshot = { channel: 'PJSIP/101-00000003', uniqueid: '1800000010.3', linkedid: '1800000010.3', exten: '102', number: '101', name: 'Anna Lee' };
    const target: Snapshot = { channel: 'PJSIP/102-00000004', uniqueid: '1800000010.4', linkedid: '1800000010.3', number: '102', name: 'Ben Ortiz' };
    const steps: AmiMessage[] = [
      event('Newchannel', 0, snapshot({ ...trunk, state: 4 })),
      event('Newchannel', 0, snapshot({ ...first, state: 0 })),
      event('DialBegin', 0, snapshot({ ...trunk, state: 4 }), snapshot({ ...first, state: 0 }, 'Dest'), ['DialString', '101']),
      event('Newstate', 0, snapshot({ ...first, state: 5 })),
      event('Newstate', 2, snapshot(first)),
      event('DialEnd', 2, snapshot({ ...trunk, state: 4 }), snapshot(first, 'Dest'), ['DialStatus', 'ANSWER']),
      event('Newstate', 2, snapshot(trunk)),
      event('BridgeEnter', 2, snapshot(first), ['BridgeUniqueid', 'bridge-a']),
      event('BridgeEnter', 2, snapshot(trunk), ['BridgeUniqueid', 'bridge-a']),
      event('Hold', 4, snapshot(first)),
      // 101 calls 102 on a second line: a call of its own.
      event('Newchannel', 4, snapshot({ ...consult, state: 4 })),
      event('Newchannel', 4, snapshot({ ...target, state: 0 })),
      event('DialBegin', 4, snapshot({ ...consult, state: 4 }), snapshot({ ...target, state: 0 }, 'Dest'), ['DialString', '102']),
      event('Newstate', 4, snapshot({ ...target, state: 5 })),
      event('Newstate', 6, snapshot(target)),
      event('DialEnd', 6, snapshot(consult), snapshot(target, 'Dest'), ['DialStatus', 'ANSWER']),
      event('BridgeEnter', 6, snapshot(target), ['BridgeUniqueid', 'bridge-b']),
      event('BridgeEnter', 6, snapshot(consult), ['BridgeUniqueid', 'bridge-b']),
      event(
        'AttendedTransfer',
        8,
        ['Result', 'Success'],
        snapshot(first, 'OrigTransferer'),
        ['OrigBridgeUniqueid', 'bridge-a'],
        snapshot(consult, 'SecondTransferer'),
        ['SecondBridgeUniqueid', 'bridge-b'],
        snapshot(trunk, 'Transferee'),
        snapshot(target, 'TransferTarget'),
        ['DestType', 'Bridge', 'DestBridgeUniqueid', 'bridge-a'],
      ),
      event('BridgeLeave', 8, snapshot(first), ['BridgeUniqueid', 'bridge-a']),
      event('BridgeLeave', 8, snapshot(target), ['BridgeUniqueid', 'bridge-b']),
      event('BridgeEnter', 8, snapshot(target), ['BridgeUniqueid', 'bridge-a']),
      event('Hangup', 8, snapshot(first), ['Cause', '16', 'Cause-txt', 'Normal Clearing']),
      event('BridgeLeave', 8, snapshot(consult), ['BridgeUniqueid', 'bridge-b']),
      event('Hangup', 8, snapshot(consult), ['Cause', '16', 'Cause-txt', 'Normal Clearing']),
      event('HangupRequest', 12, snapshot(trunk), ['Cause', '16']),
      event('Hangup', 12, snapshot(trunk), ['Cause', '16', 'Cause-txt', 'Normal Clearing']),
      event('Hangup', 12, snapshot(target), ['Cause', '16', 'Cause-txt', 'Normal Clearing']),
    ];
    for (const step of steps) {
      tracker.handle(step);
    }
    const lines = events.map((emitted) => {
      const outcome = emitted.type === 'call.ended' || emitted.type === 'call.completed' ? ` ${emitted.disposition} by=${emitted.hangupBy} talk=${emitted.talkSeconds}` : '';
      return `${emitted.callId} ${emitted.type} ${emitted.extension ?? '-'}${outcome}`;
    });
    expect(lines).toEqual([
      '1800000000.1 call.ringing 101',
      '1800000000.1 call.answered 101',
      '1800000000.1 call.held 101',
      '1800000010.3 call.ringing 102',
      '1800000010.3 call.answered 102',
      '1800000000.1 call.transferred 101',
      '1800000010.3 call.ended 102 answered by=system talk=2',
      '1800000000.1 call.ringing 102',
      '1800000000.1 call.answered 102',
      '1800000000.1 call.ended 101 answered by=agent talk=6',
      '1800000010.3 call.completed 102 answered by=system talk=2',
      '1800000000.1 call.ended 102 answered by=caller talk=4',
      '1800000000.1 call.completed 102 answered by=caller talk=10',
    ]);
    expect(events.find((emitted) => emitted.type === 'call.transferred')).toMatchObject({ transferType: 'attended', target: { extension: '102' } });
    const consultation = events.find((emitted) => emitted.callId === '1800000010.3');
    expect(consultation).toMatchObject({ direction: 'internal', caller: { number: '101', name: 'Anna Lee' } });
    const main = events.filter((emitted) => emitted.callId === '1800000000.1');
    expect(main.every((emitted) => emitted.direction === 'inbound' && emitted.caller.number === '+15550100001')).toBe(true);
    expectValid(events);
  });

  it('reads SIP and IAX2 phones like PJSIP ones', () => {
    for (const technology of ['SIP', 'IAX2']) {
      const { tracker, events } = tracking();
      for (const message of recordedMessages('inbound-answered')) {
        tracker.handle(rewrite(message, (_key, value) => value.replace('PJSIP/101-', `${technology}/101-`)));
      }
      expect(events.map((emitted) => [emitted.type, emitted.extension])).toEqual([
        ['call.ringing', '101'],
        ['call.answered', '101'],
        ['call.ended', '101'],
        ['call.completed', '101'],
      ]);
      expect(events[0]).toMatchObject({ channel: `${technology}/101-0000000b` });
    }
  });

  it('takes directions from configurable contexts', () => {
    const renamed = (model: Partial<typeof DEFAULT_CALL_MODEL>, from: string, to: string) => {
      const { tracker, events } = tracking(model);
      for (const message of recordedMessages('internal')) {
        tracker.handle(rewrite(message, (key, value) => (key === 'Context' && value === from ? to : value)));
      }
      return events[0]?.direction;
    };
    expect(renamed({}, 'from-internal', 'from-internal')).toBe('internal');
    expect(renamed({ internalContexts: ['office-phones'] }, 'from-internal', 'office-phones')).toBe('internal');
    expect(renamed({ inboundContexts: ['from-internal'], internalContexts: [] }, 'from-internal', 'from-internal')).toBe('inbound');
  });

  it('flags a caller name that was not UTF-8', () => {
    const bytes = readFileSync(join(CAPTURES, 'inbound-answered.ami'));
    const latin1 = Buffer.from(bytes.toString('latin1').replaceAll('Alice Example', 'Jos\u00e9 Mu\u00f1oz'), 'latin1');
    const events = normalizeAmi(latin1, DEFAULT_CALL_MODEL, 0);
    expect(events[0]?.caller).toEqual({ number: '+15550100001', name: 'José Muñoz', nameFallbackDecoded: true });
    expectValid(events);
  });

  it('reports voicemail when the caller is answered after every phone gave up', () => {
    const { tracker, events } = tracking();
    const trunk: Snapshot = { channel: 'PJSIP/pstn-trunk-00000001', uniqueid: '1800000100.1', linkedid: '1800000100.1', context: 'from-pstn', exten: '15550100100', number: '+15550100001' };
    const agent: Snapshot = { channel: 'PJSIP/101-00000002', uniqueid: '1800000100.2', linkedid: '1800000100.1', number: '101', name: 'Anna Lee' };
    for (const step of [
      event('Newchannel', 0, snapshot({ ...trunk, state: 4 })),
      event('Newchannel', 0, snapshot({ ...agent, state: 0 })),
      event('DialBegin', 0, snapshot({ ...trunk, state: 4 }), snapshot({ ...agent, state: 0 }, 'Dest'), ['DialString', '101']),
      event('Newstate', 0, snapshot({ ...agent, state: 5 })),
      event('DialEnd', 15, snapshot({ ...trunk, state: 4 }), snapshot({ ...agent, state: 5 }, 'Dest'), ['DialStatus', 'NOANSWER']),
      event('Hangup', 15, snapshot({ ...agent, state: 5 }), ['Cause', '16', 'Cause-txt', 'Normal Clearing']),
      event('Newstate', 15, snapshot(trunk)),
      event('HangupRequest', 30, snapshot(trunk), ['Cause', '16']),
      event('Hangup', 30, snapshot(trunk), ['Cause', '16', 'Cause-txt', 'Normal Clearing']),
    ]) {
      tracker.handle(step);
    }
    expect(events.map((emitted) => (emitted.type === 'call.ended' || emitted.type === 'call.completed' ? `${emitted.type} ${emitted.disposition} ${emitted.hangupBy}` : emitted.type))).toEqual([
      'call.ringing',
      'call.ended missed system',
      'call.completed voicemail caller',
    ]);
  });

  it('ends each call exactly once however often its channels hang up', () => {
    const { tracker, events } = tracking();
    const messages = recordedMessages('inbound-answered');
    for (const message of [...messages, ...messages.filter((message) => message.event === 'Hangup')]) {
      tracker.handle(message);
    }
    expect(events.filter((emitted) => emitted.type === 'call.completed')).toHaveLength(1);
    expect(tracker.activeCalls).toBe(0);
    expect(tracker.activeChannels).toBe(0);
  });

  it('never throws on mangled events and still handles the next valid call', () => {
    let seed = 7;
    const next = () => {
      seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
      return seed / 0x1_0000_0000;
    };
    const garbage = ['', '<unknown>', 'x'.repeat(5000), '-1', 'NaN', '999999999999', 'PJSIP/101', 'Local/101@from-queue-1;3', '\u0000', '1796412741.30'];
    const source = [...captureMessages('queue'), ...captureMessages('ringgroup'), ...captureMessages('blind-transfer')];
    const { tracker, events } = tracking();
    for (let round = 0; round < 20_000; round += 1) {
      const original = source[Math.floor(next() * source.length)] as AmiMessage;
      const fields = original.fields.slice();
      const edits = 1 + Math.floor(next() * 4);
      for (let edit = 0; edit < edits; edit += 1) {
        const index = 2 * Math.floor(next() * (fields.length / 2));
        const choice = next();
        if (choice < 0.3 && index > 1) {
          fields.splice(index, 2);
        } else if (choice < 0.8) {
          fields[index + 1] = garbage[Math.floor(next() * garbage.length)] as string;
        } else {
          fields[index + 1] = (fields[(index + 3) % fields.length] as string) ?? '';
        }
      }
      tracker.handle(new AmiMessage(fields, round));
    }
    expectValid(events);

    // A clean call after all that comes out whole.
    const before = events.length;
    const framer = new AmiFramer({ onMessage: (message) => tracker.handle(message) });
    framer.push(readFileSync(join(CAPTURES, 'internal.ami')), 100_000);
    expect(events.slice(before).filter((emitted) => emitted.callId === '1796412765.39').map((emitted) => emitted.type)).toEqual([
      'call.ringing',
      'call.answered',
      'call.ended',
      'call.completed',
    ]);
  });
});
