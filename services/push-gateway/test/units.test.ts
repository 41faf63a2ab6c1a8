import { loadConfig } from '@cti/config';
import { createLogger } from '@cti/logging';
import { describe, expect, it } from 'vitest';

import { ApiKeyStore, generateApiKey, parseApiKeyFile } from '../src/api-keys.js';
import { foldActiveCalls, needsEndScanFrom } from '../src/call-state.js';
import { PushGatewayConfig } from '../src/config.js';
import { normalizeDialNumber, requestIdForKey } from '../src/dial.js';
import { PushErrorCode } from '../src/errors.js';
import { decodeStoredEvent, type OutboundFrame } from '../src/frames.js';
import { formatCursor, parseCursor } from '../src/protocol.js';
import { AgentTokenKeys, mintAgentToken, rejectionReason, verifyAgentToken } from '../src/tokens.js';
import { WindowCounter } from '../src/window-counter.js';
import * as events from './events.js';
import { baseEnvironment, TOKEN_KEY } from './harness.js';

const encoder = new TextEncoder();
let seq = 0;

function stored(event: OutboundFrame['event'], storedAt = Date.now()): OutboundFrame {
  seq += 1;
  const decoded = decodeStoredEvent('CALLS', seq, `${event.type}.${event.pbx}.${event.extension}`, encoder.encode(JSON.stringify(event)));
  if (!('frame' in decoded)) {
    throw new Error(`test event did not decode: ${decoded.failure}`);
  }
  return { ...decoded.frame, storedAt };
}

describe('decodeStoredEvent', () => {
  it('rejects an event stored under another extension', () => {
    const event = events.ringing({ callId: 'c1', extension: '101' });
    expect(decodeStoredEvent('CALLS', 1, 'call.ringing.pbx1.102', encoder.encode(JSON.stringify(event)))).toEqual({ failure: 'mismatched_subject' });
  });

  it('rejects an event that fails its contract', () => {
    const event = { ...events.ringing({ callId: 'c1', extension: '101' }), callId: '' };
    expect(decodeStoredEvent('CALLS', 1, 'call.ringing.pbx1.101', encoder.encode(JSON.stringify(event)))).toEqual({ failure: 'invalid' });
  });

  it('splices the stored text into the frame', () => {
    const event = events.ringing({ callId: 'c1', extension: '101' });
    const decoded = decodeStoredEvent('CALLS', 7, 'call.ringing.pbx1.101', encoder.encode(JSON.stringify(event)));
    expect('frame' in decoded && JSON.parse(decoded.frame.payload.toString())).toEqual({ type: 'event', stream: 'CALLS', seq: 7, event });
  });
});

describe('foldActiveCalls', () => {
  const options = { endedLater: new Set<string>(), now: Date.now(), maxCallAgeMs: 3_600_000 };

  it('drops a call whose end is among the latest events', () => {
    const latest = [stored(events.ringing({ callId: 'a', extension: '101' })), stored(events.ended({ callId: 'a', extension: '101' }))];
    expect(foldActiveCalls(latest, options)).toEqual([]);
    expect(needsEndScanFrom(latest)).toBeUndefined();
  });

  it('keeps a held call whose end was superseded only when no later end names it', () => {
    // A is held while B rings and is missed: B's end is the latest call.ended.
    const aHeld = stored(events.held({ callId: 'a', extension: '101' }));
    const bRinging = stored(events.ringing({ callId: 'b', extension: '101' }));
    const bEnded = stored(events.ended({ callId: 'b', extension: '101' }));
    const latest = [aHeld, bRinging, bEnded];
    expect(needsEndScanFrom(latest)).toBe(aHeld.seq);

    const stillOnHold = foldActiveCalls(latest, options);
    expect(stillOnHold.map((call) => [call.callId, call.state])).toEqual([['a', 'held']]);
    expect(foldActiveCalls(latest, { ...options, endedLater: new Set(['a']) })).toEqual([]);
  });

  it('drops a call whose last event is older than the limit', () => {
    const latest = [stored(events.answered({ callId: 'a', extension: '101' }), Date.now() - 7_200_000)];
    expect(foldActiveCalls(latest, options)).toEqual([]);
  });

  it('reports the state of the latest event', () => {
    const latest = [
      stored(events.ringing({ callId: 'a', extension: '101' })),
      stored(events.answered({ callId: 'a', extension: '101' })),
      stored(events.held({ callId: 'a', extension: '101' })),
      stored(events.resumed({ callId: 'a', extension: '101' })),
    ];
    const [call] = foldActiveCalls(latest, options);
    expect(call?.state).toBe('answered');
    expect(call?.events.map((frame) => frame.event.type)).toEqual(['call.ringing', 'call.answered', 'call.held', 'call.resumed']);
  });
});

