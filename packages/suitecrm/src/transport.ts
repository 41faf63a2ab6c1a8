import { Pool, errors as undiciErrors } from 'undici';

import { SuiteCrmError, SuiteCrmErrorCode } from './errors.js';

export interface TransportOptions {
  /** Scheme, host and port of SuiteCRM, e.g. `https://crm.example.com`. */
  origin: string;
  /** Time allowed to open a TCP (and TLS) connection, in ms. */
  connectTimeoutMs: number;
  /** Time allowed for a whole request, from sending to the last body byte, in ms. */
  requestTimeoutMs: number;
  /** Connections kept open to SuiteCRM at most. */
  maxConnections: number;
}

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Path and query, already encoded. */
  path: string;
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

// Errors raised before any byte of the request left this process: sending again cannot
// create a second record.
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

function errorCodeOf(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current !== undefined && current !== null; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') {
      return code;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * HTTP/1.1 to one SuiteCRM origin over a keep-alive pool. Every failure to get a response
 * becomes a SuiteCrmError: TIMEOUT or NETWORK, with `requestSent` false only when the request
 * cannot have reached SuiteCRM.
 */
export class HttpTransport {
  readonly #pool: Pool;
  readonly #requestTimeoutMs: number;

  constructor(options: TransportOptions) {
    this.#requestTimeoutMs = options.requestTimeoutMs;
    this.#pool = new Pool(options.origin, {
      connections: options.maxConnections,
      connect: { timeout: options.connectTimeoutMs },
      headersTimeout: options.requestTimeoutMs,
      bodyTimeout: options.requestTimeoutMs,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 60_000,
    });
  }

  async send(request: HttpRequest): Promise<HttpResponse> {
    const timeout = AbortSignal.timeout(this.#requestTimeoutMs);
    const signal = request.signal === undefined ? timeout : AbortSignal.any([timeout, request.signal]);
    try {
      const response = await this.#pool.request({
        method: request.method,
        path: request.path,
        headers: request.headers,
        ...(request.body === undefined ? {} : { body: request.body }),
        signal,
      });
      const text = await response.body.text();
      return { status: response.statusCode, headers: response.headers, text };
    } catch (error) {
      throw this.#toError(error, timeout.aborted, request.signal?.aborted === true);
    }
  }

  #toError(error: unknown, timedOut: boolean, cancelled: boolean): SuiteCrmError {
    const code = errorCodeOf(error);
    const sent = code === undefined || !NOT_SENT_CODES.has(code);
    if (cancelled && !timedOut) {
      return new SuiteCrmError(SuiteCrmErrorCode.NETWORK, 'SuiteCRM request cancelled', { cause: error, retryable: false, requestSent: sent });
    }
    const isTimeout =
      timedOut ||
      error instanceof undiciErrors.HeadersTimeoutError ||
      error instanceof undiciErrors.BodyTimeoutError ||
      error instanceof undiciErrors.ConnectTimeoutError;
    if (isTimeout) {
      return new SuiteCrmError(SuiteCrmErrorCode.TIMEOUT, 'SuiteCRM request timed out', {
        cause: error,
        retryable: true,
        requestSent: sent,
        details: code === undefined ? {} : { errno: code },
      });
    }
    return new SuiteCrmError(SuiteCrmErrorCode.NETWORK, `cannot reach SuiteCRM (${code ?? 'connection failed'})`, {
      cause: error,
      retryable: true,
      requestSent: sent,
      details: code === undefined ? {} : { errno: code },
    });
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}
