/**
 * SuiteCRM's V8 API stores `date_start` only when it is sent as `Y-m-d H:i:s` in UTC: every ISO
 * 8601 form returns 201 and stores NULL. Responses show ISO 8601 with the seconds zeroed.
 */

function pad(value: number, width = 2): string {
  return String(value).padStart(width, '0');
}

/** Formats a time as SuiteCRM's database format, `Y-m-d H:i:s` in UTC. */
export function toSuiteCrmDateTime(value: Date | number | string): string {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) {
    throw new RangeError('invalid date for SuiteCRM');
  }
  return (
    `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`
  );
}

const DB_FORMAT = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;

/**
 * Reads a date as SuiteCRM returns it: ISO 8601 with an offset from the V8 routes, or the
 * database format. Returns undefined for empty or unreadable values.
 */
export function parseSuiteCrmDateTime(value: string | undefined): Date | undefined {
  if (value === undefined || value.trim() === '') {
    return undefined;
  }
  const db = DB_FORMAT.exec(value.trim());
  if (db !== null) {
    const [, year, month, day, hour, minute, second] = db.map(Number) as number[];
    return new Date(Date.UTC(year ?? 0, (month ?? 1) - 1, day, hour, minute, second));
  }
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? undefined : new Date(parsed);
}
