import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** An OAuth2 client as SuiteCRM stores it: one allowed grant type, plus refresh_token. */
export interface OAuthClient {
  id: string;
  secret: string;
  grantType: 'client_credentials' | 'password';
  /** User a client_credentials token acts as (the client's "assigned user"). */
  userId: string;
}

/** A user that can log in with the password grant. */
export interface LoginUser {
  userName: string;
  password: string;
  userId: string;
}

interface IssuedToken {
  userId: string;
  expiresAt: number;
  revoked: boolean;
}

export interface TokenEndpointResult {
  status: number;
  body: Record<string, unknown>;
}

/** Result of a bearer token check; SuiteCRM's refusals differ only in the hint. */
export type BearerCheck = { ok: true; userId: string } | { ok: false; hint: string };

function base64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url');
}

const ACCESS_DENIED = 'The resource owner or authorization server denied the request.';

function oauthError(status: number, error: string, description: string, hint?: string): TokenEndpointResult {
  return {
    status,
    body: { error, error_description: description, ...(hint === undefined ? {} : { hint }), message: description },
  };
}

/**
 * SuiteCRM's OAuth2 server (league/oauth2-server 8.4) as the recordings show it: tokens last
 * 3600 s whatever the client is configured with, an unknown client id is a 500, a wrong password is echoed in a
 * 500, and an expired token is refused with the same hint as a forged one.
 */
export class OAuthServer {
  readonly #clients = new Map<string, OAuthClient>();
  readonly #users = new Map<string, LoginUser>();
  readonly #tokens = new Map<string, IssuedToken>();
  readonly #refreshTokens = new Map<string, { clientId: string; userId: string; used: boolean }>();
  readonly #key = randomBytes(32);
  readonly #clock: () => number;
  /** Lifetime the tokens really have; the response always gives 3600 s, as SuiteCRM's does. */
  tokenLifetimeSeconds: number;
  /** Tokens issued so far, for tests that count token requests. */
  issued = 0;

  constructor(options: { clock: () => number; tokenLifetimeSeconds?: number }) {
    this.#clock = options.clock;
    this.tokenLifetimeSeconds = options.tokenLifetimeSeconds ?? 3600;
  }

  addClient(client: OAuthClient): void {
    this.#clients.set(client.id, client);
  }

  addUser(user: LoginUser): void {
    this.#users.set(user.userName, user);
  }

