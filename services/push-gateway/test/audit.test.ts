import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { AuditEvent, CallerIdentified, type AuditEvent as AuditMessage } from '@cti/contracts';
import { hashPhoneNumber } from '@cti/logging';
import { waitFor } from '@cti/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { generateApiKey } from '../src/api-keys.js';
import { PushErrorCode } from '../src/errors.js';
import type { ServerFrame } from '../src/protocol.js';
import * as events from './events.js';
import { Harness, PHONE_HASH_KEY } from './harness.js';

const ALLOWED_ORIGIN = 'https://crm.example.com';

describe('audit trail of the gateway', () => {
  let harness: Harness;
  let apiKey: string;

  beforeAll(async () => {
    const generated = generateApiKey({ id: 'sso', ratePerMinute: 1 });
    apiKey = generated.key;
    const keyFile = join(mkdtempSync(join(tmpdir(), 'cti-audit-keys-')), 'keys.json');
    writeFileSync(keyFile, JSON.stringify({ keys: [generated.entry] }));
    harness = await Harness.start({ PUSH_API_KEYS_FILE: keyFile, PUSH_ALLOWED_ORIGINS: ALLOWED_ORIGIN});
  });

  afterAll(async () => {
    await harness.close();
  });

  /** Audit events of the gateway stored so far, oldest first. */
  async function audited(): Promise<AuditMessage[]> {
    const info = await harness.publisher.jsm.streams.info('AUDIT');
    const found: AuditMessage[] = [];
    for (let seq = info.state.first_seq; info.state.messages > 0 && seq <= info.state.last_seq; seq += 1) {
      const stored = await harness.publisher.jsm.streams.getMessage('AUDIT', { seq }).catch(() => null);
      if (stored !== null) {
        found.push(AuditEvent.parse(stored.json()));
      }
    }
    return found;
  }

  function waitForAudit(description: string, check: (event: AuditMessage) => boolean): Promise<AuditMessage> {
    return waitFor(async () => (await audited()).find(check), description);
  }

  const mint = (key: string) =>
    fetch(`${harness.url}/v1/agent-tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key },
      body: JSON.stringify({ agentId: 'anna', extensions: ['101'] }),
    });

  it('audits the API key, the token and the call, and counts the rate limit', async () => {
    expect((await mint(apiKey)).status).toBe(201);
    const keyUsed = await waitForAudit('api_key_used', (event) => event.action === 'api_key_used');
    expect(keyUsed.actor).toMatchObject({ type: 'api_key', id: 'sso' });
    expect(keyUsed.target).toEqual({ type: 'route', id: 'POST /v1/agent-tokens' });
    const call = await waitForAudit('api_request of the token', (event) => event.action === 'api_request' && event.target?.id === 'POST /v1/agent-tokens');
    expect(call).toMatchObject({ outcome: 'success', actor: { type: 'api_key', id: 'sso' }, details: { status: 201 } });

    // The second token in a minute is over the key's limit: counted, not audited as a call.
    expect((await mint(apiKey)).status).toBe(429);
    expect(await harness.metric('cti_rate_limit_rejections_total', { limit: '/v1/agent-tokens' })).toBe(1);
    expect(await harness.metric('cti_http_requests_total', { route: '/v1/agent-tokens', status: '429' })).toBe(1);
    const calls = (await audited()).filter((event) => event.action === 'api_request' && event.target?.id === 'POST /v1/agent-tokens');
    expect(calls.map((event) => event.details?.['status'])).toEqual([201]);
  });

  it('audits an agent call with the agent, and a refused one as denied', async () => {
    const token = await harness.token('ben', ['102']);
    const me = await fetch(`${harness.url}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(me.status).toBe(200);
    const call = await waitForAudit('GET /v1/me', (event) => event.action === 'api_request' && event.target?.id === 'GET /v1/me');
    expect(call).toMatchObject({ outcome: 'success', actor: { type: 'agent', id: 'ben', ip: '127.0.0.1' } });

    const refused = await fetch(`${harness.url}/v1/me`, { headers: { authorization: 'Bearer not-a-token' } });
    expect(refused.status).toBe(401);
    await waitForAudit('the refused call', (event) => event.action === 'api_request' && event.outcome === 'denied' && event.target?.id === 'GET /v1/me');

    // A disallowed browser origin on the REST API is an authentication failure too.
    const foreign = await fetch(`${harness.url}/v1/me`, { headers: { authorization: `Bearer ${token}`, origin: 'https://evil.example' } });
    expect(foreign.status).toBe(403);
    expect((await foreign.json()) as { code: string }).toMatchObject({ code: PushErrorCode.ORIGIN_REJECTED });
    await waitForAudit('the origin refusal', (event) => event.action === 'auth_failed' && event.reason === 'disallowed_origin' && event.details?.['route'] === '/v1/me');
  });

  it('audits the session, a refused token refresh and the screen pop', async () => {
    const client = await harness.connect('carla', ['103']);
    const opened = await waitForAudit('session_opened', (event) => event.action === 'session_opened' && event.actor.id === 'carla');
    expect(opened.details).toMatchObject({ extensions: '103', resume: false });

    client.send({ type: 'token', token: 'not-a-token' });
    await client.waitForFrame((frame): frame is Extract<ServerFrame, { type: 'error' }> => frame.type === 'error', 'the refusal');
    await waitForAudit('the refused refresh', (event) => event.action === 'auth_failed' && event.reason === 'refresh_rejected' && event.actor.id === 'carla');

    client.send({ type: 'token', token: await harness.token('carla', ['103']) });
    await waitForAudit('token_refreshed', (event) => event.action === 'token_refreshed' && event.actor.id === 'carla');
    // A second refresh at once is an invalid frame, not another audit event.
    client.send({ type: 'token', token: await harness.token('carla', ['103']) });
    const tooSoon = await client.waitForFrame(
      (frame): frame is Extract<ServerFrame, { type: 'error' }> => frame.type === 'error' && frame.code === PushErrorCode.TOKEN_REFRESH_TOO_SOON,
      'the refusal of a refresh too soon',
    );
    expect(tooSoon.message).toContain('token_expiring');

    const ringingAt = new Date(Date.now() - 250).toISOString();
    await harness.publish(CallerIdentified, { ...events.identified({ callId: 'audited-pop', extension: '103' }), ringingAt });
    await client.waitForEvent('crm.caller.identified', 'audited-pop');
    const pop = await waitForAudit('screen_pop_sent', (event) => event.action === 'screen_pop_sent' && event.actor.id === 'carla');
    expect(pop.numberHash).toBe(hashPhoneNumber(events.CALLER.number, PHONE_HASH_KEY));
    // The pop is timed from the ring, 250 ms before it was published.
    const exposition = await harness.instance.registry.getSingleMetricAsString('cti_push_screen_pop_seconds');
    const sum = Number(/cti_push_screen_pop_seconds_sum \S+/.exec(exposition)?.[0].split(' ')[1]);
    expect(sum).toBeGreaterThanOrEqual(0.25);

    client.socket.close();
    const closed = await waitForAudit('session_closed', (event) => event.action === 'session_closed' && event.actor.id === 'carla');
    expect(closed.target).toEqual(opened.target);
    expect(closed.reason).toBe('client');
  });
});
