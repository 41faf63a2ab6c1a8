import { randomUUID } from 'node:crypto';

import { extensionSubject, StreamReaders } from '@cti/contracts';
import type { Logger } from '@cti/logging';
import { nanos } from '@nats-io/nats-core';
import { AckPolicy, DeliverPolicy, type JetStreamClient, type JetStreamManager, type MsgRequest, type StoredMsg } from '@nats-io/jetstream';

import { foldActiveCalls, needsEndScanFrom } from './call-state.js';
import { decodeStoredEvent, toEventFrame, type OutboundFrame } from './frames.js';
import { extensionTokens, type ExtensionKey } from './live-feed.js';
import { CURSOR_STREAMS, type Cursor, type CursorStream, type RecoveryFailure, type Snapshot, type SnapshotCall } from './protocol.js';

/**
 * Reads what an agent's extensions have in the CALLS and CRM streams: the frames a reconnecting
 * client missed, or a snapshot of the calls in progress. Every read goes to JetStream, not to
 * memory, so a client can reconnect to any replica of the gateway.
 */

const LEG_EVENTS = ['ringing', 'answered', 'held', 'resumed', 'transferred', 'ended'] as const;
/** Most `call.ended` events read to decide which calls ended unseen, per extension. */
const MAX_END_SCAN = 200;
/** Missed calls fetched before the look-back window is halved, so the newest ones are kept. */
const MISSED_FETCH_LIMIT = 500;

export interface HistoryOptions {
  jsm: JetStreamManager;
  js: JetStreamClient;
  logger: Logger;
  clock: () => number;
  recoveryWindowMs: number;
  recoveryMaxFrames: number;
  snapshotMaxCallAgeMs: number;
  missedLookbackMs: number;
  missedMax: number;
}

export type ReplayResult = { ok: true; frames: OutboundFrame[] } | { ok: false; reason: RecoveryFailure };

const READERS = { CALLS: StreamReaders.PUSH_GATEWAY_CALLS, CRM: StreamReaders.PUSH_GATEWAY_CRM } as const satisfies Record<CursorStream, { stream: CursorStream }>;

/** Subjects of one extension in one stream, as the stream stores them (no live prefix). */
export function storedSubjects(stream: CursorStream, key: ExtensionKey): string[] {
  const tokens = extensionTokens(key);
  return READERS[stream].extensionSubjects.map((subject) => extensionSubject(subject, tokens));
}

/** Filter of the short-lived consumer that reads an extension's missed calls. */
function missedCallsFilter(key: ExtensionKey): string {
  return extensionSubject(READERS.CALLS.ephemeralFilters[0], extensionTokens(key));
}

class ReplayAborted extends Error {
  constructor(readonly reason: RecoveryFailure) {
    super(reason);
  }
}

export class StreamHistory {
  readonly #options: HistoryOptions;

  constructor(options: HistoryOptions) {
    this.#options = options;
  }

