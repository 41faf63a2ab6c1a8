import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { AuditEvent, CallRinging } from '@cti/contracts';
import { trickleRequest, waitFor } from '@cti/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { generateApiKey, type ApiKeyEntry } from '../src/api-keys.js';
import { PushErrorCode } from '../src/errors.js';
import { CloseCode, type ServerFrame } from '../src/protocol.js';
import { AgentTokenKeys } from '../src/tokens.js';
import { AgentClient } from './client.js';
import * as events from './events.js';
import { Harness } from './harness.js';

const ALLOWED_ORIGIN = 'https://crm.example.com';

describe('websocket authentication', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await Harness.start({ PUSH_ALLOWED_ORIGINS: ALLOWED_ORIGIN, PUSH_TOKEN_EXPIRY_WARNING_SECONDS: '1' });
  });

  afterAll(async () => {
    await harness.close();
  });

  it('refuses a connection without a token', async () => {
    const refusal = await AgentClient.refusal(harness.url, {});
    expect(refusal.status).toBe(401);
    expect(refusal.body.code).toBe(PushErrorCode.TOKEN_MISSING);
    expect(await harness.metric('cti_push_auth_failures_total', { credential: 'agent_token', reason: 'missing' })).toBeGreaterThan(0);
  });

  it('refuses an expired token', async () => {
    const token = await harness.token('anna', ['101'], { ttlSeconds: 60, now: Date.now() - 120_000 });
    const refusal = await AgentClient.refusal(harness.url, { token });
    expect(refusal.status).toBe(401);
    expect(refusal.body.code).toBe(PushErrorCode.TOKEN_EXPIRED);
    expect(await harness.metric('cti_push_auth_failures_total', { credential: 'agent_token', reason: 'expired' })).toBeGreaterThan(0);
  });

  it('refuses a token with a wrong signature', async () => {
    const token = await harness.token('anna', ['101']);
    const [header, payload] = token.split('.');
    const forged = `${header}.${payload}.${Buffer.alloc(32, 7).toString('base64url')}`;
    const refusal = await AgentClient.refusal(harness.url, { token: forged });
    expect(refusal.status).toBe(401);
    expect(refusal.body.code).toBe(PushErrorCode.TOKEN_INVALID);
    expect(await harness.metric('cti_push_auth_failures_total', { credential: 'agent_token', reason: 'bad_signature' })).toBeGreaterThan(0);
  });

  it('refuses a token signed with another key', async () => {
    const token = await harness.token('anna', ['101'], { keys: new AgentTokenKeys(['another-key-that-is-long-enough-0123456789']) });
    const refusal = await AgentClient.refusal(harness.url, { token });
    expect(refusal.status).toBe(401);
    expect(refusal.body.code).toBe(PushErrorCode.TOKEN_INVALID);
  });

  it('refuses a disallowed origin and audits it', async () => {
    const token = await harness.token('anna', ['101']);
    const refusal = await AgentClient.refusal(harness.url, { token, origin: 'https://evil.example' });
    expect(refusal.status).toBe(403);
    expect(refusal.body.code).toBe(PushErrorCode.ORIGIN_REJECTED);
    expect(await harness.metric('cti_push_auth_failures_total', { credential: 'origin', reason: 'disallowed_origin' })).toBeGreaterThan(0);

    const audit = await waitFor(async () => {
      const stored = await harness.publisher.jsm.streams.getMessage('AUDIT', { last_by_subj: 'audit.push-gateway.auth_failed' });
      return stored === null ? undefined : AuditEvent.parse(stored.json());
    }, 'auth_failed audit event');
    expect(audit.outcome).toBe('denied');
  });

  it('accepts an allow-listed origin, the own origin and a bearer header', async () => {
    const token = await harness.token('anna', ['101']);
    const listed = await AgentClient.open(harness.url, { token, origin: ALLOWED_ORIGIN });
    const own = await AgentClient.open(harness.url, { token, origin: harness.url });
    const bearer = await AgentClient.open(harness.url, { token, bearer: true });
    harness.clients.push(listed, own, bearer);
    for (const client of [listed, own, bearer]) {
      const welcome = await client.waitForFrame((frame): frame is Extract<ServerFrame, { type: 'welcome' }> => frame.type === 'welcome', 'welcome');
      expect(welcome.agentId).toBe('anna');
      expect(client.socket.protocol).toBe('cti.v1');
    }
  });

  it('closes the socket with 4001 when the token expires', async () => {
    const token = await harness.token('anna', ['101'], { ttlSeconds: 60, now: Date.now() - 58_000 });
    const client = await harness.connect('anna', ['101'], { token });
    await client.waitForFrame((frame): frame is ServerFrame => frame.type === 'token_expiring', 'token_expiring frame');
    const closed = await client.closed;
    expect(closed.code).toBe(CloseCode.TOKEN_EXPIRED);
    expect(await harness.metric('cti_push_disconnects_total', { reason: 'token_expired' })).toBeGreaterThan(0);
  });

  it('keeps the socket open past expiry after a fresh token arrives on it', async () => {
    const shortToken = await harness.token('anna', ['101'], { ttlSeconds: 60, now: Date.now() - 58_000 });
    const client = await harness.connect('anna', ['101'], { token: shortToken });
    const expiresAt = Date.parse(
      (await client.waitForFrame((frame): frame is Extract<ServerFrame, { type: 'welcome' }> => frame.type === 'welcome', 'welcome')).expiresAt,
    );

    client.send({ type: 'token', token: await harness.token('anna', ['101', '102']) });
    const accepted = await client.waitForFrame(
      (frame): frame is Extract<ServerFrame, { type: 'token_accepted' }> => frame.type === 'token_accepted',
      'token_accepted',
    );
    expect(accepted.extensions).toEqual(['101', '102']);

    await waitFor(() => Date.now() > expiresAt + 500, 'the first token to be expired', { timeoutMs: 5000 });
    client.send({ type: 'ping', id: 'after-expiry' });
    await client.waitForFrame((frame): frame is ServerFrame => frame.type === 'pong' && frame.id === 'after-expiry', 'pong after expiry');
    expect(client.closeCode).toBeUndefined();

    // The fresh token added 102, so 102's calls now reach this socket.
    await harness.publish(CallRinging, events.ringing({ callId: 'after-refresh', extension: '102' }));
    await client.waitForEvent('call.ringing', 'after-refresh');
  });

  it('accepts one of several refreshes sent at once', async () => {
    const client = await harness.connect('olga', ['111']);
    const fresh = await harness.token('olga', ['111']);
    for (let index = 0; index < 5; index += 1) {
      client.send({ type: 'token', token: fresh });
    }
    await waitFor(() => client.frames.filter((frame) => frame.type === 'error').length === 4, 'four refusals');
    expect(client.frames.filter((frame) => frame.type === 'token_accepted')).toHaveLength(1);
  });

  it('sends token_accepted before the fresh token expiry warning', async () => {
    const client = await harness.connect('paul', ['112']);
    // The warning comes 1 s before expiry here, so a token with 1 s left is due for it at once.
    client.send({ type: 'token', token: await harness.token('paul', ['112'], { ttlSeconds: 61, now: Date.now() - 60_000 }) });
    await client.waitForFrame((frame): frame is ServerFrame => frame.type === 'token_expiring', 'token_expiring');
    const order = client.frames.map((frame) => frame.type).filter((type) => type === 'token_accepted' || type === 'token_expiring');
    expect(order.slice(0, 2)).toEqual(['token_accepted', 'token_expiring']);
  });

  it('rejects a fresh token for another agent and keeps the socket', async () => {
    const client = await harness.connect('anna', ['101']);
    client.send({ type: 'token', token: await harness.token('ben', ['102']) });
    const error = await client.waitForFrame(
      (frame): frame is Extract<ServerFrame, { type: 'error' }> => frame.type === 'error',
      'error frame',
    );
    expect(error.code).toBe(PushErrorCode.TOKEN_AGENT_MISMATCH);
    client.send({ type: 'ping', id: 'still-open' });
    await client.waitForFrame((frame): frame is ServerFrame => frame.type === 'pong' && frame.id === 'still-open', 'pong');
  });

  it('serves the console with a strict content security policy', async () => {
    const response = await fetch(`${harness.url}/console/`);
    expect(response.status).toBe(200);
    const policy = response.headers.get('content-security-policy') ?? '';
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain("frame-ancestors 'none'");
    expect(policy).not.toContain('upgrade-insecure-requests');
    expect(await response.text()).toContain('<title>Agent console</title>');
  });

  it('refuses more connections per agent than allowed', async () => {
    const token = await harness.token('dora', ['104']);
    const limit = harness.instance.settings.maxConnectionsPerAgent;
    for (let index = 0; index < limit; index += 1) {
      await harness.connect('dora', ['104'], { token });
    }
    const refusal = await AgentClient.refusal(harness.url, { token });
    expect(refusal.status).toBe(429);
    expect(refusal.body.code).toBe(PushErrorCode.AGENT_CONNECTIONS_EXCEEDED);
  });
});

