import { Buckets, type CrmModule } from '@cti/contracts';
import type { JetStreamClient } from '@nats-io/jetstream';
import { Kvm, type KV, type KvWatchEntry } from '@nats-io/kv';
import type { QueuedIterator } from '@nats-io/nats-core';

import { keyToken } from '../ids.js';

/** Entry of a logged PBX call, kept to attach an AI conversation to it later. */
export interface CallLogEntry {
  pbx: string;
  /** Asterisk Linkedid. */
  callId: string;
  /** Id of the Calls record in SuiteCRM. */
  recordId: string;
  direction: 'inbound' | 'outbound' | 'internal';
  /** E.164 digits of the customer's number, when it could be normalised. */
  externalDigits?: string;
  /** Agent who talked last, if any. */
  extension?: string;
  startedAt: string;
  endedAt: string;
  parent?: { module: CrmModule; id: string };
}

export interface StoredSummary {
  summary: string;
  at: string;
  /** ElevenLabs conversation the summary came from, so erasing its caller removes it too. */
  conversationId?: string;
}

const encoder = new TextEncoder();

/**
 * The crm_call_log bucket: one entry per logged call under three keys, by call
 * (`c.<pbx>.<call>`), by Linkedid (`l.<call>.<pbx>`) and by external number
 * (`n.<digits>.<call>.<pbx>`), plus the last AI summary of each CRM record (`s.<module>.<id>`).
 * Entries age out after the retention period. The summaries are mirrored in memory through a
 * watch, because every caller lookup reply reads one and must not wait on NATS for it.
 */
export class CallLog {
  readonly #kv: KV;
  readonly #summaries = new Map<string, StoredSummary>();
  #watch: QueuedIterator<KvWatchEntry> | undefined;

  private constructor(kv: KV) {
    this.#kv = kv;
  }

  static async open(options: { js: JetStreamClient; retentionDays: number; replicas?: number }): Promise<CallLog> {
    const spec = Buckets.CRM_CALL_LOG;
    const kv = await new Kvm(options.js).create(spec.name, {
      history: 1,
      max_bytes: spec.maxBytes,
      ttl: options.retentionDays * 86_400_000,
      description: spec.description,
      replicas: options.replicas ?? 1,
    });
    const log = new CallLog(kv);
    await log.#watchSummaries();
    return log;
  }

  async #watchSummaries(): Promise<void> {
    const watch = await this.#kv.watch({ key: 's.>' });
    this.#watch = watch;
    void (async () => {
      for await (const entry of watch) {
        if (entry.operation === 'PUT') {
          this.#summaries.set(entry.key, entry.json<StoredSummary>());
        } else {
          this.#summaries.delete(entry.key);
        }
      }
    })().catch(() => undefined);
  }

  close(): void {
    this.#watch?.stop();
  }

  async record(entry: CallLogEntry): Promise<void> {
    const value = encoder.encode(JSON.stringify(entry));
    const call = keyToken(entry.callId);
    const writes = [this.#kv.put(`c.${entry.pbx}.${call}`, value), this.#kv.put(`l.${call}.${entry.pbx}`, value)];
    if (entry.externalDigits !== undefined) {
      writes.push(this.#kv.put(`n.${entry.externalDigits}.${call}.${entry.pbx}`, value));
    }
    await Promise.all(writes);
  }

  async byCall(pbx: string, callId: string): Promise<CallLogEntry | undefined> {
    const entry = await this.#kv.get(`c.${pbx}.${keyToken(callId)}`);
    return entry === null || entry.operation !== 'PUT' ? undefined : entry.json<CallLogEntry>();
  }

  /** Calls with this Linkedid, on any PBX. */
  byLinkedid(callId: string): Promise<CallLogEntry[]> {
    return this.#list(`l.${keyToken(callId)}.*`);
  }

  /** Calls with this external number (E.164 digits) still within the retention period. */
  byNumber(digits: string): Promise<CallLogEntry[]> {
    return this.#list(`n.${digits}.*.*`);
  }

  async saveSummary(module: string, id: string, summary: StoredSummary): Promise<void> {
    await this.#kv.put(`s.${module}.${keyToken(id)}`, encoder.encode(JSON.stringify(summary)));
  }

  /** The last AI summary of a CRM record, from memory. */
  lastSummary(module: string, id: string): StoredSummary | undefined {
    return this.#summaries.get(`s.${module}.${keyToken(id)}`);
  }

  async #list(filter: string): Promise<CallLogEntry[]> {
    const keys: string[] = [];
    for await (const key of await this.#kv.keys(filter)) {
      keys.push(key);
    }
    const entries = await Promise.all(keys.map((key) => this.#kv.get(key)));
    return entries.filter((entry) => entry !== null && entry.operation === 'PUT').map((entry) => (entry as NonNullable<typeof entry>).json<CallLogEntry>());
  }
}
