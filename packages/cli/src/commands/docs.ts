import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { AllContracts, GENERATED_END, GENERATED_START, renderSubjectsDoc } from '@cti/contracts';

import type { Command } from '../command.js';
import { renderEnvironmentExample } from '../environment-example.js';
import { repositoryRoot } from '../repository.js';

/** Rewrites the generated part of docs/subjects.md and the whole .env.example. */
export const docs: Command = {
  name: ['docs'],
  summary: 'Regenerate docs/subjects.md (from the contracts) and .env.example (from the config schemas)',
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
    io.stdout.write('docs/subjects.md and .env.example rewritten\n');
    return 0;
  },
};
