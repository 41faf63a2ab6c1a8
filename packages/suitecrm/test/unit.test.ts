import { describe, expect, it } from 'vitest';

import {
  CircuitBreaker,
  cleanTextForSuiteCrm,
  decodeHtmlEntities,
  errorFromResponse,
  listQuery,
  locateApi,
  normalizePhoneNumber,
  parseJsonLenient,
  parseSuiteCrmDateTime,
  redactCrmText,
  retryAfterSeconds,
  sameNumber,
  splitUtf8,
  SuiteCrmErrorCode,
  toSuiteCrmDateTime,
  truncateChars,
  truncateUtf8,
  utf8Length,
} from '../src/index.js';

const US = { defaultRegion: 'US' };

describe('normalizePhoneNumber', () => {
  const cases: [string, string][] = [
    ['+1 555 010 0001', '+15550100001'],
    ['(555) 010-0002', '+15550100002'],
    ['555.010.0003', '+15550100003'],
    ['5550100004', '+15550100004'],
    ['+15550100005', '+15550100005'],
    ['001 555 010 0006', '+15550100006'],
    ['0015550100006', '+15550100006'],
    ['15550100001', '+15550100001'],
    ['011 44 20 7946 0018', '+442079460018'],
    ['+44 20 7946 0018', '+442079460018'],
    ['tel:+1-555-010-0001', '+15550100001'],
    ['sip:+15550100001@pbx.example;user=phone', '+15550100001'],
  ];
  for (const [input, e164] of cases) {
    it(`reads ${JSON.stringify(input)}`, () => {
      expect(normalizePhoneNumber(input, US)?.e164).toBe(e164);
    });
  }

  it('keeps the extension apart', () => {
    const number = normalizePhoneNumber('+1 (555) 010-0012 x34', US);
    expect(number?.e164).toBe('+15550100012');
    expect(number?.extension).toBe('34');
  });

  it('rejects extensions and short codes', () => {
    expect(normalizePhoneNumber('101', US)).toBeUndefined();
    expect(normalizePhoneNumber('', US)).toBeUndefined();
    expect(normalizePhoneNumber('anonymous', US)).toBeUndefined();
  });

  it('strips a configured outside-line prefix only when needed', () => {
    expect(normalizePhoneNumber('9 555 010 0001', US)).toBeUndefined();
    expect(normalizePhoneNumber('9 555 010 0001', { ...US, stripPrefixes: ['9'] })?.e164).toBe('+15550100001');
    expect(normalizePhoneNumber('5550100001', { ...US, stripPrefixes: ['9'] })?.e164).toBe('+15550100001');
  });

  it('reads national numbers of the default region', () => {
    expect(normalizePhoneNumber('020 7946 0018', { defaultRegion: 'GB' })?.e164).toBe('+442079460018');
    expect(normalizePhoneNumber('0049 30 1234567', { defaultRegion: 'GB' })?.e164).toBe('+49301234567');
  });

  it('rejects an unknown region', () => {
    expect(() => normalizePhoneNumber('5550100001', { defaultRegion: 'XX' })).toThrow(/unknown region/);
  });
});

describe('sameNumber', () => {
  it('matches a national number of the caller country', () => {
    const caller = normalizePhoneNumber('+44 20 7946 0018', US);
    expect(caller).toBeDefined();
    if (caller !== undefined) {
      expect(sameNumber('020 7946 0018', caller, US).match).toBe(true);
      expect(sameNumber('020 7946 0019', caller, US).match).toBe(false);
    }
  });

  it('rejects numbers whose digits only contain the target', () => {
    const caller = normalizePhoneNumber('+15550100002', US);
    if (caller !== undefined) {
      expect(sameNumber('+1 555 010 0002', caller, US).match).toBe(true);
      expect(sameNumber('15 55 01 00 00 27', caller, US).match).toBe(false);
      expect(sameNumber('555 9010 0002', caller, US).match).toBe(false);
    }
  });
});

describe('text for SuiteCRM', () => {
  it('decodes the entities of responses', () => {
    expect(decodeHtmlEntities('Caller said: &quot;it&#039;s &lt; 5 & &gt; 3&quot;')).toBe('Caller said: "it\'s < 5 & > 3"');
    expect(decodeHtmlEntities('O&#039;Brien & Sons')).toBe("O'Brien & Sons");
  });

  it('cleans what HTML cleaning would eat', () => {
    const cleaned = cleanTextForSuiteCrm('hello <inaudible> ok [laughs] a<b and x > y &lt;tag&gt; emoji 😀 end\r\nnext');
    expect(cleaned).toBe('hello ‹inaudible› ok [laughs] a‹b and x › y ＆lt;tag＆gt; emoji \ufffd end\nnext');
    expect(cleaned).not.toMatch(/[<>]/);
    expect([...cleaned].every((char) => (char.codePointAt(0) ?? 0) <= 0xffff)).toBe(true);
  });

  it('keeps a bare ampersand and quotes', () => {
    expect(cleanTextForSuiteCrm(`Tom & Jerry's "show"`)).toBe(`Tom & Jerry's "show"`);
  });

  it('cuts at UTF-8 character boundaries', () => {
    expect(truncateUtf8('ééé', 5)).toBe('éé');
    expect(utf8Length(truncateUtf8('日本語', 7))).toBe(6);
    expect(truncateChars('Inbound call from Alicia Anders of Acme Corp and more', 20)).toBe('Inbound call from A…');
  });

  it('splits long text into parts at line ends', () => {
    const text = Array.from({ length: 100 }, (_value, index) => `line ${index} ${'x'.repeat(50)}`).join('\n');
    const parts = splitUtf8(text, 1000);
    expect(parts.join('')).toBe(text);
    for (const part of parts) {
      expect(utf8Length(part)).toBeLessThanOrEqual(1000);
    }
    expect(parts[0]?.endsWith('\n')).toBe(true);
  });

  it('splits a single long line at character boundaries', () => {
    const parts = splitUtf8('é'.repeat(100), 11);
    expect(parts.join('')).toBe('é'.repeat(100));
    expect(Math.max(...parts.map(utf8Length))).toBeLessThanOrEqual(11);
  });
});

