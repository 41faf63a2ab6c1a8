import type { TSchema } from 'typebox';

import type { MessageContract } from './contract.js';
import { Streams } from './streams.js';

export const GENERATED_START = '<!-- generated from packages/contracts: start -->';
export const GENERATED_END = '<!-- generated from packages/contracts: end -->';

interface JsonSchema {
  type?: string;
  const?: unknown;
  anyOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  patternProperties?: Record<string, JsonSchema>;
  description?: string;
}

function describeType(schema: JsonSchema): string {
  if (schema.const !== undefined) {
    return `\`${JSON.stringify(schema.const)}\``;
  }
  if (schema.anyOf !== undefined) {
    return schema.anyOf.map(describeType).join(' \\| ');
  }
  if (schema.type === 'array') {
    return `${schema.items === undefined ? 'unknown' : describeType(schema.items)}[]`;
  }
  if (schema.type === 'object' && schema.patternProperties !== undefined) {
    const [value] = Object.values(schema.patternProperties);
    return `map of ${value === undefined ? 'unknown' : describeType(value)}`;
  }
  return schema.type ?? 'unknown';
}

function fieldRows(schema: JsonSchema, prefix = ''): string[] {
  const rows: string[] = [];
  const required = new Set(schema.required ?? []);
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    const path = `${prefix}${name}`;
    rows.push(`| \`${path}\` | ${describeType(property)} | ${required.has(name) ? 'yes' : 'no'} |`);
    if (property.type === 'object' && property.properties !== undefined) {
      rows.push(...fieldRows(property, `${path}.`));
    }
    if (property.type === 'array' && property.items?.properties !== undefined) {
      rows.push(...fieldRows(property.items, `${path}[].`));
    }
  }
  return rows;
}

/** Renders the generated part of docs/subjects.md: one summary table, then each schema. */
export function renderSubjectsDoc(contracts: readonly MessageContract[]): string {
  const lines: string[] = [
    GENERATED_START,
    '',
    '| Subject | Kind | Stream | Published by | Consumed by |',
    '| --- | --- | --- | --- | --- |',
  ];
  for (const contract of contracts) {
    const stream = contract.stream === null ? 'none (core request/reply)' : contract.stream;
    const consumers = contract.consumedBy.length === 0 ? '(stored only)' : contract.consumedBy.join(', ');
    const subject = contract.kind === 'reply' ? `reply inbox of \`${contract.subjectPattern}\`` : `\`${contract.subjectPattern}\``;
    lines.push(`| ${subject} | ${contract.kind} | ${stream} | ${contract.publishedBy.join(', ')} | ${consumers} |`);
  }
  lines.push('', '## Streams', '', '| Stream | Subjects | Max age (days) | Duplicate window (s) |', '| --- | --- | --- | --- |');
  for (const spec of Object.values(Streams)) {
    lines.push(`| ${spec.name} | ${spec.subjects.map((subject) => `\`${subject}\``).join(', ')} | ${spec.maxAgeSeconds / 86_400} | ${spec.duplicateWindowSeconds} |`);
  }
  lines.push('', '## Schemas');
  for (const contract of contracts) {
    lines.push('', `### ${contract.name}`, '', contract.description, '', `Subject: \`${contract.subjectPattern}\``, '');
    lines.push('| Field | Type | Required |', '| --- | --- | --- |', ...fieldRows(contract.schema as TSchema as JsonSchema));
  }
  lines.push('', GENERATED_END);
  return lines.join('\n');
}
