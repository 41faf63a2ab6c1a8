import type { CallerMatch, CrmModule } from '@cti/contracts';

import type { SuiteCrmClient } from './client.js';
import { sameNumber, type NormalizedNumber, type PhoneOptions } from './phone.js';
import { attribute, type CrmRecord } from './records.js';

/** CRM modules searched for a caller, and their phone fields. */
export const PHONE_FIELDS: Record<CrmModule, readonly string[]> = {
  Contacts: ['phone_mobile', 'phone_work', 'phone_home', 'phone_other'],
  Accounts: ['phone_office', 'phone_alternate'],
  Leads: ['phone_mobile', 'phone_work', 'phone_home', 'phone_other'],
};

export const LOOKUP_MODULES: readonly CrmModule[] = ['Contacts', 'Accounts', 'Leads'];

const NAME_FIELDS: Record<CrmModule, readonly string[]> = {
  Contacts: ['first_name', 'last_name', 'account_name', 'account_id', 'date_modified'],
  Accounts: ['name', 'date_modified'],
  Leads: ['first_name', 'last_name', 'account_name', 'status', 'date_modified'],
};

/** Sparse fieldset that carries everything the phone index and the lookup need. */
export function lookupFields(module: CrmModule): string[] {
  return [...NAME_FIELDS[module], ...PHONE_FIELDS[module]];
}

/** Phone index entry of one CRM record. */
export interface PhoneRecord {
  module: CrmModule;
  id: string;
  name: string;
  accountId?: string;
  accountName?: string;
  /** Lead status: a converted lead ranks after the contact it became. */
  status?: string;
  /** ISO 8601, as SuiteCRM returns it (seconds zeroed). */
  dateModified?: string;
  phones: { field: string; value: string }[];
}

export function phoneRecordFrom(module: CrmModule, record: CrmRecord): PhoneRecord {
  const name =
    module === 'Accounts'
      ? attribute(record, 'name')
      : `${attribute(record, 'first_name')} ${attribute(record, 'last_name')}`.trim() || attribute(record, 'name');
  const accountId = module === 'Contacts' ? attribute(record, 'account_id') : module === 'Accounts' ? record.id : '';
  const accountName = module === 'Accounts' ? attribute(record, 'name') : attribute(record, 'account_name');
  const status = module === 'Leads' ? attribute(record, 'status') : '';
  const dateModified = attribute(record, 'date_modified');
  const phones = PHONE_FIELDS[module]
    .map((field) => ({ field, value: attribute(record, field).trim() }))
    .filter((phone) => phone.value !== '');
  return {
    module,
    id: record.id,
    name: name.slice(0, 256),
    ...(accountId === '' ? {} : { accountId }),
    ...(accountName === '' ? {} : { accountName: accountName.slice(0, 256) }),
    ...(status === '' ? {} : { status }),
    ...(dateModified === '' ? {} : { dateModified }),
    phones,
  };
}

export interface FieldMatch {
  field: string;
  /** Extension written after the stored number, e.g. `34` of `… x34`. */
  extension: string | undefined;
}

/** Phone fields of a record that hold the target number, whatever their formatting. */
export function matchFields(record: PhoneRecord, target: NormalizedNumber, options: PhoneOptions): FieldMatch[] {
  const matches: FieldMatch[] = [];
  for (const phone of record.phones) {
    const result = sameNumber(phone.value, target, options);
    if (result.match) {
      matches.push({ field: phone.field, extension: result.extension });
    }
  }
  return matches;
}

export interface RankedMatch {
  record: PhoneRecord;
  field: string;
  extension: string | undefined;
}

const MODULE_RANK: Record<CrmModule, number> = { Contacts: 0, Accounts: 1, Leads: 2 };

function sortKey(match: RankedMatch): [number, number, number, number] {
  const { record } = match;
  const converted = record.module === 'Leads' && record.status?.toLowerCase() === 'converted';
  return [
    // A stored number with an extension reaches a desk behind a switchboard, not this caller.
    match.extension === undefined ? 0 : 1,
    converted ? 3 : MODULE_RANK[record.module],
    PHONE_FIELDS[record.module].indexOf(match.field),
    -(record.dateModified === undefined ? 0 : Date.parse(record.dateModified) || 0),
  ];
}

