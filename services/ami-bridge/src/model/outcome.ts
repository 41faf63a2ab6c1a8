import type { Disposition, HangupBy } from '@cti/contracts';

import type { Call, HangupRequestRecord, Leg } from './state.js';

/** Q.850 causes the model reads. */
export const Cause = {
  USER_BUSY: 17,
  CALL_REJECTED: 21,
  ANSWERED_ELSEWHERE: 26,
} as const;

/** Seconds between two millisecond times, to a tenth of a second, never negative. */
export function seconds(fromMs: number | undefined, toMs: number | undefined): number {
  if (fromMs === undefined || toMs === undefined || toMs <= fromMs) {
    return 0;
  }
  return Math.round((toMs - fromMs) / 100) / 10;
}

// A HangupRequest that names who hung up. Local halves only relay the other side's hangup: in
// the queue recording the caller's own request comes without a Cause, and the Local half's
// request with Cause 16 follows it. Cause 26 is the PBX cancelling a ring-group or queue leg
// that lost to another agent.
function names(request: HangupRequestRecord): boolean {
  return !request.local && request.cause !== 26;
}

function partyOf(request: HangupRequestRecord, call: Call): HangupBy {
  const leg = request.legKey === undefined ? undefined : call.allLegs.find((candidate) => candidate.key === request.legKey);
  return leg !== undefined && !leg.originator ? 'agent' : 'caller';
}

/** Outcome of one agent leg when it ends. */
export function legDisposition(leg: Leg, call: Call): Disposition {
  if (leg.answeredAt !== undefined) {
    return 'answered';
  }
  const answeredElsewhere = call.allLegs.some((other) => other !== leg && other.answeredAt !== undefined && other.answeredAt <= (leg.endedAt ?? Infinity));
  if (leg.hangupCause === Cause.ANSWERED_ELSEWHERE || (leg.cancelled && answeredElsewhere)) {
    return 'answered_elsewhere';
  }
  if (leg.dialStatus === 'BUSY' || leg.hangupCause === Cause.USER_BUSY || leg.hangupCause === Cause.CALL_REJECTED) {
    return 'busy';
  }
  if (leg.dialStatus === 'CHANUNAVAIL' || leg.dialStatus === 'CONGESTION') {
    return 'failed';
  }
  if (leg.dialStatus === 'NOANSWER') {
    return 'missed';
  }
  if (legHangupBy(leg, call) === 'caller') {
    return 'abandoned';
  }
  return 'missed';
}

/** Returns who ended an agent's leg: that agent, the other party, or the PBX. */
export function legHangupBy(leg: Leg, call: Call): HangupBy {
  if (leg.transferred) {
    return 'agent';
  }
  const from = leg.ringingAt ?? leg.dialledAt ?? call.startedAt;
  const until = leg.endedAt ?? Infinity;
  const request = call.hangupRequests.find((candidate) => candidate.at >= from && candidate.at <= until && names(candidate));
  if (request === undefined) {
    return 'system';
  }
  if (request.legKey === leg.key) {
    return 'agent';
  }
  return partyOf(request, call);
}

/**
 * The HangupRequest that ended the call. A rejection by an agent who never answered does not
 * count when the call was answered afterwards (by another agent, or by voicemail).
 */
export function endingRequest(call: Call): HangupRequestRecord | undefined {
  return call.hangupRequests.find((request) => {
    if (!names(request)) {
      return false;
    }
    if (!request.unansweredLeg) {
      return true;
    }
    const answeredLater = call.allLegs.some((leg) => leg.answeredAt !== undefined && leg.answeredAt > request.at) || (call.callerUpAt ?? -Infinity) > request.at;
    return !answeredLater;
  });
}

export function callHangupBy(call: Call): HangupBy {
  const request = endingRequest(call);
  if (request !== undefined) {
    return partyOf(request, call);
  }
  if (call.agentCompleteReason === 'caller') {
    return 'caller';
  }
  if (call.agentCompleteReason === 'agent' || call.allLegs.some((leg) => leg.transferred)) {
    return 'agent';
  }
  return 'system';
}

/** Outcome of the whole call. */
export function callDisposition(call: Call): Disposition {
  const rung = call.allLegs.filter((leg) => !leg.originator && leg.ringingAt !== undefined);
  const talked = call.allLegs.some((leg) => leg.talkStartAt !== undefined);
  if (call.originated) {
    // Click-to-dial: the agent's own phone answering is not yet a call; the number must answer.
    return talked ? 'answered' : 'failed';
  }

  if (talked || rung.some((leg) => leg.answeredAt !== undefined)) {
    return 'answered';
  }
  if (call.queueAbandoned) {
    return 'abandoned';
  }

  const dispositions = rung.map((leg) => legDisposition(leg, call));
  if (dispositions.includes('abandoned')) {
    return 'abandoned';
  }
  // FreePBX answers the caller with voicemail after every ringing phone gave up.
  // NOTE: no voicemail call was recorded; this rule follows macro-exten-vm, not a capture.
  const lastRingEnd = Math.max(...rung.map((leg) => leg.endedAt ?? -Infinity));
  if (rung.length > 0 && call.queue === undefined && call.callerUpAt !== undefined && call.callerUpAt >= lastRingEnd) {
    return 'voicemail';
  }
  if (dispositions.includes('busy')) {
    return 'busy';
  }
  if (dispositions.includes('failed') && !dispositions.includes('missed')) {
    return 'failed';
  }
  if (call.queue !== undefined && callHangupBy(call) === 'caller') {
    return 'abandoned';
  }
  return 'missed';
}

/** Seconds the call had a conversation: the union of every leg's talk time. */
export function callTalkSeconds(call: Call, endedAt: number): number {
  const spans = call.allLegs
    .filter((leg) => leg.talkStartAt !== undefined)
    .map((leg) => [leg.talkStartAt as number, leg.endedAt ?? endedAt] as const)
    .sort((a, b) => a[0] - b[0]);
  let total = 0;
  let [start, end] = [-Infinity, -Infinity];
  for (const [from, to] of spans) {
    if (from > end) {
      if (end > start) {
        total += end - start;
      }
      [start, end] = [from, to];
    } else {
      end = Math.max(end, to);
    }
  }
  if (end > start) {
    total += end - start;
  }
  return Math.round(total / 100) / 10;
}
