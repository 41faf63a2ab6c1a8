import { parseArgs } from 'node:util';

import { AuditEvent, type AuditEvent as AuditMessage } from '@cti/contracts';
import { DeliverPolicy } from '@nats-io/jetstream';

import { UsageError, type Command } from '../command.js';
import { connectCliBus } from '../config.js';

function matches(event: AuditMessage, filter: { agent?: string; record?: string; action?: string }): boolean {
  if (filter.agent !== undefined && !(event.actor.type === 'agent' && event.actor.id === filter.agent)) {
    return false;
  }
  if (filter.record !== undefined && event.target?.id !== filter.record) {
    return false;
  }
  return filter.action === undefined || event.action === filter.action;
}

/** Prints audit events: who accessed which caller's data, and when. */
export const audit: Command = {
  name: ['audit'],
  summary: 'Print audit events of one agent, one CRM record, or since a time (one JSON object per line)',
  usage: 'cti audit [--agent AGENT_ID] [--record RECORD_ID] [--since 2026-12-01T00:00:00Z] [--action screen_pop_sent]',
  async run(args, io) {
    const { values } = parseArgs({
      args,
      options: { agent: { type: 'string' }, record: { type: 'string' }, since: { type: 'string' }, action: { type: 'string' } },
      strict: true,
    });
    if (values.agent === undefined && values.record === undefined && values.since === undefined) {
      throw new UsageError('give at least one of --agent, --record or --since');
    }
    const since = values.since === undefined ? undefined : new Date(values.since);
    if (since !== undefined && Number.isNaN(since.getTime())) {
      throw new UsageError(`--since must be an ISO 8601 time such as 2026-12-01T00:00:00Z, got ${values.since}`);
    }

    const bus = await connectCliBus(io.environment);
    try {
      const consumer = await bus.js.consumers.get(
        'AUDIT',
        since === undefined
          ? { deliver_policy: DeliverPolicy.All }
          : { deliver_policy: DeliverPolicy.StartTime, opt_start_time: since.toISOString() },
      );
      let printed = 0;
      for (;;) {
        const message = await consumer.next({ expires: 1000 });
        if (message === null) {
          break;
        }
        const event = AuditEvent.parse(message.json());
        if (matches(event, values)) {
          io.stdout.write(`${JSON.stringify(event)}\n`);
          printed += 1;
        }
        if (message.info.pending === 0) {
          break;
        }
      }
      io.stderr.write(`${printed} audit event(s)\n`);
      return 0;
    } finally {
      await bus.drain();
    }
  },
};
