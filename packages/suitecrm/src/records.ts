import { SuiteCrmError, SuiteCrmErrorCode } from './errors.js';
import { decodeHtmlEntities } from './text.js';

/** One record as the V8 API returns it, with every string attribute HTML-decoded. */
export interface CrmRecord {
  /** SuiteCRM's bean name, singular (`Contact`, `Call`), not the module name. */
  type: string;
  id: string;
  attributes: Record<string, unknown>;
}

export interface ListResult {
  records: CrmRecord[];
  /** Present when the request carried `page[size]` and something was found. */
  totalPages: number | undefined;
}

export type FilterOperator = 'eq' | 'neq' | 'gt' | 'gte' | 'lt' | 'lte' | 'like';

export interface ListParams {
  /** `filter[field][op]=value`. SuiteCRM supports only these seven operators. */
  filter?: Record<string, Partial<Record<FilterOperator, string>>>;
  /** Joins every field condition; SuiteCRM cannot mix AND and OR groups. */
  operator?: 'and' | 'or';
  /** Sparse fieldset; SuiteCRM returns them in its own field order. */
  fields?: readonly string[];
  /**
   * Always sent: without `page[size]` SuiteCRM silently caps a list at 20 records and gives no
   * sign of the rest.
   */
  pageSize: number;
  /** 1-based. */
  pageNumber?: number;
  /** Field name, `-field` for descending. */
  sort?: string;
}

/** Reads a string attribute, `''` when it is missing or not a string. */
export function attribute(record: CrmRecord, name: string): string {
  const value = record.attributes[name];
  return typeof value === 'string' ? value : '';
}

function decodeAttributes(attributes: unknown): Record<string, unknown> {
  if (typeof attributes !== 'object' || attributes === null) {
    return {};
  }
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(attributes)) {
    result[key] = typeof value === 'string' ? decodeHtmlEntities(value) : value;
  }
  return result;
}

function invalid(what: string): SuiteCrmError {
  return new SuiteCrmError(SuiteCrmErrorCode.RESPONSE_INVALID, `SuiteCRM response is not a V8 document: ${what}`, { retryable: true });
}

export function readRecord(value: unknown): CrmRecord {
  if (typeof value !== 'object' || value === null) {
    throw invalid('record is not an object');
  }
  const record = value as Record<string, unknown>;
  if (typeof record['id'] !== 'string' || typeof record['type'] !== 'string') {
    throw invalid('record has no id or type');
  }
  return { type: record['type'], id: record['id'], attributes: decodeAttributes(record['attributes']) };
}

/** Reads `{"data": {...}}` of a single-record response. */
export function readSingle(document: unknown): CrmRecord {
  const data = (document as { data?: unknown } | null)?.data;
  return readRecord(data);
}

/** Reads `{"data": [...], "meta": {...}}` of a list response. */
export function readList(document: unknown): ListResult {
  if (typeof document !== 'object' || document === null) {
    throw invalid('list is not an object');
  }
  const { data, meta } = document as { data?: unknown; meta?: Record<string, unknown> };
  if (!Array.isArray(data)) {
    throw invalid('list has no data array');
  }
  const totalPages = meta?.['total-pages'];
  return { records: data.map(readRecord), totalPages: typeof totalPages === 'number' ? totalPages : undefined };
}

// Brackets stay literal, as SuiteCRM's own links write them. Values are percent-encoded: a `+`
// travels as %2B, because PHP reads a literal `+` as a space, and a `%` wildcard as %25.
function pair(key: string, value: string): string {
  return `${key}=${encodeURIComponent(value)}`;
}

/** Builds the query string of a list request. */
export function listQuery(module: string, params: ListParams): string {
  const parts: string[] = [];
  if (params.operator === 'or') {
    parts.push(pair('filter[operator]', 'or'));
  }
  for (const [field, conditions] of Object.entries(params.filter ?? {})) {
    for (const [operator, value] of Object.entries(conditions)) {
      if (value !== undefined) {
        parts.push(pair(`filter[${field}][${operator}]`, value));
      }
    }
  }
  if (params.fields !== undefined && params.fields.length > 0) {
    parts.push(pair(`fields[${module}]`, params.fields.join(',')));
  }
  parts.push(pair('page[size]', String(params.pageSize)));
  if (params.pageNumber !== undefined) {
    parts.push(pair('page[number]', String(params.pageNumber)));
  }
  if (params.sort !== undefined) {
    parts.push(pair('sort', params.sort));
  }
  return parts.join('&');
}
