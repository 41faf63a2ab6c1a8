import { detached, detachedOptional, type AmiMessage } from '@cti/ami';
import { isSubjectToken, type CallEvent } from '@cti/contracts';
import type { Logger } from '@cti/logging';

import { extensionOf, parseChannel, type ChannelNaming } from './channel-name.js';
import { contextMatches, type DirectionRules } from './directions.js';
import { completedEvent, legEvent, type LegEventKind, type TransferDetails } from './events.js';
import { Cause } from './outcome.js';
import { ChannelState, type Call, type Channel, type Leg, type PartyInfo } from './state.js';

export interface TrackerOptions {
  /** PBX_ID: in every event and its subject. */
  pbx: string;
  naming: ChannelNaming;
  directions: DirectionRules;
  /**
   * Take event times from the `Timestamp` header when Asterisk sends one (`timestampevents =
   * yes`); otherwise, and when off, from when the message was read.
   */
  useTimestampHeader: boolean;
  emit: (event: CallEvent) => void;
  logger?: Logger;
}

/** A click-to-dial the bridge (or a recording) sent, waiting for its channel to appear. */
interface PendingOriginate {
  actionId: string;
  requestId: string;
  channel: string;
  target: string;
  at: number;
  callId?: string;
}

const UNKNOWN = '<unknown>';
// Hung-up channels remembered so that a late list item or event does not bring one back.
const RECENT_HANGUPS = 4096;
// A click-to-dial whose channel never appeared is forgotten after this long.
const ORIGINATE_MEMORY_MS = 10 * 60_000;

// Limits of the contract fields these values end up in. Longer values are cut, not rejected, so
// one odd header cannot cost a call its events.
const MAX_NUMBER = 64;
const MAX_NAME = 256;
const MAX_ID = 64;

function partyInfo(message: AmiMessage, numberKey: string, nameKey: string): PartyInfo {
  const number = message.get(numberKey);
  const name = message.get(nameKey);
  const info: PartyInfo = { number: number === undefined || number === UNKNOWN ? '' : detached(number.slice(0, MAX_NUMBER)) };
  if (name !== undefined && name !== UNKNOWN && name !== '') {
    info.name = detached(name.slice(0, MAX_NAME));
    if (message.isFallbackDecoded(nameKey)) {
      info.nameFallbackDecoded = true;
    }
  }
  return info;
}

function integer(value: string | undefined): number | undefined {
  if (value === undefined || value === '') {
    return undefined;
  }
  const parsed = Number.parseInt(value, 10);
  return Number.isFinite(parsed) ? parsed : undefined;
}

/**
 * Turns AMI events into call events. One call is one Linkedid. Each agent extension that rings
 * in it is a leg, whose channels (the phone, and Local halves in front of it) are merged.
 * Events come out through `emit` in the order their cause arrived.
 */
export class CallTracker {
  readonly #options: TrackerOptions;
  readonly #channels = new Map<string, Channel>();
  readonly #channelsByName = new Map<string, string>();
  readonly #calls = new Map<string, Call>();
  readonly #bridges = new Map<string, Set<string>>();
  readonly #recentHangups = new Set<string>();
  readonly #originates = new Map<string, PendingOriginate>();
  #sequence = 0;

  constructor(options: TrackerOptions) {
    this.#options = options;
  }

  /** Calls in progress. */
  get activeCalls(): number {
    return this.#calls.size;
  }

  get activeChannels(): number {
    return this.#channels.size;
  }

  /** Sequence number of the last message handled; resync only ends what is older. */
  get sequence(): number {
    return this.#sequence;
  }