describe('stricter deployment settings', () => {
  let harness: Harness;
  const PUBLIC_ORIGIN = 'https://cti.example.com';

  beforeAll(async () => {
    harness = await Harness.start({
      PUSH_CONNECTS_PER_AGENT_PER_MINUTE: '3',
      PUSH_PUBLIC_ORIGIN: PUBLIC_ORIGIN,
      AGENT_TOKEN_TTL_SECONDS: '300',
      AGENT_TOKEN_MAX_TTL_SECONDS: '600',
    });
  });

  afterAll(async () => {
    await harness.close();
  });

  it('rejects an agent reconnecting too often', async () => {
    const token = await harness.token('erik', ['105'], { ttlSeconds: 300 });
    for (let index = 0; index < 3; index += 1) {
      const client = await AgentClient.open(harness.url, { token });
      await client.close();
    }
    const refusal = await AgentClient.refusal(harness.url, { token });
    expect(refusal.status).toBe(429);
    expect(refusal.body.code).toBe(PushErrorCode.AGENT_RECONNECTS_EXCEEDED);
    expect(await harness.metric('cti_rate_limit_rejections_total', { limit: 'agent_connects' })).toBe(1);
  });

  it('ignores Host once PUSH_PUBLIC_ORIGIN is set', async () => {
    const token = await harness.token('fay', ['106'], { ttlSeconds: 300 });
    // A DNS-rebinding page sends an Origin that matches the Host it connected with.
    const rebound = await AgentClient.refusal(harness.url, { token, origin: harness.url });
    expect(rebound.status).toBe(403);
    const client = await AgentClient.open(harness.url, { token, origin: PUBLIC_ORIGIN });
    await client.close();
  });

  it('rejects a token living past the maximum', async () => {
    const token = await harness.token('gus', ['107'], { ttlSeconds: 3600 });
    const refusal = await AgentClient.refusal(harness.url, { token });
    expect(refusal.status).toBe(401);
    expect(refusal.body.code).toBe(PushErrorCode.TOKEN_INVALID);
  });
});

