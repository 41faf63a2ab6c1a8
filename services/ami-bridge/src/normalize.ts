import { AmiFramer, type AmiMessage } from '@cti/ami';
import type { CallEvent } from '@cti/contracts';
import { CtiError, defineErrorCodes } from '@cti/errors';

import type { ChannelNaming } from './model/channel-name.js';
import { FREEPBX_DIRECTION_RULES, type DirectionRules } from './model/directions.js';
import { CallTracker } from './model/tracker.js';

export const NormalizeErrorCode = defineErrorCodes('NORMALIZE', {
  RECORDING_INVALID: 'CTI_ERR_NORMALIZE_RECORDING_INVALID',
});

/** The call model settings, as the bridge's config provides them. */
export interface CallModelSettings {
  pbx: string;
  extensionPattern: string;
  agentLocalContexts: readonly string[];
  inboundContexts: readonly string[];
  internalContexts: readonly string[];
  useTimestampHeader: boolean;
}

export const DEFAULT_CALL_MODEL: CallModelSettings = {
  pbx: 'pbx1',
  extensionPattern: '^[0-9]{2,6}$',
  agentLocalContexts: ['from-queue', 'from-queue-exten-only', 'from-internal', 'ext-local'],
  inboundContexts: FREEPBX_DIRECTION_RULES.inboundContexts,
  internalContexts: FREEPBX_DIRECTION_RULES.internalContexts,
  useTimestampHeader: true,
};

export function namingOf(settings: Pick<CallModelSettings, 'extensionPattern' | 'agentLocalContexts'>): ChannelNaming {
  return { extensionPattern: new RegExp(settings.extensionPattern), agentLocalContexts: settings.agentLocalContexts };
}

export function directionsOf(settings: Pick<CallModelSettings, 'inboundContexts' | 'internalContexts'>): DirectionRules {
  return { inboundContexts: settings.inboundContexts, internalContexts: settings.internalContexts };
}

export function createTracker(settings: CallModelSettings, emit: (event: CallEvent) => void): CallTracker {
  return new CallTracker({
    pbx: settings.pbx,
    naming: namingOf(settings),
    directions: directionsOf(settings),
    useTimestampHeader: settings.useTimestampHeader,
    emit,
  });
}

/** One line of `cti normalize`: what an operator checks first about each event. */
export interface NormalizedLine {
  type: CallEvent['type'];
  callId: string;
  direction: CallEvent['direction'];
  caller: CallEvent['caller'];
  extension?: string;
  disposition?: string;
  talkSeconds?: number;
  hangupBy?: string;
}

export function summarize(event: CallEvent): NormalizedLine {
  const line: NormalizedLine = { type: event.type, callId: event.callId, direction: event.direction, caller: event.caller };
  if (event.extension !== undefined) {
    line.extension = event.extension;
  }
  if (event.type === 'call.ended' || event.type === 'call.completed') {
    line.disposition = event.disposition;
    line.talkSeconds = event.talkSeconds;
    line.hangupBy = event.hangupBy;
  }
  return line;
}

/** Tells the model about an Originate the recorder sent, as the bridge does for its own. */
export function noteAction(tracker: CallTracker, action: AmiMessage, at: number): void {
  if ((action.getIgnoreCase('Action') ?? '').toLowerCase() !== 'originate') {
    return;
  }
  const actionId = action.getIgnoreCase('ActionID');
  const channel = action.getIgnoreCase('Channel');
  if (actionId === undefined || channel === undefined) {
    return;
  }
  // The click-to-dial request id travels as the CTI_REQUEST channel variable.
  const variable = action.getAll('Variable').find((value) => value.startsWith('CTI_REQUEST='));
  tracker.noteOriginate({
    actionId,
    requestId: variable === undefined ? actionId : variable.slice('CTI_REQUEST='.length),
    channel,
    target: action.getIgnoreCase('Exten') ?? '',
    at,
  });
}

/** Runs raw AMI bytes (an `.ami` capture read at once) through the model. */
export function normalizeAmi(bytes: Buffer, settings: CallModelSettings, receivedAt: number = Date.now()): CallEvent[] {
  const events: CallEvent[] = [];
  const tracker = createTracker(settings, (event) => events.push(event));
  const framer = new AmiFramer({ onMessage: (message) => tracker.handle(message) });
  framer.push(bytes, receivedAt);
  framer.end(receivedAt);
  return events;
}

interface RecordingLine {
  t_ms: number;
  dir: 'in' | 'out';
  data: string;
  eof?: boolean;
}

/**
 * Runs a `.jsonl` recording through the model: what Asterisk sent, at its recorded `t_ms`, and
 * the recorder's Originate actions, so durations and click-to-dial request ids match the
 * recording. Times count from the Unix epoch plus `t_ms`.
 */
export function normalizeRecording(text: string, settings: CallModelSettings): CallEvent[] {
  const events: CallEvent[] = [];
  const tracker = createTracker({ ...settings, useTimestampHeader: false }, (event) => events.push(event));
  const incoming = new AmiFramer({ onMessage: (message) => tracker.handle(message) });
  let actionTime = 0;
  const outgoing = new AmiFramer({ banner: false, onMessage: (message) => noteAction(tracker, message, actionTime) });
  let last = 0;
  for (const [index, raw] of text.split('\n').entries()) {
    if (raw.trim() === '') {
      continue;
    }
    let line: RecordingLine;
    try {
      line = JSON.parse(raw) as RecordingLine;
    } catch (error) {
      throw new CtiError(NormalizeErrorCode.RECORDING_INVALID, `line ${index + 1} of the recording is not valid JSON`, { cause: error });
    }
    if (typeof line.t_ms !== 'number' || typeof line.data !== 'string' || (line.dir !== 'in' && line.dir !== 'out')) {
      throw new CtiError(NormalizeErrorCode.RECORDING_INVALID, `line ${index + 1} of the recording needs t_ms, dir (in or out) and data`);
    }
    last = line.t_ms;
    if (line.dir === 'out') {
      actionTime = line.t_ms;
      outgoing.push(Buffer.from(line.data, 'utf8'), line.t_ms);
    } else if (line.eof !== true) {
      incoming.push(Buffer.from(line.data, 'utf8'), line.t_ms);
    }
  }
  incoming.end(last);
  return events;
}
