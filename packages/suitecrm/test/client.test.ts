import { createLogger } from '@cti/logging';
import { RECORDED_ADMIN_LOGIN, RECORDED_CLIENT_CREDENTIALS, RECORDED_PASSWORD_CLIENT, startSuiteCrmSimulator, type SuiteCrmSimulator } from '@cti/suitecrm-simulator';
import { collectLogLines } from '@cti/testing';
import { afterEach, describe, expect, it } from 'vitest';

import { SuiteCrmClient, SuiteCrmErrorCode, type SuiteCrmClientOptions } from '../src/index.js';

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

interface Setup {
  simulator: SuiteCrmSimulator;
  client: SuiteCrmClient;
  clock: { now: number };
  sleeps: number[];
  logs: ReturnType<typeof collectLogLines>;
}

async function setup(options: { client?: Partial<SuiteCrmClientOptions>; simulator?: Parameters<typeof startSuiteCrmSimulator>[0] } = {}): Promise<Setup> {
  const clock = { now: Date.parse('2026-12-04T20:00:00Z') };
  const simulator = await startSuiteCrmSimulator({ seed: 'recorded', clock: () => clock.now, ...options.simulator });
  const logs = collectLogLines();
  const sleeps: number[] = [];
  const client = new SuiteCrmClient({
    url: simulator.url,
    credentials: { clientId: RECORDED_CLIENT_CREDENTIALS.id, clientSecret: RECORDED_CLIENT_CREDENTIALS.secret, grantType: 'client_credentials' },
    clock: () => clock.now,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    logger: createLogger({ service: 'test', level: 'debug', destination: logs.stream }),
    ...options.client,
  });
  cleanups.push(async () => {
    await client.close();
    await simulator.close();
  });
  return { simulator, client, clock, sleeps, logs };
}

const tokenRequests = (simulator: SuiteCrmSimulator) => simulator.requests.filter((request) => request.route === 'POST access_token').length;

describe('SuiteCrmClient tokens', () => {
  it('caches the token between requests', async () => {
    const { simulator, client } = await setup();
    await client.get('Contacts', 'e266229c-c519-99ae-8c4f-6b1314162658');
    await client.get('Contacts', 'c3c2da96-f7da-cfe7-78a9-6b1314bc53e3');
    expect(tokenRequests(simulator)).toBe(1);
    expect(client.tokenState().status).toBe('valid');
  });

  it('refreshes before expiry', async () => {
    const { simulator, client, clock } = await setup();
    await client.currentUser();
    clock.now += 3600_000 - 30_000;
    expect(client.tokenState().status).toBe('expiring');
    await client.currentUser();
    expect(tokenRequests(simulator)).toBe(2);
    // No request went out with the old token, so SuiteCRM never returned 401.
    expect(simulator.requests.filter((request) => request.status === 401)).toHaveLength(0);
  });

  it('gets one new token on a 401 and retries once', async () => {
    const { simulator, client } = await setup();
    await client.currentUser();
    simulator.oauth.revokeAll();
    const user = await client.currentUser();
    expect(user.id).toBe('1');
    expect(tokenRequests(simulator)).toBe(2);
    expect(simulator.requests.filter((request) => request.status === 401)).toHaveLength(1);
  });

  it('refreshes a token that expired earlier than SuiteCRM said', async () => {
    const { simulator, client, clock } = await setup({ simulator: { tokenLifetimeSeconds: 60 } });
    await client.currentUser();
    clock.now += 61_000;
    await client.currentUser();
    expect(tokenRequests(simulator)).toBe(2);
  });

  it('shares one refresh among concurrent callers', async () => {
    const { simulator, client } = await setup();
    await client.currentUser();
    simulator.oauth.revokeAll();
    const results = await Promise.all(Array.from({ length: 20 }, () => client.get('Contacts', 'e266229c-c519-99ae-8c4f-6b1314162658')));
    expect(results).toHaveLength(20);
    expect(tokenRequests(simulator)).toBe(2);
  });

  it('shares the first token request among concurrent callers', async () => {
    const { simulator, client } = await setup();
    await Promise.all(Array.from({ length: 10 }, () => client.currentUser()));
    expect(tokenRequests(simulator)).toBe(1);
  });

  it('gives up when a fresh token is refused too', async () => {
    const { simulator, client } = await setup();
    await client.currentUser();
    simulator.faults.add({ route: 'GET current-user', status: 401, times: 5 });
    await expect(client.currentUser()).rejects.toMatchObject({ code: SuiteCrmErrorCode.UNAUTHORIZED, retryable: false });
    expect(tokenRequests(simulator)).toBe(2);
  });

  it('uses the password grant and the refresh token', async () => {
    const { simulator, client, clock } = await setup({
      client: {
        credentials: {
          clientId: RECORDED_PASSWORD_CLIENT.id,
          clientSecret: RECORDED_PASSWORD_CLIENT.secret,
          grantType: 'password',
          username: RECORDED_ADMIN_LOGIN.userName,
          password: RECORDED_ADMIN_LOGIN.password,
        },
      },
    });
    await client.currentUser();
    clock.now += 3600_000;
    await client.currentUser();
    expect(tokenRequests(simulator)).toBe(2);
  });

  it('reports an unknown client id without retrying', async () => {
    const { client } = await setup({ client: { credentials: { clientId: 'crm-sync', clientSecret: 'x-secret-value', grantType: 'client_credentials' } } });
    await expect(client.currentUser()).rejects.toMatchObject({ code: SuiteCrmErrorCode.CLIENT_UNKNOWN });
    expect(client.tokenState()).toEqual({ status: 'failed', lastErrorCode: SuiteCrmErrorCode.CLIENT_UNKNOWN });
  });

  it('never logs or throws an echoed password', async () => {
    const password = 'wrong-password-that-must-stay-secret';
    const { client, logs } = await setup({
      client: {
        credentials: { clientId: RECORDED_PASSWORD_CLIENT.id, clientSecret: RECORDED_PASSWORD_CLIENT.secret, grantType: 'password', username: 'admin', password },
      },
    });
    const error = (await client.currentUser().catch((caught: unknown) => caught)) as Error;
    expect(error).toMatchObject({ code: SuiteCrmErrorCode.AUTH_REJECTED });
    expect(error.message).toContain('The password is invalid: [REDACTED]');
    expect(JSON.stringify(error)).not.toContain(password);
    expect(logs.text()).not.toContain(password);
    expect(logs.text()).not.toContain(RECORDED_PASSWORD_CLIENT.secret);
  });
});

