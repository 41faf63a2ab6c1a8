/** A query parameter as PHP's parse_str() leaves it: a string or a nested, ordered array. */
export type PhpValue = string | PhpArray;
export type PhpArray = Map<string, PhpValue>;

/** PHP's urldecode(): `+` is a space, then percent escapes. */
export function phpUrlDecode(text: string): string {
  const spaced = text.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced.replace(/%([0-9a-f]{2})/gi, (_match, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
  }
}

function keyPath(rawKey: string): string[] {
  const key = phpUrlDecode(rawKey);
  const open = key.indexOf('[');
  if (open <= 0) {
    return [key];
  }
  const path = [key.slice(0, open)];
  const pattern = /\[([^\]]*)\]/g;
  pattern.lastIndex = open;
  for (let match = pattern.exec(key); match !== null; match = pattern.exec(key)) {
    path.push(match[1] ?? '');
  }
  return path;
}

/**
 * Parses a query string the way PHP fills `$_GET`: `filter[phone_work][eq]=x` becomes nested
 * arrays, a later value replaces an earlier one, and a literal `+` is a space.
 */
export function parsePhpQuery(raw: string): PhpArray {
  const root: PhpArray = new Map();
  for (const part of raw.split('&')) {
    if (part === '') {
      continue;
    }
    const equals = part.indexOf('=');
    const rawKey = equals === -1 ? part : part.slice(0, equals);
    const value = equals === -1 ? '' : phpUrlDecode(part.slice(equals + 1));
    const path = keyPath(rawKey);
    let current = root;
    for (let index = 0; index < path.length; index += 1) {
      let segment = path[index] ?? '';
      const last = index === path.length - 1;
      if (segment === '') {
        segment = String(current.size);
      }
      if (last) {
        current.set(segment, value);
        break;
      }
      let child = current.get(segment);
      if (!(child instanceof Map)) {
        child = new Map();
        current.set(segment, child);
      }
      current = child;
    }
  }
  return root;
}

/** PHP's urldecode(http_build_query()): the form SuiteCRM writes its pagination links in. */
export function serializePhpQuery(value: PhpArray, prefix = ''): string {
  const parts: string[] = [];
  for (const [key, child] of value) {
    const name = prefix === '' ? key : `${prefix}[${key}]`;
    if (child instanceof Map) {
      const nested = serializePhpQuery(child, name);
      if (nested !== '') {
        parts.push(nested);
      }
    } else {
      parts.push(`${name}=${child}`);
    }
  }
  return parts.join('&');
}

export function cloneQuery(value: PhpArray): PhpArray {
  const copy: PhpArray = new Map();
  for (const [key, child] of value) {
    copy.set(key, child instanceof Map ? cloneQuery(child) : child);
  }
  return copy;
}
