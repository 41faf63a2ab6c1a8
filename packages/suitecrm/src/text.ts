/**
 * Text as SuiteCRM 7 stores and returns it:
 * - responses are HTML-encoded (`&quot;`, `&#039;`, `&lt;`, `&gt;`; a bare `&` stays as is);
 * - on save, entities are decoded and the text goes through HTML cleaning, which removes
 *   anything that looks like a tag (`<inaudible>`, `<jane@example.com>`, `a<b and x >`);
 * - the tables are utf8mb3, so a 4-byte UTF-8 character (an emoji) is stored as `????`;
 * - `description` is a TEXT column: anything past 65,535 bytes is silently cut.
 */

/** Largest `description` SuiteCRM keeps (a MySQL TEXT column), in bytes. */
export const DESCRIPTION_MAX_BYTES = 65_535;

const NAMED_ENTITIES: Record<string, string> = { quot: '"', amp: '&', lt: '<', gt: '>', apos: "'", nbsp: '\u00a0' };

/** Decodes the HTML entities SuiteCRM puts into response text. */
export function decodeHtmlEntities(text: string): string {
  if (!text.includes('&')) {
    return text;
  }
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (entity, body: string) => {
    if (body.startsWith('#x') || body.startsWith('#X')) {
      return safeCodePoint(Number.parseInt(body.slice(2), 16)) ?? entity;
    }
    if (body.startsWith('#')) {
      return safeCodePoint(Number.parseInt(body.slice(1), 10)) ?? entity;
    }
    return NAMED_ENTITIES[body.toLowerCase()] ?? entity;
  });
}

function safeCodePoint(value: number): string | undefined {
  return Number.isInteger(value) && value > 0 && value <= 0x10ffff ? String.fromCodePoint(value) : undefined;
}

// Control characters other than tab and newline, built from code points so the source contains none.
const CONTROL_CHARACTERS = new RegExp(`[${String.fromCharCode(0)}-${String.fromCharCode(8)}${String.fromCharCode(11)}${String.fromCharCode(12)}${String.fromCharCode(14)}-${String.fromCharCode(31)}${String.fromCharCode(127)}]`, 'g');

/**
 * Rewrites text so that SuiteCRM stores exactly what a reader should see:
 * - `<` and `>` become `‹` and `›`, so HTML cleaning cannot take them for tags;
 * - an `&` that starts something entity-like (`&lt;`) becomes `＆`, because SuiteCRM decodes
 *   entities before the cleaning and would turn `&lt;tag&gt;` into a tag and drop it;
 * - characters outside the Basic Multilingual Plane (emoji) become U+FFFD instead of `????`;
 * - control characters other than tab and newline are dropped and line ends become `\n`.
 */
export function cleanTextForSuiteCrm(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .replace(CONTROL_CHARACTERS, '')
    .replace(/&(?=#?[a-z0-9]+;)/gi, '\uff06')
    .replace(/</g, '\u2039')
    .replace(/>/g, '\u203a')
    .replace(/[\u{10000}-\u{10ffff}]/gu, '\ufffd')
    .replace(/[\ud800-\udfff]/g, '\ufffd');
}

const encoder = new TextEncoder();

export function utf8Length(text: string): number {
  return encoder.encode(text).length;
}

/** Cuts text to at most `maxBytes` of UTF-8 without splitting a character. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (utf8Length(text) <= maxBytes) {
    return text;
  }
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    const size = utf8Length(char);
    if (bytes + size > maxBytes) {
      break;
    }
    bytes += size;
    end += char.length;
  }
  return text.slice(0, end);
}

/** Cuts text to at most `maxChars` characters, ending with `…` when something was cut. */
export function truncateChars(text: string, maxChars: number): string {
  const chars = [...text];
  if (chars.length <= maxChars) {
    return text;
  }
  return `${chars.slice(0, Math.max(0, maxChars - 1)).join('').trimEnd()}…`;
}

/**
 * Splits text into parts of at most `maxBytes` UTF-8 bytes, at line ends where possible, so a
 * long transcript can be stored in several records instead of being cut.
 */
export function splitUtf8(text: string, maxBytes: number): string[] {
  if (maxBytes < 4) {
    throw new RangeError('maxBytes must be at least 4');
  }
  const parts: string[] = [];
  let current = '';
  let currentBytes = 0;
  for (const line of text.split(/(?<=\n)/)) {
    const lineBytes = utf8Length(line);
    if (currentBytes + lineBytes <= maxBytes) {
      current += line;
      currentBytes += lineBytes;
      continue;
    }
    if (current !== '') {
      parts.push(current);
    }
    // A single line longer than a part is cut at character boundaries.
    let rest = line;
    while (utf8Length(rest) > maxBytes) {
      const head = truncateUtf8(rest, maxBytes);
      parts.push(head);
      rest = rest.slice(head.length);
    }
    current = rest;
    currentBytes = utf8Length(rest);
  }
  if (current !== '') {
    parts.push(current);
  }
  return parts;
}
