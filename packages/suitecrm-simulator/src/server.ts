import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

import { ApiError } from './api-error.js';
import type { ApiResult, SuiteCrmApp } from './app.js';
import { AUTH_DENIED_BODY, type OAuthServer } from './auth.js';
import type { Fault, Faults } from './faults.js';
import type { LatencyModel } from './latency.js';
import { parsePhpQuery, phpUrlDecode } from './php-query.js';

/** One request as the simulator saw it, for assertions in tests. */
export interface RecordedRequest {
  method: string;
  /** Route template, e.g. `GET module/{module}`. */
  route: string;
  module: string | undefined;
  status: number | 'dropped';
  /** Simulator clock when the request arrived. */
  at: number;
}

export interface HttpOptions {
  host?: string;
  port?: number;
  /** Path SuiteCRM is installed under: `` for SuiteCRM 7, `/legacy` to respond like SuiteCRM 8. */
  basePath?: string;
  latency?: LatencyModel;
  /** Serves `/__simulator/faults` so another process can inject faults. */
  adminRoutes?: boolean;
}

interface Route {
  template: string;
  module: string | undefined;
  handle: (context: RequestContext) => Promise<ApiResult> | ApiResult;
}

interface RequestContext {
  body: unknown;
  query: ReturnType<typeof parsePhpQuery>;
  userId: string;
  authorization: string | undefined;
  latencyMs: number;
}

const COMMON_HEADERS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'POST, GET, OPTIONS, PUT, DELETE',
  'Access-Control-Allow-Headers': 'Content-Type, Access-Control-Allow-Headers, Authorization, X-Requested-With',
  'X-Content-Type-Options': 'nosniff',
};
const JSON_API = 'application/vnd.api+json';

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