describe('SuiteCrmClient retries', () => {
  it('honours Retry-After on 429', async () => {
    const { simulator, client, sleeps } = await setup();
    await client.currentUser();
    simulator.faults.rateLimit({ retryAfterSeconds: 2, times: 1, route: 'GET module/{module}/{id}' });
    const record = await client.get('Contacts', 'e266229c-c519-99ae-8c4f-6b1314162658');
    expect(record.attributes['last_name']).toBe('Evans');
    expect(sleeps).toEqual([2000]);
  });

  it('hands a long Retry-After back to the caller', async () => {
    const { simulator, client, sleeps } = await setup();
    simulator.faults.rateLimit({ retryAfterSeconds: 60, times: 1, route: 'GET module/{module}/{id}' });
    await expect(client.get('Contacts', 'e266229c-c519-99ae-8c4f-6b1314162658')).rejects.toMatchObject({ code: SuiteCrmErrorCode.RATE_LIMITED, retryAfterSeconds: 60 });
    expect(sleeps).toEqual([]);
  });

  it('backs off on 5xx with growing delays', async () => {
    const { simulator, client, sleeps } = await setup();
    await client.currentUser();
    simulator.faults.add({ route: 'GET current-user', status: 503, times: 2 });
    await client.currentUser();
    expect(sleeps).toEqual([188, 375]);
  });

  it('opens the circuit after repeated failures and fails fast', async () => {
    const { simulator, client, clock } = await setup({ client: { circuitFailureThreshold: 3, circuitOpenMs: 5000, maxRetries: 1 } });
    await client.currentUser();
    const stop = simulator.faults.outage();
    await expect(client.currentUser()).rejects.toMatchObject({ code: SuiteCrmErrorCode.UNAVAILABLE });
    await expect(client.currentUser()).rejects.toMatchObject({ code: SuiteCrmErrorCode.UNAVAILABLE });
    expect(client.circuitState()).toBe('open');
    const sent = simulator.requests.length;
    await expect(client.currentUser()).rejects.toMatchObject({ code: SuiteCrmErrorCode.CIRCUIT_OPEN, requestSent: false });
    expect(simulator.requests.length).toBe(sent);
    stop();
    clock.now += 5000;
    await client.currentUser();
    expect(client.circuitState()).toBe('closed');
  });

  it('does not send a create without an id twice after the connection died', async () => {
    const { simulator, client } = await setup();
    await client.currentUser();
    simulator.faults.dropAfterCreate();
    await expect(client.create('Calls', { name: 'dropped create' })).rejects.toMatchObject({ code: SuiteCrmErrorCode.NETWORK, requestSent: true });
    expect(simulator.rows('Calls').filter((row) => row.values['name'] === 'dropped create')).toHaveLength(1);
    expect(simulator.requests.filter((request) => request.route === 'POST module')).toHaveLength(1);
  });

  it('retries a create with an id, which SuiteCRM refuses to store twice', async () => {
    const { simulator, client } = await setup();
    await client.currentUser();
    simulator.faults.dropAfterCreate();
    const id = '6f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f';
    await expect(client.create('Calls', { name: 'create with id' }, { id })).rejects.toMatchObject({ code: SuiteCrmErrorCode.RECORD_EXISTS });
    expect(simulator.rows('Calls').filter((row) => row.id === id)).toHaveLength(1);
    expect(simulator.requests.filter((request) => request.route === 'POST module')).toHaveLength(2);
  });
});