describe('hostile HTTP clients', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await Harness.start({ PUSH_REQUEST_TIMEOUT_MS: '1000', LOG_LEVEL: 'info' });
  });

  afterAll(async () => {
    await harness.close();
  });

  it('answers 408 to a trickled request body', async () => {
    const started = Date.now();
    const response = await trickleRequest(
      harness.url,
      'POST /v1/calls HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{',
    );
    expect(response.split('\r\n')[0]).toBe('HTTP/1.1 408 Request Timeout');
    expect(response).toContain(`"code":"${PushErrorCode.REQUEST_TIMEOUT}"`);
    // The deadline is 1 s, and Node checks it every second.
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('logs a bounded number of rejections', async () => {
    for (let index = 0; index < 40; index += 1) {
      await fetch(`${harness.url}/v1/me`, { headers: { authorization: 'Bearer x.y.z' } });
    }
    // 30 failures a minute get 401 and the rest 429: at most 20 lines per code.
    const rejected = harness.instance.logs.lines.filter((line) => line['msg'] === 'request rejected');
    expect(rejected.filter((line) => line['code'] === PushErrorCode.TOKEN_INVALID)).toHaveLength(20);
    expect(rejected.filter((line) => line['code'] === PushErrorCode.AUTH_RATE_LIMITED)).toHaveLength(10);
  });
});

