import { describe, expect, it } from 'vitest';

import { createLogger, hashPhoneNumber, maskPhoneNumber } from '../src/index.js';
import { collectLogLines as lineCollector } from '@cti/testing';

describe('maskPhoneNumber', () => {
  it.each([
    ['+15550100001', '+1*******001'],
    ['+44 20 7946 0958', '+44*******958'],
    ['+4930123456789', '+49********789'],
    ['5550100001', '*******001'],
    ['101', '101'],
    ['', ''],
    ['anonymous', 'anonymous'],
  ])('masks %s as %s', (input, expected) => {
    expect(maskPhoneNumber(input)).toBe(expected);
  });
});

describe('hashPhoneNumber', () => {
  it('hashes the digits only, keyed', () => {
    const spaced = hashPhoneNumber('+1 555 0100 001', 'key-one');
    expect(spaced).toMatch(/^h:[0-9a-f]{16}$/);
    expect(hashPhoneNumber('+15550100001', 'key-one')).toBe(spaced);
    expect(hashPhoneNumber('+15550100001', 'key-two')).not.toBe(spaced);
  });
});

describe('createLogger', () => {
  const number = '+15550100001';

  it('masks phone numbers in fields by default', () => {
    const sink = lineCollector();
    const logger = createLogger({ service: 'test', destination: sink.stream });
    logger.info({ caller: { number, name: 'Alice Example' }, CallerIDNum: number, to: number }, 'call ringing');
    expect(sink.text()).not.toContain(number);
    expect(sink.lines[0]).toMatchObject({
      service: 'test',
      msg: 'call ringing',
      caller: { number: '+1*******001', name: 'Alice Example' },
      CallerIDNum: '+1*******001',
      to: '+1*******001',
    });
  });

  it('hashes phone numbers under hash mode', () => {
    const sink = lineCollector();
    const logger = createLogger({ service: 'test', phoneNumbers: 'hash', phoneHashKey: 'k', destination: sink.stream });
    logger.info({ number }, 'lookup');
    expect(sink.text()).not.toContain(number);
    expect(sink.lines[0]?.['number']).toBe(hashPhoneNumber(number, 'k'));
  });

  it('refuses hash mode without a key', () => {
    expect(() => createLogger({ service: 'test', phoneNumbers: 'hash' })).toThrow(/PHONE_HASH_KEY/);
  });

  it('logs numbers as they are under clear mode', () => {
    const sink = lineCollector();
    const logger = createLogger({ service: 'test', phoneNumbers: 'clear', destination: sink.stream });
    logger.info({ number }, 'lookup');
    expect(sink.lines[0]?.['number']).toBe(number);
  });

  it('scrubs child-logger bindings', () => {
    const sink = lineCollector();
    const logger = createLogger({ service: 'test', destination: sink.stream }).child({ callerNumber: number });
    logger.info('bound');
    logger.child({ callId: '1796412664.10' }).child({ externalNumber: number }).info('grandchild');
    expect(sink.text()).not.toContain(number);
  });

  it('redacts secrets at any depth', () => {
    const sink = lineCollector();
    const logger = createLogger({ service: 'test', destination: sink.stream });
    logger.info(
      {
        req: { headers: { authorization: 'Bearer abc.def', 'elevenlabs-signature': 't=1,v0=deadbeef' } },
        crm: { oauth: { client_secret: 'hunter2', access_token: 'tok-123' } },
        ami: { Secret: 'amipass' },
        password: 'pw',
      },
      'request',
    );
    const text = sink.text();
    for (const secret of ['abc.def', 'deadbeef', 'hunter2', 'tok-123', 'amipass', '"pw"']) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain('[Redacted]');
  });

  it('redacts whole objects under secret names', () => {
    const sink = lineCollector();
    const logger = createLogger({ service: 'test', destination: sink.stream });
    logger.info({ crm: { token: { type: 'Bearer', value: 'tok-inner-77' } }, webhook: { secrets: ['whsec_a1'], apiKey: ['k-9f'] } }, 'nested');
    const text = sink.text();
    for (const secret of ['tok-inner-77', 'whsec_a1', 'k-9f']) {
      expect(text).not.toContain(secret);
    }
    expect(sink.lines[0]?.['crm']).toEqual({ token: '[Redacted]' });
  });
});
