import type { CrmModule } from '@cti/contracts';
import type { Logger } from '@cti/logging';
import { LOOKUP_MODULES, lookupFields, parseSuiteCrmDateTime, phoneRecordFrom, toSuiteCrmDateTime, type SuiteCrmClient } from '@cti/suitecrm';

import type { CrmSyncMetrics } from '../metrics.js';
import type { PhoneIndex, SyncState } from './index-store.js';

const LEASE_KEY = 'lease.sync';
// SuiteCRM shows date_modified with the seconds zeroed, and app servers' clocks drift: each
// incremental sync reads again what changed in the minute before the last change it saw.
const OVERLAP_MS = 60_000;
// Puts in flight at once while writing a page of records.
const WRITE_BATCH = 50;

interface Lease {
  owner: string;
  until: number;
}

export interface IndexSyncOptions {
  client: SuiteCrmClient;
  index: PhoneIndex;
  logger: Logger;
  metrics?: CrmSyncMetrics | undefined;
  clock: () => number;
  pageSize: number;
  incrementalIntervalMs: number;
  fullIntervalMs: number;
  /** Name of this replica in the sync lease. */
  instanceId: string;
}

const encoder = new TextEncoder();

/**
 * Keeps the phone index in step with SuiteCRM. A full sync reads every Contact, Account and
 * Lead by keyset pagination on `id`, so pages cannot shift while records change, and drops
 * indexed records SuiteCRM no longer returns. Between full syncs, an incremental sync reads what
 * changed since the last `date_modified` seen. SuiteCRM never lists deleted records, so
 * deletions only reach the index with the next full sync. One replica at a time syncs, holding
 * a lease in the bucket; the others receive the result through their watch.
 */
export class IndexSync {
  readonly #options: IndexSyncOptions;
  readonly #leaseMs: number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;
  #stopped = false;

  constructor(options: IndexSyncOptions) {
    this.#options = options;
    this.#leaseMs = Math.max(3 * options.incrementalIntervalMs, 30_000);
  }

  /** Syncs now, then every incremental interval. */
  start(): void {
    this.#stopped = false;
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running?.catch(() => undefined);
    await this.#releaseLease().catch(() => undefined);
  }

