import { Buckets } from '@cti/contracts';
import type { Logger } from '@cti/logging';
import type { NatsConnection } from '@nats-io/nats-core';
import { nanos } from '@nats-io/nats-core';
import { StorageType, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { Objm, type ObjectStore } from '@nats-io/obj';

import { BusError, BusErrorCode, isPermissionDenied } from './errors.js';
import type { Retention } from './streams.js';

export type BucketName = keyof typeof Buckets;

export interface EnsureBucketOptions {
  logger: Logger;
  retention?: Partial<Retention>;
  replicas?: number;
  /** Apply changed limits to an existing bucket; only its owner should. */
  updateExisting?: boolean;
}

function limitsOf(name: BucketName, retention: Partial<Retention> | undefined): Retention {
  const spec = Buckets[name];
  return { maxAgeSeconds: retention?.maxAgeSeconds ?? spec.maxAgeSeconds, maxBytes: retention?.maxBytes ?? spec.maxBytes };
}

// A KV bucket `x` is stored in stream `KV_x`, an object store `x` in `OBJ_x`.
function backingStream(name: BucketName): string {
  const spec = Buckets[name];
  return `${spec.kind === 'kv' ? 'KV' : 'OBJ'}_${spec.name}`;
}

/**
 * Brings an existing bucket to the limits given in `options.retention`. A limit left out stays as
 * it is: the setup job sizes the call log, but its age belongs to crm-sync.
 */
async function applyLimits(jsm: JetStreamManager, name: BucketName, options: EnsureBucketOptions): Promise<void> {
  if (options.updateExisting === false) {
    return;
  }
  const stream = backingStream(name);
  const info = await jsm.streams.info(stream);
  const maxAge = options.retention?.maxAgeSeconds === undefined ? info.config.max_age : nanos(options.retention.maxAgeSeconds * 1000);
  const maxBytes = options.retention?.maxBytes ?? info.config.max_bytes;
  if (info.config.max_age !== maxAge || info.config.max_bytes !== maxBytes) {
    try {
      await jsm.streams.update(stream, { ...info.config, max_age: maxAge, max_bytes: maxBytes });
      options.logger.info({ bucket: Buckets[name].name, maxAgeSeconds: maxAge / 1e9, maxBytes }, 'bucket limits updated');
    } catch (error) {
      if (!isPermissionDenied(error)) {
        throw error;
      }
      options.logger.warn({ bucket: Buckets[name].name }, 'bucket limits differ from this configuration, and this NATS user may not change them: run cti streams apply');
    }
  }
}

/** Creates or opens the KV bucket, with its retention from config. */
export async function ensureKvBucket(connection: NatsConnection, jsm: JetStreamManager, name: BucketName, options: EnsureBucketOptions): Promise<KV> {
  const spec = Buckets[name];
  const limits = limitsOf(name, options.retention);
  try {
    const bucket = await new Kvm(connection).create(spec.name, {
      description: spec.description,
      history: 1,
      max_bytes: limits.maxBytes,
      ttl: limits.maxAgeSeconds * 1000,
      replicas: options.replicas ?? 1,
      storage: StorageType.File,
    });
    await applyLimits(jsm, name, options);
    return bucket;
  } catch (error) {
    throw new BusError(BusErrorCode.STREAM_SETUP_FAILED, `cannot create or open KV bucket ${spec.name}`, { cause: error });
  }
}

/** Creates or opens the object store, with its retention from config. */
export async function ensureObjectStore(
  connection: NatsConnection,
  jsm: JetStreamManager,
  name: BucketName,
  options: EnsureBucketOptions,
): Promise<ObjectStore> {
  const spec = Buckets[name];
  const limits = limitsOf(name, options.retention);
  try {
    const store = await new Objm(connection).create(spec.name, {
      description: spec.description,
      max_bytes: limits.maxBytes,
      ttl: nanos(limits.maxAgeSeconds * 1000),
      replicas: options.replicas ?? 1,
      storage: StorageType.File,
    });
    await applyLimits(jsm, name, options);
    return store;
  } catch (error) {
    throw new BusError(BusErrorCode.STREAM_SETUP_FAILED, `cannot create or open object store ${spec.name}`, { cause: error });
  }
}
