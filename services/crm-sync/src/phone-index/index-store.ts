import { Buckets, type CrmModule } from '@cti/contracts';
import type { Logger } from '@cti/logging';
import { looseDigits, matchFields, normalizePhoneNumber, rankMatches, type NormalizedNumber, type PhoneOptions, type PhoneRecord, type RankedMatch } from '@cti/suitecrm';
import type { JetStreamClient } from '@nats-io/jetstream';
import { Kvm, type KV, type KvEntry, type KvWatchEntry } from '@nats-io/kv';
import type { QueuedIterator } from '@nats-io/nats-core';

import { keyToken } from '../ids.js';

/** Progress of the syncs, stored in the bucket so every replica and a restart know it. */
export interface SyncState {
  /** When the last complete full sync finished (ISO 8601). */
  fullSyncAt?: string;
  /** Latest `date_modified` seen per module (ISO 8601, as SuiteCRM returns it). */
  highWater: Partial<Record<CrmModule, string>>;
}

/** Index keys whose records changed: E.164 digits, or `n` and the digits of an unparsed number. */
export interface IndexChange {
  numbers: Set<string>;
}

export const SYNC_STATE_KEY = 'meta.sync';
const RECORD_PREFIX = 'r.';
const LOOSE_PREFIX = 'n';
const MIN_LOOSE_DIGITS = 6;

const encoder = new TextEncoder();

export function recordKey(module: string, id: string): string {
  return `${RECORD_PREFIX}${module}.${keyToken(id)}`;
}

/**
 * The phone index: every phone field of every Contact, Account and Lead, normalised, in a
 * JetStream KV bucket shared by all replicas, one entry per record. Each replica mirrors the
 * bucket in memory through a watch, so a lookup is a map access and never waits on the CRM or
 * on NATS; an update written by any replica reaches all of them.
 */
export class PhoneIndex {
  readonly kv: KV;
  readonly #phone: PhoneOptions;
  readonly #logger: Logger;
  // Records are kept as their JSON text: a third of the memory of parsed objects, and parsing the
  // one or two candidates of a lookup takes microseconds.
  readonly #records = new Map<string, string>();
  readonly #numbers = new Map<string, string[]>();
  readonly #listeners: ((change: IndexChange) => void)[] = [];
  #syncState: SyncState | undefined;
  #loaded = false;
  #watch: QueuedIterator<KvWatchEntry> | undefined;

  private constructor(kv: KV, phone: PhoneOptions, logger: Logger) {
    this.kv = kv;
    this.#phone = phone;
    this.#logger = logger;
  }

  /** Opens (or creates) the bucket and waits until the mirror contains its current content. */
  static async open(options: { js: JetStreamClient; phone: PhoneOptions; logger: Logger; replicas?: number; loadTimeoutMs?: number }): Promise<PhoneIndex> {
    const spec = Buckets.CRM_PHONE_INDEX;
    const kv = await new Kvm(options.js).create(spec.name, {
      history: 1,
      max_bytes: spec.maxBytes,
      description: spec.description,
      replicas: options.replicas ?? 1,
    });
    const index = new PhoneIndex(kv, options.phone, options.logger);
    await index.#startWatch(options.loadTimeoutMs ?? 30_000);
    return index;
  }

  /** True once the mirror is loaded and a full sync has completed at least once. */
  get complete(): boolean {
    return this.#loaded && this.#syncState?.fullSyncAt !== undefined;
  }

  get syncState(): SyncState | undefined {
    return this.#syncState;
  }

