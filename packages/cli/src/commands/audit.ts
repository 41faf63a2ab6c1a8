import { parseArgs } from 'node:util';

import { loadConfig } from '@cti/config';
import { AuditEvent, isSubjectToken, type AuditEvent as AuditMessage } from '@cti/contracts';
import { hashPhoneNumber } from '@cti/logging';
import { normalizePhoneNumber } from '@cti/suitecrm';
import { DeliverPolicy } from '@nats-io/jetstream';

import { UsageError, type Command } from '../command.js';
import { connectCli } from '../config.js';
import { ErasePhoneConfig } from './erase.js';

export interface AuditFilter {
  agent?: string;
  record?: string;
  /** Keyed hashes the number may have been written as. */
  numberHashes?: ReadonlySet<string>;
  action?: string;
  service?: string;
  since?: Date;
  until?: Date;
}

/**
 * True when the event concerns the filter. An agent matches as the one who acted (a screen pop
 * they saw, a call they placed) and as the one acted on (a token minted for them). A record
 * matches as the target, or as the account of the contact a screen pop showed.
 */
export function matchesAudit(event: AuditMessage, filter: AuditFilter): boolean {
  if (filter.agent !== undefined) {
    const acted = event.actor.type === 'agent' && event.actor.id === filter.agent;
    const actedOn = event.target?.type === 'agent' && event.target.id === filter.agent;
    if (!acted && !actedOn) {
      return false;
    }
  }
  if (filter.record !== undefined && event.target?.id !== filter.record && event.details?.['accountId'] !== filter.record) {
    return false;
  }
  if (filter.numberHashes !== undefined && (event.numberHash === undefined || !filter.numberHashes.has(event.numberHash))) {
    return false;
  }
  if (filter.action !== undefined && event.action !== filter.action) {
    return false;
  }
  if (filter.service !== undefined && event.service !== filter.service) {
    return false;
  }
  const occurredAt = Date.parse(event.occurredAt);
  if (filter.since !== undefined && occurredAt < filter.since.getTime()) {
    return false;
  }
  return filter.until === undefined || occurredAt <= filter.until.getTime();
}

const RELATIVE = /^(\d+)(m|h|d)$/;
// How much later than it happened an audit event may have been stored, for the --since start.
const STORAGE_SLACK_MS = 10 * 60_000;
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Reads `2026-12-01T00:00:00Z`, `2026-12-01`, or a time back from now such as `30m`, `24h`, `7d`. */
export function parseTime(option: string, text: string, now = Date.now()): Date {
  const relative = RELATIVE.exec(text);
  if (relative !== null) {
    return new Date(now - Number(relative[1]) * UNIT_MS[relative[2] as keyof typeof UNIT_MS]);
  }
  const time = new Date(text);
  if (Number.isNaN(time.getTime()) || !/^\d{4}-\d{2}-\d{2}/.test(text)) {
    throw new UsageError(`${option} must be an ISO 8601 time such as 2026-12-01T00:00:00Z, or a span back from now such as 24h or 7d; got ${text}`);
  }
  return time;
}

/**
 * Hashes a number may appear under. Services hash the E.164 digits, but a click-to-dial request is
 * audited as the agent typed it, so the national forms are tried too.
 */
function numberHashes(raw: string, key: string, environment: Record<string, string | undefined>): Set<string> {
  const phone = loadConfig(ErasePhoneConfig, environment);
  const normalized = normalizePhoneNumber(raw, { defaultRegion: phone.phoneDefaultRegion, stripPrefixes: phone.phoneStripPrefixes });
  const forms = new Set([raw]);
  if (normalized !== undefined) {
    forms.add(normalized.e164);
    forms.add(normalized.nationalNumber);
    forms.add(`0${normalized.nationalNumber}`);
  }
  return new Set([...forms].filter((form) => /\d/.test(form)).map((form) => hashPhoneNumber(form, key)));
}

function readAuditEvent(data: Uint8Array): AuditMessage | undefined {
  try {
    return AuditEvent.parse(JSON.parse(new TextDecoder().decode(data)));
  } catch {
    return undefined;
  }
}

// Fixed widths, because events are printed as they are read; a longer value pushes its row out.
const COLUMNS = [
  ['occurredAt', 24],
  ['service', 15],
  ['action', 26],
  ['outcome', 8],
  ['actor', 32],
  ['target', 0],
] as const;

