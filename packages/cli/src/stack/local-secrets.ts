import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Secrets of the local stack, generated once into `.data/secrets/` (mode 600) and kept, so agent
 * tokens and the phone hash stay valid across restarts. Never used for a deployment: those come
 * from `cti secrets generate`.
 */
export function localSecret(directory: string, name: string): { path: string; value: string } {
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  const path = join(directory, name);
  if (!existsSync(path)) {
    writeFileSync(path, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 });
  }
  chmodSync(path, 0o600);
  return { path, value: readFileSync(path, 'utf8').trim() };
}
