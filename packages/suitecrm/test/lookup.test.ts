import { numberFormats, RECORDED_CLIENT_CREDENTIALS, RECORDED_LOOKUP_CASES, startSuiteCrmSimulator, type SuiteCrmSimulator } from '@cti/suitecrm-simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { digitWildcardPattern, liveLookup, normalizePhoneNumber, SuiteCrmClient, toCallerMatch } from '../src/index.js';

const phone = { defaultRegion: 'US' };
let simulator: SuiteCrmSimulator;
let client: SuiteCrmClient;

beforeAll(async () => {
  simulator = await startSuiteCrmSimulator({ seed: 'recorded' });
  client = new SuiteCrmClient({
    url: simulator.url,
    credentials: { clientId: RECORDED_CLIENT_CREDENTIALS.id, clientSecret: RECORDED_CLIENT_CREDENTIALS.secret, grantType: 'client_credentials' },
  });
});

afterAll(async () => {
  await client.close();
  await simulator.close();
});

describe('liveLookup', () => {
  for (const lookupCase of RECORDED_LOOKUP_CASES) {
    it(`finds the records of ${lookupCase.number} in every format`, async () => {
      for (const format of numberFormats(lookupCase.number)) {
        const target = normalizePhoneNumber(format, phone);
        expect({ format, e164: target?.e164 }).toEqual({ format, e164: lookupCase.number });
        if (target === undefined) {
          continue;
        }
        const { matches } = await liveLookup(client, target, { phone });
        const found = matches.map((match) => ({ module: match.record.module, id: match.record.id, field: match.field }));
        expect({ format, found }).toEqual({ format, found: lookupCase.expected });
      }
    });
  }

  it('re-checks hits of the digit wildcard on their digits', async () => {
    const target = normalizePhoneNumber('+15550100123', phone);
    expect(target).toBeDefined();
    if (target === undefined) {
      return;
    }
    // SuiteCRM's LIKE does return Liam Lopez for these digits...
    const raw = await client.list('Contacts', { filter: { phone_work: { like: digitWildcardPattern(target) } }, pageSize: 10 });
    expect(raw.records.map((record) => record.id)).toContain('1fdae31c-d2f8-4459-4e76-6b1314ab9616');
    // ...and the lookup drops him.
    expect((await liveLookup(client, target, { phone })).matches).toEqual([]);
  });

  it('builds caller matches with names, accounts and links', async () => {
    const target = normalizePhoneNumber('+1 555 010 0008', phone);
    if (target === undefined) {
      throw new Error('number did not parse');
    }
    const { matches } = await liveLookup(client, target, { phone });
    const callerMatches = matches.map((match) => toCallerMatch(match, (module, id) => client.recordUrl(module, id)));
    expect(callerMatches[0]).toEqual({
      module: 'Contacts',
      id: '88a800f4-57bd-bb77-abee-6b13140532cb',
      name: 'Henry Hall',
      field: 'phone_work',
      accountId: 'a8805c73-09be-9357-dc5e-6b13140946a8',
      accountName: 'Hall Logistics',
      url: `${simulator.url}/index.php?module=Contacts&action=DetailView&record=88a800f4-57bd-bb77-abee-6b13140532cb`,
    });
    expect(callerMatches[1]).toMatchObject({ module: 'Accounts', name: 'Hall Logistics', accountId: 'a8805c73-09be-9357-dc5e-6b13140946a8' });
  });

  it('sends one OR query per module with page[size]', async () => {
    const before = simulator.requests.length;
    const target = normalizePhoneNumber('+15550100005', phone);
    if (target === undefined) {
      throw new Error('number did not parse');
    }
    await liveLookup(client, target, { phone });
    const sent = simulator.requests.slice(before).filter((request) => request.route === 'GET module/{module}');
    expect(sent.map((request) => request.module).sort()).toEqual(['Accounts', 'Contacts', 'Leads']);
  });
});
