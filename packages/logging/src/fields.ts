import type { PhoneFormatter } from './phone.js';

/**
 * Field names whose values are phone numbers, in our messages, in AMI headers (`CallerIDNum`,
 * `ConnectedLineNum`, `Exten`) and in ElevenLabs and SuiteCRM payloads (`external_number`,
 * `phone_work`). Matched case-insensitively against the last segment of the key.
 */
const PHONE_KEY = /(number|phone|phone_\w+|msisdn|e164|calleridnum|connectedlinenum|callerid|exten|^num|^from|^to|^did|^caller|^callee|^ani|^dnis)$/i;

/** Field names whose values are secrets at any depth, singular or plural, masked on top of pino's `redact` paths. */
const SECRET_KEY = /(authorization|cookie|password|passwd|secret|token|signature|api_?key|apikey|credential|private_?key|^key)s?$/i;

const CENSOR = '[Redacted]';
const MAX_DEPTH = 8;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * Returns a copy of a log object with secrets censored and phone numbers formatted. Only plain
 * objects and arrays are walked; errors and class instances are left to pino's serializers.
 */
export function scrubLogFields(fields: Record<string, unknown>, formatPhone: PhoneFormatter): Record<string, unknown> {
  return scrubObject(fields, formatPhone, 0);
}

function scrubObject(source: Record<string, unknown>, formatPhone: PhoneFormatter, depth: number): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(source)) {
    result[key] = scrubValue(key, value, formatPhone, depth);
  }
  return result;
}

function scrubValue(key: string, value: unknown, formatPhone: PhoneFormatter, depth: number): unknown {
  if (value === null || value === undefined) {
    return value;
  }
  // Everything under a secret-named key goes, objects included: `token: { value }` hides a
  // secret one level down, where the inner key name gives nothing away.
  if (SECRET_KEY.test(key)) {
    return CENSOR;
  }
  if (PHONE_KEY.test(key) && (typeof value === 'string' || typeof value === 'number')) {
    return formatPhone(String(value));
  }
  if (depth >= MAX_DEPTH) {
    return value;
  }
  if (Array.isArray(value)) {
    return value.map((item) => scrubValue(key, item, formatPhone, depth + 1));
  }
  if (isPlainObject(value)) {
    return scrubObject(value, formatPhone, depth + 1);
  }
  return value;
}
