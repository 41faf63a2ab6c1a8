import { parseArgs } from 'node:util';

import { defineConfig, loadConfig } from '@cti/config';
import { CrmEraseReply, CrmEraseRequest } from '@cti/contracts';
import { phoneFields, requirePhoneNumber } from '@cti/suitecrm';

import { UsageError, type Command } from '../command.js';
import { cliAuditor, connectCli, operatorOf } from '../config.js';
import { eraseNumber } from '../erase/erase.js';
import { NumberMatcher } from '../erase/number-matcher.js';

/** Phone settings `cti erase` reads: the same variables as crm-sync, so numbers normalise alike. */
export const ErasePhoneConfig = defineConfig('cti erase', phoneFields, []);

// Every crm-sync replica replies to the erase request; the CLI waits this long for the replies.
const REPLICA_WAIT_MS = 3000;

export const erase: Command = {
  name: ['erase'],
  summary:
    "Erase a phone number: its messages in every stream, its calls and AI conversations, its phone index and call log entries, its AI audio, and crm-sync's caches; prints what went and audits it",
  usage: 'cti erase --number NUMBER [--dry-run]',
  async run(args, io) {
    const { values } = parseArgs({ args, options: { number: { type: 'string' }, 'dry-run': { type: 'boolean', default: false } }, strict: true });
    if (values.number === undefined || values.number.trim() === '') {
      throw new UsageError('--number is missing: give the phone number to erase (quote it when it contains spaces)');
    }
    // Checked before connecting: a typo must not start a scan of every stream. An unknown
    // region or a text that is no phone number fails here with its own error.
    const phoneConfig = loadConfig(ErasePhoneConfig, io.environment);
    const phone = { defaultRegion: phoneConfig.phoneDefaultRegion, stripPrefixes: phoneConfig.phoneStripPrefixes };
    const target = requirePhoneNumber(values.number, phone);
    const dryRun = values['dry-run'];

    const { bus, config } = await connectCli(io.environment);
    if (config.phoneHashKey === undefined) {
      await bus.drain();
      throw new UsageError('PHONE_HASH_KEY (or PHONE_HASH_KEY_FILE) is missing: the erasure is audited with the keyed hash of the number, the same key the services use');
    }
    const auditor = cliAuditor(bus, config, io.environment);
    const operator = operatorOf(config, io.environment);
    const numberHash = auditor.hashNumber(target.e164);
    try {
      const report = await eraseNumber({ js: bus.js, jsm: bus.jsm, matcher: new NumberMatcher(target, phone), dryRun });
      const replicas = dryRun
        ? []
        : await bus.requestAll(CrmEraseRequest, CrmEraseReply, { v: 1, number: target.e164, requestedBy: operator }, REPLICA_WAIT_MS);

      const write = (line: Record<string, unknown>) => io.stdout.write(`${JSON.stringify(line)}\n`);
      for (const stream of report.streams) {
        write({ ...stream, dryRun });
      }
      for (const bucket of report.buckets) {
        write({ ...bucket, dryRun });
      }
      write({ objectStore: report.objects.bucket, removed: report.objects.removed, names: report.objects.names, dryRun });
      write({ calls: report.calls, conversations: report.conversations });
      for (const replica of replicas) {
        write({ crmSync: replica.instance, cacheEntries: replica.cacheEntries, indexRecords: replica.indexRecords });
      }

      const messages = report.streams.reduce((total, stream) => total + stream.removed, 0);
      const entries = report.buckets.reduce((total, bucket) => total + bucket.removed, 0);
      const stillIndexed = replicas.filter((replica) => replica.indexRecords > 0);
      await auditor.record({
        action: dryRun ? 'data_erase_previewed' : 'data_erased',
        outcome: stillIndexed.length > 0 ? 'failure' : 'success',
        actor: { type: 'operator', id: operator },
        target: { type: 'phone_number', id: numberHash },
        number: target.e164,
        ...(stillIndexed.length > 0 ? { reason: 'a crm-sync replica still indexes the number: SuiteCRM still holds it' } : {}),
        details: {
          messages,
          bucketEntries: entries,
          objects: report.objects.removed,
          calls: report.calls.length,
          conversations: report.conversations.length,
          crmSyncReplicas: replicas.length,
        },
      });

      const verb = dryRun ? 'would remove' : 'removed';
      io.stderr.write(`${numberHash}: ${verb} ${messages} message(s), ${entries} bucket entr${entries === 1 ? 'y' : 'ies'} and ${report.objects.removed} audio object(s)\n`);
      if (!dryRun && replicas.length === 0) {
        io.stderr.write(
          'no crm-sync replica answered: if one runs cut off from NATS, it keeps a cached lookup of this number for up to CRM_LOOKUP_CACHE_TTL_SECONDS\n',
        );
      }
      for (const replica of stillIndexed) {
        io.stderr.write(`crm-sync ${replica.instance} still links the number to ${replica.indexRecords} CRM record(s): erase it in SuiteCRM first, then run cti erase again\n`);
      }
      return stillIndexed.length > 0 ? 1 : 0;
    } finally {
      await bus.drain();
    }
  },
};
