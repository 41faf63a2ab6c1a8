import type { FastifyRequest } from 'fastify';

/**
 * Which browser origins may use the gateway. Browsers apply no CORS to WebSockets, so without
 * this check any web page an agent visits could open a socket with a token it got hold of.
 * Requests without an Origin header come from servers and scripts, not from pages, and pass:
 * they still need a token or an API key.
 */
export class OriginPolicy {
  readonly #allowed: ReadonlySet<string>;

  constructor(allowed: readonly string[]) {
    this.#allowed = new Set(allowed);
  }

  /** True for an allow-listed origin, the gateway's own origin, or no origin at all. */
  allows(request: Pick<FastifyRequest, 'headers' | 'protocol' | 'host'>): boolean {
    const origin = request.headers.origin;
    if (origin === undefined) {
      return true;
    }
    return this.#allowed.has(origin) || origin === `${request.protocol}://${request.host}`;
  }

  /** For the CORS plugin: whether to send CORS headers for this origin. */
  allowsCrossOrigin(origin: string | undefined): boolean {
    return origin !== undefined && this.#allowed.has(origin);
  }
}
