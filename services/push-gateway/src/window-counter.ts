/**
 * Counts events per key in fixed one-minute windows: failed authentications per address,
 * click-to-dial requests and new connections per agent. A fixed window lets a client burst up to
 * twice the limit across a window edge. These limits stop floods rather than shape traffic, so
 * that is good enough, and cheaper than a sliding log.
 */
export class WindowCounter {
  static readonly WINDOW_MS = 60_000;
  /** Windows kept before expired ones are swept, so an address flood cannot grow the map forever. */
  static readonly SWEEP_AT = 10_000;

  readonly #limit: number;
  readonly #clock: () => number;
  readonly #windows = new Map<string, { count: number; endsAt: number }>();

  constructor(limit: number, clock: () => number) {
    this.#limit = limit;
    this.#clock = clock;
  }

  get limit(): number {
    return this.#limit;
  }

  /** True when the key has used up its limit in the current window. */
  isExhausted(key: string): boolean {
    const window = this.#windows.get(key);
    return window !== undefined && window.endsAt > this.#clock() && window.count >= this.#limit;
  }

  /** Counts one event for the key, whatever the limit. */
  record(key: string): void {
    const now = this.#clock();
    const window = this.#windows.get(key);
    if (window === undefined || window.endsAt <= now) {
      this.#windows.set(key, { count: 1, endsAt: now + WindowCounter.WINDOW_MS });
      this.#sweep(now);
      return;
    }
    window.count += 1;
  }

  /** Counts one event if the key is under its limit; false, counting nothing, when it is not. */
  take(key: string): boolean {
    if (this.isExhausted(key)) {
      return false;
    }
    this.record(key);
    return true;
  }

  /** Whole seconds until the key's current window ends; 0 when it has none. */
  secondsLeft(key: string): number {
    const window = this.#windows.get(key);
    return window === undefined ? 0 : Math.max(0, Math.ceil((window.endsAt - this.#clock()) / 1000));
  }

  #sweep(now: number): void {
    if (this.#windows.size < WindowCounter.SWEEP_AT) {
      return;
    }
    for (const [key, window] of this.#windows) {
      if (window.endsAt <= now) {
        this.#windows.delete(key);
      }
    }
  }
}
