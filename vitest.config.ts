import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { defineConfig } from 'vitest/config';

// Vitest 4 replaced vitest.workspace.ts with `test.projects`: one project per package and service,
// so `vitest run --project crm-sync` runs one of them.
const projectDirectories = ['packages', 'services'].flatMap((parent) =>
  readdirSync(parent, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(parent, entry.name, 'test')))
    .map((entry) => join(parent, entry.name)),
);

// The `source` export condition points workspace packages at their TypeScript sources, so tests
// run without a build.
const conditions = ['source', 'import', 'module', 'node', 'default'];
// Vitest passes the SSR conditions to the test workers as `node --conditions`, where they apply
// to `require` as well: with `import` among them, a CommonJS package that requires a dual
// package (@fastify/websocket requiring ws) would get the ESM wrapper and break.
const workerConditions = ['source', 'node', 'default'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions: workerConditions, externalConditions: ['source'] } },
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
