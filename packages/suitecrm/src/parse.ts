/**
 * Parses a response body that should be JSON. SuiteCRM sometimes appends plain text after the
 * JSON document (a database failure, or "Provide both a User Name and an Email Address." after a
 * User create), so the first complete JSON value is parsed and the rest returned as `trailing`.
 * Returns undefined when no JSON value starts the body.
 */
export function parseJsonLenient(text: string): { value: unknown; trailing: string } | undefined {
  const trimmed = text.trimStart();
  if (trimmed === '') {
    return undefined;
  }
  try {
    return { value: JSON.parse(trimmed), trailing: '' };
  } catch {
    // Fall through: look for the end of the first value.
  }
  const end = endOfFirstValue(trimmed);
  if (end === undefined) {
    return undefined;
  }
  try {
    return { value: JSON.parse(trimmed.slice(0, end)), trailing: trimmed.slice(end).trim() };
  } catch {
    return undefined;
  }
}

/** Index just past the object or array that starts the text, or undefined. */
function endOfFirstValue(text: string): number | undefined {
  const first = text[0];
  if (first !== '{' && first !== '[') {
    return undefined;
  }
  let depth = 0;
  let inString = false;
  let escaped = false;
  for (let index = 0; index < text.length; index += 1) {
    const char = text[index];
    if (inString) {
      if (escaped) {
        escaped = false;
      } else if (char === '\\') {
        escaped = true;
      } else if (char === '"') {
        inString = false;
      }
      continue;
    }
    if (char === '"') {
      inString = true;
    } else if (char === '{' || char === '[') {
      depth += 1;
    } else if (char === '}' || char === ']') {
      depth -= 1;
      if (depth === 0) {
        return index + 1;
      }
    }
  }
  return undefined;
}
