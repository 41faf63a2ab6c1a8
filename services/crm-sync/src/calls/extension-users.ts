import type { Logger } from '@cti/logging';
import type { SuiteCrmClient } from '@cti/suitecrm';

interface Cached {
  userId: string | undefined;
  expiresAt: number;
}

/**
 * Maps an agent's extension to the SuiteCRM user the call is assigned to: the configured pairs
 * first (CRM_EXTENSION_USERS), else the active User whose phone_work is the extension. SuiteCRM
 * also returns inactive users, hence the status filter; it never returns `status` itself.
 */
export class ExtensionUsers {
  readonly #configured: Map<string, string>;
  readonly #cache = new Map<string, Cached>();
  readonly #client: SuiteCrmClient;
  readonly #ttlMs: number;
  readonly #clock: () => number;
  readonly #logger: Logger;

  constructor(options: { client: SuiteCrmClient; pairs: readonly string[] | undefined; ttlMs: number; clock: () => number; logger: Logger }) {
    this.#client = options.client;
    this.#ttlMs = options.ttlMs;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#configured = new Map(
      (options.pairs ?? []).map((pair) => {
        const [extension = '', userId = ''] = pair.split('=');
        return [extension.trim(), userId.trim()];
      }),
    );
  }

  /** The user of an extension, or undefined when SuiteCRM has none; throws when SuiteCRM fails. */
  async userFor(extension: string): Promise<string | undefined> {
    const configured = this.#configured.get(extension);
    if (configured !== undefined) {
      return configured;
    }
    const cached = this.#cache.get(extension);
    if (cached !== undefined && this.#clock() < cached.expiresAt) {
      return cached.userId;
    }
    const result = await this.#client.list('Users', {
      filter: { phone_work: { eq: extension }, status: { eq: 'Active' } },
      fields: ['first_name', 'last_name', 'phone_work'],
      pageSize: 2,
    });
    if (result.records.length > 1) {
      this.#logger.warn({ extension, users: result.records.map((record) => record.id) }, 'several active users have this extension as phone_work, using the first');
    }
    const userId = result.records[0]?.id;
    this.#cache.set(extension, { userId, expiresAt: this.#clock() + this.#ttlMs });
    return userId;
  }
}
