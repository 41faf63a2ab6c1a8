import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RECORDED_CLIENT_CREDENTIALS, startSuiteCrmSimulator, type SuiteCrmSimulator } from '../src/index.js';
import { recordedText, recording, recordingNames, replay, splitBody, type Exchange } from './recordings.js';

let now = Date.parse('2026-12-04T19:27:30Z');
let simulator: SuiteCrmSimulator;
let token: string;

beforeAll(async () => {
  simulator = await startSuiteCrmSimulator({ seed: 'recorded', clock: () => now });
  const response = await fetch(`${simulator.url}/Api/access_token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: RECORDED_CLIENT_CREDENTIALS.id, client_secret: RECORDED_CLIENT_CREDENTIALS.secret }).toString(),
  });
  token = ((await response.json()) as { access_token: string }).access_token;
});

afterAll(async () => {
  await simulator.close();
});

type RecordDocument = { data: { type: string; id: string; attributes: Record<string, unknown>; relationships: Record<string, { links: { related: string } }> } };

/** Replaces the recorded record id in links with the simulator's, so two documents compare. */
function withId(document: RecordDocument, from: string, to: string): RecordDocument {
  return JSON.parse(JSON.stringify(document).split(from).join(to)) as RecordDocument;
}

/**
 * Reads the "Row in the calls table right after this request (a | b): x | y" note of a
 * recording into column values, NULL as null.
 */
function rowNote(exchange: Exchange): Record<string, string | null> | undefined {
  const note = exchange.notes?.find((text) => text.startsWith('Row in the calls table right after this request'));
  if (note === undefined) {
    return undefined;
  }
  const match = /\(([^)]*)\): (.*)$/.exec(note);
  const columns = (match?.[1] ?? '').split(' | ');
  const values = (match?.[2] ?? '').split(' | ');
  return Object.fromEntries(columns.map((column, index) => [column, values[index] === 'NULL' ? null : (values[index] ?? '')]));
}

async function send(exchange: Exchange) {
  now = Date.parse(exchange.recordedAt);
  const answer = await replay(simulator.url, exchange, token);
  return { ...answer, ...splitBody(answer.text) };
}

async function expectSameError(name: string): Promise<void> {
  const exchange = recording(name);
  const answer = await send(exchange);
  expect(answer.status).toBe(exchange.response.status);
  expect(answer.contentType).toBe(exchange.response.headers['Content-Type']);
  expect(answer.text).toBe(recordedText(exchange));
}

/** Creates a call with a recorded id, as the recordings' own seed steps did. */
async function createCall(id: string, attributes: Record<string, unknown>, at: string): Promise<void> {
  now = Date.parse(at);
  const response = await fetch(`${simulator.url}/Api/V8/module`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/vnd.api+json' },
    body: JSON.stringify({ data: { type: 'Calls', id, attributes } }),
  });
  expect(response.status).toBe(201);
}

describe('simulator creates', () => {
  for (const name of recordingNames('04-create-call-')) {
    it(`answers ${name} and stores what SuiteCRM stored`, async () => {
      const exchange = recording(name);
      const answer = await send(exchange);
      expect(answer.status).toBe(exchange.response.status);
      expect(answer.contentType).toBe(exchange.response.headers['Content-Type']);
      if (exchange.response.status !== 201) {
        expect(answer.text).toBe(recordedText(exchange));
        return;
      }
      const actual = answer.json as RecordDocument;
      const expected = withId(exchange.response.body as RecordDocument, (exchange.response.body as RecordDocument).data.id, actual.data.id);
      expect(actual).toEqual(expected);

      const row = rowNote(exchange);
      const stored = simulator.rows('Calls').find((candidate) => candidate.id === actual.data.id);
      expect(stored).toBeDefined();
      for (const [column, value] of Object.entries(row ?? {})) {
        expect({ column, value: stored?.values[column] ?? null }).toEqual({ column, value });
      }
    });
  }
});

describe('simulator relationships', () => {
  const callId = 'c7ec26da-a805-9fed-5852-6b131513199a';

  beforeAll(async () => {
    await createCall(
      callId,
      {
        name: 'Relationship test call',
        direction: 'Inbound',
        status: 'Held',
        date_start: '2026-12-04 19:40:00',
        duration_hours: 0,
        duration_minutes: 3,
        parent_type: 'Contacts',
        parent_id: 'c3c2da96-f7da-cfe7-78a9-6b1314bc53e3',
        assigned_user_id: '70617ac6-ec84-d187-9386-6b13148e60eb',
      },
      '2026-12-04T19:31:30Z',
    );
  });

  // Recorded one after the other against one call; each answer depends on the ones before.
  const sequence = [
    '05-get-relationship-contacts-empty',
    '05-create-relationship-contacts',
    '05-create-relationship-contacts-again',
    '05-get-relationship-contacts',
    '05-get-relationship-contacts-sparse',
    '05-create-relationship-by-link-users',
    '05-get-relationship-users',
    '05-create-relationship-users-generic',
    '05-get-relationship-users-after-generic',
    '05-create-relationship-accounts',
    '05-get-relationship-accounts',
    '05-get-call-after-account-link',
    '05-create-relationship-by-link-leads',
    '05-create-relationship-unknown-link',
    '05-create-relationship-nonexistent-related-id',
    '05-create-relationship-nonexistent-source',
    '05-create-relationship-data-array',
    '05-create-relationship-type-mismatch',
    '05-delete-relationship-contacts',
    '05-get-relationship-contacts-after-delete',
    '05-delete-relationship-not-related',
    '05-get-relationship-unknown-link',
  ];

  it('answers the recorded relationship sequence', async () => {
    for (const name of sequence) {
      const exchange = recording(name);
      const answer = await send(exchange);
      expect({ name, status: answer.status }).toEqual({ name, status: exchange.response.status });
      expect({ name, contentType: answer.contentType }).toEqual({ name, contentType: exchange.response.headers['Content-Type'] });
      const expected = splitBody(recordedText(exchange)).json as Record<string, unknown>;
      const actual = answer.json as Record<string, unknown>;
      if (name.startsWith('05-get-relationship-') && Array.isArray(expected['data']) && expected['data'].length > 0) {
        // Related records carry every attribute; the ids and the counts are what the sequence decides.
        expect({ name, meta: actual['meta'] }).toEqual({ name, meta: expected['meta'] });
        const ids = (document: Record<string, unknown>) => (document['data'] as { id: string }[]).map((item) => item.id);
        expect({ name, ids: ids(actual) }).toEqual({ name, ids: ids(expected) });
        continue;
      }
      if (name === '05-get-call-after-account-link') {
        const attributes = (document: Record<string, unknown>) => (document['data'] as { attributes: unknown }).attributes;
        expect(attributes(actual)).toEqual(attributes(expected));
        continue;
      }
      expect({ name, body: actual }).toEqual({ name, body: expected });
    }
    // The generic route for Users changed no invitee, the by-link route added one row.
    expect(simulator.relationRows('calls_users').filter((row) => row.left === callId && !row.deleted).map((row) => row.extra)).toEqual([{ accept_status: 'none' }]);
    // The by-link route wrote a Users id into calls_contacts without checking the type.
    expect(simulator.relationRows('calls_contacts').some((row) => row.left === callId && row.right === '8f6423f9-757a-980d-7341-6b13145dcbe9' && !row.deleted)).toBe(true);
  });

  it('pages relationship lists with links like 05-get-contact-relationship-calls-page', async () => {
    const exchange = recording('05-get-contact-relationship-calls-page');
    const contactId = 'c3c2da96-f7da-cfe7-78a9-6b1314bc53e3';
    await createCall('8a1c0a52-0e7e-4d3b-9b1c-5d2e3f4a5b6c', { name: 'Second call', parent_type: 'Contacts', parent_id: contactId }, '2026-12-04T19:31:35Z');
    await fetch(`${simulator.url}/Api/V8/module/Calls/${callId}/relationships/contacts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/vnd.api+json' },
      body: JSON.stringify({ data: { type: 'Contacts', id: contactId } }),
    });
    await fetch(`${simulator.url}/Api/V8/module/Calls/8a1c0a52-0e7e-4d3b-9b1c-5d2e3f4a5b6c/relationships/contacts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/vnd.api+json' },
      body: JSON.stringify({ data: { type: 'Contacts', id: contactId } }),
    });
    const answer = await send(exchange);
    const expected = exchange.response.body as { meta: unknown; links: unknown; data: { type: string; links: unknown }[] };
    const actual = answer.json as typeof expected;
    expect(actual.meta).toEqual(expected.meta);
    expect(actual.links).toEqual(expected.links);
    expect(actual.data[0]?.type).toBe('Call');
  });
});

describe('simulator updates', () => {
  const updateCall = '8db3eb56-33cd-972d-1b55-6b13159a1d76';
  const textCall = '303689df-6bed-1920-1c39-6b1316afce3b';
  const secondsCall = '61b95e79-e6ad-a6c0-210b-6b131593847d';
  const deletedCall = '77cd4516-e907-015f-d386-6b13150f1e4f';

  beforeAll(async () => {
    await createCall(
      updateCall,
      {
        name: 'Update test call',
        direction: 'Inbound',
        status: 'Held',
        date_start: '2026-12-04 19:45:00',
        duration_hours: 0,
        duration_minutes: 4,
        parent_type: 'Contacts',
        parent_id: 'cc441854-52c0-6ee1-cf4b-6b1314f988e7',
        assigned_user_id: '8f6423f9-757a-980d-7341-6b13145dcbe9',
        description: 'CTI call. Agent extension 102.',
      },
      '2026-12-04T19:32:10Z',
    );
    await createCall(textCall, { name: 'Text handling test', status: 'Held', direction: 'Inbound', date_start: '2026-12-04 19:55:00', duration_hours: 0, duration_minutes: 1 }, '2026-12-04T19:37:50Z');
    await createCall(secondsCall, { name: 'Seconds precision test', status: 'Held', direction: 'Inbound', date_start: '2026-12-04 19:30:45', duration_hours: 0, duration_minutes: 1 }, '2026-12-04T19:32:12Z');
    await createCall(deletedCall, { name: 'Deleted call', status: 'Held', date_start: '2026-12-04 19:30:00', duration_hours: 0, duration_minutes: 1 }, '2026-12-04T19:32:12Z');
  });

  it('answers the recorded update sequence of one call', async () => {
    for (const name of [
      '06-get-call-by-id',
      '06-update-call-description-append',
      '06-get-call-by-id-sparse',
      '06-update-call-status-duration',
      '06-update-call-date-start-iso8601',
      '06-update-call-date-start-db-format',
    ]) {
      const exchange = recording(name);
      const answer = await send(exchange);
      expect({ name, status: answer.status }).toEqual({ name, status: exchange.response.status });
      expect({ name, body: answer.json }).toEqual({ name, body: splitBody(recordedText(exchange)).json });
    }
  });

  it('rejects bad updates as recorded', async () => {
    for (const name of ['06-update-nonexistent-id', '06-update-missing-id', '06-update-unknown-attribute', '06-update-non-uuid-id', '06-get-call-nonexistent', '06-get-call-by-id-fields-unknown', '06-list-calls-sort-invalid']) {
      await expectSameError(name);
    }
  });

  it('keeps seconds until a PATCH drops them', async () => {
    await expectSameErrorFree('06-get-call-seconds-precision');
    const answer = await send(recording('06-update-call-drops-seconds'));
    expect(answer.status).toBe(201);
    const row = simulator.rows('Calls').find((candidate) => candidate.id === secondsCall);
    expect(row?.values['date_start']).toBe('2026-12-04 19:30:00');
    expect(row?.values['date_end']).toBe('2026-12-04 19:31:00');
  });

  it('deletes softly and refuses updates afterwards', async () => {
    const deleted = await send(recording('06-delete-record-call'));
    expect(deleted.json).toEqual(recording('06-delete-record-call').response.body);
    await expectSameError('06-update-deleted-record');
  });

  it('mangles text on save as SuiteCRM does', async () => {
    const cases: [string, string][] = [
      ['06-update-call-description-html-chars', 'Caller said: "it\'s < 5 & > 3" <b>bold</b> \nAgent: OK'],
      ['06-update-call-description-unicode', 'Grüße from Müller — 日本語のテキスト ✓ emoji: ???? end'],
      ['06-update-call-description-roundtrip-encoded', 'Caller said: "it\'s < 5"\nSummary: caller\'s issue solved'],
      ['06-update-call-description-literal-entity', "literal:  & '"],
      ['06-update-call-description-angle-markers', 'Agent: hello  ok [laughs]  then a<b> y, email </b>'],
    ];
    for (const [name, stored] of cases) {
      const exchange = recording(name);
      const answer = await send(exchange);
      const description = (answer.json as RecordDocument).data.attributes['description'];
      expect({ name, description }).toEqual({ name, description: (exchange.response.body as RecordDocument).data.attributes['description'] });
      expect({ name, stored: simulator.rows('Calls').find((row) => row.id === textCall)?.values['description'] }).toEqual({ name, stored });
    }
    await send(recording('06-update-call-name-apostrophe'));
    const list = await send(recording('06-list-calls-filter-name-apostrophe'));
    expect((list.json as { data: { id: string }[] }).data.map((item) => item.id)).toEqual([textCall]);
  });

  it('cuts a description at 65,535 bytes', async () => {
    now = Date.parse('2026-12-04T19:40:00Z');
    const text = 'é'.repeat(40_000);
    const response = await fetch(`${simulator.url}/Api/V8/module`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/vnd.api+json' },
      body: JSON.stringify({ data: { type: 'Calls', id: textCall, attributes: { description: text } } }),
    });
    expect(response.status).toBe(201);
    const stored = simulator.rows('Calls').find((row) => row.id === textCall)?.values['description'] ?? '';
    expect(Buffer.byteLength(stored)).toBe(65_534);
    expect(stored).toBe('é'.repeat(32_767));
  });

  async function expectSameErrorFree(name: string): Promise<void> {
    const exchange = recording(name);
    const answer = await send(exchange);
    expect(answer.status).toBe(exchange.response.status);
    expect(answer.json).toEqual(splitBody(recordedText(exchange)).json);
  }
});

describe('simulator create races', () => {
  it('refuses a second create with the same id', async () => {
    const id = 'f0e1d2c3-b4a5-4968-8776-655443322110';
    await createCall(id, { name: 'First' }, '2026-12-04T20:00:00Z');
    const response = await fetch(`${simulator.url}/Api/V8/module`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/vnd.api+json' },
      body: JSON.stringify({ data: { type: 'Calls', id, attributes: { name: 'Second' } } }),
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toBe('application/vnd.api+json');
    expect(await response.json()).toEqual({ errors: { status: 400, title: null, detail: `Bean Calls with id ${id} is already exist` } });
    expect(simulator.rows('Calls').filter((row) => row.id === id)).toHaveLength(1);
  });

  it('appends text to a User create like 09-create-user-trailing-text', async () => {
    const exchange = recording('09-create-user-trailing-text');
    const body = { data: { ...(exchange.request.body as { data: Record<string, unknown> }).data } };
    const response = await fetch(`${simulator.url}/Api/V8/module`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/vnd.api+json' },
      body: JSON.stringify({ data: { ...body.data, attributes: { ...(body.data['attributes'] as object), user_name: 'agent.bob2', phone_work: '199' } } }),
    });
    const text = await response.text();
    expect(response.status).toBe(201);
    expect(text.endsWith('}Provide both a User Name and an Email Address.')).toBe(true);
  });
});
