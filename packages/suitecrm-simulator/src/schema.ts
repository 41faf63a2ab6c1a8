import { RECORDED_FIELD_META, RECORDED_TEMPLATES, type AttributeTemplate } from './recorded/templates.js';

/**
 * How a link of a module reaches its related records:
 * - `table`: a relationship table such as calls_contacts;
 * - `parent`: the source row's own parent_type/parent_id (Calls `accounts`: linking an account
 *   overwrites the call's parent, as SuiteCRM's account_calls relationship does);
 * - `children`: rows of another module whose parent_type/parent_id point at the source (Calls `notes`);
 * - `column`: an id column of the source row (Notes `contact`, Calls `assigned_user_link`);
 * - `other`: a link the simulator accepts by name but keeps in a table of its own.
 */
export type LinkDefinition =
  | { kind: 'table'; table: string; relatedModule: string; own: 'left' | 'right' }
  | { kind: 'parent'; relatedModule: string }
  | { kind: 'children'; childModule: string }
  | { kind: 'column'; column: string; relatedModule: string; ignoredOnSave?: boolean }
  | { kind: 'other'; relatedModule: string };

export interface ModuleDefinition {
  module: string;
  /** SuiteCRM's object name, used as `type` in responses and in error texts (`Call`). */
  beanName: string;
  /** Attribute order and defaults of a full record. */
  template: [string, unknown][];
  relationships: readonly (readonly [string, string])[];
  /** Columns stored in the module's table; filtering on any other field is a database failure. */
  dbFields: Set<string>;
  /** Fields never returned (api-visible=false), though they can be filtered on. */
  hiddenFields: Set<string>;
  dateTimeFields: Set<string>;
  /** Character limits of varchar columns. */
  maxChars: Record<string, number>;
  /** TEXT columns, cut at 65,535 bytes. */
  textFields: Set<string>;
  links: Record<string, LinkDefinition>;
  /** Link the generic relationships route picks per related module. */
  genericLinks: Record<string, string>;
  fieldMeta: Record<string, Record<string, unknown>>;
  /** Custom fields (`*_c`), in a `_cstm` table in SuiteCRM; here stored like any column. */
  customFields: Set<string>;
}

const COMMON_DB = ['id', 'date_entered', 'date_modified', 'modified_user_id', 'created_by', 'description', 'deleted', 'assigned_user_id'];

const PERSON_DB = [
  'salutation', 'first_name', 'last_name', 'title', 'photo', 'department', 'do_not_call', 'phone_home', 'phone_mobile',
  'phone_work', 'phone_other', 'phone_fax', 'lawful_basis', 'date_reviewed', 'lawful_basis_source', 'primary_address_street',
  'primary_address_city', 'primary_address_state', 'primary_address_postalcode', 'primary_address_country',
  'alt_address_street', 'alt_address_city', 'alt_address_state', 'alt_address_postalcode', 'alt_address_country',
  'assistant', 'assistant_phone', 'lead_source', 'reports_to_id', 'birthdate', 'campaign_id',
  'jjwg_maps_geocode_status_c', 'jjwg_maps_lng_c', 'jjwg_maps_address_c', 'jjwg_maps_lat_c',
];

function metaDbFields(module: string): string[] {
  const meta = RECORDED_FIELD_META[module] ?? {};
  return Object.entries(meta)
    .filter(([, field]) => field['source'] !== 'non-db' && field['type'] !== 'link')
    .map(([name]) => name);
}

const NOTES_TEMPLATE: AttributeTemplate = [
  ['name', ''], ['date_entered', ''], ['date_modified', ''], ['modified_user_id', ''], ['modified_by_name', ''],
  ['created_by', ''], ['created_by_name', ''], ['description', ''], ['deleted', '0'], ['created_by_link', ''],
  ['modified_user_link', ''], ['assigned_user_id', ''], ['assigned_user_name', ''], ['assigned_user_link', ''],
  ['SecurityGroups', ''], ['file_mime_type', ''], ['file_url', ''], ['filename', ''], ['parent_type', ''],
  ['parent_id', ''], ['contact_id', ''], ['portal_flag', '0'], ['embed_flag', '0'], ['parent_name', ''],
  ['contact_name', ''], ['contact_phone', ''], ['contact_email', ''], ['account_id', ''], ['opportunity_id', ''],
  ['acase_id', ''], ['lead_id', ''], ['contact', ''], ['cases', ''], ['accounts', ''], ['opportunities', ''],
  ['leads', ''], ['bugs', ''], ['aos_contracts', ''], ['emails', ''], ['projects', ''], ['project_tasks', ''],
  ['meetings', ''], ['calls', ''], ['tasks', ''], ['filecontents', ''],
];