describe('SuiteCrmClient API', () => {
  it('finds the API of SuiteCRM 8 under /legacy', async () => {
    const { client } = await setup({ simulator: { basePath: '/legacy' } });
    const user = await client.currentUser();
    expect(user.attributes['user_name']).toBe('admin');
    expect(client.recordUrl('Contacts', 'abc')).toMatch(/\/#\/contacts\/record\/abc$/);
  });

  it('links records of SuiteCRM 7 to the classic detail view', async () => {
    const { client, simulator } = await setup();
    await client.currentUser();
    expect(client.recordUrl('Contacts', 'abc')).toBe(`${simulator.url}/index.php?module=Contacts&action=DetailView&record=abc`);
  });

  it('decodes HTML entities of responses', async () => {
    const { client } = await setup();
    const call = await client.create('Calls', { name: "Call from O'Brien & Sons", description: 'said "hi" < 5' });
    expect(call.attributes['name']).toBe("Call from O'Brien & Sons");
    expect(call.attributes['description']).toBe('said "hi" < 5');
  });

  it('reads every page of a list', async () => {
    const { client } = await setup();
    const pages: number[] = [];
    for await (const page of client.listPages('Contacts', { pageSize: 4, fields: ['last_name'], sort: 'last_name' })) {
      pages.push(page.length);
    }
    expect(pages).toEqual([4, 4, 3]);
  });

  it('links through the named link routes', async () => {
    const { client, simulator } = await setup();
    const call = await client.create('Calls', { name: 'link test' });
    await client.relate('Calls', call.id, 'users', { module: 'Users', id: '70617ac6-ec84-d187-9386-6b13148e60eb' });
    await client.relate('Calls', call.id, 'users', { module: 'Users', id: '70617ac6-ec84-d187-9386-6b13148e60eb' });
    expect(simulator.relationRows('calls_users').filter((row) => row.left === call.id)).toHaveLength(1);
    const users = await client.related('Calls', call.id, 'users', { size: 10 });
    expect(users.records.map((record) => record.id)).toEqual(['70617ac6-ec84-d187-9386-6b13148e60eb']);
  });

  it('reads custom fields from the field metadata', async () => {
    const { client } = await setup({ simulator: { customFields: { Calls: ['ai_summary_c'] } } });
    const fields = await client.fieldDefinitions('Calls');
    expect(fields['ai_summary_c']?.source).toBe('custom_fields');
    expect(fields['name']?.len).toBe('50');
  });

  it('turns a missing record into RECORD_NOT_FOUND', async () => {
    const { client } = await setup();
    await expect(client.get('Calls', '00000000-0000-4000-8000-0000000000ff')).rejects.toMatchObject({ code: SuiteCrmErrorCode.RECORD_NOT_FOUND, status: 400 });
  });
});
