import { createHash, createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';

/**
 * ElevenLabs webhook signatures: header `ElevenLabs-Signature: t=<unix seconds>,v0=<hex>`, where
 * the hex is the HMAC-SHA256 of `<t>.<raw body>` keyed with the UTF-8 bytes of the webhook secret
 * (a `whsec_` prefix is part of the key). Source: ElevenLabs post-call webhook documentation and
 * `@elevenlabs/elevenlabs-js` 2.73.0 `wrapper/webhooks.js`, which this module agrees with except
 * where it is stricter (see `checkTimestamp`) or more tolerant (spaces after commas, several v0).
 */
export const SIGNATURE_HEADER = 'elevenlabs-signature';

/** Reason a signature was rejected: the label of the failure metric and the audit reason. */
export type SignatureFailure =
  | 'header_missing'
  | 'header_malformed'
  | 'timestamp_invalid'
  | 'timestamp_expired'
  | 'timestamp_in_future'
  | 'signature_mismatch';

export interface ParsedSignatureHeader {
  /** The `t` value as sent: the HMAC covers these exact characters. */
  timestampText: string;
  timestampSeconds: number;
  /** Every well-formed `v0` digest; a delivery may carry several while ElevenLabs rotates. */
  digests: Buffer[];
}

export interface TimestampWindow {
  /** Oldest accepted `t`, in seconds before now. */
  maxAgeSeconds: number;
  /** Newest accepted `t`, in seconds after now, for clock skew between ElevenLabs and us. */
  maxFutureSeconds: number;
}

export type HeaderResult = { ok: true; header: ParsedSignatureHeader } | { ok: false; reason: SignatureFailure };

// More `v0` entries than this is not a rotation but an attempt to make us compute HMACs.
const MAX_DIGESTS = 8;
const TIMESTAMP_PATTERN = /^\d{1,15}$/;
const DIGEST_PATTERN = /^[0-9a-fA-F]{64}$/;

/**
 * Parses the header. Parts are split on commas and trimmed, so `t=1, v0=ab` is accepted; their
 * order does not matter. A header without `t` or `v0`, with two `t`, or with a part that is not
 * `key=value` is malformed. A non-numeric `t` is rejected here, where the SDK would skip its age
 * check and go on.
 */
export function parseSignatureHeader(value: string | string[] | undefined): HeaderResult {
  if (value === undefined || (typeof value === 'string' && value.trim() === '')) {
    return { ok: false, reason: 'header_missing' };
  }
  if (Array.isArray(value)) {
    return { ok: false, reason: 'header_malformed' };
  }

  let timestampText: string | undefined;
  const digests: Buffer[] = [];
  let digestCount = 0;
  for (const rawPart of value.split(',')) {
    const part = rawPart.trim();
    const separator = part.indexOf('=');
    if (separator <= 0) {
      return { ok: false, reason: 'header_malformed' };
    }
    const key = part.slice(0, separator);
    const item = part.slice(separator + 1);
    if (key === 't') {
      if (timestampText !== undefined) {
        return { ok: false, reason: 'header_malformed' };
      }
      timestampText = item;
    } else if (key === 'v0') {
      digestCount += 1;
      // A v0 of the wrong length or alphabet cannot match. It is left out of the comparison
      // instead of failing the header, so one bad entry does not hide a good one.
      if (DIGEST_PATTERN.test(item)) {
        digests.push(Buffer.from(item, 'hex'));
      }
    }
    // Other schemes (a future v1, say) are ignored, as the SDK ignores them.
  }

  if (timestampText === undefined || digestCount === 0 || digestCount > MAX_DIGESTS) {
    return { ok: false, reason: 'header_malformed' };
  }
  if (!TIMESTAMP_PATTERN.test(timestampText)) {
    return { ok: false, reason: 'timestamp_invalid' };
  }
  return { ok: true, header: { timestampText, timestampSeconds: Number(timestampText), digests } };
}

/**
 * Checks `t` against the window. The SDK rejects only timestamps older than 30 minutes, and
 * exactly 30:00 still passes. This check keeps that boundary, and it also rejects timestamps
 * further ahead than the allowed clock skew, which the SDK accepts.
 */
export function checkTimestamp(header: ParsedSignatureHeader, nowMs: number, window: TimestampWindow): SignatureFailure | undefined {
  const nowSeconds = nowMs / 1000;
  if (header.timestampSeconds < nowSeconds - window.maxAgeSeconds) {
    return 'timestamp_expired';
  }
  if (header.timestampSeconds > nowSeconds + window.maxFutureSeconds) {
    return 'timestamp_in_future';
  }
  return undefined;
}

/** Secrets as HMAC keys, built once at start. */
export class SigningKeys {
  readonly #keys: KeyObject[];

  constructor(secrets: readonly string[]) {
    if (secrets.length === 0) {
      throw new TypeError('at least one webhook secret is needed to verify signatures');
    }
    this.#keys = secrets.map((secret) => createSecretKey(Buffer.from(secret, 'utf8')));
  }

  get size(): number {
    return this.#keys.length;
  }

  /**
   * Returns the index of the secret that signed the body, or -1. Every secret is compared with
   * every digest in constant time, and the loop does not stop at a match, so the time taken says
   * nothing about which secret or which digest matched.
   */
  match(header: ParsedSignatureHeader, rawBody: Buffer): number {
    let matched = -1;
    for (let index = 0; index < this.#keys.length; index += 1) {
      const expected = computeDigest(this.#keys[index] as KeyObject, header.timestampText, rawBody);
      for (const digest of header.digests) {
        if (timingSafeEqual(expected, digest) && matched === -1) {
          matched = index;
        }
      }
    }
    return matched;
  }
}

function computeDigest(key: KeyObject | string, timestampText: string, rawBody: Buffer | string): Buffer {
  return createHmac('sha256', key).update(timestampText).update('.').update(rawBody).digest();
}

/**
 * Builds an `ElevenLabs-Signature` value for a body, as ElevenLabs does. Used by tests, the
 * benchmark and the `cti webhook sign` command to send deliveries to a running service.
 */
export function signPayload(rawBody: Buffer | string, secret: string, timestampSeconds: number): string {
  const timestampText = String(Math.trunc(timestampSeconds));
  const digest = computeDigest(secret, timestampText, rawBody);
  return `t=${timestampText},v0=${digest.toString('hex')}`;
}

/**
 * Compares a presented shared secret with the configured ones in constant time. Both sides are
 * hashed first, so neither the length nor the content of a secret shows in the timing.
 */
export function matchesSharedSecret(presented: string | undefined, secrets: readonly string[]): boolean {
  const presentedHash = createHash('sha256').update(presented ?? '').digest();
  let matched = false;
  for (const secret of secrets) {
    const secretHash = createHash('sha256').update(secret).digest();
    if (timingSafeEqual(presentedHash, secretHash)) {
      matched = true;
    }
  }
  return matched && presented !== undefined && presented !== '';
}
