/**
 * Base class for every error the middleware raises on purpose.
 *
 * Callers branch on `code`, never on message text. Codes follow `CTI_ERR_<AREA>_<WHAT>`, and once
 * released a code is never renamed or reused for another meaning.
 */
const kCtiError = Symbol.for('cti.error');

export interface CtiErrorOptions {
  cause?: unknown;
  /** Context for logs and API answers. Must never contain secrets or raw phone numbers. */
  details?: Record<string, unknown>;
}

export class CtiError<Code extends string = string> extends Error {
  readonly code: Code;
  readonly details: Record<string, unknown>;

  constructor(code: Code, message: string, options: CtiErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CtiError';
    this.code = code;
    this.details = options.details ?? {};
    Object.defineProperty(this, kCtiError, { value: true });
  }

  /** Works across two loaded copies of this package, where `instanceof` would not. */
  static is(value: unknown, code?: string): value is CtiError {
    const branded = typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kCtiError] === true;
    return branded && (code === undefined || (value as CtiError).code === code);
  }

  toJSON(): { name: string; code: Code; message: string; details: Record<string, unknown> } {
    return { name: this.name, code: this.code, message: this.message, details: this.details };
  }
}

/**
 * Checks that every code of a catalogue is unique and follows the naming rule, so a typo or a
 * copy-paste duplicate fails at start-up and in tests instead of in an operator's alert rule.
 */
export function defineErrorCodes<const T extends Record<string, string>>(area: string, codes: T): T {
  const prefix = `CTI_ERR_${area}_`;
  const seen = new Set<string>();
  for (const [key, code] of Object.entries(codes)) {
    if (!code.startsWith(prefix) || code !== `${prefix}${key}`) {
      throw new TypeError(`error code ${code} must be ${prefix}${key}`);
    }
    if (seen.has(code)) {
      throw new TypeError(`error code ${code} is defined twice`);
    }
    seen.add(code);
  }
  return Object.freeze(codes);
}

/** Returns a message for any thrown value, for log fields that must be a string. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    return error.message;
  }
  return String(error);
}