describe('dates for SuiteCRM', () => {
  it('writes the database format in UTC', () => {
    expect(toSuiteCrmDateTime('2026-12-04T21:30:45.123+02:00')).toBe('2026-12-04 19:30:45');
  });

  it('reads both formats SuiteCRM returns', () => {
    expect(parseSuiteCrmDateTime('2026-12-04T19:30:00+00:00')?.toISOString()).toBe('2026-12-04T19:30:00.000Z');
    expect(parseSuiteCrmDateTime('2026-12-04 19:30:45')?.toISOString()).toBe('2026-12-04T19:30:45.000Z');
    expect(parseSuiteCrmDateTime('')).toBeUndefined();
  });
});

describe('redactCrmText', () => {
  it('removes echoed passwords and user names', () => {
    expect(redactCrmText('The password is invalid: wrong-password-123')).toBe('The password is invalid: [REDACTED]');
    expect(redactCrmText('No user found with this username: nosuchuser')).toBe('No user found with this username: [REDACTED]');
  });

  it('removes known secrets, tokens and phone numbers but keeps record ids', () => {
    const text = 'secret s3cr3t-value token eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl caller +1 555 010 0001 record c3c2da96-f7da-cfe7-78a9-6b1314bc53e3';
    const redacted = redactCrmText(text, ['s3cr3t-value']);
    expect(redacted).not.toContain('s3cr3t-value');
    expect(redacted).not.toContain('eyJhbGciOi');
    expect(redacted).not.toContain('555 010 0001');
    expect(redacted).toContain('c3c2da96-f7da-cfe7-78a9-6b1314bc53e3');
  });

  it.each([
    ['en dashes', 'phone_work eq 555\u2013010\u20130001 failed'],
    ['slashes', 'phone_work eq 0555/010/0001 failed'],
    ['full-width digits', 'phone_work eq \uff15\uff15\uff15\uff10\uff11\uff10\uff10\uff10\uff10\uff11 failed'],
    ['Arabic-Indic digits', 'phone_work eq \u0665\u0665\u0665\u0660\u0661\u0660\u0660\u0660\u0660\u0661 failed'],
    ['a non-breaking space and a minus sign', 'phone_work eq 555\u00a0010\u22120001 failed'],
  ])('masks a phone number written with %s', (_case, text) => {
    const redacted = redactCrmText(text);
    expect(redacted.normalize('NFKC').replace(/\D/g, '')).not.toContain('5550100001'.slice(0, 6));
    expect(redacted).toContain('failed');
  });

  it('removes e-mail addresses', () => {
    const redacted = redactCrmText('Duplicate email1 anna.smith+crm@example.co.uk for contact');
    expect(redacted).not.toContain('anna.smith');
    expect(redacted).toBe('Duplicate email1 [REDACTED] for contact');
  });
});

describe('parseJsonLenient', () => {
  it('reads JSON followed by text', () => {
    const parsed = parseJsonLenient('{\n    "errors": {"detail": "a } b"}\n}Database failure. Please refer to suitecrm.log for details.');
    expect(parsed?.value).toEqual({ errors: { detail: 'a } b' } });
    expect(parsed?.trailing).toBe('Database failure. Please refer to suitecrm.log for details.');
  });

  it('returns undefined for HTML', () => {
    expect(parseJsonLenient('<html><body>503</body></html>')).toBeUndefined();
  });
});

