/**
 * Bytes of unverified request bodies the service buffers at once. The HMAC covers the whole
 * body, so a well-formed signature header with a current timestamp, forged or not, makes the
 * service read the body before it can reject it. A request whose body would push the total over
 * the budget gets 503 with Retry-After: ElevenLabs retries a 503, and memory stays bounded
 * whatever a client sends. Bytes are charged as they arrive, not as a request announces them.
 */
export class BodyBudget {
  readonly #capacity: number;
  #reserved = 0;

  constructor(capacityBytes: number) {
    this.#capacity = capacityBytes;
  }

  get reserved(): number {
    return this.#reserved;
  }

  /** Reserves `bytes` when they fit; false, reserving nothing, when they do not. */
  reserve(bytes: number): boolean {
    if (this.#reserved + bytes > this.#capacity) {
      return false;
    }
    this.#reserved += bytes;
    return true;
  }

  release(bytes: number): void {
    this.#reserved = Math.max(0, this.#reserved - bytes);
  }
}
