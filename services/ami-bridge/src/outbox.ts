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
 * After a failed publish the items from the failed one onwards are sent again. Items of that
 * window that had already been stored come back as duplicates (same message id), so nothing is
 * stored twice, but a retried item lands after items published behind it.
 */
export class EventOutbox<T> {
  readonly #options: OutboxOptions<T>;
  readonly #queue: T[] = [];
  readonly #backoff: Backoff;
  #pumping: Promise<void> | undefined;
  #paused = false;
  #stopped = false;

  constructor(options: OutboxOptions<T>) {
    this.#options = options;
    this.#backoff = new Backoff(options.retryMinMs ?? 200, options.retryMaxMs ?? 10_000);
  }

  get pending(): number {
    return this.#queue.length;
  }

  push(item: T): void {
    this.#queue.push(item);
    if (!this.#paused && this.#queue.length >= this.#options.maxPending) {
      this.#paused = true;
      this.#options.logger.warn({ pending: this.#queue.length }, 'call events are waiting for JetStream; pausing AMI reads');
      this.#options.onPressure(true);
    }
    this.#pumping ??= this.#pump().finally(() => {
      this.#pumping = undefined;
    });
  }

  /** Waits until every item is stored, or the time is up; returns the items still waiting. */
  async flush(timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.#queue.length > 0 && Date.now() < deadline) {
      await Promise.race([this.#pumping, sleep(Math.max(1, Math.min(100, deadline - Date.now())))]);
    }
    return this.#queue.length;
  }

  /** Stops retrying; items still waiting stay unpublished. */
  stop(): void {
    this.#stopped = true;
  }

  async #pump(): Promise<void> {
    const window = this.#options.window ?? 64;
    while (this.#queue.length > 0 && !this.#stopped) {
      const batch = this.#queue.slice(0, window);
      const results = await Promise.allSettled(batch.map((item) => this.#options.publish(item)));
      let stored = 0;
      let failure: unknown;
      for (const [index, result] of results.entries()) {
        if (result.status === 'fulfilled') {
          continue;
        }
        if (result.reason instanceof ContractError) {
          // A message that breaks its contract is a bug; retrying cannot fix it.
          this.#options.logger.error({ err: result.reason, ...this.#options.describe(batch[index] as T) }, 'call event dropped: it does not match its contract');
          continue;
        }
        failure = result.reason;
        stored = index;
        break;
      }
      if (failure === undefined) {
        this.#queue.splice(0, batch.length);
        this.#backoff.reset();
      } else {
        // What came before the failure is stored (or was dropped as invalid).
        this.#queue.splice(0, stored);
        const delay = this.#backoff.next();
        this.#options.logger.warn({ err: failure, pending: this.#queue.length, retryInMs: delay }, 'call event not stored; retrying');
        await sleep(delay);
      }
      if (this.#paused && this.#queue.length <= this.#options.maxPending / 2) {
        this.#paused = false;
        this.#options.logger.info({ pending: this.#queue.length }, 'call events caught up; resuming AMI reads');
        this.#options.onPressure(false);
      }
    }
  }
}
