import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Finds the repository root from a starting directory (the one with pnpm-workspace.yaml), since
 * `pnpm cti` runs commands from the package directory, not from where the operator stands.
 */
export function repositoryRoot(start: string): string {
  let current = start;
  for (;;) {
    if (existsSync(join(current, 'pnpm-workspace.yaml'))) {
      return current;
    }
    const parent = dirname(current);
    if (parent === current) {
      throw new Error(`no pnpm-workspace.yaml above ${start}: run this from the repository`);
    }
    current = parent;
  }
}
