import { setTimeout as sleep } from 'node:timers/promises';

import type { Logger } from '@cti/logging';

import { CircuitBreaker, type CircuitState } from './breaker.js';
import { SuiteCrmError, SuiteCrmErrorCode } from './errors.js';
import { isSuiteCrm8, locateApi, type ApiLocation } from './location.js';
import { parseJsonLenient } from './parse.js';
import { listQuery, readList, readSingle, type CrmRecord, type ListParams, type ListResult } from './records.js';
import { errorFromResponse } from './response-errors.js';
import { TokenManager, type Credentials, type TokenState } from './token.js';
import { HttpTransport, type HttpResponse } from './transport.js';

/** Outcome of one HTTP exchange, for metrics. */
export interface CrmRequestEvent {
  /** Route template, e.g. `GET module/{module}`; never contains ids or filter values. */
  route: string;
  /** HTTP status, or what happened instead of a response. */
  outcome: number | 'timeout' | 'network' | 'circuit_open';
  durationMs: number;
}

/** Hooks for metrics; the client itself knows no metrics library. */
export interface SuiteCrmObserver {
  requestFinished?(event: CrmRequestEvent): void;
  tokenRefreshed?(outcome: 'ok' | 'failed'): void;
  circuitChanged?(state: CircuitState): void;
}

export interface SuiteCrmClientOptions {
  /** SUITECRM_URL: site root of SuiteCRM 7 or 8, SuiteCRM 8's `/legacy`, or the API itself. */
  url: string;
  credentials: Credentials;
  /** Base of the links to records in the web UI; the site root by default. */
  uiUrl?: string | undefined;
  /** Default 3000 ms. */
  connectTimeoutMs?: number;
  /** Per request, default 10 000 ms. */
  requestTimeoutMs?: number;
  /** Keep-alive connections at most, default 16. */
  maxConnections?: number;
  /** Retries after the first attempt for retryable failures, default 3. */
  maxRetries?: number;
  /** First backoff delay, doubled per retry, with jitter; default 250 ms. */
  retryBaseDelayMs?: number;
  /**
   * Maximum wait between two attempts, default 10 000 ms. A longer Retry-After or an open
   * circuit ends the call with the error instead, so a queue consumer can retry it later.
   */
  retryMaxDelayMs?: number;
  /** Consecutive failures that open the circuit, default 5. */
  circuitFailureThreshold?: number;
  /** Time the circuit stays open, default 30 000 ms. */
  circuitOpenMs?: number;
  /** Token refresh this long before expiry, default 60 000 ms. */
  tokenRefreshMarginMs?: number;
  clock?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  logger?: Logger | undefined;
  observer?: SuiteCrmObserver | undefined;
}

/**
 * When a failed call may be sent again:
 * - `always`: the call is idempotent (reads, updates, links, and creates with a client-chosen
 *   id, which SuiteCRM refuses to create twice);
 * - `unsent`: only when the request cannot have reached SuiteCRM (a create without an id).
 */
type RetryPolicy = 'always' | 'unsent';

interface ApiCall {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Path under `/Api/V8/`, encoded. */
  path: string;
  query?: string;
  body?: unknown;
  route: string;
  retry: RetryPolicy;
  signal?: AbortSignal | undefined;
}

export interface FieldDefinition {
  type?: string;
  dbType?: string;
  len?: string;
  required?: boolean;
  source?: string;
  relationship?: string;
}

const JSON_API = 'application/vnd.api+json';

function segment(value: string): string {
  return encodeURIComponent(value);
}

/**
 * Client of the SuiteCRM V8 JSON:API. It gets and refreshes OAuth2 tokens, retries what is safe
 * to retry with backoff and jitter (honouring Retry-After), opens a circuit while the CRM keeps
 * failing, and turns every failure into a SuiteCrmError whose SuiteCRM text is redacted.
 */
export class SuiteCrmClient {
  readonly #location: ApiLocation;
  readonly #transport: HttpTransport;
  readonly #tokens: TokenManager;
  readonly #breaker: CircuitBreaker;
  readonly #options: SuiteCrmClientOptions;
  readonly #clock: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #random: () => number;
  readonly #secrets: (string | undefined)[];

