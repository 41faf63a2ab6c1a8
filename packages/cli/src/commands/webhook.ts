import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { splitSecretLines } from '@cti/config';
import { signPayload } from '@cti/webhook-ingress';

import { UsageError, type Command, type CommandIo } from '../command.js';

/**
 * Returns the secret to sign with: `--secret-file`, else the first of ELEVENLABS_WEBHOOK_SECRETS
 * or of the lines of ELEVENLABS_WEBHOOK_SECRETS_FILE, the variables webhook-ingress reads.
 */
function signingSecret(secretFile: string | undefined, io: CommandIo): string {
  const fromFile = (path: string) => splitSecretLines(readFileSync(resolve(io.cwd, path), 'utf8'))[0];
  const environment = io.environment;
  const secret =
    secretFile !== undefined
      ? fromFile(secretFile)
      : environment['ELEVENLABS_WEBHOOK_SECRETS'] !== undefined && environment['ELEVENLABS_WEBHOOK_SECRETS'] !== ''
        ? environment['ELEVENLABS_WEBHOOK_SECRETS'].split(',')[0]?.trim()
        : environment['ELEVENLABS_WEBHOOK_SECRETS_FILE'] !== undefined
          ? fromFile(environment['ELEVENLABS_WEBHOOK_SECRETS_FILE'])
          : undefined;
  if (secret === undefined || secret === '') {
    throw new UsageError('no secret: pass --secret-file, or set ELEVENLABS_WEBHOOK_SECRETS or ELEVENLABS_WEBHOOK_SECRETS_FILE');
  }
  return secret;
}

export const webhookSign: Command = {
  name: ['webhook', 'sign'],
  summary:
    'Print the value of the ElevenLabs-Signature header for a body file, to send a test delivery: curl -H "ElevenLabs-Signature: $(pnpm -s cti webhook sign --body f.json)" -H "Content-Type: application/json" --data-binary @f.json http://127.0.0.1:8090/webhooks/elevenlabs',
  usage: 'cti webhook sign --body payload.json [--secret-file secrets] [--timestamp unix-seconds]',
  async run(args, io) {
    const { values } = parseArgs({
      args,
      options: { body: { type: 'string' }, 'secret-file': { type: 'string' }, timestamp: { type: 'string' } },
      strict: true,
    });
    if (values.body === undefined) {
      throw new UsageError('--body is required: the file whose exact bytes are sent as the request body');
    }
    const timestamp = values.timestamp === undefined ? Math.floor(Date.now() / 1000) : Number(values.timestamp);
    if (!Number.isInteger(timestamp) || timestamp < 0) {
      throw new UsageError(`--timestamp must be unix seconds, got ${values.timestamp ?? ''}`);
    }
    const body = readFileSync(resolve(io.cwd, values.body));
    io.stdout.write(`${signPayload(body, signingSecret(values['secret-file'], io), timestamp)}\n`);
    return 0;
  },
};
