import type { AmiMessage } from '@cti/ami';

import { ChannelState, type Channel } from './state.js';
import type { CallTracker } from './tracker.js';

export interface ResyncReport {
  /** Channels the model had that the PBX no longer lists. */
  vanishedChannels: number;
  /** Calls ended because every one of their channels vanished. */
  endedCalls: number;
  /** Channels listed that the model did not know. */
  discoveredChannels: number;
}

// `Duration: 00:01:05` of a CoreShowChannel item, in milliseconds.
function durationMs(value: string | undefined): number {
  const match = /^(\d+):(\d{2}):(\d{2})$/.exec(value ?? '');
  if (match === null) {
    return 0;
  }
  return ((Number(match[1]) * 60 + Number(match[2])) * 60 + Number(match[3])) * 1000;
}

// Channels Asterisk created to reach a phone run one of these applications.
// NOTE: the first leg of a click-to-dial already up at resync runs Dial, not AppDial, so it is
// taken for a phone dialling out and gets no per-leg events.
function isDialled(item: AmiMessage): boolean {
  const application = item.get('Application') ?? '';
  return application === 'AppDial' || application === 'AppQueue' || application === 'AppDial2';
}

/**
 * Brings the model in line with the channels the PBX lists after a (re)connect.
 *
 * A channel the model knew before the list was requested (`startedSequence`) and that is not
 * listed hung up while the bridge was away: it is removed, and its leg and call end, once, with
 * `resynced: true`. A listed channel the model did not know is added, and its leg reported as
 * ringing or answered (also `resynced`). Channels with events after `startedSequence` are
 * current already and left alone.
 */
export function resyncChannels(tracker: CallTracker, items: readonly AmiMessage[], startedSequence: number, at: number): ResyncReport {
  const report: ResyncReport = { vanishedChannels: 0, endedCalls: 0, discoveredChannels: 0 };
  const listed = new Map<string, AmiMessage>();
  for (const item of items) {
    const uniqueid = item.get('Uniqueid');
    if (item.event === 'CoreShowChannel' && uniqueid !== undefined) {
      listed.set(uniqueid, item);
    }
  }

  const vanished = [...tracker.channels()].filter((channel) => channel.lastSeq <= startedSequence && !listed.has(channel.uniqueid));
  const callsBefore = tracker.activeCalls;
  for (const channel of vanished) {
    tracker.removeChannel(channel, at, { cause: 0 }, true);
  }
  report.vanishedChannels = vanished.length;
  report.endedCalls = callsBefore - tracker.activeCalls;

  const touched: { channel: Channel; item: AmiMessage }[] = [];
  for (const [uniqueid, item] of listed) {
    const known = tracker.channelById(uniqueid);
    if (known !== undefined) {
      if (known.lastSeq <= startedSequence) {
        known.state = Number(item.get('ChannelState') ?? known.state);
        touched.push({ channel: known, item });
      }
      continue;
    }
    if (tracker.wasHungUp(uniqueid)) {
      continue;
    }
    const channel = tracker.addChannel(item, at - durationMs(item.get('Duration')));
    if (channel === undefined) {
      continue;
    }
    report.discoveredChannels += 1;
    if (isDialled(item)) {
      channel.dialled = true;
      channel.dialledAt = channel.createdAt;
      const found = tracker.legOfChannel(channel);
      if (found !== undefined) {
        found.leg.originator = false;
        found.leg.dialledAt ??= channel.createdAt;
      }
    }
    touched.push({ channel, item });
  }

  for (const { channel, item } of touched) {
    const bridge = item.get('BridgeId');
    if (bridge !== undefined && bridge !== '' && !channel.bridges.has(bridge) && channel.state === ChannelState.UP) {
      tracker.enterBridge(channel, bridge, at);
    }
  }
  // Legs whose state moved on while the bridge was away.
  for (const { channel } of touched) {
    const found = tracker.legOfChannel(channel);
    if (found === undefined) {
      continue;
    }
    if (channel.state === ChannelState.RINGING) {
      tracker.ringing(found.call, found.leg, at, true);
    } else if (channel.state === ChannelState.UP && (channel.dialled || found.leg.dialledAt !== undefined)) {
      tracker.answered(found.call, found.leg, at, true);
      for (const bridge of channel.bridges) {
        tracker.enterBridge(channel, bridge, at);
      }
    }
  }
  return report;
}