describe('api keys', () => {
  let harness: Harness;
  let directory: string;
  let keyFile: string;
  const first = generateApiKey({ id: 'sso', ratePerMinute: 1000 });
  const second = generateApiKey({ id: 'crm', ratePerMinute: 3 });
  const expired = generateApiKey({ id: 'old', expiresAt: new Date(Date.now() - 1000) });

  const writeKeys = (entries: ApiKeyEntry[]) => writeFileSync(keyFile, JSON.stringify({ keys: entries }));

  const mint = (key: string | undefined, body: unknown = { agentId: 'anna', extensions: ['101'] }) =>
    fetch(`${harness.url}/v1/agent-tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key === undefined ? {} : { 'x-api-key': key }) },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    directory = mkdtempSync(join(tmpdir(), 'cti-api-keys-'));
    keyFile = join(directory, 'api-keys.json');
    writeKeys([first.entry, second.entry, expired.entry]);
    harness = await Harness.start({ PUSH_API_KEYS_FILE: keyFile, PUSH_AUTH_FAILURES_PER_MINUTE: '1000' });
  });

  afterAll(async () => {
    await harness.close();
    rmSync(directory, { recursive: true, force: true });
  });

  it('mints a token that opens the socket', async () => {
    const response = await mint(first.key, { agentId: 'anna', extensions: ['101'], ttlSeconds: 600 });
    expect(response.status).toBe(201);
    const body = (await response.json()) as { token: string; extensions: string[]; pbx: string; expiresAt: string };
    expect(body.extensions).toEqual(['101']);
    expect(body.pbx).toBe('pbx1');
    expect(Date.parse(body.expiresAt) - Date.now()).toBeGreaterThan(590_000);

    const client = await harness.connect('anna', ['101'], { token: body.token });
    expect(client.frames[0]?.type).toBe('welcome');
  });

  it('rejects a missing, unknown and expired key, counting and auditing each', async () => {
    const cases = [
      { key: undefined, code: PushErrorCode.API_KEY_MISSING, reason: 'missing' },
      { key: 'ctik_not-a-key', code: PushErrorCode.API_KEY_INVALID, reason: 'unknown' },
      { key: expired.key, code: PushErrorCode.API_KEY_EXPIRED, reason: 'expired' },
    ];
    for (const testCase of cases) {
      const before = await harness.metric('cti_push_auth_failures_total', { credential: 'api_key', reason: testCase.reason });
      const response = await mint(testCase.key);
      expect(response.status).toBe(401);
      expect(((await response.json()) as { code: string }).code).toBe(testCase.code);
      expect(await harness.metric('cti_push_auth_failures_total', { credential: 'api_key', reason: testCase.reason })).toBe(before + 1);
    }
    const audit = await waitFor(async () => {
      const stored = await harness.publisher.jsm.streams.getMessage('AUDIT', { last_by_subj: 'audit.push-gateway.auth_failed' });
      const entry = stored === null ? undefined : AuditEvent.parse(stored.json());
      return entry?.reason === 'expired' ? entry : undefined;
    }, 'audit event of the expired key');
    expect(audit.actor).toMatchObject({ type: 'api_key', id: 'old' });
    expect(JSON.stringify(audit)).not.toContain(expired.key);
  });

  it('rejects an invalid request body with the field name', async () => {
    const response = await mint(first.key, { agentId: 'anna', extensions: ['10.1'] });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { code: string; message: string };
    expect(body.code).toBe(PushErrorCode.TOKEN_REQUEST_INVALID);
    expect(body.message).toContain('/extensions/0');

    const tooLong = await mint(first.key, { agentId: 'anna', extensions: ['101'], ttlSeconds: 86_400 });
    expect(tooLong.status).toBe(400);
    expect(((await tooLong.json()) as { message: string }).message).toContain('AGENT_TOKEN_MAX_TTL_SECONDS');
  });

  it('limits requests per key without slowing other keys', async () => {
    const statuses: number[] = [];
    for (let index = 0; index < 4; index += 1) {
      statuses.push((await mint(second.key)).status);
    }
    expect(statuses).toEqual([201, 201, 201, 429]);
    expect((await mint(first.key)).status).toBe(201);
  });

  it('rotates keys without a gap when the file changes', async () => {
    const third = generateApiKey({ id: 'sso-2027' });
    writeKeys([first.entry, third.entry]);
    await waitFor(async () => (await mint(third.key)).status === 201, 'the new key to work');
    expect((await mint(first.key)).status).toBe(201);

    writeKeys([third.entry]);
    await waitFor(async () => (await mint(first.key)).status === 401, 'the old key to stop working');
    expect((await mint(third.key)).status).toBe(201);
    expect(await harness.metric('cti_push_api_key_reloads_total', { outcome: 'loaded' })).toBeGreaterThanOrEqual(2);
  });

  it('keeps the current keys when the new file is invalid', async () => {
    const current = generateApiKey({ id: 'current' });
    writeKeys([current.entry]);
    await waitFor(async () => (await mint(current.key)).status === 201, 'the current key to work');

    writeFileSync(keyFile, '{"keys": [ {"id": "broken"');
    await waitFor(async () => (await harness.metric('cti_push_api_key_reloads_total', { outcome: 'failed' })) > 0, 'the failed reload');
    expect((await mint(current.key)).status).toBe(201);
  });
});

describe('failed authentication limit', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await Harness.start({ PUSH_AUTH_FAILURES_PER_MINUTE: '3' });
  });

  afterAll(async () => {
    await harness.close();
  });

  it('answers 429 to further failures but lets valid tokens through', async () => {
    const statuses: number[] = [];
    for (let index = 0; index < 5; index += 1) {
      const response = await fetch(`${harness.url}/v1/me`, { headers: { authorization: 'Bearer not-a-token' } });
      statuses.push(response.status);
    }
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    expect(await harness.metric('cti_push_auth_failures_total', { credential: 'agent_token', reason: 'rate_limited' })).toBe(2);

    // Agents behind one NAT share an address: a valid token still works from it.
    const token = await harness.token('anna', ['101']);
    const response = await fetch(`${harness.url}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { agentId: string }).agentId).toBe('anna');
  });
});
