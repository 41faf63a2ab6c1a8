import type { RankedMatch } from '@cti/suitecrm';

interface Entry {
  matches: RankedMatch[];
  expiresAt: number;
  /** National number of the key, so a change to an unparsed stored number can find it. */
  nationalNumber: string;
}

/**
 * Results of live lookups, keyed by E.164 digits, for a TTL. A Map keeps insertion order, so the
 * oldest entry is the first one dropped when the cache is full.
 */
export class LookupCache {
  readonly #entries = new Map<string, Entry>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #clock: () => number;

  constructor(options: { ttlMs: number; maxEntries: number; clock: () => number }) {
    this.#ttlMs = options.ttlMs;
    this.#maxEntries = options.maxEntries;
    this.#clock = options.clock;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(digits: string): RankedMatch[] | undefined {
    const entry = this.#entries.get(digits);
    if (entry === undefined) {
      return undefined;
    }
    if (this.#clock() >= entry.expiresAt) {
      this.#entries.delete(digits);
      return undefined;
    }
    return entry.matches;
  }

  set(digits: string, nationalNumber: string, matches: RankedMatch[]): void {
    if (this.#ttlMs <= 0) {
      return;
    }
    this.#entries.delete(digits);
    this.#entries.set(digits, { matches, expiresAt: this.#clock() + this.#ttlMs, nationalNumber });
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) {
        break;
      }
      this.#entries.delete(oldest);
    }
  }

  /** Drops the results of numbers whose records changed in the index. */
  invalidate(numbers: Iterable<string>): void {
    for (const number of numbers) {
      if (number.startsWith('n')) {
        // An unparsed stored number is keyed by its national digits.
        const national = number.slice(1);
        for (const [digits, entry] of this.#entries) {
          if (entry.nationalNumber === national) {
            this.#entries.delete(digits);
          }
        }
        continue;
      }
      this.#entries.delete(number);
    }
  }

  /**
   * Drops every result for one number, whether it was cached under its E.164 digits or matched
   * through its national number. Returns how many entries went.
   */
  forget(digits: string, nationalNumber: string): number {
    let removed = 0;
    for (const [key, entry] of this.#entries) {
      if (key === digits || entry.nationalNumber === nationalNumber) {
        this.#entries.delete(key);
        removed += 1;
      }
    }
    return removed;
  }

  clear(): void {
    this.#entries.clear();
  }
}