function compare(left: RankedMatch, right: RankedMatch): number {
  const a = sortKey(left);
  const b = sortKey(right);
  for (let index = 0; index < a.length; index += 1) {
    const difference = (a[index] ?? 0) - (b[index] ?? 0);
    if (difference !== 0) {
      return difference;
    }
  }
  return left.record.name.localeCompare(right.record.name);
}

/**
 * Ranks the records that hold a number, best first, one entry per record. Exact numbers come
 * before numbers with an extension, then Contacts, Accounts, Leads (converted leads last), then
 * mobile before work before other fields, then the most recently changed record.
 */
export function rankMatches(candidates: readonly { record: PhoneRecord; matches: readonly FieldMatch[] }[]): RankedMatch[] {
  const best = new Map<string, RankedMatch>();
  for (const { record, matches } of candidates) {
    for (const match of matches) {
      const ranked: RankedMatch = { record, field: match.field, extension: match.extension };
      const key = `${record.module}:${record.id}`;
      const current = best.get(key);
      if (current === undefined || compare(ranked, current) < 0) {
        best.set(key, ranked);
      }
    }
  }
  return [...best.values()].sort(compare);
}

export function toCallerMatch(match: RankedMatch, recordUrl: (module: string, id: string) => string): CallerMatch {
  const { record } = match;
  return {
    module: record.module,
    id: record.id,
    name: record.name,
    field: match.field,
    ...(record.accountId === undefined ? {} : { accountId: record.accountId }),
    ...(record.accountName === undefined ? {} : { accountName: record.accountName }),
    url: recordUrl(record.module, record.id),
  };
}

/**
 * SQL LIKE pattern with `%` around every digit of the national number. It finds the number in
 * any formatting (`(555) 010-0002`, `+1 555 010 0002`, `555.010.0002`). It also finds strings
 * that merely contain those digits in order, so every hit is checked again.
 */
export function digitWildcardPattern(target: NormalizedNumber): string {
  return `%${target.nationalNumber.split('').join('%')}%`;
}

export interface LiveLookupOptions {
  phone: PhoneOptions;
  signal?: AbortSignal | undefined;
  /** Candidates per request, default 50. */
  pageSize?: number;
  /** Pages read per module at most, default 2: a number that many records hold is not a person. */
  maxPages?: number;
}

/**
 * Searches Contacts, Accounts and Leads in SuiteCRM for a number, whatever format it is stored
 * in. It sends one OR-filtered LIKE query per module and re-checks every hit on its digits.
 */
export async function liveLookup(
  client: SuiteCrmClient,
  target: NormalizedNumber,
  options: LiveLookupOptions,
): Promise<{ matches: RankedMatch[]; records: PhoneRecord[] }> {
  const pattern = digitWildcardPattern(target);
  const pageSize = options.pageSize ?? 50;
  const maxPages = options.maxPages ?? 2;

  // When one module's query fails the lookup fails: the other queries are cancelled rather than
  // left retrying against a CRM that is failing.
  const cancel = new AbortController();
  const signal = options.signal === undefined ? cancel.signal : AbortSignal.any([options.signal, cancel.signal]);
  const perModule = await Promise.all(
    LOOKUP_MODULES.map(async (module) => {
      const filter = Object.fromEntries(PHONE_FIELDS[module].map((field) => [field, { like: pattern }]));
      const records: PhoneRecord[] = [];
      let pages = 0;
      try {
        for await (const page of client.listPages(module, { filter, operator: 'or', fields: lookupFields(module), pageSize }, signal)) {
          records.push(...page.map((record) => phoneRecordFrom(module, record)));
          pages += 1;
          if (pages >= maxPages) {
            break;
          }
        }
      } catch (error) {
        cancel.abort();
        throw error;
      }
      return records;
    }),
  );

  const records = perModule.flat();
  const candidates = records
    .map((record) => ({ record, matches: matchFields(record, target, options.phone) }))
    .filter((candidate) => candidate.matches.length > 0);
  return { matches: rankMatches(candidates), records: candidates.map((candidate) => candidate.record) };
}
