import type { Database, Row } from './database.js';
import { formatApi } from './dates.js';
import type { ModuleDefinition } from './schema.js';
import { encodeForResponse } from './text.js';

export interface RenderContext {
  schema: Map<string, ModuleDefinition>;
  db: Database;
}

function personName(row: Row): string {
  return `${row.values['first_name'] ?? ''} ${row.values['last_name'] ?? ''}`.trim();
}

/** Name of a record as SuiteCRM shows it: first and last name for people, `name` otherwise. */
export function recordName(context: RenderContext, module: string, id: string | null | undefined): string {
  if (id === null || id === undefined || id === '') {
    return '';
  }
  const row = context.db.get(module, id);
  if (row === undefined) {
    return '';
  }
  return module === 'Contacts' || module === 'Leads' || module === 'Users' ? personName(row) : row.values['name'] ?? '';
}

function firstLinked(context: RenderContext, table: string, own: 'left' | 'right', id: string): string | undefined {
  return context.db.relatedIds(table, own, id)[0];
}

/** Values of non-db fields that SuiteCRM fills from other tables. */
function computed(context: RenderContext, definition: ModuleDefinition, row: Row, field: string): string | undefined {
  const { values } = row;
  switch (field) {
    case 'name':
    case 'full_name':
      return definition.module === 'Contacts' || definition.module === 'Leads' || definition.module === 'Users' ? personName(row) : undefined;
    case 'assigned_user_name':
      return recordName(context, 'Users', values['assigned_user_id']);
    case 'created_by_name':
      return recordName(context, 'Users', values['created_by']);
    case 'modified_by_name':
      return recordName(context, 'Users', values['modified_user_id']);
    case 'parent_name':
      return values['parent_type'] === null || values['parent_type'] === undefined ? '' : recordName(context, values['parent_type'], values['parent_id']);
    default:
      break;
  }
  if (definition.module === 'Contacts' && (field === 'account_id' || field === 'account_name')) {
    const accountId = firstLinked(context, 'accounts_contacts', 'right', row.id) ?? '';
    return field === 'account_id' ? accountId : recordName(context, 'Accounts', accountId);
  }
  if (definition.module === 'Calls' && (field === 'contact_id' || field === 'contact_name')) {
    const contactId = firstLinked(context, 'calls_contacts', 'left', row.id) ?? '';
    return field === 'contact_id' ? contactId : recordName(context, 'Contacts', contactId);
  }
  if (definition.module === 'Notes' && field === 'contact_name') {
    return recordName(context, 'Contacts', values['contact_id']);
  }
  return undefined;
}

function attributeValue(context: RenderContext, definition: ModuleDefinition, row: Row, field: string, fallback: unknown): unknown {
  const value = computed(context, definition, row, field);
  if (value !== undefined) {
    return encodeForResponse(value);
  }
  if (definition.dbFields.has(field)) {
    const stored = row.values[field] ?? null;
    if (definition.dateTimeFields.has(field)) {
      return formatApi(stored);
    }
    return stored === null ? fallback : encodeForResponse(stored);
  }
  return fallback;
}

/** Attributes in SuiteCRM's field order; with `fields`, only those (hidden fields never). */
export function renderAttributes(context: RenderContext, definition: ModuleDefinition, row: Row, fields?: ReadonlySet<string>): Record<string, unknown> {
  const attributes: Record<string, unknown> = {};
  for (const [field, fallback] of definition.template) {
    if (definition.hiddenFields.has(field) || (fields !== undefined && !fields.has(field))) {
      continue;
    }
    attributes[field] = attributeValue(context, definition, row, field, fallback);
  }
  return attributes;
}

/**
 * One record of a list or GET. Create and update responses write the relationship links
 * without the module name (`V8/module/<id>/relationships/...`), as SuiteCRM 7.14 does.
 */
export function renderRecord(
  context: RenderContext,
  definition: ModuleDefinition,
  row: Row,
  options: { fields?: ReadonlySet<string>; mutation?: 'create' | 'update' } = {},
): Record<string, unknown> {
  const base = options.mutation === undefined ? `V8/module/${definition.module}/${row.id}` : `V8/module/${row.id}`;
  const relationships: Record<string, unknown> = {};
  for (const [key, link] of definition.relationships) {
    relationships[key] = { links: { related: `${base}/relationships/${link}` } };
  }
  const attributes = renderAttributes(context, definition, row, options.fields);
  if (options.mutation === 'update' && 'parent_name' in attributes) {
    // An update returns the bean as saved, before SuiteCRM fills in the parent's name.
    attributes['parent_name'] = '';
  }
  return { type: definition.beanName, id: row.id, attributes, relationships };
}

/** A record as relationship routes list it: all attributes and a `self` link with the bean name. */
export function renderRelated(context: RenderContext, definition: ModuleDefinition, row: Row): Record<string, unknown> {
  return {
    type: definition.beanName,
    id: row.id,
    attributes: renderAttributes(context, definition, row),
    links: { self: `V8/module/${definition.beanName}/${row.id}` },
  };
}
