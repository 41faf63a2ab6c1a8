export type CircuitState = 'closed' | 'open' | 'half_open';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. */
  failureThreshold: number;
  /** Time the circuit stays open before one trial request is let through, in ms. */
  openMs: number;
  clock: () => number;
  onChange?: (state: CircuitState) => void;
}

/**
 * Stops sending requests to a CRM that keeps failing. After `failureThreshold` failures in a row
 * the circuit opens and requests fail at once; after `openMs` one trial request goes through
 * (half open), and its outcome closes the circuit again or reopens it for another `openMs`.
 * Only failures that say the CRM is unwell count: 5xx, timeouts and network errors, not a 4xx.
 */
export class CircuitBreaker {
  readonly #options: CircuitBreakerOptions;
  #state: CircuitState = 'closed';
  #failures = 0;
  #openedAt = 0;
  #trialInFlight = false;

  constructor(options: CircuitBreakerOptions) {
    this.#options = options;
  }

  get state(): CircuitState {
    if (this.#state === 'open' && this.#options.clock() - this.#openedAt >= this.#options.openMs) {
      return 'half_open';
    }
    return this.#state;
  }

  /** Milliseconds until a trial request is allowed, 0 when requests may go now. */
  retryInMs(): number {
    if (this.#state !== 'open') {
      return 0;
    }
    return Math.max(0, this.#openedAt + this.#options.openMs - this.#options.clock());
  }

  /** Returns true when a request may be sent now; a half-open circuit lets one through. */
  allow(): boolean {
    const state = this.state;
    if (state === 'closed') {
      return true;
    }
    if (state === 'half_open' && !this.#trialInFlight) {
      this.#trialInFlight = true;
      this.#set('half_open');
      return true;
    }
    return false;
  }

  success(): void {
    this.#failures = 0;
    this.#trialInFlight = false;
    this.#set('closed');
  }

  failure(): void {
    this.#failures += 1;
    const trialFailed = this.#trialInFlight;
    this.#trialInFlight = false;
    if (trialFailed || this.#failures >= this.#options.failureThreshold) {
      this.#openedAt = this.#options.clock();
      this.#set('open');
    }
  }

  /** Ends a trial without a verdict (a 4xx says nothing about the CRM's health). */
  neutral(): void {
    if (this.#trialInFlight) {
      this.success();
    }
  }

  #set(state: CircuitState): void {
    if (this.#state !== state) {
      this.#state = state;
      this.#options.onChange?.(state);
    }
  }
}
