const DB_FORMAT = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;
// The API user's display format in the recordings: m/d/Y H:i.
const USER_FORMAT = /^(\d{2})\/(\d{2})\/(\d{4}) (\d{2}):(\d{2})$/;

export const ZERO_DATE = '0000-00-00 00:00:00';

function pad(value: number, width = 2): string {
  return String(value).padStart(width, '0');
}

export function formatDb(ms: number): string {
  const date = new Date(ms);
  return (
    `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`
  );
}

/** A database datetime as the V8 API shows it: ISO 8601 with the seconds zeroed. */
export function formatApi(db: string | null): string {
  if (db === null || db === ZERO_DATE) {
    return '';
  }
  const match = DB_FORMAT.exec(db);
  if (match === null) {
    return '';
  }
  return `${match[1]}-${match[2]}-${match[3]}T${match[4]}:${match[5]}:00+00:00`;
}

/** A database datetime in the user's display format, as /current-user shows it. */
export function formatDisplay(db: string | null): string {
  const match = db === null ? null : DB_FORMAT.exec(db);
  return match === null ? '' : `${match[2]}/${match[3]}/${match[1]} ${match[4]}:${match[5]}`;
}

export function dropSeconds(db: string | null): string | null {
  return db === null || db === ZERO_DATE ? db : db.replace(/:\d{2}$/, ':00');
}

/** Milliseconds of a database datetime, with calendar overflow carried as PHP does. */
export function parseDbLenient(db: string): number | undefined {
  const match = DB_FORMAT.exec(db);
  if (match === null) {
    return undefined;
  }
  const [, year, month, day, hour, minute, second] = match.map(Number) as number[];
  return Date.UTC(year ?? 0, (month ?? 1) - 1, day, hour, minute, second);
}

export type ParsedDate =
  /** Stored as sent; date_end can be computed from it. */
  | { kind: 'db'; value: string }
  /** Well shaped but impossible: stored as 0000-00-00 00:00:00, date_end from the overflowed value. */
  | { kind: 'invalid-calendar'; overflowMs: number }
  /** The user's display format: converted, but date_end is not computed. */
  | { kind: 'user'; value: string }
  /** Anything else, ISO 8601 included: stored as NULL. */
  | { kind: 'null' };

/** How SuiteCRM 7.14 reads a `date_start` sent to the V8 API (see the 04-create-call-date-* recordings). */
export function parseIncomingDate(text: string): ParsedDate {
  const db = DB_FORMAT.exec(text);
  if (db !== null) {
    const overflowMs = parseDbLenient(text) ?? 0;
    return formatDb(overflowMs) === text ? { kind: 'db', value: text } : { kind: 'invalid-calendar', overflowMs };
  }
  const user = USER_FORMAT.exec(text);
  if (user !== null) {
    return { kind: 'user', value: `${user[3]}-${user[1]}-${user[2]} ${user[4]}:${user[5]}:00` };
  }
  return { kind: 'null' };
}
