import { parseArgs } from 'node:util';

import { deadLetterPayload, listDeadLetters, replayDeadLetter } from '@cti/bus';

import { UsageError, type Command } from '../command.js';
import { cliAuditor, connectCli, connectCliBus, operatorOf } from '../config.js';

function filterOptions(args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      stream: { type: 'string' },
      consumer: { type: 'string' },
      sequence: { type: 'string' },
      limit: { type: 'string' },
      show: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    throw new UsageError(`--limit must be a positive whole number, got ${values.limit}`);
  }
  return { ...values, limit };
}

export const dlqList: Command = {
  name: ['dlq', 'list'],
  summary: 'List dead letters: messages a consumer gave up on, with the error and delivery count',
  usage: 'cti dlq list [--stream CALLS] [--consumer crm-sync-calls] [--limit N] [--show]',
  async run(args, io) {
    const options = filterOptions(args);
    const bus = await connectCliBus(io.environment);
    try {
      const letters = await listDeadLetters(bus.jsm, {
        onUnreadable: (sequence, error) =>
          io.stderr.write(`skipped DLQ entry ${sequence}: not a valid dead letter (${error instanceof Error ? error.message : String(error)})\n`),
        ...(options.stream === undefined ? {} : { stream: options.stream }),
        ...(options.consumer === undefined ? {} : { consumer: options.consumer }),
        ...(options.limit === undefined ? {} : { limit: options.limit }),
      });
      for (const { sequence, entry } of letters) {
        const line = {
          sequence,
          stream: entry.stream,
          consumer: entry.consumer,
          subject: entry.subject,
          streamSequence: entry.streamSequence,
          deliveries: entry.deliveries,
          error: entry.error,
          failedAt: entry.failedAt,
          ...(options.show ? { payload: deadLetterPayload(entry) } : {}),
        };
        io.stdout.write(`${JSON.stringify(line)}\n`);
      }
      io.stderr.write(`${letters.length} dead letter(s)\n`);
      return 0;
    } finally {
      await bus.drain();
    }
  },
};

export const dlqReplay: Command = {
  name: ['dlq', 'replay'],
  summary: 'Send dead letters back to the consumer that gave up on them; repeating a replay sends nothing twice',
  usage: 'cti dlq replay [--sequence N] [--stream CALLS] [--consumer crm-sync-calls] [--limit N]',
  async run(args, io) {
    const options = filterOptions(args);
    const { bus, config } = await connectCli(io.environment);
    const auditor = cliAuditor(bus, config, io.environment);
    const operator = operatorOf(config, io.environment);
    try {
      let letters = await listDeadLetters(bus.jsm, {
        ...(options.stream === undefined ? {} : { stream: options.stream }),
        ...(options.consumer === undefined ? {} : { consumer: options.consumer }),
        ...(options.limit === undefined ? {} : { limit: options.limit }),
      });
      if (options.sequence !== undefined) {
        letters = letters.filter((letter) => String(letter.sequence) === options.sequence);
        if (letters.length === 0) {
          io.stderr.write(`no dead letter with sequence ${options.sequence}\n`);
          return 1;
        }
      }
      for (const letter of letters) {
        const audit = {
          action: 'dlq_replayed',
          actor: { type: 'operator' as const, id: operator },
          target: { type: 'dead_letter', id: `DLQ:${letter.sequence}` },
          details: {
            stream: letter.entry.stream,
            consumer: letter.entry.consumer,
            streamSequence: letter.entry.streamSequence,
            deliveries: letter.entry.deliveries,
            ...(letter.entry.error.code === undefined ? {} : { error: letter.entry.error.code }),
          },
        };
        let result;
        try {
          // The dead letter is removed only once its audit event is stored: without the audit
          // trail the replay stops, and running it again completes it.
          result = await replayDeadLetter(bus.js, bus.jsm, letter, {
            beforeRemove: (replayed) => auditor.record({ ...audit, outcome: 'success', details: { ...audit.details, duplicate: replayed.duplicate } }),
          });
        } catch (error) {
          // The replay's own error is what the operator needs; a failure to audit it is secondary.
          await auditor
            .record({ ...audit, outcome: 'failure', reason: error instanceof Error ? error.message.slice(0, 256) : 'replay failed' })
            .catch(() => undefined);
          throw error;
        }
        io.stdout.write(`${JSON.stringify({ replayed: result.sequence, subject: result.subject, consumer: result.consumer, duplicate: result.duplicate })}\n`);
      }
      io.stderr.write(`${letters.length} dead letter(s) replayed\n`);
      return 0;
    } finally {
      await bus.drain();
    }
  },
};
