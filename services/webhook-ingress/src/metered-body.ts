import type { IncomingMessage } from 'node:http';

import type { BodyBudget } from './body-budget.js';
import { WebhookError, WebhookErrorCode } from './errors.js';

export interface MeteredBodyOptions {
  /** Largest body the route accepts, in bytes. */
  limit: number;
  budget: BodyBudget;
  /** Retry-After of the 503 response when the budget is full, in seconds. */
  retryAfterSeconds: number;
  /** Called with each chunk charged to the budget, so the caller can release it later. */
  charged: (bytes: number) => void;
}

/**
 * Reads a request body into one Buffer, charging each chunk to the body budget as it arrives.
 * It does what Fastify's own buffer parser does (the body limit, the Content-Length check) in the
 * same pass, so no second stream sits between the socket and the parser.
 * Fails with a WebhookError: BODY_TOO_LARGE past the limit, BUSY when the budget is full,
 * BODY_NOT_JSON when the body is shorter or longer than its Content-Length.
 */
export function readMeteredBody(payload: IncomingMessage, contentLengthHeader: string | undefined, options: MeteredBodyOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const contentLength = contentLengthHeader === undefined ? Number.NaN : Number(contentLengthHeader);
    if (contentLength > options.limit) {
      reject(new WebhookError(WebhookErrorCode.BODY_TOO_LARGE, 'request body is larger than this route accepts'));
      return;
    }
    const chunks: Buffer[] = [];
    let received = 0;

    const stop = (error: Error | undefined): void => {
      payload.removeListener('data', onData);
      payload.removeListener('end', onEnd);
      payload.removeListener('error', onError);
      if (error !== undefined) {
        // The rest of the body is not wanted; reading it to the end keeps the connection usable.
        payload.resume();
        reject(error);
      }
    };
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received > options.limit) {
        stop(new WebhookError(WebhookErrorCode.BODY_TOO_LARGE, 'request body is larger than this route accepts'));
        return;
      }
      if (!options.budget.reserve(chunk.length)) {
        stop(
          new WebhookError(WebhookErrorCode.BUSY, 'too many large deliveries are being received at once, retry later', {
            retryAfterSeconds: options.retryAfterSeconds,
          }),
        );
        return;
      }
      options.charged(chunk.length);
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      stop(undefined);
      if (!Number.isNaN(contentLength) && received !== contentLength) {
        reject(new WebhookError(WebhookErrorCode.BODY_NOT_JSON, 'request body length does not match Content-Length'));
        return;
      }
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, received));
    };
    const onError = (error: Error): void => stop(error);

    payload.on('data', onData);
    payload.on('end', onEnd);
    payload.on('error', onError);
    payload.resume();
  });
}
