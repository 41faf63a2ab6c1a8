import { CallRinging, CallSummary } from '@cti/contracts';
import { waitFor } from '@cti/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CloseCode } from '../src/protocol.js';
import * as events from './events.js';
import { Harness } from './harness.js';

/** Bound for the publish-to-frame latency of the clients that keep reading, on a shared machine. */
const LATENCY_BOUND_MS = 1000;
const SUMMARY_TEXT = 'x'.repeat(16_000);
const MAX_SUMMARIES = 4000;

describe('backpressure', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await Harness.start({ PUSH_SEND_BUFFER_BYTES: '65536', PUSH_SLOW_CLOSE_GRACE_MS: '60000' });
  });

  afterAll(async () => {
    await harness.close();
  });

  it('closes a stalled client with 4008 while the others keep their latency', async () => {
    const stalled = await harness.connect('anna', ['101']);
    const sameExtension = await harness.connect('anna', ['101']);
    const otherExtension = await harness.connect('ben', ['102']);
    stalled.socket.pause();

    const publishedAt = new Map<string, number>();
    let summaries = 0;
    while ((await harness.metric('cti_push_slow_client_disconnects_total')) === 0) {
      if (summaries >= MAX_SUMMARIES) {
        throw new Error(`the stalled client was not closed after ${MAX_SUMMARIES} frames of 16 kB`);
      }
      const batch = [];
      for (let index = 0; index < 50; index += 1) {
        summaries += 1;
        batch.push(harness.publish(CallSummary, events.summary({ callId: `flood-${summaries}`, extension: '101', text: SUMMARY_TEXT })));
      }
      const callId = `probe-${summaries}`;
      publishedAt.set(callId, performance.now());
      batch.push(harness.publish(CallRinging, events.ringing({ callId, extension: '102' })));
      await Promise.all(batch);
    }

    // The reader on the same extension got every frame, and 102 got every probe in time.
    await waitFor(() => sameExtension.events.length === summaries, 'every summary on the reading client', { timeoutMs: 20_000 });
    await waitFor(() => otherExtension.events.length === publishedAt.size, 'every probe on 102', { timeoutMs: 20_000 });
    const latencies = otherExtension.received
      .filter((entry) => entry.frame.type === 'event')
      .map((entry) => {
        const frame = entry.frame as { event: { callId: string } };
        return entry.at - (publishedAt.get(frame.event.callId) ?? Number.NaN);
      });
    expect(latencies.every((latency) => Number.isFinite(latency))).toBe(true);
    expect(Math.max(...latencies)).toBeLessThan(LATENCY_BOUND_MS);
    expect(sameExtension.closeCode).toBeUndefined();
    expect(otherExtension.closeCode).toBeUndefined();

    // Reading again, the stalled client finds the close frame behind what was buffered.
    stalled.socket.resume();
    const closed = await stalled.closed;
    expect(closed.code).toBe(CloseCode.SLOW_CONSUMER);
    expect(await harness.metric('cti_push_disconnects_total', { reason: 'slow_client' })).toBe(1);
  });
});
