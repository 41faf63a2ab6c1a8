import { CallAnswered, CallEnded, CallerIdentified, CallHeld, CallMissed, CallRinging, CallSummary } from '@cti/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ServerFrame } from '../src/protocol.js';
import { AgentClient } from './client.js';
import * as events from './events.js';
import { Harness } from './harness.js';

type Recovered = Extract<ServerFrame, { type: 'recovered' }>;
type SnapshotFrame = Extract<ServerFrame, { type: 'snapshot' }>;

const isRecovered = (frame: ServerFrame): frame is Recovered => frame.type === 'recovered';
const isSnapshot = (frame: ServerFrame): frame is SnapshotFrame => frame.type === 'snapshot';

describe('recovery', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await Harness.start({ PUSH_RECOVERY_WINDOW_SECONDS: '60', PUSH_RECOVERY_MAX_FRAMES: '20' });
  });

  afterAll(async () => {
    await harness.close();
  });

  it('replays exactly the missed frames, then recovered: true', async () => {
    const client = await harness.connect('anna', ['101']);
    const leg = { callId: '1796413000.50', extension: '101' };
    await harness.publish(CallRinging, events.ringing(leg));
    await client.waitForEvent('call.ringing', leg.callId);
    const cursor = client.cursor();
    client.socket.terminate();

    // While 101 is away: its call goes on, 102 gets a call of its own.
    const missedStored = [
      await harness.publish(CallerIdentified, events.identified(leg)),
      await harness.publish(CallAnswered, events.answered(leg)),
    ];
    await harness.publish(CallRinging, events.ringing({ callId: 'other', extension: '102' }));
    missedStored.push(await harness.publish(CallEnded, events.ended(leg)));
    missedStored.push(await harness.publish(CallSummary, events.summary(leg)));

    const back = await harness.connect('anna', ['101'], { resume: cursor });
    const recovered = await back.waitForFrame(isRecovered, 'recovered frame');
    expect(recovered.recovered).toBe(true);

    const replayed = back.events;
    expect(replayed.map((frame) => frame.event.type)).toEqual(['crm.caller.identified', 'call.answered', 'call.ended', 'crm.call.summary']);
    expect(replayed.map((frame) => frame.seq)).toEqual(missedStored.map((stored) => stored.sequence));
    const recoveredIndex = back.frames.findIndex(isRecovered);
    expect(back.frames.slice(recoveredIndex + 1).filter((frame) => frame.type === 'event')).toEqual([]);
    if (recovered.recovered) {
      expect(recovered.replayed).toBe(4);
    }

    // Live frames keep flowing after the replay.
    await harness.publish(CallRinging, events.ringing({ callId: 'next', extension: '101' }));
    await back.waitForEvent('call.ringing', 'next');
  });

  it('sends nothing but recovered: true when nothing was missed', async () => {
    const client = await harness.connect('anna', ['101']);
    const cursor = client.cursor();
    client.socket.terminate();
    await harness.publish(CallRinging, events.ringing({ callId: 'not-mine', extension: '102' }));

    const back = await harness.connect('anna', ['101'], { resume: cursor });
    const recovered = await back.waitForFrame(isRecovered, 'recovered frame');
    expect(recovered.recovered).toBe(true);
    expect(back.events).toEqual([]);
  });

  it('sends recovered: false and a snapshot when the gap is older than the window', async () => {
    const client = await harness.connect('ben', ['102']);
    const cursor = client.cursor();
    client.socket.terminate();

    const over = { callId: '1796413100.60', extension: '102' };
    const live = { callId: '1796413200.70', extension: '102' };
    await harness.publish(CallRinging, events.ringing(over));
    await harness.publish(CallAnswered, events.answered(over));
    await harness.publish(CallEnded, events.ended(over));
    await harness.publish(CallRinging, events.ringing(live));
    await harness.publish(CallerIdentified, events.identified(live));
    await harness.publish(CallAnswered, events.answered(live));
    await harness.publish(CallMissed, events.missed({ callId: '1796413050.55', extension: '102' }));

    harness.instance.clock.advance(61_000);
    try {
      const back = await harness.connect('ben', ['102'], { resume: cursor });
      const recovered = await back.waitForFrame(isRecovered, 'recovered frame');
      expect(recovered.recovered).toBe(false);
      if (recovered.recovered) {
        return;
      }
      expect(recovered.reason).toBe('gap_too_old');
      expect(back.events).toEqual([]);

      const calls = recovered.snapshot.calls;
      expect(calls.map((call) => call.callId)).toEqual([live.callId]);
      expect(calls[0]?.state).toBe('answered');
      expect(calls[0]?.events.map((frame) => frame.event.type)).toEqual(['call.ringing', 'call.answered', 'crm.caller.identified']);
      expect(recovered.snapshot.missed.map((frame) => frame.event.callId)).toEqual(['1796413050.55']);
      expect(recovered.snapshot.cursor.CALLS).toBeGreaterThan(cursor.CALLS);
    } finally {
      harness.instance.clock.advance(-61_000);
    }
  });

  it('sends recovered: false when more frames were missed than the limit', async () => {
    const client = await harness.connect('carl', ['103']);
    const cursor = client.cursor();
    client.socket.terminate();
    for (let index = 0; index < 21; index += 1) {
      await harness.publish(CallRinging, events.ringing({ callId: `flood-${index}`, extension: '103' }));
    }
    const back = await harness.connect('carl', ['103'], { resume: cursor });
    const recovered = await back.waitForFrame(isRecovered, 'recovered frame');
    expect(recovered).toMatchObject({ recovered: false, reason: 'gap_too_large' });
  });

  it('sends recovered: false for a cursor the stream never reached', async () => {
    const back = await harness.connect('anna', ['101'], { resume: { CALLS: 10_000_000, CRM: 0 } });
    expect(await back.waitForFrame(isRecovered, 'recovered frame')).toMatchObject({ recovered: false, reason: 'unknown_cursor' });
  });

  it('refuses an unreadable cursor', async () => {
    const token = await harness.token('anna', ['101']);
    const refusal = await AgentClient.refusal(harness.url, { token, resumeText: 'CALLS:abc' });
    expect(refusal.status).toBe(400);
    expect(refusal.body.code).toBe('CTI_ERR_PUSH_CURSOR_INVALID');
  });

  it('sends a snapshot of the calls in progress to a fresh connection', async () => {
    const ended = { callId: '1796413300.80', extension: '104' };
    const onHold = { callId: '1796413400.90', extension: '104' };
    await harness.publish(CallRinging, events.ringing(ended));
    await harness.publish(CallAnswered, events.answered(ended));
    await harness.publish(CallEnded, events.ended(ended));
    await harness.publish(CallRinging, events.ringing(onHold));
    await harness.publish(CallAnswered, events.answered(onHold));
    await harness.publish(CallHeld, events.held(onHold));

    const client = await harness.connect('dora', ['104']);
    const snapshot = await client.waitForFrame(isSnapshot, 'snapshot');
    expect(snapshot.calls.map((call) => [call.callId, call.state])).toEqual([[onHold.callId, 'held']]);
  });
});
