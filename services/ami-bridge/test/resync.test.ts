import { AmiMessage } from '@cti/ami';
import type { CallEvent } from '@cti/contracts';
import { ChannelTable } from '@cti/pbx-replay';
import { describe, expect, it } from 'vitest';

import { resyncChannels } from '../src/index.js';
import { recordedMessages, tracking } from './helpers.js';

const CALL_1 = '1796416190.33';
const CALL_2 = '1796416191.35';

/** concurrent-inbound split where both calls talk (after), and where call 1 is gone (gone). */
function concurrentCalls() {
  const events = recordedMessages('concurrent-inbound').filter((message) => message.event !== undefined && message.actionId === undefined);
  const bothTalking = events.findIndex((message) => message.event === 'BridgeEnter' && message.get('Channel') === 'PJSIP/pstn-trunk-0000000d') + 1;
  const firstGone = events.findLastIndex((message) => message.event === 'Hangup' && message.get('Linkedid') === CALL_1) + 1;
  return { events, bothTalking, firstGone };
}

/** CoreShowChannel items for the channels up after `events`, as the replayed PBX lists them. */
function listAfter(events: readonly AmiMessage[]): AmiMessage[] {
  const table = new ChannelTable(() => 10_000);
  for (const message of events) {
    table.apply(message.fields);
  }
  return table.listItems('csc-1').map((fields) => new AmiMessage(fields, 10_000));
}

const summary = (emitted: CallEvent) => `${emitted.callId} ${emitted.type} ${emitted.extension ?? '-'}${emitted.resynced === true ? ' resynced' : ''}`;

describe('resync from CoreShowChannels', () => {
  it('ends calls that vanished during a disconnect exactly once', () => {
    const { events, bothTalking } = concurrentCalls();
    const { tracker, events: emitted } = tracking();
    for (const message of events.slice(0, bothTalking)) {
      tracker.handle(message);
    }
    const before = emitted.length;
    const started = tracker.nextSequence();
    const report = resyncChannels(tracker, [], started, 20_000);
    expect(report).toEqual({ vanishedChannels: 4, endedCalls: 2, discoveredChannels: 0 });
    expect(emitted.slice(before).map(summary)).toEqual([
      `${CALL_1} call.ended 101 resynced`,
      `${CALL_1} call.completed 101 resynced`,
      `${CALL_2} call.ended 102 resynced`,
      `${CALL_2} call.completed 102 resynced`,
    ]);
    const ended = emitted.slice(before).find((event) => event.type === 'call.ended');
    expect(ended).toMatchObject({ disposition: 'answered', hangupBy: 'system', hangupCause: 0, talkSeconds: 18 });

    // The hangups that arrive later, or a second resync, end nothing again.
    for (const message of events.slice(bothTalking)) {
      tracker.handle(message);
    }
    resyncChannels(tracker, [], tracker.nextSequence(), 30_000);
    expect(emitted.filter((event) => event.type === 'call.completed')).toHaveLength(2);
    expect(tracker.activeCalls).toBe(0);
  });

  it('keeps live calls going without repeating their events', () => {
    const { events, bothTalking, firstGone } = concurrentCalls();
    const { tracker, events: emitted } = tracking();
    for (const message of events.slice(0, bothTalking)) {
      tracker.handle(message);
    }
    // The bridge was away while call 1 ended; then it lists what is still up.
    const listed = listAfter(events.slice(0, firstGone));
    const before = emitted.length;
    resyncChannels(tracker, listed, tracker.nextSequence(), 7_000);
    expect(emitted.slice(before).map(summary)).toEqual([`${CALL_1} call.ended 101 resynced`, `${CALL_1} call.completed 101 resynced`]);

    for (const message of events.slice(firstGone)) {
      tracker.handle(message);
    }
    expect(emitted.map(summary)).toEqual([
      `${CALL_1} call.ringing 101`,
      `${CALL_2} call.ringing 102`,
      `${CALL_1} call.answered 101`,
      `${CALL_2} call.answered 102`,
      `${CALL_1} call.ended 101 resynced`,
      `${CALL_1} call.completed 101 resynced`,
      `${CALL_2} call.ended 102`,
      `${CALL_2} call.completed 102`,
    ]);
    expect(emitted.at(-1)).toMatchObject({ disposition: 'answered', hangupBy: 'agent', talkSeconds: 5.5 });
  });

  it('picks up calls that were already up when the bridge connected', () => {
    const { events, bothTalking } = concurrentCalls();
    const { tracker, events: emitted } = tracking();
    resyncChannels(tracker, listAfter(events.slice(0, bothTalking)), tracker.nextSequence(), 4_000);
    expect(emitted.map(summary)).toEqual([
      `${CALL_1} call.ringing 101 resynced`,
      `${CALL_1} call.answered 101 resynced`,
      `${CALL_2} call.ringing 102 resynced`,
      `${CALL_2} call.answered 102 resynced`,
    ]);
    expect(emitted[0]).toMatchObject({ direction: 'inbound', caller: { number: '+15550100001', name: 'Alice Example' }, channel: 'PJSIP/101-0000000c' });

    for (const message of events.slice(bothTalking)) {
      tracker.handle(message);
    }
    expect(emitted.slice(4).map(summary)).toEqual([
      `${CALL_1} call.ended 101`,
      `${CALL_1} call.completed 101`,
      `${CALL_2} call.ended 102`,
      `${CALL_2} call.completed 102`,
    ]);
    expect(emitted.at(-1)).toMatchObject({ disposition: 'answered', hangupBy: 'agent' });
  });

  it('neither ends a channel heard from after the list was asked for nor revives one that hung up', () => {
    const { events, bothTalking, firstGone } = concurrentCalls();
    const { tracker, events: emitted } = tracking();
    for (const message of events.slice(0, bothTalking)) {
      tracker.handle(message);
    }
    const started = tracker.nextSequence();
    const listedEarly = listAfter(events.slice(0, bothTalking));
    // Call 1 hangs up while the list is on its way: its channels are listed, yet gone.
    for (const message of events.slice(bothTalking, firstGone)) {
      tracker.handle(message);
    }
    const before = emitted.length;
    const report = resyncChannels(tracker, listedEarly, started, 7_000);
    expect(report).toEqual({ vanishedChannels: 0, endedCalls: 0, discoveredChannels: 0 });
    expect(emitted.slice(before)).toEqual([]);
    expect(tracker.activeCalls).toBe(1);
  });
});
