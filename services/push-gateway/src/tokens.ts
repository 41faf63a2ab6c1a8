import { createHash, randomUUID } from 'node:crypto';

import { decodeProtectedHeader, errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import Type from 'typebox';
import { Compile } from 'typebox/compile';

import { PushError, PushErrorCode } from './errors.js';

/**
 * Agent tokens: short-lived HS256 JWTs that say which agent holds which extensions of which PBX.
 * The gateway verifies them on every WebSocket and API request; an operator's SSO or CRM gets
 * them from `POST /v1/agent-tokens`, an operator from `pnpm cti token`.
 */

export const TOKEN_ISSUER = 'cti-push-gateway';
export const TOKEN_AUDIENCE = 'cti-agent';
export const MAX_TOKEN_EXTENSIONS = 32;

/** Agent ids: login names or e-mail addresses, never anything that could be a subject wildcard. */
export const AGENT_ID_PATTERN = '^[A-Za-z0-9_.@-]{1,128}$';
const SUBJECT_TOKEN_PATTERN = '^[A-Za-z0-9_-]{1,64}$';

const TokenPayload = Type.Object({
  sub: Type.String({ pattern: AGENT_ID_PATTERN }),
  pbx: Type.String({ pattern: SUBJECT_TOKEN_PATTERN }),
  ext: Type.Array(Type.String({ pattern: SUBJECT_TOKEN_PATTERN }), { minItems: 1, maxItems: MAX_TOKEN_EXTENSIONS }),
  iat: Type.Integer(),
  exp: Type.Integer(),
  jti: Type.String({ minLength: 1, maxLength: 64 }),
});
const checkPayload = Compile(TokenPayload);

/** What a verified token says. */
export interface AgentClaims {
  agentId: string;
  pbx: string;
  extensions: readonly string[];
  /** Expiry, in milliseconds since the epoch. */
  expiresAt: number;
  tokenId: string;
}

export interface MintRequest {
  agentId: string;
  extensions: readonly string[];
  pbx: string;
  ttlSeconds: number;
  /** Current time in milliseconds; tests pass a fixed clock. */
  now?: number;
}

/** Why a token was rejected, as counted in metrics and written to the audit trail. */
export type TokenRejection = 'missing' | 'malformed' | 'unknown_key' | 'bad_signature' | 'expired' | 'claims_invalid';

const encoder = new TextEncoder();

interface SigningKey {
  id: string;
  secret: Uint8Array;
}

/** Key id: a short hash of the key, so a verifier picks the right key and the id reveals nothing. */
function keyId(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

/** Maximum token lifetime any gateway accepts, the upper bound of AGENT_TOKEN_MAX_TTL_SECONDS. */
export const TOKEN_TTL_CEILING_SECONDS = 86_400;
const ISSUED_AT_TOLERANCE_SECONDS = 60;

/**
 * The keys of AGENT_TOKEN_KEY: the first signs, every one verifies. `maxTtlSeconds` is
 * AGENT_TOKEN_MAX_TTL_SECONDS: a token whose lifetime is longer is rejected even with a valid
 * signature, so a key that leaks cannot be used to mint a token that outlives its rotation.
 */
export class AgentTokenKeys {
  readonly #keys: SigningKey[];
  readonly maxTtlSeconds: number;

  constructor(keys: readonly string[], options: { maxTtlSeconds?: number } = {}) {
    if (keys.length === 0) {
      throw new TypeError('AgentTokenKeys needs at least one key');
    }
    this.#keys = keys.map((key) => ({ id: keyId(key), secret: encoder.encode(key) }));
    this.maxTtlSeconds = Math.min(options.maxTtlSeconds ?? TOKEN_TTL_CEILING_SECONDS, TOKEN_TTL_CEILING_SECONDS);
  }

  get signing(): SigningKey {
    return this.#keys[0] as SigningKey;
  }

  find(id: string | undefined): SigningKey | undefined {
    return this.#keys.find((key) => key.id === id);
  }
}

export function tokenRejected(reason: TokenRejection, message: string, cause?: unknown): PushError {
  const code =
    reason === 'missing' ? PushErrorCode.TOKEN_MISSING : reason === 'expired' ? PushErrorCode.TOKEN_EXPIRED : PushErrorCode.TOKEN_INVALID;
  return new PushError(code, 401, message, { cause, details: { reason } });
}

/** Reads the rejection reason back from an error thrown by `verifyAgentToken`. */
export function rejectionReason(error: unknown): TokenRejection | undefined {
  if (error instanceof PushError) {
    return error.details['reason'] as TokenRejection | undefined;
  }
  return undefined;
}

/** Signs an agent token. Extensions are de-duplicated; their order is kept. */
export async function mintAgentToken(keys: AgentTokenKeys, request: MintRequest): Promise<{ token: string; claims: AgentClaims }> {
  if (request.ttlSeconds > keys.maxTtlSeconds) {
    throw new PushError(PushErrorCode.TOKEN_REQUEST_INVALID, 400, `invalid ttlSeconds: at most ${keys.maxTtlSeconds} (AGENT_TOKEN_MAX_TTL_SECONDS)`);
  }
  const nowSeconds = Math.floor((request.now ?? Date.now()) / 1000);
  const extensions = [...new Set(request.extensions)];
  const tokenId = randomUUID();
  const payload = { pbx: request.pbx, ext: extensions };
  const expires = nowSeconds + request.ttlSeconds;

  const candidate = { sub: request.agentId, ...payload, iat: nowSeconds, exp: expires, jti: tokenId };
  if (!checkPayload.Check(candidate)) {
    const issue = checkPayload.Errors(candidate)[0];
    throw new PushError(
      PushErrorCode.TOKEN_REQUEST_INVALID,
      400,
      `invalid agent token request: ${issue?.instancePath || '(root)'} ${issue?.message ?? 'is invalid'}`,
    );
  }

  const signing = keys.signing;
  const token = await new SignJWT(payload)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: signing.id })
    .setSubject(request.agentId)
    .setIssuer(TOKEN_ISSUER)
    .setAudience(TOKEN_AUDIENCE)
    .setIssuedAt(nowSeconds)
    .setExpirationTime(expires)
    .setJti(tokenId)
    .sign(signing.secret);
  return { token, claims: { agentId: request.agentId, pbx: request.pbx, extensions, expiresAt: expires * 1000, tokenId } };
}