/** SuiteCRM can only read a JSON body when the request's Content-Type declares JSON. */
function parseJsonBody(contentType: string | undefined, text: string): unknown {
  if (contentType === undefined || !/json/i.test(contentType)) {
    return undefined;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function tokenParameters(contentType: string | undefined, text: string): Record<string, string> {
  if (contentType !== undefined && /json/i.test(contentType)) {
    const parsed = parseJsonBody(contentType, text);
    if (typeof parsed !== 'object' || parsed === null) {
      return {};
    }
    return Object.fromEntries(Object.entries(parsed).map(([key, value]) => [key, String(value)]));
  }
  const parameters: Record<string, string> = {};
  for (const part of text.split('&')) {
    if (part === '') {
      continue;
    }
    const equals = part.indexOf('=');
    parameters[phpUrlDecode(equals === -1 ? part : part.slice(0, equals))] = phpUrlDecode(equals === -1 ? '' : part.slice(equals + 1));
  }
  return parameters;
}

/** The HTTP side of the simulator: SuiteCRM's routes, auth, faults and latency. */
export class SimulatorHttp {
  readonly app: SuiteCrmApp;
  readonly oauth: OAuthServer;
  readonly faults: Faults;
  readonly requests: RecordedRequest[] = [];
  readonly #server: Server;
  readonly #options: HttpOptions;
  readonly #clock: () => number;
  readonly #sockets = new Set<Socket>();

  constructor(app: SuiteCrmApp, oauth: OAuthServer, faults: Faults, clock: () => number, options: HttpOptions) {
    this.app = app;
    this.oauth = oauth;
    this.faults = faults;
    this.#clock = clock;
    this.#options = options;
    this.#server = createServer((request, response) => {
      this.#handle(request, response).catch((error: unknown) => {
        if (!response.headersSent) {
          this.#send(response, 500, JSON.stringify({ message: error instanceof Error ? error.message : 'internal error' }), 'application/json');
        }
      });
    });
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#options.port ?? 0, this.#options.host ?? '127.0.0.1', () => resolve());
    });
    return (this.#server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) {
      socket.destroy();
    }
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://simulator');
    const method = (request.method ?? 'GET').toUpperCase();
    const text = await readBody(request);
    const at = this.#clock();

    if (this.#options.adminRoutes === true && url.pathname.startsWith('/__simulator/')) {
      this.#admin(method, url.pathname, text, response);
      return;
    }

    const base = `${this.#options.basePath ?? ''}/Api/`;
    if (!url.pathname.startsWith(base)) {
      // What a SuiteCRM 8 site returns at /Api when the API lives under /legacy.
      this.#send(response, 404, '<!DOCTYPE html><html><body><h1>Not Found</h1></body></html>', 'text/html; charset=UTF-8');
      return;
    }
    const segments = url.pathname.slice(base.length).split('/').filter((segment) => segment !== '').map((segment) => decodeURIComponent(segment));
    const rawQuery = url.search.startsWith('?') ? url.search.slice(1) : '';
    const route = this.#route(method, segments);
    if (route === 'not-found' || route === 'method-not-allowed') {
      const status = route === 'not-found' ? 404 : 405;
      const body = route === 'not-found' ? { message: 'Not found' } : { message: 'Method not allowed. Must be one of: POST' };
      this.#send(response, status, JSON.stringify(body), 'application/json');
      this.requests.push({ method, route: route, module: undefined, status, at });
      return;
    }

    const plan = this.faults.plan(method, route.template);
    const latencyMs = (this.#options.latency?.(route.template, route.module) ?? 0) + plan.delayMs;
    if (plan.drop === 'before') {
      this.requests.push({ method, route: route.template, module: route.module, status: 'dropped', at });
      request.socket.destroy();
      return;
    }
    if (plan.status !== undefined) {
      await sleep(latencyMs);
      this.requests.push({ method, route: route.template, module: route.module, status: plan.status, at });
      this.#send(response, plan.status, `<html><body><h1>${plan.status}</h1></body></html>`, 'text/html; charset=iso-8859-1', {
        ...(plan.retryAfter === undefined ? {} : { 'Retry-After': plan.retryAfter }),
      });
      return;
    }

    const contentType = request.headers['content-type'];
    const status = await this.#dispatch(route, {
      method,
      text,
      contentType,
      rawQuery,
      authorization: request.headers.authorization,
      latencyMs,
      response,
      drop: plan.drop === 'after',
      stall: plan.stall,
    });
    this.requests.push({ method, route: route.template, module: route.module, status: plan.drop === 'after' || plan.stall ? 'dropped' : status, at });
  }

  async #dispatch(
    route: Route,
    input: {
      method: string;
      text: string;
      contentType: string | undefined;
      rawQuery: string;
      authorization: string | undefined;
      latencyMs: number;
      response: ServerResponse;
      drop: boolean;
      stall: boolean;
    },
  ): Promise<number> {
    const { response } = input;
    const finish = (status: number, body: string, contentType: string, headers: Record<string, string> = {}): number => {
      if (input.stall) {
        // Keep the connection open without a response; close() destroys it.
        return status;
      }
      if (input.drop) {
        response.socket?.destroy();
      } else {
        this.#send(response, status, body, contentType, headers);
      }
      return status;
    };

    const isCreate = route.template === 'POST module';
    // A create spends half its time before the "id exists" check and half before the insert.
    await sleep(isCreate ? input.latencyMs / 2 : input.latencyMs);

    if (route.template === 'POST access_token') {
      const result = this.oauth.token(tokenParameters(input.contentType, input.text));
      const headers: Record<string, string> = result.status === 200 ? { pragma: 'no-cache', 'cache-control': 'no-store' } : {};
      return finish(result.status, JSON.stringify(result.body), result.status === 200 ? 'application/json; charset=UTF-8' : 'application/json', headers);
    }

    const check = this.oauth.verify(input.authorization);
    if (!check.ok) {
      return finish(401, JSON.stringify(AUTH_DENIED_BODY(check.hint)), 'application/json');
    }

    const body = parseJsonBody(input.contentType, input.text);
    try {
      const result = await route.handle({
        body,
        query: parsePhpQuery(input.rawQuery),
        userId: check.userId,
        authorization: input.authorization,
        latencyMs: isCreate ? input.latencyMs / 2 : 0,
      });
      let output = JSON.stringify(result.document, null, 4);
      if (isCreate && this.app.definition(String((body as { data?: { type?: unknown } } | undefined)?.data?.type ?? ''))?.module === 'Users') {
        // SuiteCRM's Users module prints this while saving; the JSON is no longer valid.
        output += 'Provide both a User Name and an Email Address.';
      }
      return finish(result.status, output, JSON_API, { Accept: JSON_API });
    } catch (error) {
      if (!(error instanceof ApiError)) {
        throw error;
      }
      const document = { errors: { status: error.status, title: null, detail: error.message } };
      const output = JSON.stringify(document, null, 4) + (error.trailing ?? '');
      return error.origin === 'controller'
        ? finish(error.status, output, JSON_API, { Accept: JSON_API })
        : finish(error.status, output, 'application/json');
    }
  }

  #route(method: string, segments: string[]): Route | 'not-found' | 'method-not-allowed' {
    const [first, second, third, fourth, fifth, sixth, seventh] = segments;
    const app = this.app;
    if (first === 'access_token' && segments.length === 1) {
      return method === 'POST' ? { template: 'POST access_token', module: undefined, handle: () => ({ status: 200, document: null }) } : 'method-not-allowed';
    }
    if (first !== 'V8') {
      return 'not-found';
    }
    const key = `${method} ${segments.length}`;
    if (second === 'meta' && third === 'modules' && key === 'GET 3') {
      return { template: 'GET meta/modules', module: undefined, handle: () => app.modulesMeta() };
    }
    if (second === 'meta' && third === 'fields' && fourth !== undefined && key === 'GET 4') {
      return { template: 'GET meta/fields/{module}', module: fourth, handle: () => app.fieldsMeta(fourth) };
    }
    if (second === 'current-user' && key === 'GET 2') {
      return { template: 'GET current-user', module: 'Users', handle: (context) => app.currentUser(context.userId) };
    }
    if (second === 'logout' && key === 'POST 2') {
      return {
        template: 'POST logout',
        module: undefined,
        handle: (context) => {
          this.oauth.revoke(context.authorization);
          return { status: 200, document: { meta: { message: 'You have been successfully logged out' }, data: [] } };
        },
      };
    }
    if (second !== 'module') {
      return 'not-found';
    }
    if (segments.length === 2 && method === 'POST') {
      return { template: 'POST module', module: undefined, handle: (context) => app.create(context.body, context.userId, () => sleep(context.latencyMs)) };
    }
    if (segments.length === 2 && method === 'PATCH') {
      return { template: 'PATCH module', module: undefined, handle: (context) => app.update(context.body, context.userId) };
    }
    if (third === undefined) {
      return 'not-found';
    }
    if (segments.length === 3 && method === 'GET') {
      return { template: 'GET module/{module}', module: third, handle: (context) => app.list(third, context.query) };
    }
    if (fourth === undefined) {
      return 'not-found';
    }
    if (segments.length === 4 && method === 'GET') {
      return { template: 'GET module/{module}/{id}', module: third, handle: (context) => app.get(third, fourth, context.query) };
    }
    if (segments.length === 4 && method === 'DELETE') {
      return { template: 'DELETE module/{module}/{id}', module: third, handle: () => app.delete(third, fourth) };
    }
    if (fifth !== 'relationships') {
      return 'not-found';
    }
    if (segments.length === 5 && method === 'POST') {
      return { template: 'POST module/{module}/{id}/relationships', module: third, handle: (context) => app.relate(third, fourth, undefined, context.body, context.userId) };
    }
    if (sixth !== undefined && segments.length === 6 && method === 'POST') {
      return { template: 'POST module/{module}/{id}/relationships/{link}', module: third, handle: (context) => app.relate(third, fourth, sixth, context.body, context.userId) };
    }
    if (sixth !== undefined && segments.length === 6 && method === 'GET') {
      return { template: 'GET module/{module}/{id}/relationships/{link}', module: third, handle: (context) => app.related(third, fourth, sixth, context.query) };
    }
    if (sixth !== undefined && seventh !== undefined && segments.length === 7 && method === 'DELETE') {
      return {
        template: 'DELETE module/{module}/{id}/relationships/{link}/{relatedId}',
        module: third,
        handle: () => app.unrelate(third, fourth, sixth, seventh),
      };
    }
    return 'not-found';
  }

  #admin(method: string, path: string, text: string, response: ServerResponse): void {
    if (path === '/__simulator/faults' && method === 'POST') {
      const fault = JSON.parse(text) as Fault;
      this.faults.add(fault);
      this.#send(response, 201, JSON.stringify({ ok: true }), 'application/json');
      return;
    }
    if (path === '/__simulator/faults' && method === 'DELETE') {
      this.faults.clear();
      this.#send(response, 200, JSON.stringify({ ok: true }), 'application/json');
      return;
    }
    this.#send(response, 404, JSON.stringify({ message: 'Not found' }), 'application/json');
  }

  #send(response: ServerResponse, status: number, body: string, contentType: string, headers: Record<string, string> = {}): void {
    response.writeHead(status, { ...COMMON_HEADERS, ...headers, 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
    response.end(body);
  }
}
