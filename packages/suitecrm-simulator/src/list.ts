import { controllerError, databaseFailure, paramError } from './api-error.js';
import type { Row } from './database.js';
import { cloneQuery, serializePhpQuery, type PhpArray, type PhpValue } from './php-query.js';
import { knownFields, type ModuleDefinition } from './schema.js';

const OPERATORS = new Set(['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'like']);
/** `list_max_entries_per_page` of a default config.php: the silent cap without page[size]. */
export const DEFAULT_LIST_CAP = 20;

interface Condition {
  field: string;
  operator: string;
  value: string;
}

export interface ListRequest {
  conditions: Condition[];
  joinWithOr: boolean;
  /** Value of filter[deleted][eq] when given. */
  deleted: string | undefined;
  fields: Set<string> | undefined;
  pageSize: number | undefined;
  pageNumber: number | undefined;
  sort: { field: string; descending: boolean } | undefined;
}

function isDigits(value: PhpValue | undefined): value is string {
  return typeof value === 'string' && /^\d+$/.test(value);
}

/** Reads `fields[Module]=a,b`, rejecting unknown fields as SuiteCRM does. */
export function readFields(definition: ModuleDefinition, query: PhpArray): Set<string> | undefined {
  const option = query.get('fields');
  if (!(option instanceof Map)) {
    return undefined;
  }
  const list = option.get(definition.module);
  if (typeof list !== 'string') {
    return undefined;
  }
  const known = knownFields(definition);
  const fields = list.split(',').map((field) => field.trim()).filter((field) => field !== '');
  for (const field of fields) {
    if (!known.has(field)) {
      throw paramError(`The following field in ${definition.beanName} module is not found: ${field}`);
    }
  }
  return new Set(fields);
}

function readPage(query: PhpArray): { size: number | undefined; number: number | undefined } {
  const page = query.get('page');
  if (page === undefined) {
    return { size: undefined, number: undefined };
  }
  if (!(page instanceof Map)) {
    throw paramError(`The option "page" with value "${page}" is invalid.`);
  }
  const size = page.get('size');
  const number = page.get('number');
  if ((size !== undefined && !isDigits(size)) || (number !== undefined && !isDigits(number))) {
    throw paramError('The option "page" with value array is invalid.');
  }
  if (size !== undefined && Number(size) < 1) {
    throw paramError(`The option "size" with value "${size}" is invalid.`);
  }
  if (number !== undefined && Number(number) < 1) {
    throw paramError(`The option "number" with value "${number}" is invalid.`);
  }
  return { size: size === undefined ? undefined : Number(size), number: number === undefined ? undefined : Number(number) };
}

function readSort(definition: ModuleDefinition, query: PhpArray): ListRequest['sort'] {
  const sort = query.get('sort');
  if (typeof sort !== 'string' || sort === '') {
    return undefined;
  }
  const descending = sort.startsWith('-');
  const field = descending ? sort.slice(1) : sort;
  if (!knownFields(definition).has(field)) {
    throw paramError(`Sort field ${field} in ${definition.beanName} module is not found`);
  }
  if (!definition.dbFields.has(field)) {
    throw databaseFailure();
  }
  return { field, descending };
}

function readFilter(definition: ModuleDefinition, query: PhpArray): Pick<ListRequest, 'conditions' | 'joinWithOr' | 'deleted'> {
  const filter = query.get('filter');
  const conditions: Condition[] = [];
  let joinWithOr = false;
  let deleted: string | undefined;
  if (!(filter instanceof Map)) {
    return { conditions, joinWithOr, deleted };
  }
  const known = knownFields(definition);
  let databaseProblem = false;
  for (const [field, expression] of filter) {
    if (field === 'operator' && typeof expression === 'string') {
      const operator = expression.toLowerCase();
      if (operator !== 'and' && operator !== 'or') {
        throw paramError(`Filter operator ${expression} is invalid`);
      }
      joinWithOr = operator === 'or';
      continue;
    }
    if (!known.has(field)) {
      throw paramError(`Filter field ${field} in ${definition.beanName} module is not found`);
    }
    if (!(expression instanceof Map)) {
      throw paramError(`Filter field ${field} must be an array`);
    }
    for (const [operator, value] of expression) {
      if (!OPERATORS.has(operator.toLowerCase())) {
        throw paramError(`Filter operator ${operator} is invalid`);
      }
      const text = typeof value === 'string' ? value : '';
      if (field === 'deleted') {
        deleted = text;
        continue;
      }
      if (!definition.dbFields.has(field)) {
        // SuiteCRM builds `contacts.account_name = ...` for a non-db field: the query fails.
        databaseProblem = true;
      }
      conditions.push({ field, operator: operator.toLowerCase(), value: text });
    }
  }
  if (databaseProblem) {
    throw databaseFailure();
  }
  return { conditions, joinWithOr, deleted };
}

export function readListRequest(definition: ModuleDefinition, query: PhpArray): ListRequest {
  const fields = readFields(definition, query);
  const page = readPage(query);
  const sort = readSort(definition, query);
  const filter = readFilter(definition, query);
  return { ...filter, fields, pageSize: page.size, pageNumber: page.number, sort };
}

function likeToRegExp(pattern: string): RegExp {
  let source = '';
  for (let index = 0; index < pattern.length; index += 1) {
    const char = pattern[index] ?? '';
    if (char === '\\' && index + 1 < pattern.length) {
      index += 1;
      source += (pattern[index] ?? '').replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    } else if (char === '%') {
      source += '[\\s\\S]*';
    } else if (char === '_') {
      source += '[\\s\\S]';
    } else {
      source += char.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${source}$`, 'i');
}

/** One SQL comparison under MariaDB's case-insensitive collation; NULL never matches. */
function compare(stored: string | null | undefined, operator: string, value: string): boolean {
  if (stored === null || stored === undefined) {
    return false;
  }
  const left = stored.toLowerCase();
  const right = value.toLowerCase();
  switch (operator) {
    case 'eq':
      return left === right;
    case 'neq':
      return left !== right;
    case 'gt':
      return left > right;
    case 'gte':
      return left >= right;
    case 'lt':
      return left < right;
    case 'lte':
      return left <= right;
    case 'like':
      return likeToRegExp(value).test(stored);
    default:
      return false;
  }
}

export function matches(row: Row, request: ListRequest): boolean {
  if (request.conditions.length === 0) {
    return true;
  }
  const results = request.conditions.map((condition) => compare(row.values[condition.field], condition.operator, condition.value));
  return request.joinWithOr ? results.some(Boolean) : results.every(Boolean);
}

/** Binary order of two ids, as InnoDB keeps its primary key (ids are lower-case hex). */
function byId(left: Row, right: Row): number {
  return left.id < right.id ? -1 : left.id > right.id ? 1 : 0;
}

/** Rows in SuiteCRM's order: the requested sort (NULLs first ascending), else by id as InnoDB returns them. */
export function sortRows(rows: Row[], sort: ListRequest['sort']): Row[] {
  const sorted = [...rows];
  if (sort === undefined) {
    return sorted.sort(byId);
  }
  const direction = sort.descending ? -1 : 1;
  return sorted.sort((left, right) => {
    const a = left.values[sort.field] ?? null;
    const b = right.values[sort.field] ?? null;
    if (a === b) {
      return byId(left, right);
    }
    if (a === null) {
      return -direction;
    }
    if (b === null) {
      return direction;
    }
    const lowerA = a.toLowerCase();
    const lowerB = b.toLowerCase();
    return lowerA < lowerB ? -direction : lowerA > lowerB ? direction : byId(left, right);
  });
}

/**
 * Pagination links as SuiteCRM writes them: relative, without `/Api`, not URL-encoded, with the
 * request's own parameters and `page[number]` set. A request without page[number] counts as page
 * 0, so its `next` is page 1, the page it already has.
 */
export function paginationLinks(path: string, query: PhpArray, number: number, totalPages: number): Record<string, string | null> {
  const link = (target: number) => {
    const copy = cloneQuery(query);
    const page = copy.get('page');
    if (page instanceof Map) {
      page.set('number', String(target));
    }
    return `${path}?${serializePhpQuery(copy)}`;
  };
  return {
    first: number > 1 ? link(1) : null,
    prev: number > 1 ? link(number - 1) : null,
    next: number < totalPages ? link(number + 1) : null,
    last: number < totalPages ? link(totalPages) : null,
  };
}

/** The 400 that `filter[deleted][eq]=1` ends in: the rows are found, then re-loaded as live records. */
export function deletedRowsError(definition: ModuleDefinition, firstId: string): Error {
  return controllerError(`${definition.module} module with id ${firstId} is not found`);
}
