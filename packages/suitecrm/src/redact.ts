import { maskPhoneNumber } from '@cti/logging';

const REDACTED = '[REDACTED]';
const MAX_DETAIL_LENGTH = 300;

// SuiteCRM's OAuth2 server echoes the submitted password ("The password is invalid: <password>")
// and the user name. Only the echoed value is replaced, so the operator still sees what failed.
const ECHOED_CREDENTIALS = [/(the password is invalid:\s*).*/gi, /(no user found with this username:\s*).*/gi];

const JWT = /\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*/g;
// Refresh tokens of league/oauth2-server are opaque hex strings starting with `def50200`.
const LONG_HEX = /\b[0-9a-f]{32,}\b/gi;
const BEARER = /\b(Bearer|Basic)\s+\S+/gi;
const UUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi;
// Seven or more digits, possibly grouped: a phone number that SuiteCRM echoed from a filter.
// Digits of any script, and the separators people paste: spaces (NBSP too), brackets, dots,
// slashes and every dash from the hyphen to the minus sign.
const PHONE_LIKE = /\+?\p{Nd}[\p{Nd}\s()./\-\u2010-\u2015\u2212]{5,}\p{Nd}/gu;
const NON_ASCII_DIGIT = /[^\P{Nd}0-9]/u;
const EMAIL = /[\p{L}\p{N}._%+-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)+/gu;

/**
 * Returns SuiteCRM error text fit for a log line: known secrets, echoed passwords and user
 * names, tokens, e-mail addresses and phone numbers are replaced, white space is collapsed and the text is cut
 * to 300 characters. UUIDs (record ids) are kept, because they identify the failed record.
 */
export function redactCrmText(text: string, secrets: readonly (string | undefined)[] = []): string {
  let result = text;
  for (const secret of secrets) {
    if (secret !== undefined && secret.length >= 4) {
      result = result.split(secret).join(REDACTED);
    }
  }
  for (const pattern of ECHOED_CREDENTIALS) {
    result = result.replace(pattern, `$1${REDACTED}`);
  }
  result = result.replace(JWT, REDACTED).replace(BEARER, `$1 ${REDACTED}`);

  // Record ids contain long digit runs that look like phone numbers; park them first.
  const parked: string[] = [];
  result = result.replace(UUID, (uuid) => {
    parked.push(uuid);
    return `{uuid:${'#'.repeat(parked.length)}}`;
  });
  result = result.replace(LONG_HEX, REDACTED);
  result = result.replace(EMAIL, REDACTED);
  // NFKC turns full-width digits into ASCII ones first, so they are masked like any number.
  result = result.normalize('NFKC');
  result = result.replace(PHONE_LIKE, (match) => (NON_ASCII_DIGIT.test(match) ? REDACTED : maskPhoneNumber(match)));
  result = result.replace(/\{uuid:(#+)\}/g, (_match, marks: string) => parked[marks.length - 1] ?? '');

  result = result.replace(/\s+/g, ' ').trim();
  return result.length > MAX_DETAIL_LENGTH ? `${result.slice(0, MAX_DETAIL_LENGTH)}…` : result;
}
