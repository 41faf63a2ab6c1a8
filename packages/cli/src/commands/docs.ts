import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { AllContracts, GENERATED_END, GENERATED_START, renderSubjectsDoc } from '@cti/contracts';
import { NATS_AUTHORIZATION_PATH, NATS_SERVER_CONFIG_PATH, renderNatsAuthorization, withGeneratedAccounts } from '@cti/deploy';

import type { Command } from '../command.js';
import { renderEnvironmentExample } from '../environment-example.js';
import { repositoryRoot } from '../repository.js';

/** Rewrites the generated part of docs/subjects.md, the whole .env.example and the NATS permissions. */
export const docs: Command = {
  name: ['docs'],
  summary: 'Regenerate docs/subjects.md and the NATS permissions in deploy/nats (from the contracts) and .env.example (from the config schemas)',
  usage: 'cti docs',
  async run(_args, io) {
    const root = repositoryRoot(io.cwd);
    const subjectsPath = join(root, 'docs/subjects.md');
    const document = readFileSync(subjectsPath, 'utf8');
    const start = document.indexOf(GENERATED_START);
    const end = document.indexOf(GENERATED_END);
    if (start === -1 || end === -1) {
      io.stderr.write(`docs/subjects.md has no generated section: add the markers ${GENERATED_START} and ${GENERATED_END}\n`);
      return 1;
    }
    writeFileSync(subjectsPath, document.slice(0, start) + renderSubjectsDoc(AllContracts) + document.slice(end + GENERATED_END.length));
    writeFileSync(join(root, '.env.example'), renderEnvironmentExample());
    writeFileSync(join(root, NATS_AUTHORIZATION_PATH), renderNatsAuthorization());
    const serverConfigPath = join(root, NATS_SERVER_CONFIG_PATH);
    writeFileSync(serverConfigPath, withGeneratedAccounts(readFileSync(serverConfigPath, 'utf8')));
    io.stdout.write(`docs/subjects.md, .env.example, ${NATS_AUTHORIZATION_PATH} and ${NATS_SERVER_CONFIG_PATH} rewritten\n`);
    return 0;
  },
};