  /** Handles one AMI event. Truncated or unknown messages are ignored. */
  handle(message: AmiMessage): void {
    const event = message.event;
    if (event === undefined || message.truncated) {
      return;
    }
    this.#sequence += 1;
    const at = this.#time(message);
    switch (event) {
      case 'Newchannel':
        this.#newChannel(message, at);
        break;
      case 'Newstate':
        this.#newState(message, at);
        break;
      case 'NewCallerid':
        this.#newCallerId(message);
        break;
      case 'DialBegin':
        this.#dialBegin(message, at);
        break;
      case 'DialEnd':
        this.#dialEnd(message);
        break;
      case 'BridgeEnter':
        this.#bridgeEnter(message, at);
        break;
      case 'BridgeLeave':
        this.#bridgeLeave(message);
        break;
      case 'BridgeDestroy':
        this.#bridges.delete(message.get('BridgeUniqueid') ?? '');
        break;
      case 'HangupRequest':
        this.#hangupRequest(message, at);
        break;
      case 'Hangup':
        this.#hangup(message, at);
        break;
      case 'LocalOptimizationBegin':
      case 'LocalOptimizationEnd':
        this.#localOptimization(message);
        break;
      case 'Hold':
        this.#hold(message, at, true);
        break;
      case 'Unhold':
        this.#hold(message, at, false);
        break;
      case 'BlindTransfer':
        this.#blindTransfer(message, at);
        break;
      case 'AttendedTransfer':
        this.#attendedTransfer(message, at);
        break;
      case 'QueueCallerJoin':
        this.#queueJoin(message);
        break;
      case 'QueueCallerAbandon':
        this.#queueAbandon(message);
        break;
      case 'AgentConnect':
        this.#agentConnect(message);
        break;
      case 'AgentComplete':
        this.#agentComplete(message);
        break;
      case 'AgentRingNoAnswer':
        this.#agentRingNoAnswer(message);
        break;
      case 'OriginateResponse':
        this.#originateResponse(message);
        break;
      default:
        break;
    }
  }

  /**
   * Records a click-to-dial Originate that was sent (by this bridge, or in a recording), so the
   * call it creates carries its request id and its direction is known before anyone answers.
   */
  noteOriginate(originate: { actionId: string; requestId: string; channel: string; target: string; at: number }): void {
    this.#originates.set(originate.actionId, { ...originate });
    for (const [actionId, pending] of this.#originates) {
      if (originate.at - pending.at > ORIGINATE_MEMORY_MS) {
        this.#originates.delete(actionId);
      }
    }
  }

