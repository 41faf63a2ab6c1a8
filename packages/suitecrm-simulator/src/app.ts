import { ApiError, controllerError, databaseFailure, paramError, undefinedOptions } from './api-error.js';
import { createGuid, Database, DuplicateKeyError, type Row } from './database.js';
import { formatDisplay } from './dates.js';
import { DEFAULT_LIST_CAP, deletedRowsError, matches, paginationLinks, readFields, readListRequest, sortRows } from './list.js';
import type { PhpArray } from './php-query.js';
import { RECORDED_CURRENT_USER, RECORDED_MODULES_META } from './recorded/templates.js';
import { recordName, renderAttributes, renderRecord, renderRelated, type RenderContext } from './render.js';
import { applyAttributes, checkAttributes, defaultsFor, stampRow } from './save.js';
import { buildSchema, type LinkDefinition, type ModuleDefinition } from './schema.js';
import { encodeForResponse } from './text.js';

/** Response of a V8 route: a JSON document, pretty-printed as SuiteCRM does. */
export interface ApiResult {
  status: number;
  document: unknown;
}

const EMPTY_RESULT = { meta: { message: 'Request was successful, but there is no result' }, data: [] };
// Symfony's non-strict UUID check, as CreateModuleDataParams applies it to `id`.
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

export interface AppOptions {
  clock: () => number;
  customFields?: Record<string, readonly string[]>;
}

/** SuiteCRM's V8 module, relationship and meta routes over an in-memory database. */
export class SuiteCrmApp implements RenderContext {
  readonly schema: Map<string, ModuleDefinition>;
  readonly db = new Database();
  readonly #options: AppOptions;

  constructor(options: AppOptions) {
    this.#options = options;
    this.schema = buildSchema(options.customFields);
  }

  now(): number {
    return this.#options.clock();
  }

  /** A module by module name, or by bean name as `"type": "Call"` is accepted too. */
  definition(name: string): ModuleDefinition | undefined {
    return this.schema.get(name) ?? [...this.schema.values()].find((definition) => definition.beanName === name);
  }