  /** Last sequence of each stream. */
  async heads(): Promise<Cursor> {
    const entries = await Promise.all(
      CURSOR_STREAMS.map(async (stream) => [stream, (await this.#options.jsm.streams.info(stream)).state.last_seq] as const),
    );
    return Object.fromEntries(entries) as Cursor;
  }

  /**
   * Returns every frame of the extensions stored after the cursor, oldest first. When that cannot
   * be done exactly, it returns the reason instead: the stream never reached the cursor, messages
   * after it were removed, a missed frame is older than the recovery window, or there are more
   * missed frames than the limit.
   */
  async replay(keys: readonly ExtensionKey[], cursor: Partial<Cursor>): Promise<ReplayResult> {
    const infos = await Promise.all(CURSOR_STREAMS.map((stream) => this.#options.jsm.streams.info(stream)));
    const scans: { stream: CursorStream; subject: string; after: number }[] = [];
    for (const [index, stream] of CURSOR_STREAMS.entries()) {
      const after = cursor[stream];
      const state = infos[index]?.state;
      if (after === undefined || state === undefined || after > state.last_seq) {
        return { ok: false, reason: 'unknown_cursor' };
      }
      if (after < state.first_seq - 1) {
        return { ok: false, reason: 'gap_purged' };
      }
      for (const key of keys) {
        scans.push(...storedSubjects(stream, key).map((subject) => ({ stream, subject, after })));
      }
    }

    const frames: OutboundFrame[] = [];
    const oldestAllowed = this.#options.clock() - this.#options.recoveryWindowMs;
    try {
      await Promise.all(
        scans.map(async ({ stream, subject, after }) => {
          for (let seq = after + 1; ; ) {
            const stored = await this.#next(stream, subject, seq);
            if (stored === null) {
              return;
            }
            if (stored.time.getTime() < oldestAllowed) {
              throw new ReplayAborted('gap_too_old');
            }
            if (frames.length >= this.#options.recoveryMaxFrames) {
              throw new ReplayAborted('gap_too_large');
            }
            const frame = this.#decode(stream, stored);
            if (frame !== undefined) {
              frames.push(frame);
            }
            seq = stored.seq + 1;
          }
        }),
      );
    } catch (error) {
      if (error instanceof ReplayAborted) {
        return { ok: false, reason: error.reason };
      }
      throw error;
    }
    return { ok: true, frames: frames.sort(byStoredTime) };
  }

  /** Builds a snapshot: the stream heads, the calls in progress and the recent missed calls. */
  async snapshot(keys: readonly ExtensionKey[]): Promise<{ snapshot: Snapshot; frames: OutboundFrame[] }> {
    // Heads first: a message stored after this point reaches the client live, so the snapshot
    // may repeat one but never misses one.
    const cursor = await this.heads();
    const perKey = await Promise.all(keys.map((key) => Promise.all([this.#activeCalls(key), this.#recentMissed(key)])));
    const calls: SnapshotCall[] = perKey.flatMap(([active]) => active.calls);
    const missed = perKey
      .flatMap(([, recent]) => recent)
      .sort(byStoredTime)
      .slice(-this.#options.missedMax);
    const frames = [...perKey.flatMap(([active]) => active.frames), ...missed];
    return { snapshot: { cursor, calls, missed: missed.map(toEventFrame) }, frames };
  }

  async #activeCalls(key: ExtensionKey): Promise<{ calls: SnapshotCall[]; frames: OutboundFrame[] }> {
    const [legs, identified] = await Promise.all([
      Promise.all(LEG_EVENTS.map((event) => this.#last('CALLS', `call.${event}.${key}`))),
      this.#last('CRM', `crm.caller.identified.${key}`),
    ]);
    const latest = legs.filter((frame): frame is OutboundFrame => frame !== undefined);

    const endedLater = new Set<string>();
    const scanFrom = needsEndScanFrom(latest);
    if (scanFrom !== undefined) {
      let seq = scanFrom + 1;
      for (let read = 0; read < MAX_END_SCAN; read += 1) {
        const stored = await this.#next('CALLS', `call.ended.${key}`, seq);
        if (stored === null) {
          break;
        }
        const frame = this.#decode('CALLS', stored);
        if (frame !== undefined) {
          endedLater.add(frame.event.callId ?? '');
        }
        seq = stored.seq + 1;
      }
    }

    const calls = foldActiveCalls(latest, {
      endedLater,
      now: this.#options.clock(),
      maxCallAgeMs: this.#options.snapshotMaxCallAgeMs,
    });
    const frames = latest.filter((frame) => calls.some((call) => call.callId === frame.event.callId));
    // NOTE: only the extension's latest screen pop is read, so of two calls in progress at once
    // the older one comes without its CRM details.
    if (identified !== undefined) {
      const call = calls.find((candidate) => candidate.callId === identified.event.callId);
      if (call !== undefined) {
        call.events.push(toEventFrame(identified));
        frames.push(identified);
      }
    }
    return { calls, frames };
  }

  /**
   * Reads the missed calls of the look-back window with a short-lived consumer. When there are
   * more than it fetches, it halves the window, so the list keeps the newest calls.
   */
  async #recentMissed(key: ExtensionKey): Promise<OutboundFrame[]> {
    let lookbackMs = this.#options.missedLookbackMs;
    while (lookbackMs >= 60_000) {
      const start = new Date(this.#options.clock() - lookbackMs);
      // Named here, so the create request carries the name and the filter in its subject: the
      // gateway's NATS user may create consumers with this filter only.
      const info = await this.#options.jsm.consumers.add('CALLS', {
        name: `missed-${randomUUID()}`,
        filter_subject: missedCallsFilter(key),
        deliver_policy: DeliverPolicy.StartTime,
        opt_start_time: start.toISOString(),
        ack_policy: AckPolicy.None,
        mem_storage: true,
        inactive_threshold: nanos(30_000),
      });
      try {
        const pending = info.num_pending;
        if (pending === 0) {
          return [];
        }
        if (pending > MISSED_FETCH_LIMIT) {
          lookbackMs = Math.floor(lookbackMs / 2);
          continue;
        }
        const consumer = this.#options.js.consumers.getConsumerFromInfo(info);
        const messages = await consumer.fetch({ max_messages: pending, expires: 5000 });
        const frames: OutboundFrame[] = [];
        for await (const message of messages) {
          const decoded = decodeStoredEvent('CALLS', message.seq, message.subject, message.data);
          if ('frame' in decoded) {
            frames.push({ ...decoded.frame, storedAt: message.info.timestampNanos / 1e6 });
          }
          if (message.info.pending === 0) {
            break;
          }
        }
        return frames;
      } finally {
        await this.#options.jsm.consumers.delete('CALLS', info.name).catch((error: unknown) => {
          this.#options.logger.debug({ err: error, consumer: info.name }, 'snapshot consumer not deleted, it expires on its own');
        });
      }
    }
    return [];
  }

  async #last(stream: CursorStream, subject: string): Promise<OutboundFrame | undefined> {
    const stored = await this.#options.jsm.streams.getMessage(stream, { last_by_subj: subject });
    return stored === null ? undefined : this.#decode(stream, stored);
  }

  // STREAM.MSG.GET has taken `next_by_subj` with a wildcard filter since nats-server 2.9; the
  // client's MsgRequest type lists only `seq` and `last_by_subj`.
  #next(stream: CursorStream, subject: string, seq: number): Promise<StoredMsg | null> {
    return this.#options.jsm.streams.getMessage(stream, { next_by_subj: subject, seq } as unknown as MsgRequest);
  }

  #decode(stream: CursorStream, stored: StoredMsg): OutboundFrame | undefined {
    const decoded = decodeStoredEvent(stream, stored.seq, stored.subject, stored.data);
    if ('failure' in decoded) {
      this.#options.logger.warn({ stream, sequence: stored.seq, reason: decoded.failure }, 'stored message skipped');
      return undefined;
    }
    return { ...decoded.frame, storedAt: storedTimeMs(stored.timestamp, stored.time) };
  }
}

/**
 * Stored time in milliseconds with the sub-millisecond part of JetStream's nanosecond timestamp.
 * Frames of two streams are merged by this time, and two events stored in the same millisecond
 * (call.ended, then the summary) must keep their order.
 */
export function storedTimeMs(timestamp: string, fallback: Date): number {
  const fraction = /\.(\d+)Z$/.exec(timestamp)?.[1];
  const whole = Date.parse(timestamp.replace(/\.\d+Z$/, 'Z'));
  if (fraction === undefined || Number.isNaN(whole)) {
    return fallback.getTime();
  }
  return whole + Number(`0.${fraction}`) * 1000;
}

function byStoredTime(left: OutboundFrame, right: OutboundFrame): number {
  return (left.storedAt ?? 0) - (right.storedAt ?? 0) || left.seq - right.seq;
}
