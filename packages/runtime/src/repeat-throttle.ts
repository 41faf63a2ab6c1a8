/**
 * Lets the first few repeats of a thing through per key and window, then only counts them, and
 * reports the count once the window closes. The audit trail uses it for unauthenticated failures
 * and webhook-ingress for its rejection log lines: an anonymous client can cause them as fast as
 * it sends requests, and neither a size-capped stream nor a log file should fill with copies.
 */
export interface RepeatThrottleOptions<T> {
  windowMs: number;
  /** Repeats per key and window that pass one by one. */
  freePerWindow: number;
  /** Keys tracked at once; past it, new keys share one overflow window, so memory stays bounded. */
  maxKeys: number;
  /** Key of the shared window for an item past `maxKeys`; one for all when absent. */
  overflowKeyOf?: (sample: T) => string;
  /** Called once per window that suppressed anything, with its first item and the count. */
  onSummary: (summary: { key: string; sample: T; suppressed: number; seconds: number }) => void;
  clock?: () => number;
}

interface Window<T> {
  startedAt: number;
  passed: number;
  suppressed: number;
  sample: T;
}

export const OVERFLOW_KEY = '(overflow)';

export class RepeatThrottle<T> {
  readonly #options: RepeatThrottleOptions<T>;
  readonly #clock: () => number;
  readonly #windows = new Map<string, Window<T>>();
  readonly #timer: NodeJS.Timeout;

  constructor(options: RepeatThrottleOptions<T>) {
    this.#options = options;
    this.#clock = options.clock ?? Date.now;
    this.#timer = setInterval(() => this.#flush(false), options.windowMs / 4);
    this.#timer.unref();
  }

  /** True when this repeat should be written; false when it was only counted. */
  admit(key: string, sample: T): boolean {
    const windowKey =
      this.#windows.has(key) || this.#windows.size < this.#options.maxKeys ? key : (this.#options.overflowKeyOf?.(sample) ?? OVERFLOW_KEY);
    let window = this.#windows.get(windowKey);
    if (window === undefined) {
      window = { startedAt: this.#clock(), passed: 0, suppressed: 0, sample };
      this.#windows.set(windowKey, window);
    }
    if (window.passed < this.#options.freePerWindow) {
      window.passed += 1;
      return true;
    }
    window.suppressed += 1;
    return false;
  }

  /** Reports every open window that suppressed anything and stops the timer, at shutdown. */
  flush(): void {
    clearInterval(this.#timer);
    this.#flush(true);
  }

  #flush(all: boolean): void {
    const now = this.#clock();
    for (const [key, window] of this.#windows) {
      if (!all && now - window.startedAt < this.#options.windowMs) {
        continue;
      }
      this.#windows.delete(key);
      if (window.suppressed > 0) {
        this.#options.onSummary({ key, sample: window.sample, suppressed: window.suppressed, seconds: Math.round((now - window.startedAt) / 1000) });
      }
    }
  }
}
