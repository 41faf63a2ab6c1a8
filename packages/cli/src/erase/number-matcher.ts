import { sameNumber, type NormalizedNumber, type PhoneOptions } from '@cti/suitecrm';

// Runs of digits with the separators people and systems write between them, optionally after a
// `+`: `+1 (555) 010-0001`, `0049 30 1234567`, `15550100001`.
const NUMBER_IN_TEXT = /\+?\(?\d[\d\s()./-]{5,}\d/g;

// Numbers are compared on their last digits first: a text without them cannot hold the number.
const TAIL_DIGITS = 6;

/**
 * Finds one phone number in stored data however it was written: as a whole field value
 * (`+15550100001`, `15550100001`, `(555) 010-0001`, `sip:+15550100001@pbx`) or inside text such as
 * a transcript, a summary or a webhook body kept as a string. Each candidate is normalised with the
 * deployment's phone settings and compared on its E.164 digits, so another number that shares the
 * digits never matches.
 *
 * NOTE: a number spelled out in words ("five five five ...") or split by other text is not found.
 */
export class NumberMatcher {
  readonly target: NormalizedNumber;
  readonly #phone: PhoneOptions;
  readonly #tail: string;

  constructor(target: NormalizedNumber, phone: PhoneOptions) {
    this.target = target;
    this.#phone = phone;
    this.#tail = target.nationalNumber.slice(-TAIL_DIGITS);
  }

  /** Cheap test on raw text: false means the number cannot be in it. */
  mayContain(text: string): boolean {
    return text.replace(/\D/g, '').includes(this.#tail);
  }

  /** True when the text is the number or contains it. */
  matchesText(text: string): boolean {
    if (!this.mayContain(text)) {
      return false;
    }
    if (this.#same(text)) {
      return true;
    }
    for (const candidate of text.matchAll(NUMBER_IN_TEXT)) {
      if (this.#same(candidate[0])) {
        return true;
      }
    }
    return false;
  }

  /** True when any string, key or number anywhere in a parsed JSON value holds the number. */
  matchesValue(value: unknown): boolean {
    if (typeof value === 'string') {
      return this.matchesText(value);
    }
    if (typeof value === 'number') {
      return this.matchesText(String(value));
    }
    if (Array.isArray(value)) {
      return value.some((item) => this.matchesValue(item));
    }
    if (typeof value === 'object' && value !== null) {
      return Object.entries(value).some(([key, item]) => this.matchesText(key) || this.matchesValue(item));
    }
    return false;
  }

  #same(text: string): boolean {
    return sameNumber(text, this.target, this.#phone).match;
  }
}