  constructor(options: SuiteCrmClientOptions) {
    this.#options = options;
    this.#location = locateApi(options.url);
    this.#clock = options.clock ?? Date.now;
    this.#sleep = options.sleep ?? ((ms) => sleep(ms));
    this.#random = options.random ?? Math.random;
    this.#secrets = [options.credentials.clientSecret, options.credentials.password];
    this.#transport = new HttpTransport({
      origin: this.#location.origin,
      connectTimeoutMs: options.connectTimeoutMs ?? 3000,
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
      maxConnections: options.maxConnections ?? 16,
    });
    this.#tokens = new TokenManager({
      transport: this.#transport,
      credentials: options.credentials,
      candidates: this.#location.candidates,
      clock: this.#clock,
      refreshMarginMs: options.tokenRefreshMarginMs ?? 60_000,
      logger: options.logger,
      onRefresh: (outcome) => options.observer?.tokenRefreshed?.(outcome),
    });
    this.#breaker = new CircuitBreaker({
      failureThreshold: options.circuitFailureThreshold ?? 5,
      openMs: options.circuitOpenMs ?? 30_000,
      clock: this.#clock,
      onChange: (state) => {
        options.logger?.[state === 'open' ? 'warn' : 'info']({ state }, 'suitecrm circuit breaker changed state');
        options.observer?.circuitChanged?.(state);
      },
    });
  }

  tokenState(): TokenState {
    return this.#tokens.state();
  }

  circuitState(): CircuitState {
    return this.#breaker.state;
  }

  /** Gets a token now, as a start-up check; rejects with the token endpoint's error. */
  async authenticate(): Promise<void> {
    await this.#tokens.getToken();
  }

  /** Link to a record in the SuiteCRM web UI (SuiteCRM 8 uses its own route layout). */
  recordUrl(module: string, id: string): string {
    const base = (this.#options.uiUrl ?? `${this.#location.origin}${this.#location.sitePath}`).replace(/\/+$/, '');
    const prefix = this.#tokens.prefix ?? this.#location.candidates[0] ?? '';
    if (isSuiteCrm8(prefix)) {
      return `${base}/#/${module.toLowerCase()}/record/${encodeURIComponent(id)}`;
    }
    return `${base}/index.php?module=${encodeURIComponent(module)}&action=DetailView&record=${encodeURIComponent(id)}`;
  }

  async list(module: string, params: ListParams, signal?: AbortSignal): Promise<ListResult> {
    const document = await this.#call({
      method: 'GET',
      path: `module/${segment(module)}`,
      query: listQuery(module, params),
      route: 'GET module/{module}',
      retry: 'always',
      signal,
    });
    return readList(document);
  }

  /** Yields every page of a list, asking by page number until SuiteCRM's total-pages. */
  async *listPages(module: string, params: ListParams, signal?: AbortSignal): AsyncGenerator<CrmRecord[]> {
    for (let page = params.pageNumber ?? 1; ; page += 1) {
      const result = await this.list(module, { ...params, pageNumber: page }, signal);
      if (result.records.length === 0) {
        return;
      }
      yield result.records;
      if (result.totalPages === undefined || page >= result.totalPages) {
        return;
      }
    }
  }

  async get(module: string, id: string, fields?: readonly string[], signal?: AbortSignal): Promise<CrmRecord> {
    const query = fields === undefined ? undefined : `fields[${module}]=${encodeURIComponent(fields.join(','))}`;
    const document = await this.#call({
      method: 'GET',
      path: `module/${segment(module)}/${segment(id)}`,
      ...(query === undefined ? {} : { query }),
      route: 'GET module/{module}/{id}',
      retry: 'always',
      signal,
    });
    return readSingle(document);
  }

  /**
   * Creates a record. With `id` (a UUID the caller chose), SuiteCRM stores the record under that
   * id and rejects a second create with "already exist", so the call is retried like a read.
   * Without one, it is sent again only when it cannot have reached SuiteCRM.
   */
  async create(module: string, attributes: Record<string, unknown>, options: { id?: string; signal?: AbortSignal } = {}): Promise<CrmRecord> {
    const document = await this.#call({
      method: 'POST',
      path: 'module',
      body: { data: { type: module, ...(options.id === undefined ? {} : { id: options.id }), attributes } },
      route: 'POST module',
      retry: options.id === undefined ? 'unsent' : 'always',
      signal: options.signal,
    });
    return readSingle(document);
  }

  /** Changes only the attributes given (SuiteCRM returns 201 with the whole record). */
  async update(module: string, id: string, attributes: Record<string, unknown>, signal?: AbortSignal): Promise<CrmRecord> {
    const document = await this.#call({
      method: 'PATCH',
      path: 'module',
      body: { data: { type: module, id, attributes } },
      route: 'PATCH module',
      retry: 'always',
      signal,
    });
    return readSingle(document);
  }

  async delete(module: string, id: string, signal?: AbortSignal): Promise<void> {
    await this.#call({ method: 'DELETE', path: `module/${segment(module)}/${segment(id)}`, route: 'DELETE module/{module}/{id}', retry: 'always', signal });
  }

  /**
   * Links two records through a named link of the source module (`contacts`, `users`, `leads` on
   * Calls). The generic route without a link name is avoided on purpose: it picks
   * `modified_user_link` for Users and overwrites the parent for Accounts. Linking twice is
   * harmless: SuiteCRM answers 201 and keeps one row.
   */
  async relate(module: string, id: string, link: string, related: { module: string; id: string }, signal?: AbortSignal): Promise<void> {
    await this.#call({
      method: 'POST',
      path: `module/${segment(module)}/${segment(id)}/relationships/${segment(link)}`,
      body: { data: { type: related.module, id: related.id } },
      route: 'POST module/{module}/{id}/relationships/{link}',
      retry: 'always',
      signal,
    });
  }

  /** Lists records linked through a link; `fields[...]` is not supported on these routes. */
  async related(module: string, id: string, link: string, page: { size: number; number?: number }, signal?: AbortSignal): Promise<ListResult> {
    const query = `page[size]=${page.size}${page.number === undefined ? '' : `&page[number]=${page.number}`}`;
    const document = await this.#call({
      method: 'GET',
      path: `module/${segment(module)}/${segment(id)}/relationships/${segment(link)}`,
      query,
      route: 'GET module/{module}/{id}/relationships/{link}',
      retry: 'always',
      signal,
    });
    return readList(document);
  }

  /** Field metadata of a module (custom fields such as `ai_summary_c` included). */
  async fieldDefinitions(module: string, signal?: AbortSignal): Promise<Record<string, FieldDefinition>> {
    const document = (await this.#call({ method: 'GET', path: `meta/fields/${segment(module)}`, route: 'GET meta/fields/{module}', retry: 'always', signal })) as {
      data?: { attributes?: Record<string, FieldDefinition> };
    };
    const attributes = document.data?.attributes;
    if (typeof attributes !== 'object' || attributes === null) {
      throw new SuiteCrmError(SuiteCrmErrorCode.RESPONSE_INVALID, 'SuiteCRM field metadata has no attributes', { retryable: true });
    }
    return attributes;
  }

  async currentUser(signal?: AbortSignal): Promise<CrmRecord> {
    return readSingle(await this.#call({ method: 'GET', path: 'current-user', route: 'GET current-user', retry: 'always', signal }));
  }

  /** Revokes the current token; the next call gets a new one. */
  async logout(): Promise<void> {
    await this.#call({ method: 'POST', path: 'logout', route: 'POST logout', retry: 'unsent' });
  }

  async close(): Promise<void> {
    await this.#transport.close();
  }

  async #call(call: ApiCall): Promise<unknown> {
    const maxRetries = this.#options.maxRetries ?? 3;
    let previous: SuiteCrmError | undefined;
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await this.#attempt(call);
      } catch (error) {
        if (!(error instanceof SuiteCrmError)) {
          throw error;
        }
        // The earlier attempts opened the circuit that stopped this retry; their error is more useful.
        if (error.code === SuiteCrmErrorCode.CIRCUIT_OPEN && previous !== undefined) {
          throw previous;
        }
        previous = error;
        const delay = this.#retryDelay(error, call, attempt, maxRetries);
        if (delay === undefined) {
          throw error;
        }
        this.#options.logger?.warn(
          { route: call.route, code: error.code, status: error.status, crmDetail: error.crmDetail, attempt: attempt + 1, retryInMs: delay },
          'suitecrm request failed, retrying',
        );
        await this.#sleep(delay);
      }
    }
  }

  /** Milliseconds to wait before the next attempt, or undefined when the error is final. */
  #retryDelay(error: SuiteCrmError, call: ApiCall, attempt: number, maxRetries: number): number | undefined {
    if (!error.retryable || attempt >= maxRetries || call.signal?.aborted === true) {
      return undefined;
    }
    if (call.retry === 'unsent' && error.requestSent) {
      return undefined;
    }
    if (error.code === SuiteCrmErrorCode.CIRCUIT_OPEN) {
      return undefined;
    }
    const maxDelay = this.#options.retryMaxDelayMs ?? 10_000;
    if (error.retryAfterSeconds !== undefined) {
      const wait = error.retryAfterSeconds * 1000;
      return wait <= maxDelay ? wait : undefined;
    }
    const base = (this.#options.retryBaseDelayMs ?? 250) * 2 ** attempt;
    // Half fixed, half random: spreads the retries of many callers that failed together.
    return Math.min(maxDelay, Math.round(base / 2 + (this.#random() * base) / 2));
  }

  async #attempt(call: ApiCall): Promise<unknown> {
    if (!this.#breaker.allow()) {
      this.#options.observer?.requestFinished?.({ route: call.route, outcome: 'circuit_open', durationMs: 0 });
      throw new SuiteCrmError(SuiteCrmErrorCode.CIRCUIT_OPEN, `SuiteCRM circuit breaker is open after repeated failures; next try in ${this.#breaker.retryInMs()} ms`, {
        retryable: true,
        requestSent: false,
        details: { route: call.route },
      });
    }

    let token: string;
    try {
      token = await this.#tokens.getToken();
    } catch (error) {
      this.#judge(error);
      throw error;
    }

    let response = await this.#send(call, token);
    if (response.status === 401) {
      // An expired token gets the same 401 as a forged one, so every 401 earns one new token.
      this.#tokens.invalidate(token);
      try {
        token = await this.#tokens.getToken();
      } catch (error) {
        this.#judge(error);
        throw error;
      }
      response = await this.#send(call, token);
    }

    if (response.status >= 500) {
      this.#breaker.failure();
    } else {
      this.#breaker.success();
    }

    if (response.status >= 200 && response.status < 300) {
      const parsed = parseJsonLenient(response.text);
      if (parsed === undefined) {
        throw new SuiteCrmError(SuiteCrmErrorCode.RESPONSE_INVALID, `SuiteCRM returned a body that is not JSON for ${call.route}`, {
          status: response.status,
          retryable: true,
        });
      }
      return parsed.value;
    }
    const error = errorFromResponse(
      { status: response.status, text: response.text, headers: response.headers, endpoint: 'api', route: call.route, secrets: [...this.#secrets, token] },
      this.#clock(),
    );
    // A 401 after a fresh token is not going away by retrying this call.
    throw response.status === 401 ? new SuiteCrmError(error.code, error.message, { status: 401, retryable: false, ...(error.crmDetail === undefined ? {} : { crmDetail: error.crmDetail }) }) : error;
  }

  async #send(call: ApiCall, token: string): Promise<HttpResponse> {
    const prefix = this.#tokens.prefix ?? this.#location.candidates[0] ?? '/Api';
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: JSON_API };
    if (call.body !== undefined) {
      headers['content-type'] = JSON_API;
    }
    const started = performance.now();
    try {
      const response = await this.#transport.send({
        method: call.method,
        path: `${prefix}/V8/${call.path}${call.query === undefined ? '' : `?${call.query}`}`,
        headers,
        ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
        ...(call.signal === undefined ? {} : { signal: call.signal }),
      });
      this.#options.observer?.requestFinished?.({ route: call.route, outcome: response.status, durationMs: performance.now() - started });
      return response;
    } catch (error) {
      const outcome = error instanceof SuiteCrmError && error.code === SuiteCrmErrorCode.TIMEOUT ? 'timeout' : 'network';
      this.#options.observer?.requestFinished?.({ route: call.route, outcome, durationMs: performance.now() - started });
      // A caller that gave up at its own deadline is no sign of the CRM's health.
      if (call.signal?.aborted === true) {
        this.#breaker.neutral();
      } else {
        this.#breaker.failure();
      }
      throw error;
    }
  }

  /** Feeds a token failure to the circuit breaker: only outages count, not a rejected secret. */
  #judge(error: unknown): void {
    if (error instanceof SuiteCrmError && (error.code === SuiteCrmErrorCode.UNAVAILABLE || error.code === SuiteCrmErrorCode.TIMEOUT || error.code === SuiteCrmErrorCode.NETWORK)) {
      this.#breaker.failure();
    } else {
      this.#breaker.neutral();
    }
  }
}