  get size(): { records: number; numbers: number } {
    return { records: this.#records.size, numbers: this.#numbers.size };
  }

  onChange(listener: (change: IndexChange) => void): void {
    this.#listeners.push(listener);
  }

  /** Records that hold the number, ranked best first; re-checked on normalised digits. */
  lookup(target: NormalizedNumber): RankedMatch[] {
    const keys = new Set([...(this.#numbers.get(target.digits) ?? []), ...(this.#numbers.get(`${LOOSE_PREFIX}${target.nationalNumber}`) ?? [])]);
    if (keys.size === 0) {
      return [];
    }
    const candidates = [];
    for (const key of keys) {
      const text = this.#records.get(key);
      if (text !== undefined) {
        const record = JSON.parse(text) as PhoneRecord;
        candidates.push({ record, matches: matchFields(record, target, this.#phone) });
      }
    }
    return rankMatches(candidates.filter((candidate) => candidate.matches.length > 0));
  }

  record(module: string, id: string): PhoneRecord | undefined {
    const text = this.#records.get(recordKey(module, id));
    return text === undefined ? undefined : (JSON.parse(text) as PhoneRecord);
  }

  /** Ids of the indexed records of a module. */
  ids(module: CrmModule): string[] {
    const prefix = `${RECORD_PREFIX}${module}.`;
    return [...this.#records.entries()].filter(([key]) => key.startsWith(prefix)).map(([, text]) => (JSON.parse(text) as PhoneRecord).id);
  }

  /**
   * Writes a record unless the index already contains exactly it. A record without phone numbers
   * is removed instead. Returns true when the bucket changed.
   */
  async put(record: PhoneRecord): Promise<boolean> {
    const key = recordKey(record.module, record.id);
    if (record.phones.length === 0) {
      return this.remove(record.module, record.id);
    }
    const json = JSON.stringify(record);
    if (this.#records.get(key) === json) {
      return false;
    }
    await this.kv.put(key, encoder.encode(json));
    return true;
  }

  async remove(module: string, id: string): Promise<boolean> {
    const key = recordKey(module, id);
    if (!this.#records.has(key)) {
      return false;
    }
    await this.kv.delete(key);
    return true;
  }

  async writeSyncState(state: SyncState): Promise<void> {
    await this.kv.put(SYNC_STATE_KEY, encoder.encode(JSON.stringify(state)));
    this.#syncState = state;
  }

  async close(): Promise<void> {
    this.#watch?.stop();
  }

  async #startWatch(loadTimeoutMs: number): Promise<void> {
    const status = await this.kv.status();
    let resolveLoaded: () => void = () => undefined;
    const loaded = new Promise<void>((resolve) => {
      resolveLoaded = resolve;
    });
    if (status.values === 0) {
      this.#loaded = true;
      resolveLoaded();
    }
    const watch = await this.kv.watch({ key: '>' });
    this.#watch = watch;
    void (async () => {
      for await (const entry of watch) {
        this.#apply(entry);
        if (!this.#loaded && (entry.delta ?? 0) === 0) {
          this.#loaded = true;
          resolveLoaded();
        }
      }
    })().catch((error: unknown) => this.#logger.error({ err: error }, 'phone index watch failed'));

    const timer = setTimeout(resolveLoaded, loadTimeoutMs);
    await loaded;
    clearTimeout(timer);
    if (!this.#loaded) {
      this.#logger.warn({ timeoutMs: loadTimeoutMs }, 'phone index not fully loaded in time, lookups fall back to SuiteCRM meanwhile');
    }
    this.#logger.info({ records: this.#records.size, numbers: this.#numbers.size }, 'phone index loaded');
  }

  #apply(entry: KvEntry): void {
    if (entry.key === SYNC_STATE_KEY) {
      if (entry.operation === 'PUT') {
        this.#syncState = entry.json<SyncState>();
      }
      return;
    }
    if (!entry.key.startsWith(RECORD_PREFIX)) {
      return;
    }
    const change: IndexChange = { numbers: new Set() };
    const previous = this.#records.get(entry.key);
    if (previous !== undefined) {
      this.#unlink(entry.key, JSON.parse(previous) as PhoneRecord, change);
      this.#records.delete(entry.key);
    }
    if (entry.operation === 'PUT') {
      const text = entry.string();
      let record: PhoneRecord;
      try {
        record = JSON.parse(text) as PhoneRecord;
      } catch (error) {
        this.#logger.warn({ err: error, key: entry.key }, 'phone index entry is not JSON, skipped');
        return;
      }
      this.#records.set(entry.key, text);
      this.#link(entry.key, record, change);
    }
    for (const listener of this.#listeners) {
      listener(change);
    }
  }

  /** Index keys of one stored phone value: its E.164 digits, or its loose digits. */
  #numberKey(value: string): string | undefined {
    const normalized = normalizePhoneNumber(value, this.#phone);
    if (normalized !== undefined) {
      return normalized.digits;
    }
    const loose = looseDigits(value);
    return loose.length >= MIN_LOOSE_DIGITS ? `${LOOSE_PREFIX}${loose}` : undefined;
  }

  #link(key: string, record: PhoneRecord, change: IndexChange): void {
    for (const phone of record.phones) {
      const number = this.#numberKey(phone.value);
      if (number === undefined) {
        continue;
      }
      const holders = this.#numbers.get(number);
      if (holders === undefined) {
        this.#numbers.set(number, [key]);
      } else if (!holders.includes(key)) {
        holders.push(key);
      }
      change.numbers.add(number);
    }
  }

  #unlink(key: string, record: PhoneRecord, change: IndexChange): void {
    for (const phone of record.phones) {
      const number = this.#numberKey(phone.value);
      if (number === undefined) {
        continue;
      }
      const holders = this.#numbers.get(number)?.filter((holder) => holder !== key) ?? [];
      if (holders.length === 0) {
        this.#numbers.delete(number);
      } else {
        this.#numbers.set(number, holders);
      }
      change.numbers.add(number);
    }
  }
}
