import { ElevenLabsClient } from '@elevenlabs/elevenlabs-js';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { checkTimestamp, matchesSharedSecret, parseSignatureHeader, signPayload, SigningKeys, type ParsedSignatureHeader } from '../src/signature.js';
import { FIXTURE_NOW_MS, FIXTURE_SECRET, FIXTURE_T, fixture } from './harness.js';

const SIGNED_FIXTURES = [
  'post_call_transcription.inbound_sip',
  'post_call_transcription.outbound_sip',
  'post_call_audio',
  'call_initiation_failure.sip_busy',
  'conversation_initiation.request',
];

const WINDOW = { maxAgeSeconds: 1800, maxFutureSeconds: 300 };

// The SDK needs an API key to construct, although verification does not use it.
const sdk = new ElevenLabsClient({ apiKey: 'unused-for-webhook-verification' });

afterEach(() => {
  vi.restoreAllMocks();
});

/** Runs the SDK's verifier with `Date.now` pinned, as the fixtures README describes. */
async function sdkAccepts(body: string, header: string, secret: string, nowMs: number): Promise<boolean> {
  vi.spyOn(Date, 'now').mockReturnValue(nowMs);
  try {
    await sdk.webhooks.constructEvent(body, header, secret);
    return true;
  } catch {
    return false;
  } finally {
    vi.restoreAllMocks();
  }
}

/** Runs our verifier: header, window and HMAC, as the post-call route does. */
function weAccept(body: Buffer, header: string, secrets: string[], nowMs: number): boolean {
  const parsed = parseSignatureHeader(header);
  if (!parsed.ok || checkTimestamp(parsed.header, nowMs, WINDOW) !== undefined) {
    return false;
  }
  return new SigningKeys(secrets).match(parsed.header, body) !== -1;
}

function parsed(header: string): ParsedSignatureHeader {
  const result = parseSignatureHeader(header);
  if (!result.ok) {
    throw new Error(`header rejected: ${result.reason}`);
  }
  return result.header;
}

describe('agreement with @elevenlabs/elevenlabs-js', () => {
  it.each(SIGNED_FIXTURES)('both accept the signed fixture %s', async (name) => {
    const signed = fixture(name);
    expect(await sdkAccepts(signed.body.toString('utf8'), signed.signature, FIXTURE_SECRET, FIXTURE_NOW_MS)).toBe(true);
    expect(weAccept(signed.body, signed.signature, [FIXTURE_SECRET], FIXTURE_NOW_MS)).toBe(true);
  });

  it.each(SIGNED_FIXTURES)('signPayload reproduces the fixture signature of %s', (name) => {
    const signed = fixture(name);
    expect(signPayload(signed.body, FIXTURE_SECRET, FIXTURE_T)).toBe(signed.signature);
  });

  it('the SDK accepts what signPayload signs at the current time', async () => {
    const body = fixture('post_call_transcription.outbound_sip').body;
    const now = Date.now();
    const header = signPayload(body, 'whsec_rotated_secret_2026', now / 1000);
    expect(await sdkAccepts(body.toString('utf8'), header, 'whsec_rotated_secret_2026', now)).toBe(true);
    expect(await sdkAccepts(body.toString('utf8'), header, FIXTURE_SECRET, now)).toBe(false);
  });

  it('both reject what the other secret signed', async () => {
    const body = fixture('call_initiation_failure.sip_busy').body;
    const header = signPayload(body, 'whsec_other', FIXTURE_T);
    expect(await sdkAccepts(body.toString('utf8'), header, FIXTURE_SECRET, FIXTURE_NOW_MS)).toBe(false);
    expect(weAccept(body, header, [FIXTURE_SECRET], FIXTURE_NOW_MS)).toBe(false);
  });

  it('agrees on every header variant except the documented differences', async () => {
    const signed = fixture('post_call_audio');
    const body = signed.body;
    const text = body.toString('utf8');
    const [t, v0] = signed.signature.split(',') as [string, string];
    const digest = v0.slice(3);
    const atAge = (seconds: number) => signPayload(body, FIXTURE_SECRET, FIXTURE_T - seconds);
    const cases: { header: string; sdk: boolean; ours: boolean; why?: string }[] = [
      { header: signed.signature, sdk: true, ours: true },
      { header: `${v0},${t}`, sdk: true, ours: true },
      { header: `${t},v0=${'0'.repeat(64)}`, sdk: false, ours: false },
      { header: `${t},v0=${digest.toUpperCase()}`, sdk: false, ours: true, why: 'hex digits are compared as bytes, not as text' },
      { header: `${t}, ${v0}`, sdk: false, ours: true, why: 'we trim the parts, the SDK does not' },
      { header: `${t},v0=${'1'.repeat(64)},${v0}`, sdk: false, ours: true, why: 'we try every v0, the SDK only the first' },
      { header: t, sdk: false, ours: false },
      { header: v0, sdk: false, ours: false },
      { header: `t=,${v0}`, sdk: false, ours: false },
      { header: `${t},${v0}`.replace(/^t=\d+/, `t=${FIXTURE_T + 1}`), sdk: false, ours: false },
    ];
    for (const testCase of cases) {
      expect({ header: testCase.header, sdk: await sdkAccepts(text, testCase.header, FIXTURE_SECRET, FIXTURE_NOW_MS) }).toEqual({
        header: testCase.header,
        sdk: testCase.sdk,
      });
      expect({ header: testCase.header, ours: weAccept(body, testCase.header, [FIXTURE_SECRET], FIXTURE_NOW_MS) }).toEqual({
        header: testCase.header,
        ours: testCase.ours,
      });
    }

    // Age: both accept exactly 30 minutes and reject one second more.
    const now = FIXTURE_T * 1000;
    expect(await sdkAccepts(text, atAge(1800), FIXTURE_SECRET, now)).toBe(true);
    expect(weAccept(body, atAge(1800), [FIXTURE_SECRET], now)).toBe(true);
    expect(await sdkAccepts(text, atAge(1801), FIXTURE_SECRET, now)).toBe(false);
    expect(weAccept(body, atAge(1801), [FIXTURE_SECRET], now)).toBe(false);
    // Future: the SDK has no upper bound, we allow five minutes of clock skew.
    expect(await sdkAccepts(text, atAge(-301), FIXTURE_SECRET, now)).toBe(true);
    expect(weAccept(body, atAge(-301), [FIXTURE_SECRET], now)).toBe(false);
    expect(weAccept(body, atAge(-300), [FIXTURE_SECRET], now)).toBe(true);
  });
});

