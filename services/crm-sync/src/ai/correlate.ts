import type { AiConversationCompleted } from '@cti/contracts';

import type { CallLog, CallLogEntry } from '../calls/call-log.js';
import type { CallerLookup } from '../lookup/caller-lookup.js';

export type Correlation =
  | { kind: 'call'; by: 'call_id' | 'number'; entry: CallLogEntry }
  /** Looks like a PBX call that is not logged yet: try again later. */
  | { kind: 'pending' }
  | { kind: 'none' };

export interface CorrelationOptions {
  callLog: CallLog;
  lookup: CallerLookup;
  /** Dynamic variables that may carry the Linkedid, in order. */
  callIdVariables: readonly string[];
  windowMs: number;
  graceMs: number;
}

function conversationSpan(event: AiConversationCompleted): { start: number; end: number } {
  const durationMs = (event.durationSeconds ?? 0) * 1000;
  const start = event.startedAt === undefined ? Date.parse(event.eventAt) - durationMs : Date.parse(event.startedAt);
  return { start, end: start + durationMs };
}

function closest(entries: readonly CallLogEntry[], start: number): CallLogEntry | undefined {
  return [...entries].sort((left, right) => Math.abs(Date.parse(left.startedAt) - start) - Math.abs(Date.parse(right.startedAt) - start))[0];
}

/** Ids that may name the PBX call: the Linkedid the initiation response set, then SIP call ids. */
export function callIdCandidates(event: AiConversationCompleted, variables: readonly string[]): string[] {
  const ids: string[] = [];
  const add = (value: unknown) => {
    if (typeof value === 'string' && value.trim() !== '' && !ids.includes(value.trim())) {
      ids.push(value.trim());
    }
  };
  add(event.pbxLinkedid);
  for (const name of variables) {
    add(event.dynamicVariables[name]);
  }
  add(event.callSid);
  return ids;
}

/**
 * Finds the PBX call an AI conversation belongs to:
 * 1. by call id: the Linkedid that the conversation-initiation response put into the dynamic
 *    variables (`pbx_linkedid`), a configured variable carrying the SIP header the trunk sends
 *    (`X-CALL-ID` arrives as `system__call_sid`), or the SIP call id itself;
 * 2. by the external number: a logged call with that number (and direction) that overlaps the
 *    conversation, give or take the window; the one that started closest wins.
 * A phone conversation with neither is `pending` for a grace period after it ended, because its
 * PBX call may still be on its way to SuiteCRM; after that it gets a record of its own.
 */
export async function correlate(event: AiConversationCompleted, options: CorrelationOptions, now: number): Promise<Correlation> {
  const span = conversationSpan(event);
  const ids = callIdCandidates(event, options.callIdVariables);
  for (const id of ids) {
    const entry = closest(await options.callLog.byLinkedid(id), span.start);
    if (entry !== undefined) {
      return { kind: 'call', by: 'call_id', entry };
    }
  }

  const target = event.externalNumber === undefined ? undefined : options.lookup.normalize(event.externalNumber);
  if (target !== undefined) {
    const overlapping = (await options.callLog.byNumber(target.digits)).filter((entry) => {
      const start = Date.parse(entry.startedAt);
      const end = Date.parse(entry.endedAt);
      const sameDirection = event.direction === undefined || entry.direction === 'internal' || entry.direction === event.direction;
      return sameDirection && start - options.windowMs <= span.end && span.start <= end + options.windowMs;
    });
    const entry = closest(overlapping, span.start);
    if (entry !== undefined) {
      return { kind: 'call', by: 'number', entry };
    }
  }

  const phoneCall = ids.length > 0 || target !== undefined;
  if (phoneCall && now - span.end < options.graceMs) {
    return { kind: 'pending' };
  }
  return { kind: 'none' };
}
