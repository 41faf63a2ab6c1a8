import type { IncomingMessage, ServerResponse } from 'node:http';

import helmet, { type HelmetOptions } from 'helmet';

/**
 * Runs Helmet's middleware once against a recording response and returns the headers it set,
 * by lower-case name. With static options (no CSP nonces, no directive functions) the result is
 * the same for every response, so the service copies it into each reply. `@fastify/helmet` 13
 * instead rebuilt the middleware and parsed the CSP directives again on every request: about
 * 6 % of the service's CPU in a profile of `bench/webhook/ingress-vs-express.ts`.
 */
export function helmetHeaders(options: Readonly<HelmetOptions>): Record<string, string> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader(name: string, value: number | string | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  let failure: unknown;
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, (error?: unknown) => {
    failure = error;
  });
  if (failure !== undefined) {
    throw failure;
  }
  return headers;
}