describe('agent tokens', () => {
  const keys = new AgentTokenKeys([TOKEN_KEY]);

  it('round-trips the claims', async () => {
    const { token, claims } = await mintAgentToken(keys, { agentId: 'anna@example.com', extensions: ['101', '101', '102'], pbx: 'pbx1', ttlSeconds: 600 });
    expect(claims.extensions).toEqual(['101', '102']);
    expect(await verifyAgentToken(keys, token)).toEqual(claims);
  });

  it('verifies with an older key after rotation', async () => {
    const { token } = await mintAgentToken(keys, { agentId: 'anna', extensions: ['101'], pbx: 'pbx1', ttlSeconds: 600 });
    const rotated = new AgentTokenKeys(['a-brand-new-key-that-is-long-enough-000', TOKEN_KEY]);
    expect((await verifyAgentToken(rotated, token)).agentId).toBe('anna');
  });

  it('refuses to mint an extension that would break a subject', async () => {
    await expect(mintAgentToken(keys, { agentId: 'anna', extensions: ['10*'], pbx: 'pbx1', ttlSeconds: 600 })).rejects.toMatchObject({
      code: PushErrorCode.TOKEN_REQUEST_INVALID,
    });
  });

  it('rejects a lifetime above the maximum', async () => {
    const { token } = await mintAgentToken(keys, { agentId: 'anna', extensions: ['101'], pbx: 'pbx1', ttlSeconds: 7200 });
    const strict = new AgentTokenKeys([TOKEN_KEY], { maxTtlSeconds: 3600 });
    const error = await verifyAgentToken(strict, token).catch((caught: unknown) => caught);
    expect(rejectionReason(error)).toBe('claims_invalid');
    expect((error as Error).message).toContain('AGENT_TOKEN_MAX_TTL_SECONDS');
    await expect(mintAgentToken(strict, { agentId: 'anna', extensions: ['101'], pbx: 'pbx1', ttlSeconds: 7200 })).rejects.toMatchObject({
      code: PushErrorCode.TOKEN_REQUEST_INVALID,
    });
  });

  it('rejects a token issued in the future', async () => {
    const { token } = await mintAgentToken(keys, { agentId: 'anna', extensions: ['101'], pbx: 'pbx1', ttlSeconds: 600, now: Date.now() + 3_600_000 });
    const error = await verifyAgentToken(keys, token).catch((caught: unknown) => caught);
    expect(rejectionReason(error)).toBe('claims_invalid');
  });

  it('names the reason of each rejection', async () => {
    const { token } = await mintAgentToken(keys, { agentId: 'anna', extensions: ['101'], pbx: 'pbx1', ttlSeconds: 60, now: Date.now() - 120_000 });
    const cases: [string | undefined, string][] = [
      [undefined, 'missing'],
      ['abc', 'malformed'],
      [token, 'expired'],
    ];
    for (const [candidate, reason] of cases) {
      const error = await verifyAgentToken(keys, candidate).catch((caught: unknown) => caught);
      expect(rejectionReason(error)).toBe(reason);
    }
  });
});