  #module(name: string, origin: 'params' | 'controller' = 'params'): ModuleDefinition {
    const definition = this.definition(name);
    if (definition === undefined) {
      throw new ApiError(`Module ${name} does not exist`, origin);
    }
    return definition;
  }

  #row(definition: ModuleDefinition, id: string, origin: 'params' | 'controller'): Row {
    const row = this.db.get(definition.module, id);
    if (row === undefined) {
      throw new ApiError(`${definition.module} module with id ${id} is not found`, origin);
    }
    return row;
  }

  list(moduleName: string, query: PhpArray): ApiResult {
    const definition = this.#module(moduleName);
    const request = readListRequest(definition, query);
    const all = this.db.rows(definition.module);

    if (request.deleted === '1') {
      const deletedRows = all.filter((row) => row.deleted && matches(row, request));
      const first = deletedRows[0];
      if (first !== undefined) {
        throw deletedRowsError(definition, first.id);
      }
      return { status: 200, document: EMPTY_RESULT };
    }

    const rows = sortRows(
      all.filter((row) => !row.deleted && matches(row, request)),
      request.sort,
    );
    const size = request.pageSize;
    const number = request.pageNumber ?? 0;
    const offset = size === undefined ? 0 : (Math.max(number, 1) - 1) * size;
    const page = rows.slice(offset, offset + (size ?? DEFAULT_LIST_CAP));
    if (page.length === 0) {
      return { status: 200, document: EMPTY_RESULT };
    }
    const data = page.map((row) => renderRecord(this, definition, row, request.fields === undefined ? {} : { fields: request.fields }));
    if (size === undefined) {
      return { status: 200, document: { data } };
    }
    const totalPages = Math.ceil(rows.length / size);
    return {
      status: 200,
      document: {
        meta: { 'total-pages': totalPages, 'records-on-this-page': data.length },
        data,
        links: paginationLinks(`V8/module/${definition.module}`, query, number, totalPages),
      },
    };
  }

  get(moduleName: string, id: string, query: PhpArray): ApiResult {
    const definition = this.#module(moduleName);
    const fields = readFields(definition, query);
    const row = this.#row(definition, id, 'controller');
    return { status: 200, document: { data: renderRecord(this, definition, row, fields === undefined ? {} : { fields }) } };
  }

  /**
   * POST module. `beforeInsert` runs between the "does this id exist" check and the insert, where
   * SuiteCRM spends most of a create's time, so two overlapping creates of one id race as they do
   * on the real database: the second insert fails on the primary key.
   */
  async create(body: unknown, userId: string, beforeInsert?: () => Promise<void>): Promise<ApiResult> {
    const data = this.#data(body);
    const definition = this.#module(String(data['type'] ?? ''));
    const id = data['id'];
    if (id !== undefined && (typeof id !== 'string' || !UUID.test(id))) {
      throw paramError(`The option "id" with value ${JSON.stringify(id)} is invalid.`);
    }
    const attributes = this.#attributes(data);
    checkAttributes(definition, attributes);
    if (typeof id === 'string' && this.db.get(definition.module, id, true) !== undefined) {
      throw controllerError(`Bean ${definition.module} with id ${id} is already exist`);
    }

    const values: Record<string, string | null> = defaultsFor(definition);
    const effects = applyAttributes(definition, values, attributes, { create: true });
    stampRow(values, userId, this.now(), true, attributes);
    await beforeInsert?.();
    let row: Row;
    try {
      row = this.db.insert(definition.module, typeof id === 'string' ? id : createGuid(), values);
    } catch (error) {
      if (error instanceof DuplicateKeyError) {
        throw databaseFailure();
      }
      throw error;
    }
    this.#sideEffects(definition, row, effects);
    return { status: 201, document: { data: renderRecord(this, definition, row, { mutation: 'create' }) } };
  }

  update(body: unknown, userId: string): ApiResult {
    const data = this.#data(body);
    const definition = this.#module(String(data['type'] ?? ''));
    const id = data['id'];
    if (id === undefined) {
      throw paramError('The required option "id" is missing.');
    }
    if (typeof id !== 'string' || !UUID.test(id)) {
      throw paramError(`The option "id" with value ${JSON.stringify(id)} is invalid.`);
    }
    const attributes = this.#attributes(data);
    checkAttributes(definition, attributes);
    const row = this.#row(definition, id, 'controller');
    const effects = applyAttributes(definition, row.values, attributes, { create: false });
    stampRow(row.values, userId, this.now(), false, attributes);
    this.#sideEffects(definition, row, effects);
    return { status: 201, document: { data: renderRecord(this, definition, row, { mutation: 'update' }) } };
  }

  delete(moduleName: string, id: string): ApiResult {
    const definition = this.#module(moduleName);
    const row = this.#row(definition, id, 'controller');
    this.db.markDeleted(definition.module, row.id);
    return { status: 200, document: { meta: { message: `Record with id ${row.id} is deleted` }, data: [] } };
  }

  /** POST relationships, by link name or (without one) the generic route. */
  relate(moduleName: string, id: string, linkName: string | undefined, body: unknown, userId: string): ApiResult {
    const definition = this.#module(moduleName);
    const data = this.#relationshipData(body);
    const relatedModule = String(data['type'] ?? '');
    const relatedId = String(data['id'] ?? '');
    let link = linkName;
    if (link !== undefined && definition.links[link] === undefined) {
      throw paramError(`Cannot load relationship ${link} for ${definition.beanName} module`);
    }
    const source = this.#row(definition, id, 'params');
    const relatedDefinition = this.#module(relatedModule);
    const related = this.#row(relatedDefinition, relatedId, 'params');
    if (link === undefined) {
      link = definition.genericLinks[relatedDefinition.module];
      if (link === undefined) {
        throw controllerError(`Link field has not found in ${definition.beanName} to determine relationship for ${relatedDefinition.beanName}`);
      }
    }
    const linkDefinition = definition.links[link] as LinkDefinition;
    this.#link(definition, source, link, linkDefinition, relatedDefinition, related);
    stampRow(source.values, userId, this.now(), false, {});

    if (linkName === undefined) {
      return {
        status: 201,
        document: { meta: { message: `${relatedDefinition.beanName} with id ${related.id} has been added to ${definition.beanName} with id ${source.id}` }, data: [] },
      };
    }
    return {
      status: 201,
      document: {
        meta: {
          message: `${relatedModule} record with id ${related.id} has been related to ${definition.module} record with id ${source.id} using link ${link}`,
          sourceModule: definition.module,
          sourceModuleLabel: definition.module,
          sourceId: source.id,
          relatedModule,
          relatedModuleLabel: relatedModule,
          relatedId: related.id,
          relationshipLink: link,
        },
        data: [],
      },
    };
  }

  unrelate(moduleName: string, id: string, linkName: string, relatedId: string): ApiResult {
    const definition = this.#module(moduleName);
    const link = definition.links[linkName];
    if (link === undefined) {
      throw paramError(`Cannot load relationship ${linkName} for ${definition.beanName} module`);
    }
    const source = this.#row(definition, id, 'params');
    const relatedBean = this.#relatedDefinition(link)?.beanName ?? 'Module';
    const removed = this.#unlink(definition, source, linkName, link, relatedId);
    if (!removed) {
      throw controllerError(`Module with ${relatedId} id is not related to ${definition.beanName}`);
    }
    return {
      status: 200,
      document: { meta: { message: `Relationship has been deleted between ${definition.beanName} with id ${source.id} and ${relatedBean} with id ${relatedId}` }, data: [] },
    };
  }

  related(moduleName: string, id: string, linkName: string, query: PhpArray): ApiResult {
    const definition = this.#module(moduleName);
    const unknownOptions = [...query.keys()].filter((key) => !['filter', 'page', 'sort'].includes(key));
    if (unknownOptions.length > 0) {
      throw undefinedOptions(unknownOptions, ['filter', 'id', 'linkFieldName', 'moduleName', 'page', 'sort', 'sourceBean']);
    }
    const link = definition.links[linkName];
    if (link === undefined) {
      throw paramError(`Cannot load relationship ${linkName} for ${definition.beanName} module`);
    }
    const source = this.#row(definition, id, 'params');
    const relatedDefinition = this.#relatedDefinition(link);
    const rows = relatedDefinition === undefined ? [] : this.#linkedRows(definition, source, linkName, link, relatedDefinition);
    if (rows.length === 0 || relatedDefinition === undefined) {
      return { status: 200, document: { meta: { message: `There is no relationship set in ${definition.beanName} module with ${linkName} link field` }, data: [] } };
    }
    const request = readListRequest(relatedDefinition, new Map([...query].filter(([key]) => key === 'page')));
    const size = request.pageSize;
    const number = request.pageNumber ?? 0;
    const offset = size === undefined ? 0 : (Math.max(number, 1) - 1) * size;
    const page = size === undefined ? rows : rows.slice(offset, offset + size);
    const totalPages = size === undefined ? 1 : Math.ceil(rows.length / size);
    const document: Record<string, unknown> = {
      meta: { 'total-records': rows.length, 'total-pages': totalPages, 'records-on-this-page': page.length },
      data: page.map((row) => renderRelated(this, relatedDefinition, row)),
    };
    if (size !== undefined) {
      document['links'] = paginationLinks(`V8/module/${definition.module}/${source.id}/relationships/${linkName}`, query, number, totalPages);
    }
    return { status: 200, document };
  }

  modulesMeta(): ApiResult {
    return { status: 200, document: { data: { type: 'modules', attributes: RECORDED_MODULES_META } } };
  }

  fieldsMeta(moduleName: string): ApiResult {
    const definition = this.definition(moduleName);
    if (definition === undefined) {
      throw controllerError('[SuiteCRM] [Not Allowed] The API user does not have access to this module.');
    }
    return { status: 200, document: { data: { type: 'fields', attributes: definition.fieldMeta } } };
  }

  currentUser(userId: string): ApiResult {
    const definition = this.#module('Users');
    const row = this.#row(definition, userId, 'controller');
    const attributes: Record<string, unknown> = {};
    const full = renderAttributes(this, { ...definition, hiddenFields: new Set() }, row);
    for (const [field, fallback] of RECORDED_CURRENT_USER) {
      if (field === 'id') {
        attributes[field] = row.id;
      } else if (field === 'date_entered' || field === 'date_modified') {
        attributes[field] = formatDisplay(row.values[field] ?? null);
      } else if (definition.hiddenFields.has(field) && ['user_name', 'is_admin', 'status'].includes(field)) {
        attributes[field] = encodeForResponse(row.values[field] ?? '');
      } else {
        attributes[field] = field in full ? full[field] : fallback;
      }
    }
    return { status: 200, document: { data: { type: 'User', id: row.id, attributes, relationships: {} } } };
  }

  #data(body: unknown): Record<string, unknown> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw paramError('The required option "data" is missing.');
    }
    const extra = Object.keys(body).filter((key) => key !== 'data').sort();
    if (extra.length > 0) {
      throw undefinedOptions(extra, ['data']);
    }
    const data = (body as { data?: unknown }).data;
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      throw paramError('The required option "data" is missing.');
    }
    return data as Record<string, unknown>;
  }

  #attributes(data: Record<string, unknown>): Record<string, unknown> {
    const attributes = data['attributes'];
    return typeof attributes === 'object' && attributes !== null && !Array.isArray(attributes) ? (attributes as Record<string, unknown>) : {};
  }

  #relationshipData(body: unknown): Record<string, unknown> {
    const raw = typeof body === 'object' && body !== null ? (body as { data?: unknown }).data : undefined;
    if (Array.isArray(raw)) {
      throw undefinedOptions(raw.map((_item, index) => String(index)), ['id', 'type']);
    }
    return this.#data(body);
  }

  #relatedDefinition(link: LinkDefinition): ModuleDefinition | undefined {
    switch (link.kind) {
      case 'table':
      case 'parent':
      case 'column':
      case 'other':
        return this.definition(link.relatedModule);
      case 'children':
        return this.definition(link.childModule);
      default:
        return undefined;
    }
  }

  #link(definition: ModuleDefinition, source: Row, linkName: string, link: LinkDefinition, relatedDefinition: ModuleDefinition, related: Row): void {
    switch (link.kind) {
      case 'table': {
        const extra: Record<string, string> = link.table === 'calls_users' ? { accept_status: 'none' } : {};
        const [left, right] = link.own === 'left' ? [source.id, related.id] : [related.id, source.id];
        this.db.relate(link.table, left, right, extra);
        return;
      }
      case 'parent':
        source.values['parent_type'] = relatedDefinition.module;
        source.values['parent_id'] = related.id;
        return;
      case 'children':
        related.values['parent_type'] = definition.module;
        related.values['parent_id'] = source.id;
        return;
      case 'column':
        if (link.ignoredOnSave !== true) {
          source.values[link.column] = related.id;
        }
        return;
      case 'other':
        this.db.relate(`${definition.module}_${linkName}`, source.id, related.id);
        return;
      default:
        return;
    }
  }

  #unlink(definition: ModuleDefinition, source: Row, linkName: string, link: LinkDefinition, relatedId: string): boolean {
    switch (link.kind) {
      case 'table': {
        const [left, right] = link.own === 'left' ? [source.id, relatedId] : [relatedId, source.id];
        return this.db.unrelate(link.table, left, right);
      }
      case 'parent':
        if (source.values['parent_id'] === relatedId) {
          source.values['parent_type'] = null;
          source.values['parent_id'] = null;
          return true;
        }
        return false;
      case 'children': {
        const child = this.db.get(link.childModule, relatedId);
        if (child?.values['parent_id'] === source.id) {
          child.values['parent_type'] = null;
          child.values['parent_id'] = null;
          return true;
        }
        return false;
      }
      case 'column':
        if (source.values[link.column] === relatedId) {
          source.values[link.column] = null;
          return true;
        }
        return false;
      case 'other':
        return this.db.unrelate(`${definition.module}_${linkName}`, source.id, relatedId);
      default:
        return false;
    }
  }

  #linkedRows(definition: ModuleDefinition, source: Row, linkName: string, link: LinkDefinition, relatedDefinition: ModuleDefinition): Row[] {
    let ids: string[];
    switch (link.kind) {
      case 'table':
        ids = this.db.relatedIds(link.table, link.own, source.id);
        break;
      case 'parent':
        ids = source.values['parent_type'] === relatedDefinition.module && source.values['parent_id'] ? [source.values['parent_id']] : [];
        break;
      case 'children':
        ids = this.db
          .rows(link.childModule)
          .filter((row) => !row.deleted && row.values['parent_type'] === definition.module && row.values['parent_id'] === source.id)
          .map((row) => row.id);
        break;
      case 'column':
        ids = source.values[link.column] ? [source.values[link.column] as string] : [];
        break;
      case 'other':
        ids = this.db.relatedIds(`${definition.module}_${linkName}`, 'left', source.id);
        break;
      default:
        ids = [];
    }
    return ids.map((relatedId) => this.db.get(relatedDefinition.module, relatedId)).filter((row): row is Row => row !== undefined);
  }

  #sideEffects(definition: ModuleDefinition, row: Row, effects: { accountId?: string }): void {
    if (definition.module === 'Contacts' && effects.accountId !== undefined && this.db.get('Accounts', effects.accountId) !== undefined) {
      for (const accountId of this.db.relatedIds('accounts_contacts', 'right', row.id)) {
        this.db.unrelate('accounts_contacts', accountId, row.id);
      }
      this.db.relate('accounts_contacts', effects.accountId, row.id);
    }
  }

  /** Name shown for a record, for seeds and tests. */
  nameOf(module: string, id: string): string {
    return recordName(this, module, id);
  }
}