function fieldMetaFromTemplate(template: AttributeTemplate, dbFields: Set<string>): Record<string, Record<string, unknown>> {
  const meta: Record<string, Record<string, unknown>> = { id: { type: 'id', required: true, dbType: 'id' } };
  for (const [name] of template) {
    meta[name] = dbFields.has(name)
      ? { type: 'varchar', dbType: 'varchar', required: false }
      : { type: 'varchar', source: 'non-db', required: false, dbType: 'varchar' };
  }
  return meta;
}

function copyTemplate(template: AttributeTemplate): [string, unknown][] {
  return template.map(([name, value]) => [name, value]);
}

const USER_HIDDEN = ['user_name', 'user_hash', 'status', 'is_admin', 'pwd_last_changed', 'sugar_login', 'external_auth_only', 'authenticate_id', 'system_generated_password'];

function recorded(module: string) {
  const template = RECORDED_TEMPLATES[module];
  if (template === undefined) {
    throw new Error(`no recorded template for ${module}`);
  }
  return template;
}

/** Builds the module definitions; custom fields are added per module, e.g. `{ Calls: ['ai_summary_c'] }`. */
export function buildSchema(customFields: Record<string, readonly string[]> = {}): Map<string, ModuleDefinition> {
  const definitions: ModuleDefinition[] = [
    {
      module: 'Contacts',
      beanName: 'Contact',
      template: copyTemplate(recorded('Contacts').attributes),
      relationships: recorded('Contacts').relationships,
      dbFields: new Set([...metaDbFields('Contacts')]),
      hiddenFields: new Set(),
      dateTimeFields: new Set(['date_entered', 'date_modified']),
      maxChars: { first_name: 100, last_name: 100, phone_home: 100, phone_mobile: 100, phone_work: 100, phone_other: 100, title: 100 },
      textFields: new Set(['description']),
      links: {
        calls: { kind: 'table', table: 'calls_contacts', relatedModule: 'Calls', own: 'right' },
        accounts: { kind: 'table', table: 'accounts_contacts', relatedModule: 'Accounts', own: 'right' },
        notes: { kind: 'children', childModule: 'Notes' },
        leads: { kind: 'other', relatedModule: 'Leads' },
        created_by_link: { kind: 'column', column: 'created_by', relatedModule: 'Users', ignoredOnSave: true },
        modified_user_link: { kind: 'column', column: 'modified_user_id', relatedModule: 'Users', ignoredOnSave: true },
        assigned_user_link: { kind: 'column', column: 'assigned_user_id', relatedModule: 'Users' },
      },
      genericLinks: { Calls: 'calls', Accounts: 'accounts', Notes: 'notes', Users: 'modified_user_link', Leads: 'leads' },
      fieldMeta: structuredClone(RECORDED_FIELD_META['Contacts'] ?? {}),
      customFields: new Set(),
    },
    {
      module: 'Accounts',
      beanName: 'Account',
      template: copyTemplate(recorded('Accounts').attributes),
      relationships: recorded('Accounts').relationships,
      dbFields: new Set([
        ...COMMON_DB, 'name', 'account_type', 'industry', 'annual_revenue', 'phone_fax', 'billing_address_street',
        'billing_address_city', 'billing_address_state', 'billing_address_postalcode', 'billing_address_country',
        'rating', 'phone_office', 'phone_alternate', 'website', 'ownership', 'employees', 'ticker_symbol',
        'shipping_address_street', 'shipping_address_city', 'shipping_address_state', 'shipping_address_postalcode',
        'shipping_address_country', 'parent_id', 'sic_code', 'campaign_id',
        'jjwg_maps_geocode_status_c', 'jjwg_maps_lng_c', 'jjwg_maps_address_c', 'jjwg_maps_lat_c',
      ]),
      hiddenFields: new Set(),
      dateTimeFields: new Set(['date_entered', 'date_modified']),
      maxChars: { name: 150, phone_office: 100, phone_alternate: 100 },
      textFields: new Set(['description']),
      links: {
        contacts: { kind: 'table', table: 'accounts_contacts', relatedModule: 'Contacts', own: 'left' },
        calls: { kind: 'children', childModule: 'Calls' },
        notes: { kind: 'children', childModule: 'Notes' },
        created_by_link: { kind: 'column', column: 'created_by', relatedModule: 'Users', ignoredOnSave: true },
        modified_user_link: { kind: 'column', column: 'modified_user_id', relatedModule: 'Users', ignoredOnSave: true },
        assigned_user_link: { kind: 'column', column: 'assigned_user_id', relatedModule: 'Users' },
      },
      genericLinks: { Contacts: 'contacts', Calls: 'calls', Notes: 'notes', Users: 'modified_user_link' },
      fieldMeta: {},
      customFields: new Set(),
    },
    {
      module: 'Leads',
      beanName: 'Lead',
      template: copyTemplate(recorded('Leads').attributes),
      relationships: recorded('Leads').relationships,
      dbFields: new Set([
        ...COMMON_DB, ...PERSON_DB, 'converted', 'refered_by', 'lead_source_description', 'status', 'status_description',
        'account_name', 'account_description', 'contact_id', 'account_id', 'opportunity_id', 'opportunity_name',
        'opportunity_amount', 'portal_name', 'portal_app', 'website',
      ]),
      hiddenFields: new Set(),
      dateTimeFields: new Set(['date_entered', 'date_modified']),
      maxChars: { first_name: 100, last_name: 100, phone_home: 100, phone_mobile: 100, phone_work: 100, phone_other: 100, account_name: 255 },
      textFields: new Set(['description']),
      links: {
        calls: { kind: 'table', table: 'calls_leads', relatedModule: 'Calls', own: 'right' },
        contacts: { kind: 'other', relatedModule: 'Contacts' },
        notes: { kind: 'children', childModule: 'Notes' },
        created_by_link: { kind: 'column', column: 'created_by', relatedModule: 'Users', ignoredOnSave: true },
        modified_user_link: { kind: 'column', column: 'modified_user_id', relatedModule: 'Users', ignoredOnSave: true },
        assigned_user_link: { kind: 'column', column: 'assigned_user_id', relatedModule: 'Users' },
      },
      genericLinks: { Calls: 'calls', Contacts: 'contacts', Notes: 'notes', Users: 'modified_user_link' },
      fieldMeta: {},
      customFields: new Set(),
    },
    {
      module: 'Calls',
      beanName: 'Call',
      template: copyTemplate(recorded('Calls').attributes),
      relationships: recorded('Calls').relationships,
      dbFields: new Set(metaDbFields('Calls')),
      hiddenFields: new Set(),
      dateTimeFields: new Set(['date_entered', 'date_modified', 'date_start', 'date_end']),
      maxChars: { name: 50, parent_type: 255, status: 100, direction: 100 },
      textFields: new Set(['description']),
      links: {
        contacts: { kind: 'table', table: 'calls_contacts', relatedModule: 'Contacts', own: 'left' },
        users: { kind: 'table', table: 'calls_users', relatedModule: 'Users', own: 'left' },
        leads: { kind: 'table', table: 'calls_leads', relatedModule: 'Leads', own: 'left' },
        accounts: { kind: 'parent', relatedModule: 'Accounts' },
        notes: { kind: 'children', childModule: 'Notes' },
        opportunities: { kind: 'other', relatedModule: 'Opportunities' },
        project: { kind: 'other', relatedModule: 'Project' },
        case: { kind: 'other', relatedModule: 'Cases' },
        aos_contracts: { kind: 'other', relatedModule: 'AOS_Contracts' },
        calls_reschedule: { kind: 'other', relatedModule: 'Calls_Reschedule' },
        SecurityGroups: { kind: 'other', relatedModule: 'SecurityGroups' },
        created_by_link: { kind: 'column', column: 'created_by', relatedModule: 'Users', ignoredOnSave: true },
        modified_user_link: { kind: 'column', column: 'modified_user_id', relatedModule: 'Users', ignoredOnSave: true },
        assigned_user_link: { kind: 'column', column: 'assigned_user_id', relatedModule: 'Users' },
      },
      // Relationship::retrieve_by_modules takes the first row of the relationships table: for
      // Calls and Users that is calls_modified_user, not calls_users.
      genericLinks: { Contacts: 'contacts', Accounts: 'accounts', Users: 'modified_user_link', Leads: 'leads', Notes: 'notes' },
      fieldMeta: structuredClone(RECORDED_FIELD_META['Calls'] ?? {}),
      customFields: new Set(),
    },
    {
      module: 'Users',
      beanName: 'User',
      template: copyTemplate(recorded('Users').attributes),
      relationships: recorded('Users').relationships,
      dbFields: new Set([
        ...COMMON_DB, ...USER_HIDDEN, 'first_name', 'last_name', 'receive_notifications', 'title', 'photo', 'department',
        'phone_home', 'phone_mobile', 'phone_work', 'phone_other', 'phone_fax', 'address_street', 'address_city',
        'address_state', 'address_country', 'address_postalcode', 'portal_only', 'show_on_employees', 'employee_status',
        'messenger_id', 'messenger_type', 'reports_to_id', 'is_group', 'factor_auth', 'factor_auth_interface',
        // SuiteCRM keeps e-mail addresses in email_addresses; a column is enough here.
        'email1',
      ]),
      hiddenFields: new Set(USER_HIDDEN),
      dateTimeFields: new Set(['date_entered', 'date_modified']),
      maxChars: { user_name: 60, first_name: 255, last_name: 255, phone_work: 50 },
      textFields: new Set(['description']),
      links: {
        calls: { kind: 'table', table: 'calls_users', relatedModule: 'Calls', own: 'right' },
        created_by_link: { kind: 'column', column: 'created_by', relatedModule: 'Users', ignoredOnSave: true },
      },
      genericLinks: { Calls: 'calls' },
      fieldMeta: {},
      customFields: new Set(),
    },
    {
      module: 'Notes',
      beanName: 'Note',
      template: copyTemplate(NOTES_TEMPLATE),
      relationships: [['Contacts', 'contact'], ['Users', 'created_by_link']],
      dbFields: new Set([...COMMON_DB, 'name', 'file_mime_type', 'filename', 'parent_type', 'parent_id', 'contact_id', 'portal_flag', 'embed_flag']),
      hiddenFields: new Set(),
      dateTimeFields: new Set(['date_entered', 'date_modified']),
      maxChars: { name: 255, parent_type: 255 },
      textFields: new Set(['description']),
      links: {
        contact: { kind: 'column', column: 'contact_id', relatedModule: 'Contacts' },
        created_by_link: { kind: 'column', column: 'created_by', relatedModule: 'Users', ignoredOnSave: true },
        modified_user_link: { kind: 'column', column: 'modified_user_id', relatedModule: 'Users', ignoredOnSave: true },
        assigned_user_link: { kind: 'column', column: 'assigned_user_id', relatedModule: 'Users' },
      },
      genericLinks: { Contacts: 'contact', Users: 'modified_user_link' },
      fieldMeta: {},
      customFields: new Set(),
    },
  ];

  const schema = new Map<string, ModuleDefinition>();
  for (const definition of definitions) {
    if (Object.keys(definition.fieldMeta).length === 0) {
      definition.fieldMeta = fieldMetaFromTemplate(definition.template, definition.dbFields);
    }
    for (const field of customFields[definition.module] ?? []) {
      definition.customFields.add(field);
      definition.dbFields.add(field);
      definition.template.push([field, '']);
      definition.fieldMeta[field] = { required: false, source: 'custom_fields', type: 'text', dbType: 'text' };
    }
    schema.set(definition.module, definition);
  }
  return schema;
}

/** Every field a request may name: filters, sparse fieldsets and sorts check against these. */
export function knownFields(definition: ModuleDefinition): Set<string> {
  return new Set(['id', ...definition.template.map(([name]) => name), ...definition.hiddenFields, ...definition.dbFields]);
}
