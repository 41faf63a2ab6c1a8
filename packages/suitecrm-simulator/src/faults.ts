/** Selector of the requests a fault applies to. */
export interface FaultMatch {
  method?: string;
  /** Route template, e.g. `POST module` or `GET module/{module}`; a RegExp is tested against it. */
  route?: string | RegExp;
}

/**
 * A fault the simulator injects:
 * - `status`: answer with this status (e.g. 503 or 429) instead of handling the request;
 * - `drop`: close the connection without a response, `before` handling or `after` it (the record is
 *   created, then the connection dies: a crash between the create and its response);
 * - `stall`: handle the request, then never respond (the client's timeout or crash ends it);
 * - `delayMs`: add this much time before answering.
 */
export interface Fault extends FaultMatch {
  status?: number;
  retryAfter?: string;
  drop?: 'before' | 'after';
  stall?: boolean;
  delayMs?: number;
  /** Requests it applies to before it is used up; unlimited when absent. */
  times?: number;
  /** Time (simulator clock, ms) after which it no longer applies. */
  until?: number;
  /** Runs when a counted fault is used up, before the next request: to chain a second fault without a race. */
  onUsedUp?: () => void;
}

interface ActiveFault extends Fault {
  id: number;
  used: number;
}

export interface FaultPlan {
  status: number | undefined;
  retryAfter: string | undefined;
  drop: 'before' | 'after' | undefined;
  stall: boolean;
  delayMs: number;
}

/** The fault injection of one simulator; tests drive it directly or over /__simulator. */
export class Faults {
  readonly #active: ActiveFault[] = [];
  readonly #clock: () => number;
  #next = 1;

  constructor(clock: () => number) {
    this.#clock = clock;
  }

  /** Adds a fault; returns a function that removes it. */
  add(fault: Fault): () => void {
    const active: ActiveFault = { ...fault, id: this.#next, used: 0 };
    this.#next += 1;
    this.#active.push(active);
    return () => this.#remove(active.id);
  }

  /** Every request fails with `status` (503 by default) until `clear()` or for `forMs`. */
  outage(options: { status?: number; forMs?: number; retryAfter?: string } = {}): () => void {
    return this.add({
      status: options.status ?? 503,
      ...(options.retryAfter === undefined ? {} : { retryAfter: options.retryAfter }),
      ...(options.forMs === undefined ? {} : { until: this.#clock() + options.forMs }),
    });
  }

  /** The next `times` requests get 429 with Retry-After. */
  rateLimit(options: { retryAfterSeconds: number; times?: number } & FaultMatch): () => void {
    return this.add({ ...options, status: 429, retryAfter: String(options.retryAfterSeconds), times: options.times ?? 1 });
  }

  /** The next `times` creates are stored, then the connection is closed before the response. */
  dropAfterCreate(options: { times?: number; onUsedUp?: () => void } = {}): () => void {
    return this.add({ method: 'POST', route: 'POST module', drop: 'after', times: options.times ?? 1, ...(options.onUsedUp === undefined ? {} : { onUsedUp: options.onUsedUp }) });
  }

  /** The next `times` creates are stored and never get a response, as if SuiteCRM hung after the insert. */
  stallAfterCreate(options: { times?: number } = {}): () => void {
    return this.add({ method: 'POST', route: 'POST module', stall: true, times: options.times ?? 1 });
  }

  clear(): void {
    this.#active.length = 0;
  }

  /** Decides what happens to one request, using up counted faults. */
  plan(method: string, route: string): FaultPlan {
    const now = this.#clock();
    const plan: FaultPlan = { status: undefined, retryAfter: undefined, drop: undefined, stall: false, delayMs: 0 };
    for (const fault of [...this.#active]) {
      if (fault.until !== undefined && now >= fault.until) {
        this.#remove(fault.id);
        continue;
      }
      if (!applies(fault, method, route)) {
        continue;
      }
      fault.used += 1;
      if (fault.times !== undefined && fault.used >= fault.times) {
        this.#remove(fault.id);
        fault.onUsedUp?.();
      }
      plan.delayMs += fault.delayMs ?? 0;
      plan.status ??= fault.status;
      plan.retryAfter ??= fault.retryAfter;
      plan.drop ??= fault.drop;
      plan.stall ||= fault.stall === true;
    }
    return plan;
  }

  #remove(id: number): void {
    const index = this.#active.findIndex((fault) => fault.id === id);
    if (index !== -1) {
      this.#active.splice(index, 1);
    }
  }
}

function applies(fault: FaultMatch, method: string, route: string): boolean {
  if (fault.method !== undefined && fault.method.toUpperCase() !== method) {
    return false;
  }
  if (fault.route === undefined) {
    return true;
  }
  return typeof fault.route === 'string' ? fault.route === route : fault.route.test(route);
}
