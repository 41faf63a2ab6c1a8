import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, unwatchFile, watchFile } from 'node:fs';

import type { Logger } from '@cti/logging';
import Type, { type Static } from 'typebox';
import { Compile } from 'typebox/compile';

import { PushError, PushErrorCode } from './errors.js';

/**
 * API keys of the systems that may mint agent tokens (an SSO bridge, the CRM). The key file holds
 * only SHA-256 hashes: keys are 256-bit random strings, so a fast hash is enough to make a stolen
 * file useless, unlike passwords, which need a slow one.
 */

export const API_KEY_PREFIX = 'ctik_';

export const ApiKeyEntry = Type.Object(
  {
    /** Stable name of the key, written to the audit trail and metrics; never secret. */
    id: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }),
    /** Hex SHA-256 of the whole key string. */
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    expiresAt: Type.Optional(Type.String({ format: 'date-time' })),
    /** Token requests per minute for this key, instead of PUSH_API_KEY_RATE_PER_MINUTE. */
    ratePerMinute: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
    description: Type.Optional(Type.String({ maxLength: 256 })),
  },
  { additionalProperties: false },
);
export type ApiKeyEntry = Static<typeof ApiKeyEntry>;

export const ApiKeyFile = Type.Object({ keys: Type.Array(ApiKeyEntry, { maxItems: 1000 }) }, { additionalProperties: false });
const checkFile = Compile(ApiKeyFile);

export type ApiKeyCheck =
  | { ok: true; entry: ApiKeyEntry }
  | { ok: false; reason: 'missing' | 'unknown' | 'expired'; keyId?: string };

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Creates a new key and the entry to add to the key file; the key itself is shown once. */
export function generateApiKey(options: { id: string; expiresAt?: Date; ratePerMinute?: number; description?: string }): { key: string; entry: ApiKeyEntry } {
  const key = `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  const entry: ApiKeyEntry = {
    id: options.id,
    sha256: hashApiKey(key),
    ...(options.expiresAt === undefined ? {} : { expiresAt: options.expiresAt.toISOString() }),
    ...(options.ratePerMinute === undefined ? {} : { ratePerMinute: options.ratePerMinute }),
    ...(options.description === undefined ? {} : { description: options.description }),
  };
  if (!Compile(ApiKeyEntry).Check(entry)) {
    throw new TypeError(`invalid API key id ${JSON.stringify(options.id)}: expected 1-64 characters of A-Z a-z 0-9 _ . -`);
  }
  return { key, entry };
}

/** Parses the text of a key file; throws a PushError naming the first problem. */
export function parseApiKeyFile(text: string, source: string): ApiKeyEntry[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new PushError(PushErrorCode.API_KEYS_FILE_INVALID, 500, `API key file ${source} is not valid JSON`, { cause: error });
  }
  if (!checkFile.Check(value)) {
    const issue = checkFile.Errors(value)[0];
    throw new PushError(
      PushErrorCode.API_KEYS_FILE_INVALID,
      500,
      `API key file ${source} is invalid: ${issue?.instancePath || '(root)'} ${issue?.message ?? 'does not match the schema'}`,
    );
  }
  const ids = new Set<string>();
  for (const entry of value.keys) {
    if (ids.has(entry.id)) {
      throw new PushError(PushErrorCode.API_KEYS_FILE_INVALID, 500, `API key file ${source} lists the id ${entry.id} twice`);
    }
    ids.add(entry.id);
  }
  return value.keys;
}

export interface ApiKeyStoreOptions {
  /** PUSH_API_KEYS_FILE; without one every request is rejected. */
  path: string | undefined;
  logger: Logger;
  now?: () => number;
  onReload?: (outcome: 'loaded' | 'failed') => void;
}

/**
 * The active API keys. `reload` swaps the whole set at once, so a rotation (add the new key,
 * move the clients, remove the old key) never leaves a moment without a valid key. A file that
 * fails to parse leaves the previous set in place.
 */
export class ApiKeyStore {
  readonly #options: ApiKeyStoreOptions;
  #byHash = new Map<string, ApiKeyEntry>();
  #watching = false;
  readonly #onSignal = () => this.reload('SIGHUP');

  constructor(options: ApiKeyStoreOptions) {
    this.#options = options;
  }

  get size(): number {
    return this.#byHash.size;
  }

  /** Loads the file at start; an unreadable or invalid file is a start-up failure. */
  load(): void {
    if (this.#options.path === undefined) {
      this.#options.logger.warn('PUSH_API_KEYS_FILE not set: POST /v1/agent-tokens rejects every request');
      return;
    }
    this.#byHash = this.#read(this.#options.path);
    this.#options.logger.info({ keys: this.#byHash.size }, 'api keys loaded');
  }

  /** Reads the file again; on failure keeps the current keys and returns false. */
  reload(trigger: string): boolean {
    const path = this.#options.path;
    if (path === undefined) {
      return false;
    }
    try {
      this.#byHash = this.#read(path);
      this.#options.logger.info({ keys: this.#byHash.size, trigger }, 'api keys reloaded');
      this.#options.onReload?.('loaded');
      return true;
    } catch (error) {
      this.#options.logger.error({ err: error, trigger }, 'api key file reload failed, previous keys stay active');
      this.#options.onReload?.('failed');
      return false;
    }
  }

  /**
   * Re-reads the file when its size or modification time changes (stat polling also sees the
   * symlink swap Kubernetes uses to update a mounted secret) and on SIGHUP.
   */
  watch(intervalMs: number): void {
    const path = this.#options.path;
    if (path === undefined || this.#watching) {
      return;
    }
    this.#watching = true;
    watchFile(path, { interval: intervalMs, persistent: false }, (current, previous) => {
      if (current.mtimeMs !== previous.mtimeMs || current.size !== previous.size || current.ino !== previous.ino) {
        this.reload('file changed');
      }
    });
    process.on('SIGHUP', this.#onSignal);
  }

  stop(): void {
    if (this.#watching && this.#options.path !== undefined) {
      unwatchFile(this.#options.path);
      process.off('SIGHUP', this.#onSignal);
      this.#watching = false;
    }
  }

  /**
   * Checks a presented key. Looking the hash up in a map compares hashes, not keys, so its
   * timing tells nothing about any stored key.
   */
  check(presented: string | undefined): ApiKeyCheck {
    if (presented === undefined || presented === '') {
      return { ok: false, reason: 'missing' };
    }
    const entry = this.#byHash.get(hashApiKey(presented));
    if (entry === undefined) {
      return { ok: false, reason: 'unknown' };
    }
    const now = this.#options.now?.() ?? Date.now();
    if (entry.expiresAt !== undefined && Date.parse(entry.expiresAt) <= now) {
      return { ok: false, reason: 'expired', keyId: entry.id };
    }
    return { ok: true, entry };
  }

  #read(path: string): Map<string, ApiKeyEntry> {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new PushError(PushErrorCode.API_KEYS_FILE_INVALID, 500, `API key file ${path} cannot be read (${reason})`, { cause: error });
    }
    const entries = parseApiKeyFile(text, path);
    return new Map(entries.map((entry) => [entry.sha256, entry]));
  }
}