describe('errorFromResponse', () => {
  const base = { headers: {}, secrets: ['client-secret'], route: 'POST access_token' };

  it('classifies the recorded token errors', () => {
    const unknownClient = errorFromResponse({ ...base, endpoint: 'token', status: 500, text: '{"error":"unknown_error","error_description":"OAuth2Clients module with id crm-sync is not found","message":"x"}' }, 0);
    expect(unknownClient.code).toBe(SuiteCrmErrorCode.CLIENT_UNKNOWN);
    expect(unknownClient.retryable).toBe(false);
    const password = errorFromResponse({ ...base, endpoint: 'token', status: 500, text: '{"error":"unknown_error","error_description":"The password is invalid: hunter2-secret","message":"x"}' }, 0);
    expect(password.code).toBe(SuiteCrmErrorCode.AUTH_REJECTED);
    expect(password.message).not.toContain('hunter2-secret');
    expect(JSON.stringify(password)).not.toContain('hunter2-secret');
    const badClient = errorFromResponse({ ...base, endpoint: 'token', status: 401, text: '{"error":"invalid_client","error_description":"Client authentication failed","message":"Client authentication failed"}' }, 0);
    expect(badClient.code).toBe(SuiteCrmErrorCode.AUTH_REJECTED);
  });

  it('classifies the recorded V8 errors', () => {
    const api = { ...base, endpoint: 'api' as const, route: 'GET module/{module}' };
    const cases: [string, number, string][] = [
      ['{"errors":{"status":400,"title":null,"detail":"Calls module with id 00000000-0000-4000-8000-0000000000ff is not found"}}', 400, SuiteCrmErrorCode.RECORD_NOT_FOUND],
      ['{"errors":{"status":400,"title":null,"detail":"Property ai_summary_c in Call module is invalid"}}', 400, SuiteCrmErrorCode.FIELD_UNKNOWN],
      ['{"errors":{"status":400,"title":null,"detail":"Bean Calls with id 1 is already exist"}}', 400, SuiteCrmErrorCode.RECORD_EXISTS],
      ['{\n"errors": {"status": 400, "title": null, "detail": "Database failure. Please refer to suitecrm.log for details."}\n}Database failure. Please refer to suitecrm.log for details.', 400, SuiteCrmErrorCode.DATABASE_FAILURE],
      ['{"errors":{"status":400,"title":null,"detail":"Filter operator contains is invalid"}}', 400, SuiteCrmErrorCode.BAD_REQUEST],
      ['{"message":"Not found"}', 404, SuiteCrmErrorCode.ROUTE_NOT_FOUND],
      ['<html>busy</html>', 503, SuiteCrmErrorCode.UNAVAILABLE],
    ];
    for (const [text, status, code] of cases) {
      expect({ text, code: errorFromResponse({ ...api, status, text }, 0).code }).toEqual({ text, code });
    }
  });

  it('reads Retry-After as seconds or a date', () => {
    expect(retryAfterSeconds('7', 0)).toBe(7);
    expect(retryAfterSeconds(new Date(10_000).toUTCString(), 0)).toBe(10);
    expect(retryAfterSeconds(undefined, 0)).toBeUndefined();
    const limited = errorFromResponse({ ...base, endpoint: 'api', status: 429, text: '', headers: { 'retry-after': '3' } }, 0);
    expect(limited.code).toBe(SuiteCrmErrorCode.RATE_LIMITED);
    expect(limited.retryAfterSeconds).toBe(3);
  });
});

describe('listQuery', () => {
  it('encodes + and % and always sends page[size]', () => {
    const query = listQuery('Contacts', {
      filter: { phone_mobile: { eq: '+15550100005' }, phone_work: { like: '%5%5%' } },
      operator: 'or',
      fields: ['first_name', 'last_name'],
      pageSize: 50,
    });
    expect(query).toBe('filter[operator]=or&filter[phone_mobile][eq]=%2B15550100005&filter[phone_work][like]=%255%255%25&fields[Contacts]=first_name%2Clast_name&page[size]=50');
  });
});

describe('locateApi', () => {
  it('tries SuiteCRM 7 then 8 for a site root', () => {
    expect(locateApi('https://crm.example.com/').candidates).toEqual(['/Api', '/legacy/Api']);
    expect(locateApi('https://crm.example.com/crm').candidates).toEqual(['/crm/Api', '/crm/legacy/Api']);
  });

  it('takes a legacy folder or the API path as given', () => {
    expect(locateApi('https://crm.example.com/legacy').candidates).toEqual(['/legacy/Api']);
    expect(locateApi('https://crm.example.com/legacy/Api/V8').candidates).toEqual(['/legacy/Api']);
    expect(locateApi('https://crm.example.com/Api/').candidates).toEqual(['/Api']);
  });

  it('rejects what is not an http URL', () => {
    expect(() => locateApi('ftp://crm.example.com')).toThrow(/http/);
  });
});

describe('CircuitBreaker', () => {
  it('opens after repeated failures and lets one trial through after the pause', () => {
    let now = 0;
    const breaker = new CircuitBreaker({ failureThreshold: 3, openMs: 1000, clock: () => now });
    breaker.failure();
    breaker.failure();
    expect(breaker.allow()).toBe(true);
    breaker.failure();
    expect(breaker.state).toBe('open');
    expect(breaker.allow()).toBe(false);
    now = 1000;
    expect(breaker.allow()).toBe(true);
    expect(breaker.allow()).toBe(false);
    breaker.failure();
    expect(breaker.state).toBe('open');
    now = 2000;
    expect(breaker.allow()).toBe(true);
    breaker.success();
    expect(breaker.state).toBe('closed');
  });
});
