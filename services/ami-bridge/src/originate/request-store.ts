import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import { Buckets, type OriginateReply } from '@cti/contracts';
import type { JetStreamClient } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';

/** Record stored per click-to-dial request id. */
export interface RequestRecord {
  state: 'pending' | 'done';
  reply?: OriginateReply;
  at: number;
}

/**
 * Remembers click-to-dial request ids across every bridge replica of a PBX, so a request
 * repeated (by a retrying client, or landing on another replica) places one call.
 */
export interface RequestStore {
  /** Claims the id: undefined when this caller now owns it, else what is stored for it. */
  claim(requestId: string): Promise<RequestRecord | undefined>;
  get(requestId: string): Promise<RequestRecord | undefined>;
  complete(requestId: string, reply: OriginateReply): Promise<void>;
  /** Forgets an id whose request placed no call, so a retry may place it. */
  release(requestId: string): Promise<void>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A request store in a JetStream KV bucket, shared by the replicas. */
export class KvRequestStore implements RequestStore {
  readonly #kv: KV;
  readonly #pbx: string;

  private constructor(kv: KV, pbx: string) {
    this.#kv = kv;
    this.#pbx = pbx;
  }

  /** Opens the bucket, creating it with the given age limit when it does not exist yet. */
  static async open(js: JetStreamClient, pbx: string, ttlSeconds: number): Promise<KvRequestStore> {
    const spec = Buckets.PBX_ORIGINATE_REQUESTS;
    const kv = await new Kvm(js).create(spec.name, { ttl: ttlSeconds * 1000, history: 1, max_bytes: spec.maxBytes, description: spec.description });
    return new KvRequestStore(kv, pbx);
  }

  // Request ids may hold `:`, which KV keys may not; a hash keeps keys valid and fixed-length.
  #key(requestId: string): string {
    return `${this.#pbx}.${createHash('sha256').update(requestId).digest('hex').slice(0, 40)}`;
  }

  async claim(requestId: string): Promise<RequestRecord | undefined> {
    const record: RequestRecord = { state: 'pending', at: Date.now() };
    try {
      await this.#kv.create(this.#key(requestId), encoder.encode(JSON.stringify(record)));
      return undefined;
    } catch (error) {
      const existing = await this.get(requestId);
      if (existing === undefined) {
        throw error;
      }
      return existing;
    }
  }

  async get(requestId: string): Promise<RequestRecord | undefined> {
    const entry = await this.#kv.get(this.#key(requestId));
    if (entry === null || entry.operation !== 'PUT' || entry.value.length === 0) {
      return undefined;
    }
    return JSON.parse(decoder.decode(entry.value)) as RequestRecord;
  }

  async complete(requestId: string, reply: OriginateReply): Promise<void> {
    const record: RequestRecord = { state: 'done', reply, at: Date.now() };
    await this.#kv.put(this.#key(requestId), encoder.encode(JSON.stringify(record)));
  }

  async release(requestId: string): Promise<void> {
    await this.#kv.delete(this.#key(requestId));
  }
}

/** Waits until a pending request is answered (by this replica or another), or the time is up. */
export async function waitForReply(store: RequestStore, requestId: string, timeoutMs: number): Promise<RequestRecord | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const record = await store.get(requestId);
    if (record === undefined || record.state === 'done' || Date.now() >= deadline) {
      return record;
    }
    await sleep(100);
  }
}
