import { getCountryCallingCode, parsePhoneNumberFromString, type CountryCode, type PhoneNumber } from 'libphonenumber-js';

import { SuiteCrmError, SuiteCrmErrorCode } from './errors.js';

export interface PhoneOptions {
  /** ISO 3166 region for numbers without a country code, e.g. `US` or `DE`. */
  defaultRegion: string;
  /**
   * Digits a PBX may put in front of a number, such as `9` or `0` for an outside line. A prefix
   * is removed only when the number does not parse with it.
   */
  stripPrefixes?: readonly string[] | undefined;
}

/** A phone number normalised to E.164. */
export interface NormalizedNumber {
  /** `+` and digits, e.g. `+15550100002`. */
  e164: string;
  /** The E.164 digits without `+`, used as the index key. */
  digits: string;
  countryCallingCode: string;
  /** National significant number: the digits after the country code. */
  nationalNumber: string;
  /** Region the number belongs to, when the country code names one. */
  region: string | undefined;
  /** Extension written after the number (`x34`, `ext. 34`, `;ext=34`). */
  extension: string | undefined;
}

// Fewer digits than this are extensions or short codes, never a customer's number.
const MIN_DIGITS = 7;

export function isRegionCode(value: string): value is CountryCode {
  try {
    getCountryCallingCode(value as CountryCode);
    return true;
  } catch {
    return false;
  }
}

export function assertRegionCode(value: string): CountryCode {
  if (!isRegionCode(value)) {
    throw new SuiteCrmError(SuiteCrmErrorCode.CONFIG_INVALID, `unknown region ${JSON.stringify(value)}: expected an ISO 3166 code such as US or DE`, {
      retryable: false,
      requestSent: false,
    });
  }
  return value;
}

/** Removes URI schemes and SIP hosts: `sip:+1555…@pbx;user=phone` becomes `+1555…`. */
function stripUri(raw: string): string {
  let text = raw.trim();
  text = text.replace(/^(tel|sip|sips):/i, '');
  const at = text.indexOf('@');
  if (at !== -1) {
    text = text.slice(0, at);
  }
  return text.replace(/;(?!ext=)[^;]*/gi, '').trim();
}

function accept(parsed: PhoneNumber | undefined): NormalizedNumber | undefined {
  if (parsed === undefined || !parsed.isPossible() || parsed.number.length - 1 < MIN_DIGITS) {
    return undefined;
  }
  const countries = parsed.country === undefined ? parsed.getPossibleCountries() : [parsed.country];
  return {
    e164: parsed.number,
    digits: parsed.number.slice(1),
    countryCallingCode: parsed.countryCallingCode,
    nationalNumber: parsed.nationalNumber,
    region: countries[0],
    extension: parsed.ext,
  };
}

function tryParse(text: string, region: CountryCode): NormalizedNumber | undefined {
  try {
    return accept(parsePhoneNumberFromString(text, region));
  } catch {
    return undefined;
  }
}

/**
 * Normalises a phone number as a PBX, ElevenLabs or a CRM user wrote it. Handles national
 * numbers (with the region's trunk prefix), `+`, the region's international prefix (`011` in
 * the US), `00`, extensions and configured outside-line prefixes. Returns undefined when the
 * text is not a possible phone number (an internal extension such as `101` included).
 */
export function normalizePhoneNumber(raw: string, options: PhoneOptions): NormalizedNumber | undefined {
  const region = assertRegionCode(options.defaultRegion);
  const text = stripUri(raw);
  if (text === '' || !/\d/.test(text)) {
    return undefined;
  }
  const direct = tryParse(text, region);
  if (direct !== undefined) {
    return direct;
  }
  // `00` is the international prefix in most of the world. So `001 555 010 0006` means
  // +1 555 010 0006 even in a region whose own prefix is `011`.
  const compact = text.replace(/[^\d+]/g, '');
  if (compact.startsWith('00')) {
    const international = tryParse(`+${text.replace(/^\s*00/, '')}`, region);
    if (international !== undefined) {
      return international;
    }
  }
  for (const prefix of options.stripPrefixes ?? []) {
    if (prefix !== '' && compact.startsWith(prefix) && compact.length > prefix.length) {
      const rest = compact.slice(prefix.length);
      const stripped = tryParse(rest, region) ?? (rest.startsWith('00') ? tryParse(`+${rest.slice(2)}`, region) : undefined);
      if (stripped !== undefined) {
        return stripped;
      }
    }
  }
  return undefined;
}

/** Like `normalizePhoneNumber`, but throws NUMBER_INVALID naming what is wrong. */
export function requirePhoneNumber(raw: string, options: PhoneOptions): NormalizedNumber {
  const normalized = normalizePhoneNumber(raw, options);
  if (normalized === undefined) {
    throw new SuiteCrmError(SuiteCrmErrorCode.NUMBER_INVALID, 'not a phone number that can be normalised to E.164 (too short, or no country code and not national)', {
      retryable: false,
      requestSent: false,
    });
  }
  return normalized;
}

/**
 * Digits of a stored value that does not parse with the default region, with leading zeros (a
 * trunk or international prefix) removed. A number stored as `020 7946 0018` in a US-region CRM
 * becomes `2079460018`, the national number of +44 20 7946 0018, so a caller from that country
 * can still be matched once the value is parsed with the caller's own region.
 */
export function looseDigits(raw: string): string {
  return stripUri(raw)
    .replace(/(?:x|ext\.?|extension|#).*$/i, '')
    .replace(/\D/g, '')
    .replace(/^0+/, '');
}

/**
 * Tells whether a stored CRM value is the same number as the target. The value is parsed with
 * the default region first, then with the target's own region, so national numbers of another
 * country are recognised too.
 */
export function sameNumber(stored: string, target: NormalizedNumber, options: PhoneOptions): { match: boolean; extension: string | undefined } {
  const parsed = normalizePhoneNumber(stored, options);
  if (parsed !== undefined && parsed.digits === target.digits) {
    return { match: true, extension: parsed.extension };
  }
  if (parsed === undefined && target.region !== undefined && target.region !== options.defaultRegion) {
    const inTargetRegion = normalizePhoneNumber(stored, { ...options, defaultRegion: target.region });
    if (inTargetRegion !== undefined && inTargetRegion.digits === target.digits) {
      return { match: true, extension: inTargetRegion.extension };
    }
  }
  return { match: false, extension: undefined };
}