describe('api key file', () => {
  it('rejects a duplicate id', () => {
    const one = generateApiKey({ id: 'sso' }).entry;
    const two = generateApiKey({ id: 'sso' }).entry;
    expect(() => parseApiKeyFile(JSON.stringify({ keys: [one, two] }), 'keys.json')).toThrow(/lists the id sso twice/);
  });

  it('rejects an entry with a plain key instead of a hash', () => {
    expect(() => parseApiKeyFile(JSON.stringify({ keys: [{ id: 'sso', key: 'ctik_abc' }] }), 'keys.json')).toThrow(/keys\.json is invalid/);
  });

  it('checks presented keys against hashes only', () => {
    const { key, entry } = generateApiKey({ id: 'sso' });
    expect(JSON.stringify(entry)).not.toContain(key.slice(5));
    const store = new ApiKeyStore({ path: undefined, logger: createLogger({ service: 'test', level: 'silent' }) });
    expect(store.check(key)).toEqual({ ok: false, reason: 'unknown' });
  });
});

describe('dial numbers', () => {
  it('normalizes what people type', () => {
    expect(normalizeDialNumber(' +1 (555) 010-0099 ')).toBe('+15550100099');
    expect(normalizeDialNumber('102')).toBe('102');
    expect(normalizeDialNumber('555,1')).toBeUndefined();
    expect(normalizeDialNumber('+')).toBeUndefined();
  });

  it('derives one request id per agent and key', () => {
    expect(requestIdForKey('anna', 'k1', '101', '15550100011')).toBe(requestIdForKey('anna', 'k1', '101', '15550100011'));
    expect(requestIdForKey('anna', 'k1', '101', '15550100011')).not.toBe(requestIdForKey('ben', 'k1', '101', '15550100011'));
    // ami-bridge returns the first reply for a known id, so another number needs another id.
    expect(requestIdForKey('anna', 'k1', '101', '15550100011')).not.toBe(requestIdForKey('anna', 'k1', '101', '15550100012'));
    expect(requestIdForKey('anna', 'k1', '101', '15550100011')).not.toBe(requestIdForKey('anna', 'k1', '102', '15550100011'));
  });
});

describe('cursor', () => {
  it('round-trips', () => {
    expect(parseCursor(formatCursor({ CALLS: 12, CRM: 3 }))).toEqual({ CALLS: 12, CRM: 3 });
    expect(parseCursor('CALLS:-1')).toBeUndefined();
    expect(parseCursor('AUDIT:1')).toBeUndefined();
  });
});

describe('config', () => {
  it('rejects a short token key and a missing phone hash key', () => {
    const environment = { ...baseEnvironment('nats://127.0.0.1:4222'), AGENT_TOKEN_KEY: 'short' };
    expect(() => loadConfig(PushGatewayConfig, environment)).toThrow(/at least 32 characters/);
    const { PHONE_HASH_KEY: _removed, ...withoutHashKey } = baseEnvironment('nats://127.0.0.1:4222');
    expect(() => loadConfig(PushGatewayConfig, withoutHashKey)).toThrow(/PHONE_HASH_KEY/);
  });

  it('keeps demo mode off by default', () => {
    expect(loadConfig(PushGatewayConfig, baseEnvironment('nats://127.0.0.1:4222')).demoMode).toBe(false);
  });
});

describe('WindowCounter', () => {
  it('counts per key and reports the window end', () => {
    let now = 1_000_000;
    const counter = new WindowCounter(2, () => now);
    expect([counter.take('anna'), counter.take('anna'), counter.take('anna')]).toEqual([true, true, false]);
    expect(counter.take('ben')).toBe(true);
    now += 20_000;
    expect(counter.secondsLeft('anna')).toBe(40);
    now += 40_000;
    expect(counter.take('anna')).toBe(true);
  });
});
