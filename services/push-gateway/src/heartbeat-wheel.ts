/** Something pinged once per heartbeat interval: a session. */
export interface HeartbeatTarget {
  heartbeat(): void;
}

/** Time between two turns of the wheel; each turn pings the sessions of one slot. */
const TURN_MS = 250;

/**
 * Pings every session once per interval, a slice of them at a time.
 *
 * Pinging all sessions in one timer callback blocks the event loop for as long as the pings take
 * to write. 1,000 pings took 8 to 11 ms in one loop on the development machine (2 cores, Node
 * 20.20). So 10,000 agents on one gateway would hold every frame back for about 100 ms, once per
 * interval. In the push
 * benchmark's full run at 10,000 agents, one phase had a p99 of 30 ms and a maximum of 145 ms
 * with the old loop. Each session here has a slot, and each turn (every
 * 250 ms) pings one slot's sessions, so each turn writes about 1/120 of the pings with the
 * default interval of 30 s. A session is still pinged once per interval, and one that did not
 * respond to the previous ping is closed on its next turn, as before.
 */
export class HeartbeatWheel<T extends HeartbeatTarget> {
  readonly #slots: Set<T>[];
  readonly #slotOf = new Map<T, number>();
  readonly #timer: NodeJS.Timeout;
  #turn = 0;

  constructor(intervalMs: number) {
    const slots = Math.max(1, Math.round(intervalMs / TURN_MS));
    this.#slots = Array.from({ length: slots }, () => new Set<T>());
    this.#timer = setInterval(() => this.#ping(), intervalMs / slots);
    this.#timer.unref();
  }

  /** Members in the wheel. */
  get size(): number {
    return this.#slotOf.size;
  }

  add(target: T): void {
    if (this.#slotOf.has(target)) {
      return;
    }
    // The smallest slot takes it, so the slots stay the same size whichever sessions leave.
    let slot = 0;
    for (let index = 1; index < this.#slots.length; index += 1) {
      if ((this.#slots[index]?.size ?? 0) < (this.#slots[slot]?.size ?? 0)) {
        slot = index;
      }
    }
    this.#slots[slot]?.add(target);
    this.#slotOf.set(target, slot);
  }

  delete(target: T): void {
    const slot = this.#slotOf.get(target);
    if (slot !== undefined) {
      this.#slots[slot]?.delete(target);
      this.#slotOf.delete(target);
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #ping(): void {
    const slot = this.#slots[this.#turn];
    this.#turn = (this.#turn + 1) % this.#slots.length;
    // A heartbeat may close its session, which leaves the slot while it is being walked: a Set
    // allows that.
    for (const target of slot ?? []) {
      target.heartbeat();
    }
  }
}