  #time(message: AmiMessage): number {
    if (this.#options.useTimestampHeader) {
      const stamp = message.get('Timestamp');
      if (stamp !== undefined) {
        const seconds = Number(stamp);
        if (Number.isFinite(seconds)) {
          return Math.round(seconds * 1000);
        }
      }
    }
    return message.receivedAt;
  }

  #channel(message: AmiMessage, prefix = ''): Channel | undefined {
    const uniqueid = message.get(`${prefix}Uniqueid`);
    const channel = uniqueid === undefined ? undefined : this.#channels.get(uniqueid);
    if (channel !== undefined) {
      channel.lastSeq = this.#sequence;
    }
    return channel;
  }

  #channelNamed(name: string | undefined): Channel | undefined {
    const uniqueid = name === undefined ? undefined : this.#channelsByName.get(name);
    return uniqueid === undefined ? undefined : this.#channels.get(uniqueid);
  }

  #legOf(channel: Channel | undefined): { call: Call; leg: Leg } | undefined {
    if (channel?.legKey === undefined) {
      return undefined;
    }
    const call = this.#calls.get(channel.callId);
    const leg = call?.allLegs.find((candidate) => candidate.key === channel.legKey);
    return call === undefined || leg === undefined ? undefined : { call, leg };
  }

  // ---- channels and calls ----

  /** @internal Adds a channel (from Newchannel, or from a CoreShowChannel list item at resync). */
  addChannel(message: AmiMessage, createdAt: number): Channel | undefined {
    // Everything read here lives as long as the channel: detached, it does not keep the message.
    const uniqueid = detachedOptional(message.get('Uniqueid'));
    const name = detachedOptional(message.get('Channel'));
    if (uniqueid === undefined || name === undefined || this.#channels.has(uniqueid) || this.#recentHangups.has(uniqueid)) {
      return undefined;
    }
    const linkedid = detached(message.get('Linkedid') || uniqueid);
    // Asterisk ids look like `1796412664.10`; anything empty or this long is not one.
    if (uniqueid === '' || uniqueid.length > MAX_ID || linkedid.length > MAX_ID || name === '') {
      return undefined;
    }
    const party = parseChannel(name, this.#options.naming);
    const channel: Channel = {
      uniqueid,
      linkedid,
      name,
      party,
      callId: linkedid,
      state: integer(message.get('ChannelState')) ?? ChannelState.DOWN,
      createdAt,
      context: detached((message.get('Context') ?? '').slice(0, 128)),
      exten: detached((message.get('Exten') ?? '').slice(0, MAX_NUMBER)),
      caller: partyInfo(message, 'CallerIDNum', 'CallerIDName'),
      dialled: false,
      originated: false,
      bridges: new Set(),
      localOptimized: false,
      lastSeq: this.#sequence,
    };
    this.#channels.set(uniqueid, channel);
    this.#channelsByName.set(name, uniqueid);

    let call = this.#calls.get(linkedid);
    if (call === undefined) {
      call = {
        id: linkedid,
        startedAt: createdAt,
        firstChannel: uniqueid,
        first: { party, context: channel.context, exten: channel.exten, caller: channel.caller },
        queueAbandoned: false,
        originated: false,
        channels: new Set(),
        legs: new Map(),
        allLegs: [],
        hangupRequests: [],
        hangupCauses: new Map(),
        ended: false,
        counters: new Map(),
      };
      this.#calls.set(linkedid, call);
    }
    call.channels.add(uniqueid);

    const extension = extensionOf(party);
    if (extension !== undefined) {
      this.#attachToLeg(call, channel, extension);
    }
    return channel;
  }

  #attachToLeg(call: Call, channel: Channel, extension: string): Leg {
    let leg = call.legs.get(extension);
    if (leg === undefined || leg.ended) {
      const attempt = call.allLegs.filter((candidate) => candidate.extension === extension).length + 1;
      leg = {
        key: `${extension}#${attempt}`,
        extension,
        attempt,
        channels: new Set(),
        originator: channel.uniqueid === call.firstChannel && !channel.dialled,
        holdSeconds: 0,
        holds: 0,
        cancelled: false,
        transferred: false,
        ended: false,
      };
      call.legs.set(extension, leg);
      call.allLegs.push(leg);
    }
    leg.channels.add(channel.uniqueid);
    channel.legKey = leg.key;
    if (channel.party.kind === 'phone' || leg.channelName === undefined) {
      leg.channelName = channel.name.slice(0, 256);
    }
    return leg;
  }

  #newChannel(message: AmiMessage, at: number): void {
    this.addChannel(message, at);
  }

  #newCallerId(message: AmiMessage): void {
    const channel = this.#channel(message);
    const call = channel === undefined ? undefined : this.#calls.get(channel.callId);
    // A trunk that announces the caller's number only after Newchannel.
    if (channel !== undefined && call !== undefined && call.firstChannel === channel.uniqueid && call.identity === undefined && call.first.caller.number === '') {
      call.first.caller = partyInfo(message, 'CallerIDNum', 'CallerIDName');
    }
  }

  #newState(message: AmiMessage, at: number): void {
    const channel = this.#channel(message);
    if (channel === undefined) {
      return;
    }
    const state = integer(message.get('ChannelState')) ?? channel.state;
    channel.state = state;
    const call = this.#calls.get(channel.callId);
    if (call === undefined) {
      return;
    }
    if (state === ChannelState.UP && call.firstChannel === channel.uniqueid) {
      call.callerUpAt ??= at;
    }
    const found = this.#legOf(channel);
    if (found === undefined) {
      return;
    }
    if (state === ChannelState.RINGING) {
      this.#ringing(call, found.leg, at, false);
    } else if (state === ChannelState.UP && (channel.dialled || found.leg.ringingAt !== undefined || found.leg.dialledAt !== undefined)) {
      this.#answered(call, found.leg, at, false);
    }
  }

  #dialBegin(message: AmiMessage, at: number): void {
    const destination = this.#channel(message, 'Dest');
    if (destination === undefined) {
      return;
    }
    destination.dialled = true;
    destination.dialledAt ??= at;
    const call = this.#calls.get(destination.callId);
    if (message.get('Uniqueid') === undefined && call !== undefined) {
      // An Originate's first leg: Asterisk dials it from no channel at all.
      destination.originated = true;
      if (call.firstChannel === destination.uniqueid) {
        call.originated = true;
        this.#linkOriginate(call, destination);
      }
    }
    const found = this.#legOf(destination);
    if (found !== undefined) {
      found.leg.dialledAt ??= at;
      found.leg.originator = false;
    }
  }

  #dialEnd(message: AmiMessage): void {
    const found = this.#legOf(this.#channel(message, 'Dest'));
    const status = message.get('DialStatus');
    if (found === undefined || status === undefined) {
      return;
    }
    if (status === 'CANCEL') {
      found.leg.cancelled = true;
    } else if (status !== 'ANSWER') {
      found.leg.dialStatus ??= status;
    }
  }

  #bridgeEnter(message: AmiMessage, at: number): void {
    const channel = this.#channel(message);
    const bridgeId = message.get('BridgeUniqueid');
    if (channel === undefined || bridgeId === undefined) {
      return;
    }
    this.enterBridge(channel, bridgeId, at);
  }

  /** @internal Puts a channel into a bridge and starts the talk time of the parties it joins. */
  enterBridge(channel: Channel, bridgeUniqueid: string, at: number): void {
    // Kept while the bridge lasts: detached, it does not keep the message it came from.
    const bridgeId = detached(bridgeUniqueid);
    let members = this.#bridges.get(bridgeId);
    if (members === undefined) {
      members = new Set();
      this.#bridges.set(bridgeId, members);
    }
    members.add(channel.uniqueid);
    channel.bridges.add(bridgeId);

    // Two parties in one bridge are talking. A leg's phone and its Local halves are one party,
    // so are the two halves of any other Local pair.
    const parties = new Map<string, Channel>();
    for (const uniqueid of members) {
      const member = this.#channels.get(uniqueid);
      if (member !== undefined) {
        const key = member.legKey ?? (member.party.kind === 'local' ? member.party.pair : member.uniqueid);
        parties.set(key, member);
      }
    }
    if (parties.size < 2) {
      return;
    }
    for (const member of parties.values()) {
      const found = this.#legOf(member);
      if (found === undefined) {
        continue;
      }
      const { call, leg } = found;
      if (leg.answeredAt !== undefined || (leg.originator && member.state === ChannelState.UP)) {
        leg.talkStartAt ??= at;
        call.conversationAt ??= at;
      }
    }
  }

  #bridgeLeave(message: AmiMessage): void {
    const channel = this.#channel(message);
    const bridgeId = message.get('BridgeUniqueid');
    if (channel !== undefined && bridgeId !== undefined) {
      this.#bridges.get(bridgeId)?.delete(channel.uniqueid);
      channel.bridges.delete(bridgeId);
    }
  }

  #hangupRequest(message: AmiMessage, at: number): void {
    const channel = this.#channel(message);
    const call = channel === undefined ? undefined : this.#calls.get(channel.callId);
    if (channel === undefined || call === undefined) {
      return;
    }
    const leg = this.#legOf(channel)?.leg;
    call.hangupRequests.push({
      uniqueid: channel.uniqueid,
      legKey: channel.legKey,
      at,
      cause: integer(message.get('Cause')),
      local: channel.party.kind === 'local',
      unansweredLeg: leg !== undefined && !leg.originator && leg.answeredAt === undefined,
    });
  }

  #hangup(message: AmiMessage, at: number): void {
    const channel = this.#channel(message);
    if (channel === undefined) {
      return;
    }
    const cause = integer(message.get('Cause')) ?? 0;
    const causeText = detachedOptional(message.get('Cause-txt')?.slice(0, 128));
    this.removeChannel(channel, at, { cause, ...(causeText === undefined ? {} : { text: causeText }) }, false);
  }

  /** @internal Removes a hung-up (or vanished) channel; ends its leg and call when it was their last. */
  removeChannel(channel: Channel, at: number, cause: { cause: number; text?: string }, resynced: boolean): void {
    this.#channels.delete(channel.uniqueid);
    if (this.#channelsByName.get(channel.name) === channel.uniqueid) {
      this.#channelsByName.delete(channel.name);
    }
    this.#recentHangups.add(channel.uniqueid);
    if (this.#recentHangups.size > RECENT_HANGUPS) {
      const oldest = this.#recentHangups.values().next().value;
      if (oldest !== undefined) {
        this.#recentHangups.delete(oldest);
      }
    }
    // A bridge whose BridgeDestroy was missed (during a disconnect) goes with its last member.
    for (const bridgeId of channel.bridges) {
      const members = this.#bridges.get(bridgeId);
      members?.delete(channel.uniqueid);
      if (members?.size === 0) {
        this.#bridges.delete(bridgeId);
      }
    }

    const call = this.#calls.get(channel.callId);
    if (call === undefined) {
      return;
    }
    call.channels.delete(channel.uniqueid);
    call.hangupCauses.set(channel.uniqueid, cause);
    const found = this.#legOf(channel);
    if (found !== undefined) {
      const { leg } = found;
      leg.channels.delete(channel.uniqueid);
      if (channel.party.kind === 'phone' || leg.hangupCause === undefined) {
        leg.hangupCause = cause.cause;
        leg.hangupCauseText = cause.text;
      }
      if (leg.channels.size === 0) {
        this.#endLeg(call, leg, at, resynced);
      }
    }
    if (call.channels.size === 0) {
      this.#complete(call, at, resynced);
    }
  }

  #localOptimization(message: AmiMessage): void {
    for (const prefix of ['LocalOne', 'LocalTwo']) {
      const channel = this.#channel(message, prefix) ?? this.#channelNamed(message.get(`${prefix}Channel`));
      if (channel !== undefined) {
        channel.localOptimized = true;
      }
    }
  }

  // ---- holds and transfers ----

  #hold(message: AmiMessage, at: number, held: boolean): void {
    const found = this.#legOf(this.#channel(message));
    if (found === undefined || found.leg.ended || found.leg.ringingAt === undefined) {
      return;
    }
    const { call, leg } = found;
    if (held && leg.heldSince === undefined) {
      leg.heldSince = at;
      leg.holds += 1;
      this.#emitLeg(call, leg, 'held', at, { sequence: leg.holds });
    } else if (!held && leg.heldSince !== undefined) {
      leg.holdSeconds += Math.max(0, at - leg.heldSince);
      leg.heldSince = undefined;
      this.#emitLeg(call, leg, 'resumed', at, { sequence: leg.holds });
    }
  }

  #blindTransfer(message: AmiMessage, at: number): void {
    if (message.get('Result') !== 'Success') {
      return;
    }
    const transferer = this.#channel(message, 'Transferer') ?? this.#channelNamed(message.get('TransfererChannel'));
    const found = this.#legOf(transferer);
    if (found === undefined) {
      return;
    }
    const target = detached((message.get('Extension') ?? '').slice(0, MAX_NUMBER));
    const context = detachedOptional(message.get('Context')?.slice(0, 128));
    const isExtension = this.#options.naming.extensionPattern.test(target) && isSubjectToken(target);
    this.#transferred(found.call, found.leg, at, {
      transferType: 'blind',
      target: {
        ...(isExtension ? { extension: target } : target === '' ? {} : { number: target }),
        ...(context === undefined || context === '' ? {} : { context }),
      },
    });
  }

  #attendedTransfer(message: AmiMessage, at: number): void {
    if (message.get('Result') !== 'Success') {
      return;
    }
    const transferer = this.#channel(message, 'OrigTransferer') ?? this.#channelNamed(message.get('OrigTransfererChannel'));
    const targetChannel = this.#channel(message, 'TransferTarget') ?? this.#channelNamed(message.get('TransferTargetChannel'));
    const transferee = this.#channel(message, 'Transferee') ?? this.#channelNamed(message.get('TransfereeChannel'));
    const found = this.#legOf(transferer);
    const targetExtension = targetChannel === undefined ? undefined : extensionOf(targetChannel.party);
    if (found !== undefined) {
      this.#transferred(found.call, found.leg, at, {
        transferType: 'attended',
        target: targetExtension === undefined ? {} : { extension: targetExtension },
      });
    }
    // The consultation call has its own Linkedid. The target now talks to the transferee, so
    // the target's leg moves into the transferee's call.
    // NOTE: no attended transfer was recorded; this follows the documented AttendedTransfer event.
    const mainCall = transferee === undefined ? found?.call : this.#calls.get(transferee.callId);
    if (targetChannel !== undefined && mainCall !== undefined && targetChannel.callId !== mainCall.id) {
      this.#moveToCall(targetChannel, mainCall, at);
    }
  }

  #transferred(call: Call, leg: Leg, at: number, transfer: TransferDetails): void {
    if (leg.ended || leg.transferred) {
      return;
    }
    leg.transferred = true;
    this.#emitLeg(call, leg, 'transferred', at, { transfer });
  }

  // Moves a channel (and the rest of its agent leg) from a consultation call into the main call.
  #moveToCall(channel: Channel, target: Call, at: number): void {
    const source = this.#calls.get(channel.callId);
    const found = this.#legOf(channel);
    const moving = found === undefined ? [channel] : [...found.leg.channels].map((uniqueid) => this.#channels.get(uniqueid)).filter((item): item is Channel => item !== undefined);
    if (source !== undefined && found !== undefined) {
      // The leg ends in the consultation call as answered, and goes on in the main call.
      found.leg.channels.clear();
      this.#endLeg(source, found.leg, at, false);
    }
    for (const member of moving) {
      source?.channels.delete(member.uniqueid);
      member.callId = target.id;
      member.legKey = undefined;
      target.channels.add(member.uniqueid);
    }
    const extension = extensionOf(channel.party);
    if (extension !== undefined) {
      let leg: Leg | undefined;
      for (const member of moving) {
        member.dialled = true;
        leg = this.#attachToLeg(target, member, extension);
      }
      if (leg !== undefined) {
        this.#ringing(target, leg, at, false);
        this.#answered(target, leg, at, false);
        leg.talkStartAt ??= at;
      }
    }
    if (source !== undefined && source.channels.size === 0) {
      this.#complete(source, at, false);
    }
  }

  // ---- queues and originates ----

  #callOf(message: AmiMessage): Call | undefined {
    const channel = this.#channel(message);
    return channel === undefined ? undefined : this.#calls.get(channel.callId);
  }

  #queueJoin(message: AmiMessage): void {
    const call = this.#callOf(message);
    const queue = message.get('Queue');
    if (call !== undefined && queue !== undefined) {
      call.queue = { name: detached(queue.slice(0, 128)) };
    }
  }

  #queueAbandon(message: AmiMessage): void {
    const call = this.#callOf(message);
    if (call === undefined) {
      return;
    }
    call.queueAbandoned = true;
    const hold = integer(message.get('HoldTime'));
    if (call.queue !== undefined && hold !== undefined && hold >= 0) {
      call.queue.holdSeconds = hold;
    }
  }

  #agentConnect(message: AmiMessage): void {
    const call = this.#callOf(message);
    const hold = integer(message.get('HoldTime'));
    if (call?.queue !== undefined && hold !== undefined && hold >= 0) {
      call.queue.holdSeconds = hold;
    }
  }

  #agentComplete(message: AmiMessage): void {
    const call = this.#callOf(message);
    if (call !== undefined) {
      call.agentCompleteReason = detachedOptional(message.get('Reason'));
    }
  }

  #agentRingNoAnswer(message: AmiMessage): void {
    const found = this.#legOf(this.#channel(message, 'Dest'));
    if (found !== undefined) {
      found.leg.dialStatus ??= 'NOANSWER';
    }
  }

  #linkOriginate(call: Call, channel: Channel): void {
    if (call.originate !== undefined) {
      return;
    }
    // The oldest click-to-dial for this phone that has no call yet: `PJSIP/101` matches
    // `PJSIP/101-0000001b`, `Local/101@from-internal` matches `Local/101@from-internal-00000002;1`.
    for (const pending of this.#originates.values()) {
      if (pending.callId === undefined && channel.name.startsWith(`${pending.channel}-`)) {
        pending.callId = call.id;
        call.originate = { requestId: pending.requestId, target: pending.target };
        return;
      }
    }
  }

  #originateResponse(message: AmiMessage): void {
    const actionId = message.get('ActionID');
    const uniqueid = message.get('Uniqueid');
    if (actionId === undefined || uniqueid === undefined || uniqueid === UNKNOWN) {
      return;
    }
    const channel = this.#channels.get(uniqueid);
    const call = channel === undefined ? undefined : this.#calls.get(channel.callId);
    if (call === undefined || call.originate !== undefined) {
      return;
    }
    const pending = this.#originates.get(actionId);
    if (pending !== undefined) {
      pending.callId = call.id;
    }
    // A recording without the Originate itself still names the request through its ActionID.
    call.originate = {
      requestId: detached((pending?.requestId ?? actionId).slice(0, 128)),
      target: detached((pending?.target ?? message.get('Exten') ?? '').slice(0, MAX_NUMBER)),
    };
  }

  // ---- leg state and events ----

  /** @internal */
  ringing(call: Call, leg: Leg, at: number, resynced: boolean): void {
    this.#ringing(call, leg, at, resynced);
  }

  /** @internal */
  answered(call: Call, leg: Leg, at: number, resynced: boolean): void {
    this.#answered(call, leg, at, resynced);
  }

  #ringing(call: Call, leg: Leg, at: number, resynced: boolean): void {
    // NOTE: an agent who dials out from the desk phone (the originator) gets no per-leg events;
    // only call.completed reports that call.
    if (leg.ringingAt !== undefined || leg.ended || leg.originator) {
      return;
    }
    leg.ringingAt = at;
    this.#emitLeg(call, leg, 'ringing', at, { resynced });
  }

  #answered(call: Call, leg: Leg, at: number, resynced: boolean): void {
    if (leg.answeredAt !== undefined || leg.ended || leg.originator) {
      return;
    }
    if (leg.ringingAt === undefined) {
      // A phone that answered without ringing first (auto-answer) still rang for the consoles.
      this.#ringing(call, leg, leg.dialledAt ?? at, resynced);
    }
    leg.answeredAt = at;
    call.answeredAt ??= at;
    this.#emitLeg(call, leg, 'answered', at, { resynced });
  }

  #endLeg(call: Call, leg: Leg, at: number, resynced: boolean): void {
    if (leg.ended) {
      return;
    }
    leg.ended = true;
    leg.endedAt = at;
    if (leg.heldSince !== undefined) {
      leg.holdSeconds += Math.max(0, at - leg.heldSince);
      leg.heldSince = undefined;
    }
    if (call.legs.get(leg.extension) === leg) {
      call.legs.delete(leg.extension);
    }
    if (leg.ringingAt !== undefined) {
      this.#emitLeg(call, leg, 'ended', at, { resynced });
    }
  }

  #complete(call: Call, at: number, resynced: boolean): void {
    if (call.ended) {
      return;
    }
    for (const leg of [...call.legs.values()]) {
      this.#endLeg(call, leg, at, resynced);
    }
    call.ended = true;
    this.#calls.delete(call.id);
    for (const pending of this.#originates.values()) {
      if (pending.callId === call.id) {
        this.#originates.delete(pending.actionId);
      }
    }
    this.#ensureIdentity(call);
    // Channels that never reached a person (a failed Local originate, a trunk test) are no
    // call to report: a call counts when an agent rang or talked, when it was a click-to-dial,
    // or when it came in from outside.
    const counts =
      call.allLegs.some((leg) => leg.ringingAt !== undefined || leg.talkStartAt !== undefined) || call.originated || call.identity?.direction === 'inbound';
    if (counts) {
      this.#options.emit(completedEvent(this.#options.pbx, call, at, resynced));
    }
  }

  #emitLeg(call: Call, leg: Leg, kind: LegEventKind, at: number, options: { resynced?: boolean; sequence?: number; transfer?: TransferDetails } = {}): void {
    this.#ensureIdentity(call);
    this.#options.emit(legEvent(this.#options.pbx, call, leg, kind, at, options));
  }

  /** Fixes direction, caller and callee with the first event of the call. */
  #ensureIdentity(call: Call): void {
    if (call.identity !== undefined) {
      return;
    }
    const { naming, directions } = this.#options;
    const first = call.first;
    const firstExtension = extensionOf(first.party);

    if (call.originated && firstExtension !== undefined) {
      const target = call.originate?.target ?? '';
      const phone = call.allLegs.find((leg) => leg.extension === firstExtension);
      const phoneChannel = phone?.channelName === undefined ? undefined : this.#channelNamed(phone.channelName);
      const caller: PartyInfo = { number: firstExtension };
      const name = phoneChannel?.caller.name ?? first.caller.name;
      if (name !== undefined) {
        caller.name = name;
      }
      call.identity = { direction: naming.extensionPattern.test(target) ? 'internal' : 'outbound', caller, callee: { number: target } };
      return;
    }

    const inbound = contextMatches(first.context, directions.inboundContexts) || (first.party.kind === 'external' && !contextMatches(first.context, directions.internalContexts));
    if (inbound) {
      call.identity = { direction: 'inbound', caller: first.caller, callee: { number: first.exten }, ...(first.exten === '' ? {} : { did: first.exten }) };
      return;
    }
    const internal = naming.extensionPattern.test(first.exten);
    const callee: PartyInfo = { number: first.exten };
    if (internal) {
      const leg = call.allLegs.find((candidate) => candidate.extension === first.exten);
      const channel = leg?.channelName === undefined ? undefined : this.#channelNamed(leg.channelName);
      if (channel?.caller.name !== undefined) {
        callee.name = channel.caller.name;
      }
    }
    call.identity = { direction: internal ? 'internal' : 'outbound', caller: first.caller, callee };
  }

  // ---- resync support ----

  /** @internal Every known channel. */
  channels(): IterableIterator<Channel> {
    return this.#channels.values();
  }

  /** @internal */
  channelById(uniqueid: string): Channel | undefined {
    return this.#channels.get(uniqueid);
  }

  /** @internal */
  callOfChannel(channel: Channel): Call | undefined {
    return this.#calls.get(channel.callId);
  }

  /** @internal */
  legOfChannel(channel: Channel): { call: Call; leg: Leg } | undefined {
    return this.#legOf(channel);
  }

  /** @internal */
  wasHungUp(uniqueid: string): boolean {
    return this.#recentHangups.has(uniqueid);
  }

  /** @internal Marks the bridge's own sequence for resync bookkeeping. */
  nextSequence(): number {
    this.#sequence += 1;
    return this.#sequence;
  }
}

export { Cause };
