import type { CallerMatch } from '@cti/contracts';
import type { Logger } from '@cti/logging';
import { liveLookup, normalizePhoneNumber, SuiteCrmError, toCallerMatch, type NormalizedNumber, type PhoneOptions, type RankedMatch, type SuiteCrmClient } from '@cti/suitecrm';

import type { CrmSyncMetrics } from '../metrics.js';
import type { PhoneIndex } from '../phone-index/index-store.js';
import type { LookupCache } from './cache.js';

// The contract carries at most 50 matches; a number that many records share is a switchboard.
const MAX_MATCHES = 50;

export type LookupSource = 'index' | 'cache' | 'live';

export type LookupResult =
  | { status: 'ok'; number: NormalizedNumber; matches: RankedMatch[]; source: LookupSource; durationMs: number }
  | { status: 'invalid_number' }
  | { status: 'unavailable'; number: NormalizedNumber; error: { code: string; message: string } };

export interface CallerLookupOptions {
  index: PhoneIndex;
  cache: LookupCache;
  client: SuiteCrmClient;
  phone: PhoneOptions;
  liveTimeoutMs: number;
  logger: Logger;
  metrics?: CrmSyncMetrics | undefined;
}

/**
 * Answers "who is calling?": from the phone index when it knows the number, else from the cache
 * of live answers, else with a live SuiteCRM query whose hits are re-checked on their digits and
 * written to the index, so the next caller with this number is answered from memory.
 */
export class CallerLookup {
  readonly #options: CallerLookupOptions;

  constructor(options: CallerLookupOptions) {
    this.#options = options;
  }

  normalize(raw: string): NormalizedNumber | undefined {
    return normalizePhoneNumber(raw, this.#options.phone);
  }

  async lookup(raw: string): Promise<LookupResult> {
    const started = performance.now();
    const target = this.normalize(raw);
    if (target === undefined) {
      this.#count('none', 'invalid_number', started);
      return { status: 'invalid_number' };
    }

    const indexed = this.#options.index.lookup(target);
    if (indexed.length > 0) {
      return this.#ok(target, indexed, 'index', started);
    }
    const cached = this.#options.cache.get(target.digits);
    if (cached !== undefined) {
      return this.#ok(target, cached, 'cache', started);
    }

    try {
      const { matches, records } = await liveLookup(this.#options.client, target, {
        phone: this.#options.phone,
        signal: AbortSignal.timeout(this.#options.liveTimeoutMs),
      });
      this.#options.cache.set(target.digits, target.nationalNumber, matches);
      // Teach the index what the incremental sync has not brought yet; a failure here only
      // means the next lookup asks SuiteCRM again.
      await Promise.all(records.map((record) => this.#options.index.put(record))).catch((error: unknown) =>
        this.#options.logger.warn({ err: error }, 'phone index write after a live lookup failed'),
      );
      return this.#ok(target, matches, 'live', started);
    } catch (error) {
      const code = error instanceof SuiteCrmError ? error.code : 'CTI_ERR_CRM_NETWORK';
      const message = error instanceof SuiteCrmError ? error.message : 'live lookup failed';
      this.#count('live', 'unavailable', started);
      this.#options.logger.warn({ err: error, code }, 'live caller lookup failed');
      return { status: 'unavailable', number: target, error: { code, message: message.slice(0, 512) } };
    }
  }

  /** Caller matches for messages, with links to the records. */
  toCallerMatches(matches: readonly RankedMatch[]): CallerMatch[] {
    return matches.slice(0, MAX_MATCHES).map((match) => toCallerMatch(match, (module, id) => this.#options.client.recordUrl(module, id)));
  }

  #ok(target: NormalizedNumber, matches: RankedMatch[], source: LookupSource, started: number): LookupResult {
    const durationMs = this.#count(source, matches.length > 0 ? 'match' : 'no_match', started);
    return { status: 'ok', number: target, matches, source, durationMs };
  }

  #count(source: LookupSource | 'none', result: string, started: number): number {
    const durationMs = performance.now() - started;
    this.#options.metrics?.lookups.inc({ source, result });
    if (source !== 'none') {
      this.#options.metrics?.lookupSeconds.observe({ source }, durationMs / 1000);
    }
    return durationMs;
  }
}
