import type { Auditor } from '@cti/runtime';

import type { OutboundFrame } from './frames.js';

/**
 * Writes an audit event each time CRM data reaches an agent's screen: which agent saw which CRM
 * record, for which caller (as a keyed hash). Frames without CRM data are not audited.
 */
export function auditDisclosure(auditor: Pick<Auditor, 'recordLater'>, agentId: string, frame: OutboundFrame): void {
  const event = frame.event;
  switch (event.type) {
    case 'crm.caller.identified': {
      const best = event.matches[0];
      if (best === undefined) {
        return;
      }
      auditor.recordLater({
        action: 'screen_pop_sent',
        outcome: 'success',
        actor: { type: 'agent', id: agentId },
        target: { type: best.module, id: best.id },
        ...(event.number === '' ? {} : { number: event.number }),
        details: {
          callId: event.callId,
          extension: event.extension,
          matches: event.matches.length,
          ...(best.accountId === undefined ? {} : { accountId: best.accountId }),
          stream: frame.stream,
          seq: frame.seq,
        },
      });
      return;
    }
    case 'crm.call.summary':
      auditor.recordLater({
        action: 'call_summary_sent',
        outcome: 'success',
        actor: { type: 'agent', id: agentId },
        target: event.recordId === undefined ? { type: 'call', id: event.callId } : { type: 'Calls', id: event.recordId },
        details: { callId: event.callId, extension: event.extension, conversationId: event.conversationId, stream: frame.stream, seq: frame.seq },
      });
      return;
    default:
      return;
  }
}
