import { createHash } from 'node:crypto';

import type { CallCompleted, CallEvent, CallLegEvent } from '@cti/contracts';

import { callDisposition, callHangupBy, callTalkSeconds, endingRequest, legDisposition, legHangupBy, seconds } from './outcome.js';
import type { Call, Leg, PartyInfo } from './state.js';

const MAX_ID_LENGTH = 128;

/**
 * Deterministic message id: the same AMI input gives the same id on every replica, so
 * JetStream's duplicate window stores each event once however many bridges publish it.
 */
export function eventId(pbx: string, callId: string, ...parts: (string | number)[]): string {
  const id = [pbx, callId, ...parts].join(':');
  if (id.length <= MAX_ID_LENGTH) {
    return id;
  }
  return `${pbx.slice(0, 32)}:${createHash('sha256').update(id).digest('hex').slice(0, 48)}`;
}

function party(info: PartyInfo): CallLegEvent['caller'] {
  return {
    number: info.number,
    ...(info.name === undefined ? {} : { name: info.name }),
    ...(info.nameFallbackDecoded === true ? { nameFallbackDecoded: true } : {}),
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Fields every event of the call carries. `call.identity` must be set. */
function callFields(pbx: string, call: Call, at: number, resynced: boolean) {
  const identity = call.identity as NonNullable<Call['identity']>;
  return {
    v: 1 as const,
    callId: call.id,
    pbx,
    direction: identity.direction,
    caller: party(identity.caller),
    callee: party(identity.callee),
    occurredAt: iso(at),
    ...(identity.did === undefined ? {} : { did: identity.did }),
    ...(call.queue === undefined ? {} : { queue: { ...call.queue } }),
    ...(call.originate === undefined ? {} : { originateRequestId: call.originate.requestId }),
    ...(resynced ? { resynced: true } : {}),
  };
}

function legFields(pbx: string, call: Call, leg: Leg, at: number, resynced: boolean) {
  return {
    ...callFields(pbx, call, at, resynced),
    extension: leg.extension,
    ...(leg.channelName === undefined ? {} : { channel: leg.channelName }),
  };
}

export type LegEventKind = 'ringing' | 'answered' | 'held' | 'resumed' | 'transferred' | 'ended';

export interface TransferDetails {
  transferType: 'blind' | 'attended';
  target: { extension?: string; number?: string; context?: string };
}

/** Builds one per-leg event. `sequence` numbers repeated kinds (the second hold of a leg is 2). */
export function legEvent(
  pbx: string,
  call: Call,
  leg: Leg,
  kind: LegEventKind,
  at: number,
  options: { resynced?: boolean; sequence?: number; transfer?: TransferDetails } = {},
): CallLegEvent {
  const resynced = options.resynced ?? false;
  const id = eventId(pbx, call.id, kind, leg.extension, leg.attempt, ...(options.sequence === undefined ? [] : [options.sequence]));
  const base = { ...legFields(pbx, call, leg, at, resynced), id };
  switch (kind) {
    case 'ringing':
      return { ...base, type: 'call.ringing' };
    case 'answered':
      return { ...base, type: 'call.answered', ringSeconds: seconds(leg.ringingAt, leg.answeredAt) };
    case 'held':
      return { ...base, type: 'call.held' };
    case 'resumed':
      return { ...base, type: 'call.resumed' };
    case 'transferred': {
      const transfer = options.transfer as TransferDetails;
      return { ...base, type: 'call.transferred', transferType: transfer.transferType, target: transfer.target };
    }
    case 'ended': {
      const endedAt = leg.endedAt ?? at;
      return {
        ...base,
        type: 'call.ended',
        disposition: legDisposition(leg, call),
        ringSeconds: seconds(leg.ringingAt, leg.answeredAt ?? endedAt),
        talkSeconds: seconds(leg.talkStartAt, endedAt),
        ...(leg.holdSeconds > 0 ? { holdSeconds: Math.round(leg.holdSeconds / 100) / 10 } : {}),
        hangupBy: legHangupBy(leg, call),
        hangupCause: leg.hangupCause ?? 0,
        ...(leg.hangupCauseText === undefined ? {} : { hangupCauseText: leg.hangupCauseText }),
      };
    }
    default: {
      const unknownKind: never = kind;
      throw new TypeError(`unknown leg event ${String(unknownKind)}`);
    }
  }
}

/** Builds the one call.completed of a call. */
export function completedEvent(pbx: string, call: Call, endedAt: number, resynced: boolean): CallCompleted {
  const rung = call.allLegs.filter((leg) => !leg.originator && leg.ringingAt !== undefined);
  const talkers = call.allLegs.filter((leg) => leg.talkStartAt !== undefined).sort((a, b) => (a.talkStartAt as number) - (b.talkStartAt as number));
  const lastTalker = talkers.at(-1);
  const ending = endingRequest(call);
  const cause = (ending === undefined ? undefined : call.hangupCauses.get(ending.uniqueid)) ?? call.hangupCauses.get(call.firstChannel);
  const holdSeconds = call.allLegs.reduce((total, leg) => total + leg.holdSeconds, 0);
  const firstTalk = call.conversationAt ?? call.answeredAt;
  return {
    ...callFields(pbx, call, endedAt, resynced),
    id: eventId(pbx, call.id, 'completed'),
    type: 'call.completed',
    disposition: callDisposition(call),
    ringSeconds: seconds(call.startedAt, firstTalk ?? endedAt),
    talkSeconds: callTalkSeconds(call, endedAt),
    ...(holdSeconds > 0 ? { holdSeconds: Math.round(holdSeconds / 100) / 10 } : {}),
    hangupBy: callHangupBy(call),
    hangupCause: cause?.cause ?? 0,
    ...(cause?.text === undefined ? {} : { hangupCauseText: cause.text }),
    startedAt: iso(call.startedAt),
    endedAt: iso(endedAt),
    ...(lastTalker === undefined ? {} : { extension: lastTalker.extension }),
    // The contract caps the list; a call that rang more agents keeps the latest ones.
    agents: rung.slice(-256).map((leg) => ({
      extension: leg.extension,
      disposition: legDisposition(leg, call),
      ringSeconds: seconds(leg.ringingAt, leg.answeredAt ?? leg.endedAt ?? endedAt),
      talkSeconds: seconds(leg.talkStartAt, leg.endedAt ?? endedAt),
    })),
  };
}

export type { CallEvent };
