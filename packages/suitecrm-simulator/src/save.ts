import { controllerError, paramError } from './api-error.js';
import { dropSeconds, formatDb, parseDbLenient, parseIncomingDate, ZERO_DATE } from './dates.js';
import type { Row } from './database.js';
import { knownFields, type ModuleDefinition } from './schema.js';
import { cleanHtml, cutBytes, cutChars, toUtf8mb3 } from './text.js';

const TEXT_MAX_BYTES = 65_535;
const VARCHAR_DEFAULT_CHARS = 255;

/** Attributes that are accepted on save but not stored in the module's table. */
export interface SideEffects {
  /** Contacts: `account_id` links the contact to the account. */
  accountId?: string;
}

/** Checks attribute names before anything is saved, as SuiteCRM's parameter validation does. */
export function checkAttributes(definition: ModuleDefinition, attributes: Record<string, unknown>): void {
  const known = knownFields(definition);
  for (const name of Object.keys(attributes)) {
    if (!known.has(name)) {
      throw paramError(`Property ${name} in ${definition.beanName} module is invalid`);
    }
  }
  for (const field of definition.dateTimeFields) {
    const value = attributes[field];
    if (value !== undefined && typeof value !== 'string') {
      throw controllerError(`Date should be a string, ${typeof value === 'number' && Number.isInteger(value) ? 'integer' : typeof value} given.`);
    }
  }
}

function storedText(definition: ModuleDefinition, field: string, value: unknown): string | null {
  if (value === null || value === undefined) {
    return null;
  }
  let text = String(value);
  if (typeof value === 'boolean') {
    text = value ? '1' : '0';
  }
  const cleaned = toUtf8mb3(cleanHtml(text));
  if (definition.textFields.has(field)) {
    return cutBytes(cleaned, TEXT_MAX_BYTES);
  }
  return cutChars(cleaned, definition.maxChars[field] ?? VARCHAR_DEFAULT_CHARS);
}

function durationMinutes(values: Record<string, string | null>): number {
  const hours = Number.parseInt(values['duration_hours'] ?? '0', 10) || 0;
  const minutes = Number.parseInt(values['duration_minutes'] ?? '0', 10) || 0;
  return hours * 60 + minutes;
}

/**
 * Writes attributes into a row the way SuiteCRM's save does: HTML cleaning, utf8mb3, length
 * limits, and the date rules of Calls (date_start only in `Y-m-d H:i:s`, date_end computed from
 * it on create and when a PATCH sends it, seconds dropped by every PATCH).
 */
export function applyAttributes(
  definition: ModuleDefinition,
  values: Record<string, string | null>,
  attributes: Record<string, unknown>,
  options: { create: boolean },
): SideEffects {
  const effects: SideEffects = {};
  let dateStart: ReturnType<typeof parseIncomingDate> | undefined;

  for (const [field, value] of Object.entries(attributes)) {
    if (definition.module === 'Contacts' && field === 'account_id' && typeof value === 'string' && value !== '') {
      effects.accountId = value;
      continue;
    }
    if (!definition.dbFields.has(field) || field === 'id' || field === 'deleted') {
      continue;
    }
    if (definition.dateTimeFields.has(field)) {
      const parsed = parseIncomingDate(String(value));
      if (field === 'date_start') {
        dateStart = parsed;
      }
      if (parsed.kind === 'db' || parsed.kind === 'user') {
        values[field] = parsed.value;
      } else if (parsed.kind === 'invalid-calendar') {
        values[field] = ZERO_DATE;
      } else {
        values[field] = null;
      }
      continue;
    }
    values[field] = storedText(definition, field, value);
  }

  if (definition.module === 'Calls') {
    if (dateStart !== undefined) {
      if (dateStart.kind === 'db') {
        const start = parseDbLenient(dateStart.value) ?? 0;
        values['date_end'] = formatDb(start + durationMinutes(values) * 60_000);
      } else if (dateStart.kind === 'invalid-calendar') {
        values['date_end'] = formatDb(dateStart.overflowMs + durationMinutes(values) * 60_000);
      } else if (options.create) {
        values['date_end'] = null;
      }
    }
    if (!options.create) {
      // On update the bean is loaded in the user's display format, which has no seconds.
      values['date_start'] = dropSeconds(values['date_start'] ?? null);
      values['date_end'] = dropSeconds(values['date_end'] ?? null);
    }
  }
  return effects;
}

/** Columns every saved row gets: who changed it and when, unless the request set them itself. */
export function stampRow(values: Record<string, string | null>, userId: string, now: number, create: boolean, attributes: Record<string, unknown>): void {
  const stamp = formatDb(now);
  if (create && typeof attributes['date_entered'] !== 'string') {
    values['date_entered'] = stamp;
  }
  if (create && typeof attributes['created_by'] !== 'string') {
    values['created_by'] = userId;
  }
  if (typeof attributes['date_modified'] !== 'string') {
    values['date_modified'] = stamp;
  }
  if (typeof attributes['modified_user_id'] !== 'string') {
    values['modified_user_id'] = userId;
  }
}

export function defaultsFor(definition: ModuleDefinition): Record<string, string | null> {
  if (definition.module === 'Calls') {
    return { name: '', status: 'Planned', duration_hours: '0', duration_minutes: '0', reminder_time: '-1', email_reminder_time: '-1', email_reminder_sent: '0', repeat_interval: '1' };
  }
  if (definition.module === 'Users') {
    return { status: 'Active', employee_status: 'Active', is_admin: '0', receive_notifications: '1', portal_only: '0', show_on_employees: '1', is_group: '0' };
  }
  if (definition.module === 'Contacts' || definition.module === 'Leads') {
    return { do_not_call: '0', ...(definition.module === 'Leads' ? { converted: '0' } : { portal_user_type: 'Single' }) };
  }
  return {};
}

export type { Row };
