import { ContractError } from '@cti/contracts';
import { createLogger } from '@cti/logging';
import { collectLogLines, deferred, waitFor } from '@cti/testing';
import { describe, expect, it } from 'vitest';

import { EventOutbox } from '../src/outbox.js';

/** Creates a publish function whose calls wait until the test settles them. */
function controlledPublish() {
  const calls: { item: string; resolve: () => void; reject: (error: unknown) => void }[] = [];
  const publish = (item: string): Promise<unknown> => {
    const pending = deferred();
    calls.push({ item, resolve: () => pending.resolve(), reject: pending.reject });
    return pending.promise;
  };
  return { calls, publish };
}

function outboxFor(publish: (item: string) => Promise<unknown>, options: { window?: number; maxPending?: number } = {}) {
  const logs = collectLogLines();
  const pressure: boolean[] = [];
  const outbox = new EventOutbox<string>({
    publish,
    describe: (item) => ({ item }),
    logger: createLogger({ service: 'test', destination: logs.stream }),
    maxPending: options.maxPending ?? 1000,
    onPressure: (paused) => pressure.push(paused),
    window: options.window ?? 4,
    retryMinMs: 5,
    retryMaxMs: 20,
  });
  return { outbox, logs, pressure };
}

const flushMicrotasks = () => new Promise((resolve) => setImmediate(resolve));

describe('EventOutbox', () => {
  it('sends without waiting for earlier acks', async () => {
    const { calls, publish } = controlledPublish();
    const { outbox } = outboxFor(publish);
    outbox.push('ringing-1');
    outbox.push('answered-1');
    expect(calls.map((call) => call.item)).toEqual(['ringing-1', 'answered-1']);
    // No ack has come back yet, and the next event still goes out without waiting.
    outbox.push('ringing-2');
    expect(calls.map((call) => call.item)).toEqual(['ringing-1', 'answered-1', 'ringing-2']);
    calls.forEach((call) => call.resolve());
    await flushMicrotasks();
    expect(outbox.pending).toBe(0);
  });

  it('caps items in flight at the window', async () => {
    const { calls, publish } = controlledPublish();
    const { outbox } = outboxFor(publish, { window: 2 });
    ['a', 'b', 'c', 'd', 'e'].forEach((item) => outbox.push(item));
    expect(calls.map((call) => call.item)).toEqual(['a', 'b']);
    // An ack out of order frees a slot, but `b` leaves the queue only after `a`.
    calls[1]?.resolve();
    await flushMicrotasks();
    expect(calls.map((call) => call.item)).toEqual(['a', 'b', 'c']);
    expect(outbox.pending).toBe(5);
    calls[0]?.resolve();
    await flushMicrotasks();
    expect(calls.map((call) => call.item)).toEqual(['a', 'b', 'c', 'd']);
    expect(outbox.pending).toBe(3);
    calls.slice(2).forEach((call) => call.resolve());
    await flushMicrotasks();
    calls.slice(4).forEach((call) => call.resolve());
    await flushMicrotasks();
    expect(calls.map((call) => call.item)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(outbox.pending).toBe(0);
  });

  it('resends from the failed item', async () => {
    const { calls, publish } = controlledPublish();
    const { outbox, logs } = outboxFor(publish, { window: 4 });
    ['a', 'b', 'c'].forEach((item) => outbox.push(item));
    calls[0]?.resolve();
    calls[1]?.reject(new Error('no responders'));
    await flushMicrotasks();
    // `c` is still in flight: nothing new is sent, not even an item pushed now.
    outbox.push('d');
    expect(calls.map((call) => call.item)).toEqual(['a', 'b', 'c']);
    calls[2]?.resolve();
    await waitFor(() => calls.length === 6, 'the retry');
    // `c` was stored, but it follows the failed `b`, so it is sent again (a duplicate for JetStream).
    expect(calls.slice(3).map((call) => call.item)).toEqual(['b', 'c', 'd']);
    expect(logs.lines.some((line) => line['msg'] === 'call event not stored; retrying' && line['pending'] === 3)).toBe(true);
    calls.slice(3).forEach((call) => call.resolve());
    await flushMicrotasks();
    expect(outbox.pending).toBe(0);
  });

  it('drops an item breaking its contract', async () => {
    const sent: string[] = [];
    const { outbox, logs } = outboxFor((item) => {
      if (item === 'bad') {
        throw new ContractError('call.ringing', [{ path: '/id', message: 'must be string' }]);
      }
      sent.push(item);
      return Promise.resolve();
    });
    ['a', 'bad', 'c'].forEach((item) => outbox.push(item));
    expect(await outbox.flush(1000)).toBe(0);
    expect(sent).toEqual(['a', 'c']);
    expect(logs.lines.filter((line) => line['msg'] === 'call event dropped: it does not match its contract').map((line) => line['item'])).toEqual(['bad']);
  });

  it('pauses AMI reads past maxPending', async () => {
    const { calls, publish } = controlledPublish();
    const { outbox, pressure } = outboxFor(publish, { window: 2, maxPending: 4 });
    ['a', 'b', 'c', 'd'].forEach((item) => outbox.push(item));
    expect(pressure).toEqual([true]);
    calls[0]?.resolve();
    await flushMicrotasks();
    expect(pressure).toEqual([true]);
    calls[1]?.resolve();
    await flushMicrotasks();
    expect(pressure).toEqual([true, false]);
    calls.slice(2).forEach((call) => call.resolve());
    expect(await outbox.flush(1000)).toBe(0);
  });

  it('flush stops at its deadline', async () => {
    const { publish } = controlledPublish();
    const { outbox } = outboxFor(publish);
    ['a', 'b'].forEach((item) => outbox.push(item));
    expect(await outbox.flush(30)).toBe(2);
    outbox.stop();
  });
  it('retries a publish rejected without a reason', async () => {
    const { calls, publish } = controlledPublish();
    const { outbox } = outboxFor(publish);
    outbox.push('a');
    calls[0]?.reject(undefined);
    await waitFor(() => calls.length === 2, 'the retry');
    expect(calls[1]?.item).toBe('a');
    calls[1]?.resolve();
    expect(await outbox.flush(1000)).toBe(0);
  });

  it('does not resend an item breaking its contract', async () => {
    const attempts: string[] = [];
    let failNext = true;
    const { outbox, logs } = outboxFor((item) => {
      attempts.push(item);
      if (item === 'bad') {
        return Promise.reject(new ContractError('call.ringing', [{ path: '/id', message: 'must be string' }]));
      }
      if (item === 'a' && failNext) {
        failNext = false;
        return Promise.reject(new Error('timeout'));
      }
      return Promise.resolve();
    });
    ['a', 'bad', 'c'].forEach((item) => outbox.push(item));
    expect(await outbox.flush(1000)).toBe(0);
    expect(attempts).toEqual(['a', 'bad', 'c', 'a', 'c']);
    expect(logs.lines.filter((line) => line['msg'] === 'call event dropped: it does not match its contract')).toHaveLength(1);
  });

  it('announces no retry after stop', async () => {
    const { calls, publish } = controlledPublish();
    const { outbox, logs } = outboxFor(publish);
    outbox.push('a');
    outbox.stop();
    calls[0]?.reject(new Error('connection closed'));
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(calls).toHaveLength(1);
    expect(logs.lines.some((line) => line['msg'] === 'call event not stored; retrying')).toBe(false);
  });
});
