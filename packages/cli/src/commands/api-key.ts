import { parseArgs } from 'node:util';

import { generateApiKey } from '@cti/push-gateway/api-keys';

import { UsageError, type Command } from '../command.js';

export const apiKeyCreate: Command = {
  name: ['api-key', 'create'],
  summary: 'Create an API key for POST /v1/agent-tokens: prints the key once, and the entry (its hash) for PUSH_API_KEYS_FILE',
  usage: 'cti api-key create --id ID [--expires-days N] [--rate PER_MINUTE] [--description TEXT]',
  async run(args, io) {
    const { values } = parseArgs({
      args,
      options: {
        id: { type: 'string' },
        'expires-days': { type: 'string' },
        rate: { type: 'string' },
        description: { type: 'string' },
      },
      strict: true,
    });
    if (values.id === undefined) {
      throw new UsageError('--id is missing: a name for the key, e.g. --id crm-sso');
    }
    const days = values['expires-days'] === undefined ? undefined : Number(values['expires-days']);
    if (days !== undefined && (!Number.isInteger(days) || days < 1)) {
      throw new UsageError(`--expires-days must be a positive whole number, got ${values['expires-days']}`);
    }
    const rate = values.rate === undefined ? undefined : Number(values.rate);
    if (rate !== undefined && (!Number.isInteger(rate) || rate < 1)) {
      throw new UsageError(`--rate must be a positive whole number of requests per minute, got ${values.rate}`);
    }
    let created;
    try {
      created = generateApiKey({
        id: values.id,
        ...(days === undefined ? {} : { expiresAt: new Date(Date.now() + days * 86_400_000) }),
        ...(rate === undefined ? {} : { ratePerMinute: rate }),
        ...(values.description === undefined ? {} : { description: values.description }),
      });
    } catch (error) {
      throw new UsageError(error instanceof Error ? error.message : String(error));
    }
    io.stdout.write(`${JSON.stringify({ key: created.key, entry: created.entry }, null, 2)}\n`);
    io.stderr.write('the key is shown only now: give it to the client, and add the entry to the "keys" array of PUSH_API_KEYS_FILE\n');
    return 0;
  },
};
