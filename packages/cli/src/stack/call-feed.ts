import type { Writable } from 'node:stream';

import { maskPhoneNumber } from '@cti/logging';
import type { NatsConnection, Subscription } from '@nats-io/nats-core';

import { terminalSafe } from './terminal.js';

interface CallEventSummary {
  type?: string;
  callId?: string;
  extension?: string;
  direction?: string;
  caller?: { number?: string; name?: string };
  callee?: { number?: string; name?: string };
  disposition?: string;
  talkSeconds?: number;
}

/**
 * Prints one short line per call event, so a newcomer sees calls flow without reading JSON logs.
 * Numbers are masked as in the logs.
 */
export function followCalls(connection: NatsConnection, output: Writable): Subscription {
  return connection.subscribe('call.>', {
    callback: (error, message) => {
      if (error !== null) {
        return;
      }
      let event: CallEventSummary;
      try {
        event = message.json<CallEventSummary>();
      } catch {
        return;
      }
      // An outbound call is about the number dialled, an inbound or internal one about the caller.
      const party = event.direction === 'outbound' ? event.callee : event.caller;
      const word = event.direction === 'outbound' ? 'to' : 'from';
      const caller = party?.number === undefined || party.number === '' ? '' : ` ${word} ${maskPhoneNumber(party.number)}${party.name === undefined ? '' : ` "${party.name}"`}`;
      const outcome = event.disposition === undefined ? '' : ` ${event.disposition}, talk ${String(event.talkSeconds ?? 0)} s`;
      const extension = event.extension === undefined ? '' : ` ext ${event.extension}`;
      const line = `[calls] ${event.type ?? message.subject}${extension} ${event.direction ?? ''}${caller}${outcome} (call ${event.callId ?? '?'})`;
      output.write(`${terminalSafe(line)}\n`);
    },
  });
}
