import type { FastifyRequest } from 'fastify';

/**
 * Which browser origins may use the gateway. Browsers apply no CORS to WebSockets, so without
 * this check any web page an agent visits could open a socket with a token it got hold of.
 * Requests without an Origin header come from servers and scripts, not from pages, and pass:
 * they still need a token or an API key.
 *
 * The gateway's own origin is `publicOrigin` when the operator sets PUSH_PUBLIC_ORIGIN. Without
 * it, the own origin is read from the request's Host header, which a DNS-rebinding page controls:
 * such a page passes this check, though it still has no agent token (nor, outside demo mode,
 * any way to get one).
 */
export class OriginPolicy {
  readonly #allowed: ReadonlySet<string>;
  readonly #publicOrigin: string | undefined;

  constructor(allowed: readonly string[], publicOrigin?: string) {
    this.#allowed = new Set(allowed);
    this.#publicOrigin = publicOrigin;
  }

  /** True for an allow-listed origin, the gateway's own origin, or no origin at all. */
  allows(request: Pick<FastifyRequest, 'headers' | 'protocol' | 'host'>): boolean {
    const origin = request.headers.origin;
    if (origin === undefined) {
      return true;
    }
    if (this.#allowed.has(origin)) {
      return true;
    }
    return this.#publicOrigin === undefined ? origin === `${request.protocol}://${request.host}` : origin === this.#publicOrigin;
  }

  /** For the CORS plugin: whether to send CORS headers for this origin. */
  allowsCrossOrigin(origin: string | undefined): boolean {
    return origin !== undefined && this.#allowed.has(origin);
  }
}
