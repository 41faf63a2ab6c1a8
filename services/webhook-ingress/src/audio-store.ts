import { createHash } from 'node:crypto';

import type { Bus, Retention } from '@cti/bus';
import { Buckets, type AiConversationAudio } from '@cti/contracts';
import type { Logger } from '@cti/logging';
import type { ObjectStore } from '@nats-io/obj';

export type AudioObject = AiConversationAudio['object'];

/** Store of post_call_audio MP3s; the event published afterwards carries only the reference. */
export interface AudioStore {
  /**
   * Stores the audio unless an identical object is already there. `created` is true when this
   * call wrote it; copies of one delivery saved by two replicas at once may both report it.
   */
  save(conversationId: string, audio: Buffer): Promise<{ object: AudioObject; created: boolean }>;
}

export interface ObjectAudioStoreOptions {
  logger: Logger;
  /** Deadline for each chunk and for the final metadata write. */
  timeoutMs: number;
  replicas?: number;
  /** Age and size limits from config (OBJECT_AI_AUDIO_*); the contract's defaults otherwise. */
  retention?: Partial<Retention>;
}

/**
 * Names the object after the conversation and the SHA-256 of its content. A retried delivery
 * finds the object it stored before and does not write it again. A second, different audio for
 * the same conversation gets its own name, so it never overwrites the one an event refers to.
 */
export function audioObjectName(conversationId: string, sha256: string): string {
  return `${conversationId}/${sha256}.mp3`;
}

/** Formats a hash as the object store does: `SHA-256=` and the padded base64url of the hash. */
function natsDigest(hash: Buffer): string {
  return `SHA-256=${hash.toString('base64').replace(/\+/g, '-').replace(/\//g, '_')}`;
}

/**
 * Opens the AI audio bucket, creating it if missing. webhook-ingress writes the audio, so it owns
 * the bucket and brings an existing one to the configured limits.
 */
export async function openAudioStore(bus: Bus, options: ObjectAudioStoreOptions): Promise<AudioStore> {
  const spec = Buckets.AI_AUDIO;
  const store: ObjectStore = await bus.ensureObjectStore('AI_AUDIO', {
    retention: options.retention ?? {},
    replicas: options.replicas ?? 1,
    updateExisting: true,
  });
  options.logger.info({ bucket: spec.name }, 'audio object store ready');
  return objectAudioStore(store, spec.name, options);
}

export function objectAudioStore(store: ObjectStore, bucket: string, options: ObjectAudioStoreOptions): AudioStore {
  // Copies of one delivery that race would each write the object's chunks, and every copy but
  // the last would leave its chunks behind until retention. Saves of one name in this process
  // run one after the other, so the later ones find the object and write nothing.
  // NOTE: copies that reach different replicas can still race and leave chunks behind.
  const saving = new Map<string, Promise<unknown>>();
  const serialized = <T>(name: string, save: () => Promise<T>): Promise<T> => {
    const previous = saving.get(name) ?? Promise.resolve();
    const current = previous.catch(() => undefined).then(save);
    saving.set(name, current);
    void current.finally(() => {
      if (saving.get(name) === current) {
        saving.delete(name);
      }
    }).catch(() => undefined);
    return current;
  };

  return {
    async save(conversationId, audio) {
      const hash = createHash('sha256').update(audio).digest();
      const sha256 = hash.toString('hex');
      const name = audioObjectName(conversationId, sha256);
      const object: AudioObject = { bucket, name, size: audio.length, sha256, contentType: 'audio/mpeg' };

      return serialized(name, async () => {
        const existing = await store.info(name);
        if (existing !== null && !existing.deleted && existing.size === audio.length && existing.digest === natsDigest(hash)) {
          return { object, created: false };
        }
        await store.putBlob(
          { name, description: 'AI conversation audio (MP3)', metadata: { conversationId, contentType: 'audio/mpeg' } },
          audio,
          { timeout: options.timeoutMs },
        );
        return { object, created: true };
      });
    },
  };
}
