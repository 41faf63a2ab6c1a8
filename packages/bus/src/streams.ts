import { type Buckets, LIVE_SUBJECT_PREFIX, Streams, type StreamName } from '@cti/contracts';
import type { Logger } from '@cti/logging';
import { nanos } from '@nats-io/nats-core';
import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';

import { BusError, BusErrorCode, isPermissionDenied } from './errors.js';

/** Retention of one stream or bucket, after config overrides. */
export interface Retention {
  maxAgeSeconds: number;
  maxBytes: number;
}

export type RetentionOverrides = Partial<Record<StreamName | keyof typeof Buckets, Partial<Retention>>>;

export interface EnsureStreamsOptions {
  logger: Logger;
  retention?: RetentionOverrides;
  /** Replicas per stream: 1 on one server, 3 on a three-node JetStream cluster. */
  replicas?: number;
  /**
   * Update an existing stream whose limits differ. Only the owner of a stream should: two services
   * with different settings would otherwise rewrite each other's limits on every start.
   */
  updateExisting?: boolean;
}

/** Builds the JetStream config of a stream from its spec in `@cti/contracts` and the overrides. */
export function streamConfig(name: StreamName, options: Pick<EnsureStreamsOptions, 'retention' | 'replicas'> = {}): Partial<StreamConfig> & { name: string } {
  const spec = Streams[name];
  const override = options.retention?.[name] ?? {};
  return {
    name,
    description: spec.description,
    subjects: spec.subjects,
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_age: nanos((override.maxAgeSeconds ?? spec.maxAgeSeconds) * 1000),
    max_bytes: override.maxBytes ?? spec.maxBytes,
    max_msg_size: spec.maxMessageBytes,
    duplicate_window: nanos(spec.duplicateWindowSeconds * 1000),
    num_replicas: options.replicas ?? 1,
    ...(spec.republishLive === true ? { republish: { src: '>', dest: `${LIVE_SUBJECT_PREFIX}.>` } } : {}),
  };
}

function isStreamNotFound(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound;
}

/**
 * Creates the given streams, or updates their subjects and limits when the code or the config
 * changed. Safe to run from every replica at start: a stream that already matches is left alone.
 */
export async function ensureStreams(jsm: JetStreamManager, names: readonly StreamName[], options: EnsureStreamsOptions): Promise<void> {
  for (const name of names) {
    const wanted = streamConfig(name, options);
    let republishChanged = false;
    try {
      const current = await jsm.streams.info(name).catch((error: unknown) => {
        if (isStreamNotFound(error)) {
          return undefined;
        }
        throw error;
      });
      if (current === undefined) {
        await jsm.streams.add(wanted);
        options.logger.info({ stream: name }, 'stream created');
        continue;
      }
      const differs =
        current.config.max_age !== wanted.max_age ||
        current.config.max_bytes !== wanted.max_bytes ||
        current.config.max_msg_size !== wanted.max_msg_size ||
        current.config.duplicate_window !== wanted.duplicate_window ||
        current.config.subjects.join(' ') !== (wanted.subjects ?? []).join(' ') ||
        current.config.republish?.dest !== wanted.republish?.dest;
      republishChanged = current.config.republish?.dest !== wanted.republish?.dest;
      if (differs && options.updateExisting !== false) {
        try {
          await jsm.streams.update(name, wanted);
          options.logger.info({ stream: name }, 'stream updated');
        } catch (error) {
          // Deployed services may create their streams but not change them (a change could also
          // move subjects); the setup job applies new limits.
          if (!isPermissionDenied(error)) {
            throw error;
          }
          options.logger.warn({ stream: name }, 'stream settings differ from this configuration, and this NATS user may not change them: run cti streams apply');
        }
      }
    } catch (error) {
      // nats-server 2.9 rejects any change of a stream's republish setting.
      const hint = republishChanged
        ? `: it exists with another republish setting than ${wanted.republish?.dest ?? 'none'}, which the server cannot change; back the stream up, delete it and restart the services`
        : '';
      throw new BusError(BusErrorCode.STREAM_SETUP_FAILED, `cannot create or update stream ${name}${hint}`, {
        cause: error,
        details: { stream: name },
      });
    }
  }
}

export interface WaitForStreamsOptions {
  logger: Logger;
  /** Name of the creator of each stream, for the log line while the service waits for it. */
  ownerOf?: (stream: StreamName) => string;
  /** First delay between two look-ups, in ms; it doubles up to `maxDelayMs`. */
  initialDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * Waits until every given stream exists. In a fresh deployment a service that reads a stream it
 * does not own can start before the stream's owner or the setup job has created it. Waiting here,
 * with a log line per stream, beats a crash loop. Rejects when the connection closes.
 */
export async function waitForStreams(jsm: JetStreamManager, names: readonly StreamName[], options: WaitForStreamsOptions): Promise<void> {
  const maxDelayMs = options.maxDelayMs ?? 5000;
  for (const name of names) {
    let delayMs = options.initialDelayMs ?? 250;
    let waitingSince: number | undefined;
    for (;;) {
      const found = await jsm.streams.info(name).then(
        () => true,
        (error: unknown) => {
          if (isStreamNotFound(error)) {
            return false;
          }
          throw new BusError(BusErrorCode.STREAM_SETUP_FAILED, `cannot look up stream ${name}`, { cause: error, details: { stream: name } });
        },
      );
      if (found) {
        if (waitingSince !== undefined) {
          options.logger.info({ stream: name, waitedMs: Date.now() - waitingSince }, 'stream found');
        }
        break;
      }
      if (waitingSince === undefined) {
        waitingSince = Date.now();
        options.logger.warn({ stream: name, createdBy: options.ownerOf?.(name) }, 'stream not found; waiting for it to be created');
      }
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      delayMs = Math.min(delayMs * 2, maxDelayMs);
    }
  }
}