  #schedule(delayMs: number): void {
    this.#timer = setTimeout(() => {
      this.#running = this.runOnce()
        .catch((error: unknown) => this.#options.logger.warn({ err: error }, 'phone index sync failed, next try at the next interval'))
        .finally(() => {
          if (!this.#stopped) {
            this.#schedule(this.#options.incrementalIntervalMs);
          }
        });
    }, delayMs);
  }

  /** One sync step: full when due, else incremental; nothing when another replica holds the lease. */
  async runOnce(): Promise<'full' | 'incremental' | 'skipped'> {
    if (!(await this.#acquireLease())) {
      return 'skipped';
    }
    const state = this.#options.index.syncState;
    const fullAt = state?.fullSyncAt === undefined ? undefined : Date.parse(state.fullSyncAt);
    if (fullAt === undefined || this.#options.clock() - fullAt >= this.#options.fullIntervalMs) {
      await this.#measured('full', () => this.fullSync());
      return 'full';
    }
    await this.#measured('incremental', () => this.incrementalSync());
    return 'incremental';
  }

  async #measured(kind: 'full' | 'incremental', run: () => Promise<void>): Promise<void> {
    try {
      await run();
      this.#options.metrics?.indexSyncs.inc({ kind, outcome: 'ok' });
    } catch (error) {
      this.#options.metrics?.indexSyncs.inc({ kind, outcome: 'failed' });
      throw error;
    }
  }

  async fullSync(): Promise<void> {
    const { client, index, logger, pageSize } = this.#options;
    const started = this.#options.clock();
    const highWater: SyncState['highWater'] = {};
    let written = 0;
    let removed = 0;
    for (const module of LOOKUP_MODULES) {
      const seen = new Set<string>();
      let after: string | undefined;
      for (;;) {
        const page = await client.list(module, {
          ...(after === undefined ? {} : { filter: { id: { gt: after } } }),
          fields: lookupFields(module),
          pageSize,
          sort: 'id',
        });
        written += await this.#write(module, page.records, seen, highWater);
        if (page.records.length < pageSize) {
          break;
        }
        after = page.records[page.records.length - 1]?.id;
        await this.#acquireLease();
      }
      for (const id of index.ids(module)) {
        if (!seen.has(id) && (await index.remove(module, id))) {
          removed += 1;
        }
      }
    }
    await index.writeSyncState({ fullSyncAt: new Date(started).toISOString(), highWater });
    this.#updateGauges();
    logger.info({ written, removed, ...index.size, durationMs: this.#options.clock() - started }, 'phone index full sync done');
  }

  async incrementalSync(): Promise<void> {
    const { index, logger } = this.#options;
    const state = index.syncState ?? { highWater: {} };
    const highWater: SyncState['highWater'] = { ...state.highWater };
    let written = 0;
    for (const module of LOOKUP_MODULES) {
      const last = parseSuiteCrmDateTime(state.highWater[module]);
      written += await this.#readChangedSince(module, toSuiteCrmDateTime((last?.getTime() ?? 0) - OVERLAP_MS), highWater);
    }
    await index.writeSyncState({ ...state, highWater });
    this.#updateGauges();
    logger.debug({ written, ...index.size }, 'phone index incremental sync done');
  }

  /**
   * Reads records changed since a time, as keyset pages on date_modified. Each page starts at the
   * last date seen. A record changed while the sync runs therefore moves behind the cursor
   * instead of shifting an unread record onto a page already read. Records seen twice (the minute a page
   * ends in is read again) are written once; a minute with more changes than a page is paged
   * through by number.
   */
  async #readChangedSince(module: CrmModule, since: string, highWater: SyncState['highWater']): Promise<number> {
    const { client, pageSize } = this.#options;
    const seen = new Set<string>();
    let cursor = since;
    let pageNumber = 1;
    let written = 0;
    for (;;) {
      const page = await client.list(module, {
        filter: { date_modified: { gte: cursor } },
        fields: lookupFields(module),
        pageSize,
        pageNumber,
        sort: 'date_modified',
      });
      const fresh = page.records.filter((record) => !seen.has(record.id));
      written += await this.#write(module, fresh, seen, highWater);
      if (page.records.length < pageSize) {
        return written;
      }
      const lastModified = parseSuiteCrmDateTime(String(page.records[page.records.length - 1]?.attributes['date_modified'] ?? ''));
      const candidate = lastModified === undefined ? cursor : toSuiteCrmDateTime(lastModified);
      // The database format compares as text; the cursor never moves back.
      const next = candidate > cursor ? candidate : cursor;
      if (next === cursor) {
        pageNumber += 1;
      } else {
        cursor = next;
        pageNumber = 1;
      }
    }
  }

  async #write(module: CrmModule, records: Awaited<ReturnType<SuiteCrmClient['list']>>['records'], seen: Set<string> | undefined, highWater: SyncState['highWater']): Promise<number> {
    let written = 0;
    for (let start = 0; start < records.length; start += WRITE_BATCH) {
      const batch = records.slice(start, start + WRITE_BATCH).map((record) => phoneRecordFrom(module, record));
      const results = await Promise.all(batch.map((record) => this.#options.index.put(record)));
      written += results.filter(Boolean).length;
      for (const record of batch) {
        seen?.add(record.id);
        const modified = record.dateModified;
        const current = highWater[module];
        if (modified !== undefined && (current === undefined || Date.parse(modified) > Date.parse(current))) {
          highWater[module] = modified;
        }
      }
    }
    return written;
  }

  #updateGauges(): void {
    const { records, numbers } = this.#options.index.size;
    this.#options.metrics?.indexRecords.set(records);
    this.#options.metrics?.indexNumbers.set(numbers);
  }

  async #acquireLease(): Promise<boolean> {
    const { kv } = this.#options.index;
    const now = this.#options.clock();
    const mine: Lease = { owner: this.#options.instanceId, until: now + this.#leaseMs };
    const entry = await kv.get(LEASE_KEY);
    try {
      if (entry === null || entry.operation !== 'PUT') {
        await kv.create(LEASE_KEY, encoder.encode(JSON.stringify(mine)));
        return true;
      }
      const lease = entry.json<Lease>();
      if (lease.owner !== this.#options.instanceId && lease.until > now) {
        return false;
      }
      await kv.update(LEASE_KEY, encoder.encode(JSON.stringify(mine)), entry.revision);
      return true;
    } catch {
      // Another replica took the lease between our read and our write.
      return false;
    }
  }

  async #releaseLease(): Promise<void> {
    const { kv } = this.#options.index;
    const entry = await kv.get(LEASE_KEY);
    if (entry !== null && entry.operation === 'PUT' && entry.json<Lease>().owner === this.#options.instanceId) {
      await kv.delete(LEASE_KEY, { previousSeq: entry.revision });
    }
  }
}