describe('parseSignatureHeader', () => {
  it('reads t and every well-formed v0 in any order', () => {
    const header = parsed(` v0=${'ab'.repeat(32)} , t=1767225600 ,v0=${'cd'.repeat(32)},v1=ignored`);
    expect(header.timestampText).toBe('1767225600');
    expect(header.timestampSeconds).toBe(1767225600);
    expect(header.digests.map((digest) => digest.toString('hex'))).toEqual(['ab'.repeat(32), 'cd'.repeat(32)]);
  });

  it.each([
    [undefined, 'header_missing'],
    ['', 'header_missing'],
    ['   ', 'header_missing'],
    ['t=1767225600', 'header_malformed'],
    [`v0=${'ab'.repeat(32)}`, 'header_malformed'],
    [`t=1,t=2,v0=${'ab'.repeat(32)}`, 'header_malformed'],
    [`t=1767225600,garbage,v0=${'ab'.repeat(32)}`, 'header_malformed'],
    [`t=1767225600,${Array.from({ length: 9 }, () => `v0=${'ab'.repeat(32)}`).join(',')}`, 'header_malformed'],
    [`t=abc,v0=${'ab'.repeat(32)}`, 'timestamp_invalid'],
    [`t=-5,v0=${'ab'.repeat(32)}`, 'timestamp_invalid'],
    [`t=1767225600.5,v0=${'ab'.repeat(32)}`, 'timestamp_invalid'],
  ])('rejects %j as %s', (value, reason) => {
    expect(parseSignatureHeader(value)).toEqual({ ok: false, reason });
  });

  it('rejects a header sent twice', () => {
    expect(parseSignatureHeader(['t=1,v0=ab', 't=2,v0=cd'])).toEqual({ ok: false, reason: 'header_malformed' });
  });
});

describe('SigningKeys', () => {
  const body = Buffer.from('{"type":"post_call_audio"}');

  it('returns the index of the secret that signed', () => {
    const keys = new SigningKeys(['whsec_new', 'whsec_old']);
    expect(keys.match(parsed(signPayload(body, 'whsec_old', FIXTURE_T)), body)).toBe(1);
    expect(keys.match(parsed(signPayload(body, 'whsec_new', FIXTURE_T)), body)).toBe(0);
    expect(keys.match(parsed(signPayload(body, 'whsec_neither', FIXTURE_T)), body)).toBe(-1);
  });

  it('covers the timestamp text as sent', () => {
    const keys = new SigningKeys([FIXTURE_SECRET]);
    const header = parsed(signPayload(body, FIXTURE_SECRET, FIXTURE_T));
    expect(keys.match({ ...header, timestampText: `0${header.timestampText}` }, body)).toBe(-1);
  });

  it('refuses to be built without a secret', () => {
    expect(() => new SigningKeys([])).toThrow('at least one webhook secret');
  });
});

describe('matchesSharedSecret', () => {
  it('accepts any configured secret and nothing else', () => {
    expect(matchesSharedSecret('second', ['first', 'second'])).toBe(true);
    expect(matchesSharedSecret('secon', ['first', 'second'])).toBe(false);
    expect(matchesSharedSecret('second ', ['first', 'second'])).toBe(false);
    expect(matchesSharedSecret('', ['first', ''])).toBe(false);
    expect(matchesSharedSecret(undefined, ['first'])).toBe(false);
  });
});