/**
 * Verifies signature, issuer, audience, expiry, lifetime and the claims' shape. Throws a PushError with
 * status 401 whose `details.reason` says what was wrong.
 */
export async function verifyAgentToken(keys: AgentTokenKeys, token: string | undefined, now: number = Date.now()): Promise<AgentClaims> {
  if (token === undefined || token === '') {
    throw tokenRejected('missing', 'agent token missing: send it as a bearer token or in the cti.token.<token> WebSocket protocol');
  }
  let headerKeyId: string | undefined;
  try {
    headerKeyId = decodeProtectedHeader(token).kid;
  } catch (error) {
    throw tokenRejected('malformed', 'agent token is not a JWT', error);
  }
  const key = keys.find(headerKeyId);
  if (key === undefined) {
    throw tokenRejected('unknown_key', 'agent token was signed with a key this gateway does not have');
  }

  let payload: unknown;
  try {
    ({ payload } = await jwtVerify(token, key.secret, {
      algorithms: ['HS256'],
      issuer: TOKEN_ISSUER,
      audience: TOKEN_AUDIENCE,
      currentDate: new Date(now),
      requiredClaims: ['sub', 'exp', 'iat', 'jti'],
    }));
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) {
      throw tokenRejected('expired', 'agent token expired: get a new one', error);
    }
    if (error instanceof joseErrors.JWSSignatureVerificationFailed) {
      throw tokenRejected('bad_signature', 'agent token signature is invalid', error);
    }
    if (error instanceof joseErrors.JWTClaimValidationFailed) {
      throw tokenRejected('claims_invalid', `agent token claim ${error.claim} is invalid`, error);
    }
    throw tokenRejected('malformed', 'agent token is malformed', error);
  }

  if (!checkPayload.Check(payload)) {
    const issue = checkPayload.Errors(payload)[0];
    throw tokenRejected('claims_invalid', `agent token claims are invalid: ${issue?.instancePath || '(root)'} ${issue?.message ?? ''}`.trim());
  }
  // jose checks iat only against a maximum age. A token from the future would outlive its
  // lifetime check below; the gateway mints its own tokens, so a minute covers any clock step.
  if (payload.iat > Math.floor(now / 1000) + ISSUED_AT_TOLERANCE_SECONDS) {
    throw tokenRejected('claims_invalid', 'agent token was issued in the future: check the clock of the host that minted it');
  }
  if (payload.exp - payload.iat > keys.maxTtlSeconds) {
    throw tokenRejected('claims_invalid', `agent token lives longer than the ${keys.maxTtlSeconds} s this gateway allows (AGENT_TOKEN_MAX_TTL_SECONDS)`);
  }
  return { agentId: payload.sub, pbx: payload.pbx, extensions: payload.ext, expiresAt: payload.exp * 1000, tokenId: payload.jti };
}
