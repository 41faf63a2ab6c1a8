import type { OutboundFrame } from './frames.js';
import type { SnapshotCall } from './protocol.js';

/**
 * Works out which calls are in progress on one extension from the latest stored event of each
 * kind (`last_by_subj` per subject). A call whose `call.ended` is among them is over. A call can
 * also have ended while a later call's `call.ended` replaced its own as the latest. The caller
 * reads the `call.ended` events after the sequence `needsEndScanFrom` returns and passes the
 * calls they name as `endedLater`.
 */

const STATE_BY_EVENT = {
  'call.ringing': 'ringing',
  'call.answered': 'answered',
  'call.resumed': 'answered',
  'call.held': 'held',
  'call.transferred': 'transferred',
} as const satisfies Record<string, SnapshotCall['state']>;

type LegFrame = OutboundFrame & { event: { type: keyof typeof STATE_BY_EVENT | 'call.ended' } };

function isLegFrame(frame: OutboundFrame): frame is LegFrame {
  return frame.event.type in STATE_BY_EVENT || frame.event.type === 'call.ended';
}

function groupByCall(frames: readonly OutboundFrame[]): Map<string, LegFrame[]> {
  const groups = new Map<string, LegFrame[]>();
  for (const frame of frames) {
    if (!isLegFrame(frame)) {
      continue;
    }
    const group = groups.get(frame.event.callId) ?? [];
    group.push(frame);
    groups.set(frame.event.callId, group);
  }
  for (const group of groups.values()) {
    group.sort((left, right) => left.seq - right.seq);
  }
  return groups;
}

/**
 * Returns the stream sequence after which `call.ended` events must be read to decide the calls
 * that may have ended unseen, or undefined when every call is decided already.
 */
export function needsEndScanFrom(latest: readonly OutboundFrame[]): number | undefined {
  const latestEnd = latest.find((frame) => frame.event.type === 'call.ended');
  if (latestEnd === undefined) {
    return undefined;
  }
  let from: number | undefined;
  for (const group of groupByCall(latest).values()) {
    const last = group[group.length - 1] as LegFrame;
    if (group.some((frame) => frame.event.type === 'call.ended') || last.seq > latestEnd.seq) {
      continue;
    }
    from = from === undefined ? last.seq : Math.min(from, last.seq);
  }
  return from;
}

export interface FoldOptions {
  /** Call ids whose `call.ended` was found after `needsEndScanFrom`. */
  endedLater: ReadonlySet<string>;
  now: number;
  /** A call whose last event is older than this is treated as over: its end may never have been published. */
  maxCallAgeMs: number;
}

/** Returns the calls in progress, oldest first, each with its events in stream order. */
export function foldActiveCalls(latest: readonly OutboundFrame[], options: FoldOptions): SnapshotCall[] {
  const calls: { call: SnapshotCall; lastSeq: number }[] = [];
  for (const [callId, group] of groupByCall(latest)) {
    if (group.some((frame) => frame.event.type === 'call.ended') || options.endedLater.has(callId)) {
      continue;
    }
    const last = group[group.length - 1] as LegFrame;
    const lastAt = last.storedAt ?? Date.parse(last.event.occurredAt);
    if (options.now - lastAt > options.maxCallAgeMs) {
      continue;
    }
    const state = STATE_BY_EVENT[last.event.type as keyof typeof STATE_BY_EVENT];
    calls.push({
      call: {
        callId,
        extension: last.event.extension,
        state,
        events: group.map((frame) => ({ type: 'event', stream: frame.stream, seq: frame.seq, event: frame.event })),
      },
      lastSeq: last.seq,
    });
  }
  return calls.sort((left, right) => left.lastSeq - right.lastSeq).map((entry) => entry.call);
}
