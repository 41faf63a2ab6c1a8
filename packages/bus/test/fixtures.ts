import type { CallCompleted } from '@cti/contracts';

/** A valid call.completed message, as ami-bridge would publish it for the recorded inbound call. */
export function completedCall(id: string, overrides: Partial<CallCompleted> = {}): CallCompleted {
  return {
    v: 1,
    id,
    type: 'call.completed',
    callId: '1796412664.10',
    pbx: 'pbx1',
    direction: 'inbound',
    caller: { number: '+15550100001', name: 'Alice Example' },
    callee: { number: '15550100100' },
    occurredAt: '2026-12-04T10:00:05.000Z',
    startedAt: '2026-12-04T10:00:00.000Z',
    endedAt: '2026-12-04T10:00:05.000Z',
    disposition: 'answered',
    ringSeconds: 2,
    talkSeconds: 3,
    hangupBy: 'caller',
    hangupCause: 16,
    extension: '101',
    agents: [{ extension: '101', disposition: 'answered', ringSeconds: 2, talkSeconds: 3 }],
    ...overrides,
  };
}
