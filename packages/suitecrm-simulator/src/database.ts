import { randomBytes } from 'node:crypto';

/** One row of a module table. Values are what the database column holds; null is SQL NULL. */
export interface Row {
  id: string;
  deleted: boolean;
  values: Record<string, string | null>;
  /** Insertion counter, for a stable order among equal sort keys. */
  sequence: number;
}

/** One row of a relationship table such as calls_contacts (`left` is the first module). */
export interface RelationRow {
  left: string;
  right: string;
  deleted: boolean;
  extra: Record<string, string>;
}

/**
 * SuiteCRM's create_guid(): 36 characters in the 8-4-4-4-12 layout, random hex, as the ids in
 * the recordings look (`c3c2da96-f7da-cfe7-78a9-6b1314bc53e3`).
 */
export function createGuid(): string {
  const hex = randomBytes(16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** The simulator's database: module tables and relationship tables, in memory. */
export class Database {
  readonly #tables = new Map<string, Map<string, Row>>();
  readonly #relations = new Map<string, RelationRow[]>();
  #sequence = 0;

  table(module: string): Map<string, Row> {
    let table = this.#tables.get(module);
    if (table === undefined) {
      table = new Map();
      this.#tables.set(module, table);
    }
    return table;
  }

  /** Inserts a row; a second insert with the same id fails like a duplicate primary key. */
  insert(module: string, id: string, values: Record<string, string | null>): Row {
    const table = this.table(module);
    if (table.has(id)) {
      throw new DuplicateKeyError(module, id);
    }
    this.#sequence += 1;
    const row: Row = { id, deleted: false, values: { ...values, id, deleted: '0' }, sequence: this.#sequence };
    table.set(id, row);
    return row;
  }

  /** A live row, or with `includeDeleted` also a soft-deleted one. */
  get(module: string, id: string, includeDeleted = false): Row | undefined {
    const row = this.#tables.get(module)?.get(id);
    if (row === undefined || (row.deleted && !includeDeleted)) {
      return undefined;
    }
    return row;
  }

  rows(module: string): Row[] {
    return [...this.table(module).values()];
  }

  markDeleted(module: string, id: string): void {
    const row = this.get(module, id);
    if (row !== undefined) {
      row.deleted = true;
      row.values['deleted'] = '1';
    }
  }

  /** Adds a relationship row, or revives a deleted one; a live duplicate is left alone. */
  relate(table: string, left: string, right: string, extra: Record<string, string> = {}): void {
    const rows = this.#relationTable(table);
    const existing = rows.find((row) => row.left === left && row.right === right);
    if (existing !== undefined) {
      existing.deleted = false;
      return;
    }
    rows.push({ left, right, deleted: false, extra });
  }

  /** Marks a relationship row deleted; returns false when there was no live row. */
  unrelate(table: string, left: string, right: string): boolean {
    const row = this.#relationTable(table).find((candidate) => candidate.left === left && candidate.right === right && !candidate.deleted);
    if (row === undefined) {
      return false;
    }
    row.deleted = true;
    return true;
  }

  /** Ids on the other side of live relationship rows. */
  relatedIds(table: string, own: 'left' | 'right', id: string): string[] {
    return this.#relationTable(table)
      .filter((row) => !row.deleted && (own === 'left' ? row.left === id : row.right === id))
      .map((row) => (own === 'left' ? row.right : row.left));
  }

  /** Every row of a relationship table, deleted ones included, for assertions in tests. */
  relationRows(table: string): readonly RelationRow[] {
    return this.#relationTable(table);
  }

  #relationTable(table: string): RelationRow[] {
    let rows = this.#relations.get(table);
    if (rows === undefined) {
      rows = [];
      this.#relations.set(table, rows);
    }
    return rows;
  }
}

export class DuplicateKeyError extends Error {
  constructor(module: string, id: string) {
    super(`duplicate entry ${id} for key PRIMARY in ${module}`);
    this.name = 'DuplicateKeyError';
  }
}
