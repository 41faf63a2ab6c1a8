import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { defineConfig } from 'vitest/config';

// Vitest 4 replaced vitest.workspace.ts with `test.projects`: one project per package and service,
// so `vitest run --project crm-sync` runs one of them.
const projectDirectories = ['packages', 'services'].flatMap((parent) =>
  (existsSync(parent) ? readdirSync(parent, { withFileTypes: true }) : [])
    .filter((entry) => entry.isDirectory() && existsSync(join(parent, entry.name, 'test')))
    .map((entry) => join(parent, entry.name)),
);

// The `source` export condition points workspace packages at their TypeScript sources, so tests
// run without a build.
const conditions = ['source', 'import', 'module', 'node', 'default'];

// Vitest also hands the SSR conditions to the worker's Node as `--conditions`. There `import`
// would make `require()` pick the ESM file of dual packages (`require('helmet')` inside
// @fastify/helmet then returns a namespace object, not the function), so the SSR list keeps
// Vite's own defaults plus `source`; Vite adds `import` or `require` per import by itself.
const ssrConditions = ['source', 'module', 'node', 'development|production'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions: ssrConditions, externalConditions: ['source'] } },
  test: {
    projects: projectDirectories.map((directory) => ({
      extends: true,
      test: {
        name: directory.split('/')[1],
        include: [`${directory}/test/**/*.test.ts`],
        testTimeout: 30_000,
        hookTimeout: 60_000,
      },
    })),
  },
});