function formatRow(values: readonly string[]): string {
  return values.map((value, index) => value.padEnd(COLUMNS[index]?.[1] ?? 0)).join('  ').trimEnd();
}

function tableRow(event: AuditMessage): string {
  const actor = [event.actor.type, event.actor.id, event.actor.ip].filter((part) => part !== undefined).join(':');
  const target = event.target === undefined ? '-' : `${event.target.type}:${event.target.id}`;
  return formatRow([event.occurredAt, event.service, event.action, event.outcome, actor, target]);
}

/** Prints audit events: who accessed which caller's data, and when. */
export const audit: Command = {
  name: ['audit'],
  summary: "Print audit events of an agent, a CRM record or a caller's number, or since a time (one JSON object per line, or --table)",
  usage: 'cti audit [--agent ID] [--record ID] [--number N] [--since 7d|ISO-TIME] [--until TIME] [--action A] [--service S] [--table]',
  async run(args, io) {
    const { values } = parseArgs({
      args,
      options: {
        agent: { type: 'string' },
        record: { type: 'string' },
        number: { type: 'string' },
        since: { type: 'string' },
        until: { type: 'string' },
        action: { type: 'string' },
        service: { type: 'string' },
        table: { type: 'boolean', default: false },
      },
      strict: true,
    });
    if (values.agent === undefined && values.record === undefined && values.number === undefined && values.since === undefined) {
      throw new UsageError('give at least one of --agent, --record, --number or --since');
    }
    for (const [option, value] of [['--action', values.action], ['--service', values.service]] as const) {
      if (value !== undefined && !isSubjectToken(value)) {
        throw new UsageError(`${option} must be 1-64 characters of A-Z a-z 0-9 _ -, got ${value}`);
      }
    }
    const since = values.since === undefined ? undefined : parseTime('--since', values.since);
    const until = values.until === undefined ? undefined : parseTime('--until', values.until);

    const { bus, config } = await connectCli(io.environment);
    try {
      let hashes: Set<string> | undefined;
      if (values.number !== undefined) {
        if (config.phoneHashKey === undefined) {
          throw new UsageError('--number needs PHONE_HASH_KEY (or PHONE_HASH_KEY_FILE), the key the services hash numbers with');
        }
        hashes = numberHashes(values.number, config.phoneHashKey, io.environment);
      }
      const filter: AuditFilter = {
        ...(values.agent === undefined ? {} : { agent: values.agent }),
        ...(values.record === undefined ? {} : { record: values.record }),
        ...(hashes === undefined ? {} : { numberHashes: hashes }),
        ...(values.action === undefined ? {} : { action: values.action }),
        ...(values.service === undefined ? {} : { service: values.service }),
        ...(since === undefined ? {} : { since }),
        ...(until === undefined ? {} : { until }),
      };
      // The subject is audit.<service>.<action>, so the server skips the other actions and services.
      const subject = `audit.${values.service ?? '*'}.${values.action ?? '*'}`;
      // The server starts at the storage time, and the filter then goes by when the event
      // happened. The two differ for events a service stored late, after a NATS outage.
      const consumer = await bus.js.consumers.get('AUDIT', {
        filter_subjects: subject,
        ...(since === undefined
          ? { deliver_policy: DeliverPolicy.All }
          : { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(since.getTime() - STORAGE_SLACK_MS).toISOString() }),
      });
      if (values.table) {
        io.stdout.write(`${formatRow(COLUMNS.map(([name]) => name))}\n`);
      }
      let printed = 0;
      let skipped = 0;
      for (;;) {
        const message = await consumer.next({ expires: 1000 });
        if (message === null) {
          break;
        }
        const event = readAuditEvent(message.data);
        if (event === undefined) {
          // One entry written by another version must not hide the rest.
          skipped += 1;
        } else if (matchesAudit(event, filter)) {
          io.stdout.write(values.table ? `${tableRow(event)}\n` : `${JSON.stringify(event)}\n`);
          printed += 1;
        }
        if (message.info.pending === 0 || (until !== undefined && message.info.timestampNanos / 1e6 > until.getTime() + STORAGE_SLACK_MS)) {
          break;
        }
      }
      io.stderr.write(`${printed} audit event(s)${skipped > 0 ? `, ${skipped} unreadable skipped` : ''}\n`);
      return 0;
    } finally {
      await bus.drain();
    }
  },
};
