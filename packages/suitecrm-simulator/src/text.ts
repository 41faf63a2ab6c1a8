/**
 * Text as SuiteCRM 7.14 saves and returns it, reproduced from the recordings:
 * - on save, entities are decoded, `<script>` elements are removed, tag-like markers are taken
 *   for HTML and dropped, the few tags HTML cleaning keeps (`<b>`) lose their attributes, and
 *   tags still open at the end are closed;
 * - utf8mb3 columns store a 4-byte character as `????`;
 * - responses encode `"`, `'`, `<` and `>` as entities, but not a bare `&`.
 */

const KEPT_TAGS = new Set(['b', 'i', 'u', 'em', 'strong', 'p', 'br', 'div', 'span', 'ul', 'ol', 'li', 'table', 'tr', 'td', 'th', 'tbody', 'thead', 'h1', 'h2', 'h3', 'pre', 'code', 'blockquote', 'hr']);
const VOID_TAGS = new Set(['br', 'hr']);

export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|quot|amp|lt|gt|apos|nbsp);/gi, (entity, body: string) => {
    const lower = body.toLowerCase();
    if (lower.startsWith('#x')) {
      return String.fromCodePoint(Number.parseInt(lower.slice(2), 16));
    }
    if (lower.startsWith('#')) {
      return String.fromCodePoint(Number.parseInt(lower.slice(1), 10));
    }
    const named: Record<string, string> = { quot: '"', amp: '&', lt: '<', gt: '>', apos: "'", nbsp: '\u00a0' };
    return named[lower] ?? entity;
  });
}

/** SuiteCRM's input cleaning, as observed on 7.14.6 (an HTML purifier pass). */
export function cleanHtml(input: string): string {
  const text = decodeEntities(input).replace(/<script\b[^>]*>[\s\S]*?<\/script\s*>/gi, '').replace(/<style\b[^>]*>[\s\S]*?<\/style\s*>/gi, '');
  let output = '';
  const open: string[] = [];
  let index = 0;
  while (index < text.length) {
    const char = text[index];
    const next = text[index + 1] ?? '';
    const startsTag = char === '<' && (/[a-z]/i.test(next) || (next === '/' && /[a-z]/i.test(text[index + 2] ?? '')));
    if (!startsTag) {
      output += char;
      index += 1;
      continue;
    }
    const end = text.indexOf('>', index);
    if (end === -1) {
      output += text.slice(index);
      break;
    }
    const inside = text.slice(index + 1, end);
    index = end + 1;
    const closing = inside.startsWith('/');
    const name = (/^\/?([a-z][a-z0-9]*)/i.exec(inside)?.[1] ?? '').toLowerCase();
    if (!KEPT_TAGS.has(name)) {
      continue;
    }
    if (closing) {
      const position = open.lastIndexOf(name);
      if (position !== -1) {
        for (const tag of open.splice(position).reverse()) {
          output += `</${tag}>`;
        }
      }
      continue;
    }
    output += `<${name}>`;
    if (!VOID_TAGS.has(name)) {
      open.push(name);
    }
  }
  for (const tag of open.reverse()) {
    output += `</${tag}>`;
  }
  return output;
}

/** utf8mb3 columns cannot hold 4-byte characters; MariaDB stores each one as `????`. */
export function toUtf8mb3(text: string): string {
  return text.replace(/[\u{10000}-\u{10ffff}]/gu, '????');
}

const encoder = new TextEncoder();

/** Cuts to a byte limit at a character boundary, as MariaDB does in non-strict mode. */
export function cutBytes(text: string, maxBytes: number): string {
  if (encoder.encode(text).length <= maxBytes) {
    return text;
  }
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    const size = encoder.encode(char).length;
    if (bytes + size > maxBytes) {
      break;
    }
    bytes += size;
    end += char.length;
  }
  return text.slice(0, end);
}

export function cutChars(text: string, maxChars: number): string {
  const chars = [...text];
  return chars.length <= maxChars ? text : chars.slice(0, maxChars).join('');
}

/** How the V8 API encodes text in responses. */
export function encodeForResponse(text: string): string {
  return text.replace(/"/g, '&quot;').replace(/'/g, '&#039;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
