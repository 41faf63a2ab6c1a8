import type { ConfigField } from './fields.js';
import type { ConfigFields } from './load.js';

function exampleValue(field: ConfigField): string {
  if (field.example !== undefined) {
    return field.example;
  }
  if (field.defaultValue === undefined) {
    return '';
  }
  return Array.isArray(field.defaultValue) ? field.defaultValue.join(',') : String(field.defaultValue);
}

/**
 * Renders `.env.example`: every variable of every service, with what it is for. Variables that
 * several services share are listed once, under the first service that uses them.
 */
export function renderEnvExample(specs: readonly { service: string; fields: ConfigFields }[], header: string): string {
  const seen = new Set<string>();
  const sections: string[] = [header.trimEnd(), ''];

  for (const spec of specs) {
    const lines: string[] = [];
    for (const field of Object.values(spec.fields)) {
      if (seen.has(field.env)) {
        continue;
      }
      seen.add(field.env);
      const required = !field.optional && field.defaultValue === undefined;
      const description = `${field.description.charAt(0).toUpperCase()}${field.description.slice(1)}`;
      const example = field.example === undefined || field.secret ? '' : ` Example: ${field.example}`;
      const fallback = field.fallback === undefined ? '' : ` When unset, ${field.fallback} is read.`;
      lines.push(`# ${description}${required ? ' (required)' : ''}.${fallback}${example}`);
      if (field.secret) {
        lines.push(`# Secret: prefer ${field.env}_FILE=/run/secrets/<file> over the value itself.`);
      }
      // Only required variables are active lines, and they are empty until filled in: a copied
      // file changes nothing else, and leaves `cti up` on its demo PBX and CRM.
      if (required) {
        lines.push(`${field.env}=`);
      } else {
        lines.push(`# ${field.env}=${field.secret ? '' : exampleValue(field)}`);
      }
    }
    if (lines.length > 0) {
      sections.push(`# ---- ${spec.service} ----`, ...lines, '');
    }
  }
  return `${sections.join('\n').trimEnd()}\n`;
}
