import { createServer as createHttpServer, STATUS_CODES, type RequestListener, type Server, type ServerOptions } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';

export interface BoundedServerOptions {
  /** Time the whole request (headers and body) may take to arrive, in milliseconds. */
  requestTimeoutMs: number;
  /** Key and certificate for native HTTPS; plain HTTP without them. */
  tls?: { key: Buffer; cert: Buffer } | undefined;
}

// Node checks request deadlines on a timer, every 30 s by default, and a trickled request then
// outlives `requestTimeout` by up to a minute (measured on Node 20.20: 73 to 89 s for a 15 s
// deadline). Checking every second keeps the deadline within a second of what is configured.
const CONNECTIONS_CHECKING_INTERVAL_MS = 1000;
const MAX_HEADERS_TIMEOUT_MS = 10_000;

/**
 * Returns a Fastify `serverFactory` that enforces the request deadline: a client that sends its
 * headers or body slowly gets 408 once `requestTimeoutMs` has passed. Upgraded WebSocket
 * connections are not affected.
 */
export function boundedServerFactory(options: BoundedServerOptions): (handler: RequestListener) => Server {
  const serverOptions: ServerOptions = {
    requestTimeout: options.requestTimeoutMs,
    // Node requires headersTimeout to be at most requestTimeout.
    headersTimeout: Math.min(MAX_HEADERS_TIMEOUT_MS, options.requestTimeoutMs),
    connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS,
  };
  return (handler) => (options.tls === undefined ? createHttpServer(serverOptions, handler) : createHttpsServer({ ...serverOptions, ...options.tls }, handler));
}

export interface ClientErrorResponses {
  /** Error codes of the service for a request that timed out, had too large headers, or could not be parsed. */
  codes: { timeout: string; headersTooLarge: string; malformed: string };
  /** The service's error body for a code and a message, as its routes send it. */
  body: (code: string, message: string) => unknown;
}

/**
 * Returns a Fastify `clientErrorHandler` that responds to requests Node could not parse, or that
 * timed out, with the service's own error body and a stable code instead of Fastify's generic one.
 */
export function jsonClientErrorHandler(responses: ClientErrorResponses): (error: NodeJS.ErrnoException, socket: Duplex) => void {
  return (error, socket) => {
    // A reset connection cannot receive a response.
    if (error.code === 'ECONNRESET' || socket.destroyed) {
      return;
    }
    let status: number;
    let body: unknown;
    if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      status = 408;
      body = responses.body(responses.codes.timeout, 'request timed out: the whole request must arrive within the deadline');
    } else if (error.code === 'HPE_HEADER_OVERFLOW') {
      status = 431;
      body = responses.body(responses.codes.headersTooLarge, 'request headers are too large');
    } else {
      status = 400;
      body = responses.body(responses.codes.malformed, 'malformed HTTP request');
    }
    const text = JSON.stringify(body);
    if (socket.writable) {
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Length: ${Buffer.byteLength(text)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${text}`,
      );
    }
    socket.destroy();
  };
}
