import { describe, expect, it } from 'vitest';
import { CtiError, defineErrorCodes } from '../src/index.js';

describe('CtiError', () => {
  it('keeps code, details and cause', () => {
    const cause = new Error('socket closed');
    const error = new CtiError('CTI_ERR_TEST_BROKEN', 'test broke', { cause, details: { subject: 'call.ringing' } });
    expect(error.code).toBe('CTI_ERR_TEST_BROKEN');
    expect(error.details).toEqual({ subject: 'call.ringing' });
    expect(error.cause).toBe(cause);
    expect(CtiError.is(error)).toBe(true);
    expect(CtiError.is(error, 'CTI_ERR_TEST_BROKEN')).toBe(true);
    expect(CtiError.is(error, 'CTI_ERR_TEST_OTHER')).toBe(false);
    expect(CtiError.is(new Error('plain'))).toBe(false);
  });

  it('serialises without the stack', () => {
    const error = new CtiError('CTI_ERR_TEST_BROKEN', 'test broke');
    expect(JSON.parse(JSON.stringify(error))).toEqual({
      name: 'CtiError',
      code: 'CTI_ERR_TEST_BROKEN',
      message: 'test broke',
      details: {},
    });
  });
});

describe('defineErrorCodes', () => {
  it('accepts a well-formed catalogue', () => {
    const codes = defineErrorCodes('TEST', { BROKEN: 'CTI_ERR_TEST_BROKEN' });
    expect(codes.BROKEN).toBe('CTI_ERR_TEST_BROKEN');
  });

  it('rejects a code that does not match its key', () => {
    expect(() => defineErrorCodes('TEST', { BROKEN: 'CTI_ERR_TEST_OTHER' })).toThrow(/must be CTI_ERR_TEST_BROKEN/);
  });
});
