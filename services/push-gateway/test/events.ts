import type {
  CallAnswered,
  CallEnded,
  CallerIdentified,
  CallHeld,
  CallMissed,
  CallResumed,
  CallRinging,
  CallSummary,
  CallTransferred,
  OriginateResult,
} from '@cti/contracts';

/**
 * Contract events shaped like ami-bridge and crm-sync publish them for the recorded call in
 * testdata/ami/inbound-answered: Alice Example (+15550100001) calls DID 15550100100, which rings
 * extension 101 (Anna Lee); the CRM knows her as a contact of Example Corp.
 */

export const PBX = 'pbx1';
export const CALLER = { number: '+15550100001', name: 'Alice Example' };
export const DID = '15550100100';

export interface LegOptions {
  callId: string;
  extension: string;
  at?: Date;
}

let counter = 0;

/** Message id; unique per event built, so JetStream never drops one as a duplicate. */
function nextId(callId: string, type: string, extension: string): string {
  counter += 1;
  return `${callId}:${type}:${extension}:${counter}`;
}

function legBase(options: LegOptions, type: string) {
  const at = options.at ?? new Date();
  return {
    v: 1 as const,
    id: nextId(options.callId, type, options.extension),
    callId: options.callId,
    pbx: PBX,
    direction: 'inbound' as const,
    caller: CALLER,
    callee: { number: options.extension, name: options.extension === '101' ? 'Anna Lee' : 'Ben Ortiz' },
    occurredAt: at.toISOString(),
    did: DID,
    queue: { name: '400' },
    extension: options.extension,
    channel: `PJSIP/${options.extension}-0000000b`,
  };
}

export const ringing = (options: LegOptions): CallRinging => ({ ...legBase(options, 'ringing'), type: 'call.ringing' });
export const answered = (options: LegOptions): CallAnswered => ({ ...legBase(options, 'answered'), type: 'call.answered', ringSeconds: 2 });
export const held = (options: LegOptions): CallHeld => ({ ...legBase(options, 'held'), type: 'call.held' });
export const resumed = (options: LegOptions): CallResumed => ({ ...legBase(options, 'resumed'), type: 'call.resumed' });
export const transferred = (options: LegOptions): CallTransferred => ({
  ...legBase(options, 'transferred'),
  type: 'call.transferred',
  transferType: 'blind',
  target: { extension: '103' },
});
export const ended = (options: LegOptions): CallEnded => ({
  ...legBase(options, 'ended'),
  type: 'call.ended',
  disposition: 'answered',
  ringSeconds: 2,
  talkSeconds: 3,
  hangupBy: 'caller',
  hangupCause: 16,
  hangupCauseText: 'Normal Clearing',
});
export const missed = (options: LegOptions): CallMissed => ({
  ...legBase(options, 'missed'),
  type: 'call.missed',
  disposition: 'missed',
});

export const identified = (options: LegOptions): CallerIdentified => ({
  v: 1,
  id: nextId(options.callId, 'identified', options.extension),
  type: 'crm.caller.identified',
  callId: options.callId,
  pbx: PBX,
  extension: options.extension,
  number: CALLER.number,
  matches: [
    {
      module: 'Contacts',
      id: '6f1c2a4e-1b2d-4c3e-9f00-aa11bb22cc33',
      name: 'Alice Example',
      field: 'phone_work',
      accountId: '0d9e8f7a-6b5c-4d3e-8f21-112233445566',
      accountName: 'Example Corp',
      url: 'http://127.0.0.1:8081/index.php?module=Contacts&action=DetailView&record=6f1c2a4e-1b2d-4c3e-9f00-aa11bb22cc33',
    },
  ],
  source: 'index',
  lookupMs: 3,
  occurredAt: (options.at ?? new Date()).toISOString(),
});

export const summary = (options: LegOptions & { text?: string }): CallSummary => ({
  v: 1,
  id: nextId(options.callId, 'summary', options.extension),
  type: 'crm.call.summary',
  callId: options.callId,
  pbx: PBX,
  extension: options.extension,
  conversationId: `conv_${options.callId.replace('.', '_')}`,
  title: 'Delivery question',
  summary: options.text ?? 'Alice asked when her order ships; the AI agent confirmed Friday.',
  successful: 'success',
  recordId: 'a1b2c3d4-0000-4000-8000-000000000001',
  occurredAt: (options.at ?? new Date()).toISOString(),
});

export const originateResult = (options: LegOptions & { requestId: string }): OriginateResult => ({
  v: 1,
  id: nextId(options.requestId, 'result', options.extension),
  type: 'pbx.originate.result',
  requestId: options.requestId,
  pbx: PBX,
  extension: options.extension,
  status: 'answered',
  callId: options.callId,
  occurredAt: (options.at ?? new Date()).toISOString(),
});
