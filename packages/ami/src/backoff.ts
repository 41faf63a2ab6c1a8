/**
 * Exponential backoff with jitter: attempt n waits a random time between half and all of
 * `min(maxMs, initialMs * 2^n)`. The random half keeps replicas that lost the PBX at the same
 * moment from reconnecting in lockstep, and the fixed half keeps a delay from collapsing to zero.
 */
export class Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #random: () => number;
  #attempt = 0;

  constructor(initialMs: number, maxMs: number, random: () => number = Math.random) {
    if (!(initialMs > 0) || !(maxMs >= initialMs)) {
      throw new RangeError(`backoff needs 0 < initialMs <= maxMs, got ${initialMs} and ${maxMs}`);
    }
    this.#initialMs = initialMs;
    this.#maxMs = maxMs;
    this.#random = random;
  }

  /** Returns the delay before the next attempt, in milliseconds, and counts the attempt. */
  next(): number {
    const ceiling = Math.min(this.#maxMs, this.#initialMs * 2 ** Math.min(this.#attempt, 30));
    this.#attempt += 1;
    return Math.round(ceiling / 2 + this.#random() * (ceiling / 2));
  }

  /** Attempts counted since the last reset. */
  get attempts(): number {
    return this.#attempt;
  }

  reset(): void {
    this.#attempt = 0;
  }
}
