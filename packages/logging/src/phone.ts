import { createHmac } from 'node:crypto';

import { parsePhoneNumberFromString } from 'libphonenumber-js/min';

/** How phone numbers appear in log fields. */
export type PhoneLogMode = 'mask' | 'hash' | 'clear';

export const PhoneLogModes: readonly PhoneLogMode[] = ['mask', 'hash', 'clear'];

// Numbers of three digits or fewer are extensions or short codes, not personal data, and masking
// them would hide which agent a line is about.
const VISIBLE_TAIL = 3;

function digitsOf(value: string): string {
  return value.replace(/\D/g, '');
}

/**
 * Masks a phone number, keeping the country calling code and the last three digits:
 * `+15550100001` becomes `+1*******001`. A number without a `+` keeps only its last three digits.
 */
export function maskPhoneNumber(value: string): string {
  const digits = digitsOf(value);
  if (digits.length <= VISIBLE_TAIL) {
    return value;
  }

  const tail = digits.slice(-VISIBLE_TAIL);
  if (value.trimStart().startsWith('+')) {
    const countryCode = parsePhoneNumberFromString(`+${digits}`)?.countryCallingCode ?? '';
    const hidden = Math.max(0, digits.length - countryCode.length - VISIBLE_TAIL);
    return `+${countryCode}${'*'.repeat(hidden)}${tail}`;
  }
  return `${'*'.repeat(digits.length - VISIBLE_TAIL)}${tail}`;
}

/**
 * Returns a keyed hash of a phone number (`h:` and 16 hex digits), computed over its digits only,
 * so `+1 555 0100 001` and `+15550100001` hash alike. Without the key the hash cannot be reversed
 * by trying every number, which a plain SHA-256 of a 10-digit number would allow.
 */
export function hashPhoneNumber(value: string, key: string | Buffer): string {
  const digits = digitsOf(value);
  return `h:${createHmac('sha256', key).update(digits).digest('hex').slice(0, 16)}`;
}

export interface PhoneFormatter {
  (value: string): string;
}

export function phoneFormatter(mode: PhoneLogMode, hashKey?: string | Buffer): PhoneFormatter {
  switch (mode) {
    case 'clear':
      return (value) => value;
    case 'mask':
      return maskPhoneNumber;
    case 'hash': {
      if (hashKey === undefined || hashKey.length === 0) {
        throw new TypeError('phone number hashing needs a key: set PHONE_HASH_KEY or PHONE_HASH_KEY_FILE');
      }
      return (value) => (digitsOf(value).length <= VISIBLE_TAIL ? value : hashPhoneNumber(value, hashKey));
    }
    default: {
      const unknownMode: never = mode;
      throw new TypeError(`unknown phone log mode ${String(unknownMode)}`);
    }
  }
}
