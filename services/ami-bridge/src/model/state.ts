import type { Direction } from '@cti/contracts';

import type { ChannelParty } from './channel-name.js';

/** Asterisk channel states (ChannelState header). */
export const ChannelState = {
  DOWN: 0,
  RING: 4,
  RINGING: 5,
  UP: 6,
  BUSY: 7,
} as const;

/** A party as the events carry it. */
export interface PartyInfo {
  number: string;
  name?: string;
  nameFallbackDecoded?: boolean;
}

/** One Asterisk channel the bridge tracks. */
export interface Channel {
  uniqueid: string;
  linkedid: string;
  name: string;
  party: ChannelParty;
  /** The call it belongs to: its Linkedid, unless an attended transfer moved it. */
  callId: string;
  state: number;
  createdAt: number;
  /** Context and extension when it was created (a trunk's DID, an extension's dialled number). */
  context: string;
  exten: string;
  caller: PartyInfo;
  /** Destination of a Dial or an Originate. */
  dialled: boolean;
  dialledAt?: number;
  /** First leg of an Originate: its DialBegin has no Channel, only Dest headers. */
  originated: boolean;
  /** Key of the agent leg it belongs to. */
  legKey?: string;
  bridges: Set<string>;
  /** A Local half that LocalOptimization is removing from the path. */
  localOptimized: boolean;
  /** Sequence number of the last message about it, for resync. */
  lastSeq: number;
}

/** One agent's part in a call: ringing, answering, talking, ending. */
export interface Leg {
  key: string;
  extension: string;
  /** 1 for the first time this extension rings in the call, 2 for the next, ... */
  attempt: number;
  /** Live channels: the phone and any Local halves leading to it. */
  channels: Set<string>;
  /** Name of the phone's channel (`PJSIP/101-…`), or of a Local half until the phone appears. */
  channelName?: string;
  /** Hangup cause of the phone's channel, else of the first channel of the leg that hung up. */
  hangupCause?: number;
  hangupCauseText?: string;
  /** The leg of the channel that started a call from a phone; it never rings. */
  originator: boolean;
  dialledAt?: number;
  ringingAt?: number;
  answeredAt?: number;
  talkStartAt?: number;
  endedAt?: number;
  heldSince?: number;
  holdSeconds: number;
  holds: number;
  /** First DialEnd status other than ANSWER and CANCEL (BUSY, NOANSWER, CHANUNAVAIL, ...). */
  dialStatus?: string;
  cancelled: boolean;
  transferred: boolean;
  ended: boolean;
}

export interface HangupRequestRecord {
  uniqueid: string;
  legKey: string | undefined;
  at: number;
  cause: number | undefined;
  /** True when the channel is a Local half: those relay the other side's hangup. */
  local: boolean;
  /** True when the channel belonged to an agent leg that had not answered. */
  unansweredLeg: boolean;
}

/** One call: every channel with the same Linkedid. */
export interface Call {
  id: string;
  startedAt: number;
  firstChannel: string;
  /** Snapshot of the first channel, kept after it hangs up. */
  first: { party: ChannelParty; context: string; exten: string; caller: PartyInfo };
  /** Fixed with the first event published for the call, so every event agrees. */
  identity?: { direction: Direction; caller: PartyInfo; callee: PartyInfo; did?: string };
  queue?: { name: string; holdSeconds?: number };
  queueAbandoned: boolean;
  agentCompleteReason?: string;
  originated: boolean;
  originate?: { requestId: string; target?: string };
  channels: Set<string>;
  /** The current leg of each extension. */
  legs: Map<string, Leg>;
  /** Every leg so far, ended ones included. */
  allLegs: Leg[];
  hangupRequests: HangupRequestRecord[];
  hangupCauses: Map<string, { cause: number; text?: string }>;
  answeredAt?: number;
  conversationAt?: number;
  /** When the caller's channel went Up (answered by an agent, a queue or voicemail). */
  callerUpAt?: number;
  ended: boolean;
  /** Counts per event kind, for deterministic ids of repeated events (holds). */
  counters: Map<string, number>;
}
