import { isAbsolute, join } from 'node:path';
import { parseArgs } from 'node:util';

import { generateSecrets, SecretSpecs } from '@cti/deploy';

import { UsageError, type Command } from '../command.js';
import { repositoryRoot } from '../repository.js';

function parseOwner(text: string | undefined): { uid: number; gid: number } | undefined {
  if (text === undefined) {
    return undefined;
  }
  const match = /^(\d+):(\d+)$/.exec(text);
  if (match === null) {
    throw new UsageError(`--owner must be UID:GID in numbers, e.g. 10001:10001, got ${text}`);
  }
  return { uid: Number(match[1]), gid: Number(match[2]) };
}

/** Creates the deployment's generated secrets and the NATS password hashes. */
export const secretsGenerate: Command = {
  name: ['secrets', 'generate'],
  summary: 'Create missing 256-bit secrets (mode 600) and the NATS password hashes, or replace the named ones; list the secrets the operator must fill in',
  usage: 'cti secrets generate [--dir deploy/secrets] [--rotate NAME]... [--owner 10001:10001]',
  async run(args, io) {
    const { values } = parseArgs({
      args,
      options: { dir: { type: 'string' }, rotate: { type: 'string', multiple: true }, owner: { type: 'string' } },
      strict: true,
    });
    const owner = parseOwner(values.owner);
    const directory =
      values.dir === undefined ? join(repositoryRoot(io.cwd), 'deploy/secrets') : isAbsolute(values.dir) ? values.dir : join(io.cwd, values.dir);
    let statuses;
    try {
      statuses = generateSecrets({ directory, rotate: values.rotate ?? [], ...(owner === undefined ? {} : { owner }) });
    } catch (error) {
      throw new UsageError(error instanceof Error ? error.message : String(error));
    }

    let unfilled = 0;
    for (const status of statuses) {
      const spec = SecretSpecs.find((candidate) => candidate.name === status.name);
      io.stdout.write(`${status.state.padEnd(11)} ${status.name}\n`);
      if (status.state === 'missing' || status.state === 'placeholder') {
        unfilled += 1;
        io.stderr.write(`fill in ${join(directory, status.name)}: ${spec?.description ?? ''}\n`);
      }
    }
    if (owner !== undefined && process.getuid?.() !== 0) {
      io.stderr.write(`--owner applies only when run as root: run 'sudo chown -R ${owner.uid}:${owner.gid} ${directory}'\n`);
    }
    io.stderr.write(unfilled === 0 ? 'every secret is in place\n' : `${unfilled} secret(s) still to fill in\n`);
    return 0;
  },
};
