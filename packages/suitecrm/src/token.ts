import type { Logger } from '@cti/logging';

import { SuiteCrmError, SuiteCrmErrorCode } from './errors.js';
import { parseJsonLenient } from './parse.js';
import { errorFromResponse } from './response-errors.js';
import type { HttpResponse, HttpTransport } from './transport.js';

export type GrantType = 'client_credentials' | 'password';

export interface Credentials {
  clientId: string;
  clientSecret: string;
  grantType: GrantType;
  /** User of the password grant. */
  username?: string | undefined;
  password?: string | undefined;
}

export interface TokenState {
  /** `valid`: a token is cached and not about to expire; `none`: never fetched; `failed`: the last fetch failed. */
  status: 'valid' | 'expiring' | 'none' | 'failed';
  expiresAt?: number;
  lastErrorCode?: string;
}

export interface TokenManagerOptions {
  transport: HttpTransport;
  credentials: Credentials;
  /** API prefixes to try, see `locateApi`. */
  candidates: readonly string[];
  clock: () => number;
  /**
   * A token is refreshed this long before it expires, in ms, so a request never leaves with a
   * token that expires on the way. SuiteCRM's tokens last 3600 s.
   */
  refreshMarginMs: number;
  logger?: Logger | undefined;
  onRefresh?: ((outcome: 'ok' | 'failed') => void) | undefined;
}

interface CachedToken {
  accessToken: string;
  expiresAt: number;
  refreshToken: string | undefined;
}

/**
 * Fetches and caches the OAuth2 access token. Concurrent callers that need a new token share
 * one token request. The first successful token request also decides which API prefix this
 * SuiteCRM uses (SuiteCRM 7 `/Api` or SuiteCRM 8 `/legacy/Api`).
 */
export class TokenManager {
  readonly #options: TokenManagerOptions;
  #token: CachedToken | undefined;
  #inflight: Promise<string> | undefined;
  #prefix: string | undefined;
  #lastErrorCode: string | undefined;

  constructor(options: TokenManagerOptions) {
    this.#options = options;
  }

  /** The API prefix in use, once a token request succeeded. */
  get prefix(): string | undefined {
    return this.#prefix;
  }

  state(): TokenState {
    if (this.#token === undefined) {
      return this.#lastErrorCode === undefined ? { status: 'none' } : { status: 'failed', lastErrorCode: this.#lastErrorCode };
    }
    const now = this.#options.clock();
    if (now >= this.#token.expiresAt) {
      return { status: this.#lastErrorCode === undefined ? 'expiring' : 'failed', expiresAt: this.#token.expiresAt, ...(this.#lastErrorCode === undefined ? {} : { lastErrorCode: this.#lastErrorCode }) };
    }
    const expiring = now >= this.#token.expiresAt - this.#options.refreshMarginMs;
    return { status: expiring ? 'expiring' : 'valid', expiresAt: this.#token.expiresAt };
  }

  /** Returns a token that is valid for at least the refresh margin, fetching one if needed. */
  async getToken(): Promise<string> {
    const token = this.#token;
    if (token !== undefined && this.#options.clock() < token.expiresAt - this.#options.refreshMarginMs) {
      return token.accessToken;
    }
    return this.#refreshShared();
  }

  /**
   * Drops the cached token after SuiteCRM refused it. Only the token that failed is dropped: when
   * several requests fail with the same token at once, the first caller's refresh serves them all.
   */
  invalidate(accessToken: string): void {
    if (this.#token?.accessToken === accessToken) {
      this.#token = undefined;
    }
  }

  /** Gets a new token now, shared with concurrent callers. */
  refresh(): Promise<string> {
    return this.#refreshShared();
  }

  #refreshShared(): Promise<string> {
    if (this.#inflight === undefined) {
      this.#inflight = this.#fetch().finally(() => {
        this.#inflight = undefined;
      });
    }
    return this.#inflight;
  }

  async #fetch(): Promise<string> {
    try {
      const token = await this.#fetchWithGrant();
      this.#token = token;
      this.#lastErrorCode = undefined;
      this.#options.onRefresh?.('ok');
      this.#options.logger?.info(
        { grantType: this.#options.credentials.grantType, expiresInSeconds: Math.round((token.expiresAt - this.#options.clock()) / 1000) },
        'suitecrm token obtained',
      );
      return token.accessToken;
    } catch (error) {
      this.#lastErrorCode = error instanceof SuiteCrmError ? error.code : 'CTI_ERR_CRM_NETWORK';
      this.#options.onRefresh?.('failed');
      throw error;
    }
  }

  async #fetchWithGrant(): Promise<CachedToken> {
    const { credentials } = this.#options;
    const refreshToken = this.#token?.refreshToken;
    if (credentials.grantType === 'password' && refreshToken !== undefined) {
      try {
        return await this.#request({ grant_type: 'refresh_token', client_id: credentials.clientId, client_secret: credentials.clientSecret, refresh_token: refreshToken });
      } catch (error) {
        // An expired or revoked refresh token: log in with the password again.
        this.#options.logger?.info({ code: error instanceof SuiteCrmError ? error.code : undefined }, 'suitecrm refresh token rejected, using the password grant');
      }
    }
    if (credentials.grantType === 'password') {
      return this.#request({
        grant_type: 'password',
        client_id: credentials.clientId,
        client_secret: credentials.clientSecret,
        username: credentials.username ?? '',
        password: credentials.password ?? '',
      });
    }
    return this.#request({ grant_type: 'client_credentials', client_id: credentials.clientId, client_secret: credentials.clientSecret });
  }

  async #request(form: Record<string, string>): Promise<CachedToken> {
    const body = new URLSearchParams(form).toString();
    const prefixes = this.#prefix === undefined ? this.#options.candidates : [this.#prefix];
    let notFound: SuiteCrmError | undefined;
    for (const prefix of prefixes) {
      const response = await this.#options.transport.send({
        method: 'POST',
        path: `${prefix}/access_token`,
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body,
      });
      const parsed = parseJsonLenient(response.text);
      // No JSON, or the router's 404: this is not where the API lives; try the next prefix.
      if (parsed === undefined || response.status === 404) {
        notFound = this.#error(response);
        continue;
      }
      this.#prefix = prefix;
      if (response.status !== 200) {
        throw this.#error(response);
      }
      return this.#readToken(parsed.value);
    }
    throw (
      notFound ??
      new SuiteCrmError(SuiteCrmErrorCode.ROUTE_NOT_FOUND, 'SuiteCRM token endpoint not found: check SUITECRM_URL', { retryable: false })
    );
  }

  #readToken(value: unknown): CachedToken {
    const record = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
    const accessToken = record['access_token'];
    const expiresIn = record['expires_in'];
    if (typeof accessToken !== 'string' || accessToken === '' || typeof expiresIn !== 'number' || expiresIn <= 0) {
      throw new SuiteCrmError(SuiteCrmErrorCode.RESPONSE_INVALID, 'SuiteCRM token response has no access_token or expires_in', { retryable: true });
    }
    const refreshToken = record['refresh_token'];
    return {
      accessToken,
      expiresAt: this.#options.clock() + expiresIn * 1000,
      refreshToken: typeof refreshToken === 'string' ? refreshToken : undefined,
    };
  }

  #error(response: HttpResponse): SuiteCrmError {
    const { credentials } = this.#options;
    return errorFromResponse(
      {
        status: response.status,
        text: response.text,
        headers: response.headers,
        endpoint: 'token',
        route: 'POST access_token',
        secrets: [credentials.clientSecret, credentials.password, this.#token?.refreshToken],
      },
      this.#options.clock(),
    );
  }
}