  /** POST /Api/access_token with the form or JSON parameters already parsed. */
  token(parameters: Record<string, string>): TokenEndpointResult {
    const grantType = parameters['grant_type'];
    if (grantType !== 'client_credentials' && grantType !== 'password' && grantType !== 'refresh_token') {
      return oauthError(
        400,
        'unsupported_grant_type',
        'The authorization grant type is not supported by the authorization server.',
        'Check that all required parameters have been provided',
      );
    }
    const clientId = parameters['client_id'] ?? '';
    const client = this.#clients.get(clientId);
    if (client === undefined) {
      return oauthError(500, 'unknown_error', `OAuth2Clients module with id ${clientId} is not found`);
    }
    const secretMatches = parameters['client_secret'] !== undefined && safeEqual(parameters['client_secret'], client.secret);
    const grantAllowed = grantType === client.grantType || (grantType === 'refresh_token' && client.grantType === 'password');
    if (!secretMatches || !grantAllowed) {
      return oauthError(401, 'invalid_client', 'Client authentication failed');
    }

    if (grantType === 'client_credentials') {
      return { status: 200, body: this.#issue(client.id, client.userId, '', false) };
    }
    if (grantType === 'password') {
      const user = this.#users.get(parameters['username'] ?? '');
      if (user === undefined) {
        return oauthError(500, 'unknown_error', `No user found with this username: ${parameters['username'] ?? ''}`);
      }
      if (!safeEqual(parameters['password'] ?? '', user.password)) {
        // SuiteCRM echoes the submitted password here; clients must never log this body raw.
        return oauthError(500, 'unknown_error', `The password is invalid: ${parameters['password'] ?? ''}`);
      }
      return { status: 200, body: this.#issue(client.id, user.userId, user.userId, true) };
    }
    const refresh = this.#refreshTokens.get(parameters['refresh_token'] ?? '');
    if (refresh === undefined || refresh.used || refresh.clientId !== client.id) {
      return oauthError(401, 'invalid_request', 'The refresh token is invalid.', 'Token has been revoked');
    }
    refresh.used = true;
    return { status: 200, body: this.#issue(client.id, refresh.userId, refresh.userId, true) };
  }

  #issue(clientId: string, userId: string, subject: string, withRefresh: boolean): Record<string, unknown> {
    const now = this.#clock();
    const seconds = now / 1000;
    const claims = {
      aud: clientId,
      jti: randomBytes(40).toString('hex'),
      iat: seconds,
      nbf: seconds,
      exp: seconds + 3600,
      sub: subject,
      scopes: [],
    };
    const unsigned = `${base64url(JSON.stringify({ typ: 'JWT', alg: 'RS256' }))}.${base64url(JSON.stringify(claims))}`;
    const token = `${unsigned}.${createHmac('sha256', this.#key).update(unsigned).digest('base64url')}`;
    this.#tokens.set(token, { userId, expiresAt: now + this.tokenLifetimeSeconds * 1000, revoked: false });
    this.issued += 1;
    const body: Record<string, unknown> = { token_type: 'Bearer', expires_in: 3600, access_token: token };
    if (withRefresh) {
      const refreshToken = `def50200${randomBytes(386).toString('hex')}`;
      this.#refreshTokens.set(refreshToken, { clientId, userId, used: false });
      body['refresh_token'] = refreshToken;
    }
    return body;
  }

  /** Checks the Authorization header of a V8 request. */
  verify(header: string | undefined): BearerCheck {
    // A bare token without "Bearer " is accepted; anything else is parsed as the token itself.
    const value = header ?? '';
    const token = value.startsWith('Bearer ') ? value.slice('Bearer '.length) : value;
    const parts = token.split('.');
    if (parts.length !== 3) {
      return { ok: false, hint: 'The JWT string must have two dots' };
    }
    try {
      JSON.parse(Buffer.from(parts[0] ?? '', 'base64url').toString('utf8'));
    } catch {
      return { ok: false, hint: 'Error while decoding from JSON' };
    }
    const issued = this.#tokens.get(token);
    if (issued === undefined || this.#clock() >= issued.expiresAt) {
      return { ok: false, hint: 'Access token could not be verified' };
    }
    if (issued.revoked) {
      return { ok: false, hint: 'Access token has been revoked' };
    }
    return { ok: true, userId: issued.userId };
  }

  revoke(header: string | undefined): void {
    const value = header ?? '';
    const token = value.startsWith('Bearer ') ? value.slice('Bearer '.length) : value;
    const issued = this.#tokens.get(token);
    if (issued !== undefined) {
      issued.revoked = true;
    }
  }

  /** Makes every issued token invalid at once, as a restore of the OAuth2 tables would. */
  revokeAll(): void {
    for (const issued of this.#tokens.values()) {
      issued.revoked = true;
    }
  }

  /** Makes every issued token expire now; SuiteCRM then refuses them with the "could not be verified" hint. */
  expireAll(): void {
    const now = this.#clock();
    for (const issued of this.#tokens.values()) {
      issued.expiresAt = Math.min(issued.expiresAt, now);
    }
  }
}

export const AUTH_DENIED_BODY = (hint: string) => ({ error: 'access_denied', error_description: ACCESS_DENIED, hint, message: ACCESS_DENIED });

function safeEqual(left: string, right: string): boolean {
  const a = Buffer.from(left);
  const b = Buffer.from(right);
  return a.length === b.length && timingSafeEqual(a, b);
}
