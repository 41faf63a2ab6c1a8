import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RECORDED_ADMIN_LOGIN, RECORDED_CLIENT_CREDENTIALS, RECORDED_PASSWORD_CLIENT, startSuiteCrmSimulator, type SuiteCrmSimulator } from '../src/index.js';
import { recordedText, recording, recordingNames, replay, splitBody, type Exchange } from './recordings.js';

// The seed records were created at 19:27 on the recording day; every request below runs at the
// time it was recorded, so dates in the answers match.
let now = Date.parse('2026-12-04T19:27:30Z');
let simulator: SuiteCrmSimulator;
let token: string;

async function clientCredentialsToken(): Promise<string> {
  const response = await fetch(`${simulator.url}/Api/access_token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: RECORDED_CLIENT_CREDENTIALS.id, client_secret: RECORDED_CLIENT_CREDENTIALS.secret }).toString(),
  });
  return ((await response.json()) as { access_token: string }).access_token;
}

/** Replays an exchange and checks status, content type and the whole body against the recording. */
async function expectSameAnswer(exchange: Exchange): Promise<void> {
  now = Date.parse(exchange.recordedAt);
  const answer = await replay(simulator.url, exchange, token);
  expect(answer.status).toBe(exchange.response.status);
  expect(answer.contentType).toBe(exchange.response.headers['Content-Type']);
  const expected = splitBody(recordedText(exchange));
  const actual = splitBody(answer.text);
  expect(actual.json).toEqual(expected.json);
  expect(actual.trailing).toBe(expected.trailing);
  if (exchange.response.rawBody !== undefined) {
    // V8 answers are pretty-printed with four spaces; the text itself must match.
    expect(answer.text).toBe(exchange.response.rawBody);
  }
}

beforeAll(async () => {
  simulator = await startSuiteCrmSimulator({ seed: 'recorded', clock: () => now });
  token = await clientCredentialsToken();
});

afterAll(async () => {
  await simulator.close();
});

describe('simulator lookups', () => {
  const names = recordingNames('03-').concat(['02-meta-fields-calls', '02-meta-fields-contacts', '02-meta-fields-unknown-module', '02-meta-modules', '02-unknown-route']);
  for (const name of names) {
    it(`answers ${name} as recorded`, async () => {
      await expectSameAnswer(recording(name));
    });
  }
});

describe('simulator users', () => {
  for (const name of recordingNames('09-users-')) {
    it(`answers ${name} as recorded`, async () => {
      await expectSameAnswer(recording(name));
    });
  }
});

describe('simulator token endpoint', () => {
  const secretFor = (clientId: string) => (clientId === RECORDED_PASSWORD_CLIENT.id ? RECORDED_PASSWORD_CLIENT.secret : RECORDED_CLIENT_CREDENTIALS.secret);

  async function sendToken(exchange: Exchange, refreshToken?: string) {
    const parameters = { ...(exchange.request.body as Record<string, string>) };
    if (parameters['client_secret'] === 'REDACTED') {
      parameters['client_secret'] = secretFor(parameters['client_id'] ?? '');
    }
    if (parameters['password'] === 'REDACTED') {
      parameters['password'] = RECORDED_ADMIN_LOGIN.password;
    }
    if (parameters['refresh_token'] === 'REDACTED' && refreshToken !== undefined) {
      parameters['refresh_token'] = refreshToken;
    }
    const json = exchange.request.headers['Content-Type'] === 'application/json';
    const response = await fetch(`${simulator.url}${exchange.request.path}`, {
      method: exchange.request.method,
      headers: { 'content-type': String(exchange.request.headers['Content-Type']) },
      body: json ? JSON.stringify(parameters) : new URLSearchParams(parameters).toString(),
    });
    return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> };
  }

  const errors = [
    '01-access-token-grant-not-allowed-for-client',
    '01-access-token-missing-client-secret',
    '01-access-token-missing-grant-type',
    '01-access-token-password-grant-unknown-user',
    '01-access-token-password-grant-wrong-password',
    '01-access-token-unknown-client-id-not-uuid',
    '01-access-token-unknown-client-id',
    '01-access-token-wrong-client-secret',
  ];
  for (const name of errors) {
    it(`answers ${name} as recorded`, async () => {
      const exchange = recording(name);
      const answer = await sendToken(exchange);
      expect(answer.status).toBe(exchange.response.status);
      expect(answer.headers.get('content-type')).toBe('application/json');
      expect(answer.body).toEqual(exchange.response.body);
    });
  }

  for (const name of ['01-access-token-client-credentials-ok', '01-access-token-client-credentials-json-body', '01-access-token-password-grant-ok']) {
    it(`issues a token for ${name}`, async () => {
      const exchange = recording(name);
      const answer = await sendToken(exchange);
      expect(answer.status).toBe(200);
      expect(answer.headers.get('content-type')).toBe('application/json; charset=UTF-8');
      expect(answer.headers.get('cache-control')).toBe('no-store');
      expect(Object.keys(answer.body).sort()).toEqual(Object.keys(exchange.response.body as object).sort());
      expect(answer.body['expires_in']).toBe(3600);
      expect(String(answer.body['access_token']).split('.')).toHaveLength(3);
    });
  }

  it('exchanges a refresh token like 01-access-token-refresh-token-grant', async () => {
    const first = await sendToken(recording('01-access-token-password-grant-ok'));
    const exchange = recording('01-access-token-refresh-token-grant');
    const answer = await sendToken(exchange, String(first.body['refresh_token']));
    expect(answer.status).toBe(200);
    expect(Object.keys(answer.body).sort()).toEqual(Object.keys(exchange.response.body as object).sort());
  });

  it('refuses GET like 01-access-token-get-method', async () => {
    const exchange = recording('01-access-token-get-method');
    const response = await fetch(`${simulator.url}/Api/access_token`);
    expect(response.status).toBe(405);
    expect(await response.json()).toEqual(exchange.response.body);
  });
});

describe('simulator bearer checks', () => {
  async function expectDenied(name: string, authorization: string | null): Promise<void> {
    const exchange = recording(name);
    const answer = await replay(simulator.url, exchange, token, { authorization });
    expect(answer.status).toBe(exchange.response.status);
    expect(answer.contentType).toBe('application/json');
    expect(JSON.parse(answer.text)).toEqual(exchange.response.body);
  }

  it('answers 07-auth-no-authorization-header', () => expectDenied('07-auth-no-authorization-header', null));
  it('answers 07-auth-basic-scheme', () => expectDenied('07-auth-basic-scheme', 'Basic YWJjOmRlZg=='));
  it('answers 07-auth-empty-bearer', () => expectDenied('07-auth-empty-bearer', 'Bearer '));
  it('answers 07-auth-invalid-token-garbage', () => expectDenied('07-auth-invalid-token-garbage', 'Bearer not-a-jwt'));
  it('answers 07-auth-lowercase-bearer', () => expectDenied('07-auth-lowercase-bearer', `bearer ${token}`));
  it('answers 07-auth-invalid-token-bad-signature', () => {
    const forged = `${token.slice(0, -2)}${token.endsWith('AA') ? 'BB' : 'AA'}`;
    return expectDenied('07-auth-invalid-token-bad-signature', `Bearer ${forged}`);
  });

  it('accepts a token without the Bearer scheme like 07-auth-token-without-scheme', async () => {
    await expectSameAnswer(recording('07-auth-token-without-scheme'));
  });

  it('refuses a token 23 s after expiry like 07-auth-expired-token', async () => {
    const fresh = await clientCredentialsToken();
    now += 3600_000 + 23_000;
    try {
      await expectDenied('07-auth-expired-token', `Bearer ${fresh}`);
    } finally {
      now -= 3600_000 + 23_000;
    }
  });

  it('revokes on logout like 07-auth-logout and 07-auth-revoked-token', async () => {
    const own = await clientCredentialsToken();
    const logout = await replay(simulator.url, recording('07-auth-logout'), own);
    expect(logout.status).toBe(200);
    expect(JSON.parse(logout.text)).toEqual(recording('07-auth-logout').response.body);
    await expectDenied('07-auth-revoked-token', `Bearer ${own}`);
  });
});

describe('simulator current user', () => {
  it('answers 09-current-user with display-format dates', async () => {
    const exchange = recording('09-current-user');
    const answer = await replay(simulator.url, exchange, token);
    const body = JSON.parse(answer.text) as { data: { attributes: Record<string, unknown> } };
    const recorded = exchange.response.body as { data: { attributes: Record<string, unknown> } };
    expect(answer.status).toBe(200);
    expect(Object.keys(body.data.attributes)).toEqual(Object.keys(recorded.data.attributes));
    expect(body.data.attributes['user_name']).toBe('admin');
    expect(body.data.attributes['is_admin']).toBe('1');
    expect(body.data.attributes['date_entered']).toMatch(/^\d{2}\/\d{2}\/\d{4} \d{2}:\d{2}$/);
  });
});
