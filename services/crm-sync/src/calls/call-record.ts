import type { CallCompleted, Disposition } from '@cti/contracts';
import { cleanTextForSuiteCrm, toSuiteCrmDateTime, truncateChars, type NormalizedNumber, type RankedMatch } from '@cti/suitecrm';
import { parsePhoneNumberFromString } from 'libphonenumber-js';

/** Calls.name is a varchar(50); SuiteCRM cuts longer names silently. */
export const CALL_NAME_MAX_CHARS = 50;

/** Dispositions of a whole call that mean nobody talked to the caller. */
export const NOT_HELD: ReadonlySet<Disposition> = new Set(['missed', 'abandoned', 'busy', 'voicemail', 'failed']);

/** Dispositions after which the agents who were rung get a missed-call notification. */
export const MISSED: ReadonlySet<Disposition> = new Set(['missed', 'abandoned', 'busy', 'voicemail']);

const DISPOSITION_TEXT: Record<Disposition, string> = {
  answered: 'answered',
  answered_elsewhere: 'answered elsewhere',
  missed: 'missed',
  busy: 'busy',
  abandoned: 'abandoned by the caller',
  voicemail: 'sent to voicemail',
  failed: 'failed',
};

/** Formats a number as people read it (`+1 555 010 0001`), or returns it as received when it does not parse. */
export function displayNumber(raw: string, normalized: NormalizedNumber | undefined): string {
  if (normalized === undefined) {
    return raw.trim() === '' ? 'unknown number' : raw.trim();
  }
  return parsePhoneNumberFromString(normalized.e164)?.formatInternational() ?? normalized.e164;
}

export function formatSeconds(total: number): string {
  const seconds = Math.round(total);
  const minutes = Math.floor(seconds / 60);
  return minutes === 0 ? `${seconds} s` : `${minutes} min ${seconds % 60} s`;
}

/** SuiteCRM keeps a call's duration in whole minutes; a call of a few seconds counts as one. */
export function durationFields(seconds: number): { duration_hours: number; duration_minutes: number } {
  const minutes = seconds > 0 ? Math.ceil(seconds / 60) : 0;
  return { duration_hours: Math.floor(minutes / 60), duration_minutes: minutes % 60 };
}

/** `Calls.name`, within SuiteCRM's 50 characters: what happened and with whom. */
export function callName(event: CallCompleted, who: string): string {
  let verb = 'Inbound call from';
  if (NOT_HELD.has(event.disposition) && event.direction === 'inbound') {
    verb = 'Missed call from';
  } else if (event.direction === 'outbound') {
    verb = 'Outbound call to';
  } else if (event.direction === 'internal') {
    verb = 'Internal call with';
  }
  return truncateChars(`${verb} ${who}`, CALL_NAME_MAX_CHARS);
}

/** Builds the readable summary of a call that goes into `description`. */
export function callDescription(event: CallCompleted, external: string): string {
  const lines: string[] = [];
  const agent = (extension: string) => `extension ${extension}`;
  lines.push(`${event.direction === 'outbound' ? 'Outbound' : event.direction === 'internal' ? 'Internal' : 'Inbound'} call, ${DISPOSITION_TEXT[event.disposition]}.`);
  lines.push(`${event.direction === 'outbound' ? 'Called number' : 'Caller'}: ${external}`);
  if (event.did !== undefined && event.did !== '') {
    lines.push(`Dialled number: ${event.did}`);
  }
  if (event.queue !== undefined) {
    const wait = event.queue.holdSeconds === undefined ? '' : `, waited ${formatSeconds(event.queue.holdSeconds)}`;
    lines.push(`Queue: ${event.queue.name}${wait}`);
  }
  if (event.extension !== undefined) {
    lines.push(`Agent: ${agent(event.extension)}`);
  }
  for (const leg of event.agents) {
    const talked = leg.talkSeconds > 0 ? `, talked ${formatSeconds(leg.talkSeconds)}` : '';
    lines.push(`Rang ${agent(leg.extension)}: ${DISPOSITION_TEXT[leg.disposition]}, rang ${formatSeconds(leg.ringSeconds)}${talked}`);
  }
  lines.push(`Ring time: ${formatSeconds(event.ringSeconds)}`);
  lines.push(`Talk time: ${formatSeconds(event.talkSeconds)}`);
  if (event.holdSeconds !== undefined && event.holdSeconds > 0) {
    lines.push(`Hold time: ${formatSeconds(event.holdSeconds)}`);
  }
  const cause = event.hangupCauseText === undefined ? `cause ${event.hangupCause}` : `cause ${event.hangupCause}, ${event.hangupCauseText}`;
  lines.push(`Hung up by: ${event.hangupBy} (${cause})`);
  lines.push(`Started: ${toSuiteCrmDateTime(event.startedAt)} UTC, ended: ${toSuiteCrmDateTime(event.endedAt)} UTC`);
  lines.push(`PBX call: ${event.pbx}/${event.callId}`);
  return cleanTextForSuiteCrm(lines.join('\n'));
}

/** Attributes of the Calls record of a completed PBX call. */
export function callAttributes(options: {
  event: CallCompleted;
  external: string;
  best: RankedMatch | undefined;
  assignedUserId: string | undefined;
}): Record<string, unknown> {
  const { event, best } = options;
  const held = !NOT_HELD.has(event.disposition);
  const who = best?.record.name ?? options.external;
  return {
    name: cleanTextForSuiteCrm(callName(event, who)),
    direction: event.direction === 'outbound' ? 'Outbound' : 'Inbound',
    status: held ? 'Held' : 'Not Held',
    // The only format SuiteCRM stores; ISO 8601 returns 201 and stores NULL.
    date_start: toSuiteCrmDateTime(event.startedAt),
    ...durationFields(held ? event.talkSeconds : 0),
    description: callDescription(event, options.external),
    ...(best === undefined ? {} : { parent_type: best.record.module, parent_id: best.record.id }),
    ...(options.assignedUserId === undefined ? {} : { assigned_user_id: options.assignedUserId }),
  };
}
