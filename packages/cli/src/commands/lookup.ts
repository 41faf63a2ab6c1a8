import { parseArgs } from 'node:util';

import { defineConfig, loadConfig } from '@cti/config';
import { clientOptionsFrom, liveLookup, phoneFields, requirePhoneNumber, suitecrmFields, suitecrmRules, SuiteCrmClient } from '@cti/suitecrm';

import { UsageError, type Command } from '../command.js';

/** Settings `cti lookup` reads from the environment: the same variables as crm-sync. */
export const LookupConfig = defineConfig('cti lookup', { ...suitecrmFields, ...phoneFields }, [suitecrmRules]);

export const lookup: Command = {
  name: ['lookup'],
  summary: 'Look a phone number up in SuiteCRM (Contacts, Accounts, Leads), normalised and re-checked like crm-sync',
  usage: 'cti lookup NUMBER [--json]',
  async run(args, io) {
    const { values, positionals } = parseArgs({ args, options: { json: { type: 'boolean', default: false } }, allowPositionals: true, strict: true });
    if (positionals.length !== 1) {
      throw new UsageError(positionals.length === 0 ? 'a phone number is missing' : 'give one phone number (quote it when it contains spaces)');
    }
    const config = loadConfig(LookupConfig, io.environment);
    const phone = { defaultRegion: config.phoneDefaultRegion, stripPrefixes: config.phoneStripPrefixes };
    const target = requirePhoneNumber(positionals[0] ?? '', phone);
    const client = new SuiteCrmClient(clientOptionsFrom(config));
    try {
      const { matches } = await liveLookup(client, target, { phone });
      if (matches.length === 0) {
        io.stderr.write(`no match for ${target.e164}\n`);
        return 0;
      }
      for (const match of matches) {
        const { record } = match;
        if (values.json) {
          io.stdout.write(`${JSON.stringify({ module: record.module, id: record.id, name: record.name, field: match.field })}\n`);
          continue;
        }
        const account = record.module !== 'Accounts' && record.accountName !== undefined ? `  (${record.accountName})` : '';
        const extension = match.extension === undefined ? '' : `  ext. ${match.extension}`;
        io.stdout.write(`${record.module.padEnd(8)}  ${record.id}  ${record.name}  ${match.field}${extension}${account}\n`);
      }
      io.stderr.write(`${matches.length} match(es) for ${target.e164}\n`);
      return 0;
    } finally {
      await client.close();
    }
  },
};
