import { setTimeout as sleep } from 'node:timers/promises';

import { Backoff } from '@cti/ami';
import { ContractError } from '@cti/contracts';
import type { Logger } from '@cti/logging';

export interface OutboxOptions<T> {
  /** Stores one item (a JetStream publish); rejects when it was not stored. */
  publish: (item: T) => Promise<unknown>;
  /** Short description of an item for logs, never with a phone number. */
  describe: (item: T) => Record<string, unknown>;
  logger: Logger;
  /** Items waiting before `onPressure(true)`; it is called with false again at half of it. */
  maxPending: number;
  onPressure: (paused: boolean) => void;
  /** Items published at once; JetStream keeps their order on one connection. */
  window?: number;
  retryMinMs?: number;
  retryMaxMs?: number;
}

/**
 * Publishes call events in the order the model produced them, retrying until JetStream stores
 * each one. When publishing falls behind, `onPressure` pauses the AMI reads, so the events wait
 * in Asterisk rather than in this process's memory.
 *
 * Up to `window` items are in flight at once, and each new item is sent as soon as it arrives
 * while there is room. An earlier version sent a window and waited for all of its acks before
 * sending what had arrived meanwhile. A ringing event that arrived then waited for the earlier
 * events' acks as well as its own.
 *
 * After a failed publish, nothing new is sent until every item in flight has settled. Then the
 * items from the failed one onwards are sent again, except those dropped for breaking their
 * contract. Those that had already been stored come back as duplicates (same message id), so
 * nothing is stored twice, but a retried item lands after items published behind it.
 */
export class EventOutbox<T> {
  readonly #options: OutboxOptions<T>;
  readonly #window: number;
  /** Items not yet known to be stored, oldest first; the first `#sent` of them were sent. */
  #queue: Entry<T>[] = [];
  readonly #backoff: Backoff;
  #sent = 0;
  #inFlight = 0;
  /** The first failure since the window last drained; set, it stops new sends. */
  #failure: { reason: unknown } | undefined;
  #retrying = false;
  #paused = false;
  #stopped = false;
  /** Called whenever an item settles, so `flush` wakes up at once. */
  #onSettled: (() => void) | undefined;

  constructor(options: OutboxOptions<T>) {
    this.#options = options;
    this.#window = options.window ?? 64;
    this.#backoff = new Backoff(options.retryMinMs ?? 200, options.retryMaxMs ?? 10_000);
  }

  get pending(): number {
    return this.#queue.length;
  }

  push(item: T): void {
    this.#queue.push({ item, state: 'waiting' });
    if (!this.#paused && this.#queue.length >= this.#options.maxPending) {
      this.#paused = true;
      this.#options.logger.warn({ pending: this.#queue.length }, 'call events are waiting for JetStream; pausing AMI reads');
      this.#options.onPressure(true);
    }
    this.#send();
  }

  /** Waits until every item is stored, or the time is up; returns the items still waiting. */
  async flush(timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.#queue.length > 0 && Date.now() < deadline) {
      const settled = new Promise<void>((resolve) => {
        this.#onSettled = resolve;
      });
      await Promise.race([settled, sleep(Math.max(1, Math.min(100, deadline - Date.now())))]);
    }
    return this.#queue.length;
  }

  /** Stops sending and retrying; items still waiting stay unpublished. */
  stop(): void {
    this.#stopped = true;
  }

  #send(): void {
    while (!this.#stopped && this.#failure === undefined && !this.#retrying && this.#inFlight < this.#window && this.#sent < this.#queue.length) {
      const entry = this.#queue[this.#sent] as Entry<T>;
      this.#sent += 1;
      this.#inFlight += 1;
      entry.state = 'sent';
      // publish() may throw synchronously (a contract error before anything is sent).
      let published: Promise<unknown>;
      try {
        published = this.#options.publish(entry.item);
      } catch (error) {
        published = Promise.reject(error);
      }
      published.then(
        () => this.#settle(entry, { ok: true }),
        (error: unknown) => this.#settle(entry, { ok: false, error }),
      );
    }
  }

  #settle(entry: Entry<T>, outcome: { ok: true } | { ok: false; error: unknown }): void {
    this.#inFlight -= 1;
    if (outcome.ok) {
      entry.state = 'stored';
    } else if (outcome.error instanceof ContractError) {
      // A message that breaks its contract is a bug; retrying cannot fix it.
      this.#options.logger.error({ err: outcome.error, ...this.#options.describe(entry.item) }, 'call event dropped: it does not match its contract');
      entry.state = 'dropped';
    } else {
      entry.state = 'failed';
      this.#failure ??= { reason: outcome.error };
    }
    // What leads the queue is stored or was dropped as invalid: it leaves.
    let done = 0;
    while (done < this.#sent && (this.#queue[done]?.state === 'stored' || this.#queue[done]?.state === 'dropped')) {
      done += 1;
    }
    if (done > 0) {
      this.#queue.splice(0, done);
      this.#sent -= done;
      if (this.#failure === undefined) {
        this.#backoff.reset();
      }
    }
    this.#resumeReadsIfCaughtUp();
    if (this.#failure !== undefined && this.#inFlight === 0) {
      void this.#retryLater(this.#failure.reason);
    } else {
      this.#send();
    }
    const onSettled = this.#onSettled;
    this.#onSettled = undefined;
    onSettled?.();
  }

  async #retryLater(reason: unknown): Promise<void> {
    this.#failure = undefined;
    if (this.#stopped) {
      return;
    }
    this.#retrying = true;
    // Everything still queued is sent again, from the failed item onwards, but for what broke its
    // contract: that would only fail again.
    this.#queue = this.#queue.filter((entry) => entry.state !== 'dropped');
    this.#queue.forEach((entry) => {
      entry.state = 'waiting';
    });
    this.#sent = 0;
    const delay = this.#backoff.next();
    this.#options.logger.warn({ err: reason, pending: this.#queue.length, retryInMs: delay }, 'call event not stored; retrying');
    await sleep(delay);
    this.#retrying = false;
    this.#send();
  }

  #resumeReadsIfCaughtUp(): void {
    if (this.#paused && this.#queue.length <= this.#options.maxPending / 2) {
      this.#paused = false;
      this.#options.logger.info({ pending: this.#queue.length }, 'call events caught up; resuming AMI reads');
      this.#options.onPressure(false);
    }
  }
}

interface Entry<T> {
  item: T;
  state: 'waiting' | 'sent' | 'stored' | 'dropped' | 'failed';
}
