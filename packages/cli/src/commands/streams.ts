import { Buckets, StreamNames } from '@cti/contracts';
import { retentionOverrides } from '@cti/runtime';

import type { Command } from '../command.js';
import { connectCli } from '../config.js';

/** Applies the configured retention to every stream and bucket: the setup job of a deployment. */
export const streamsApply: Command = {
  name: ['streams', 'apply'],
  summary: 'Create every stream, KV bucket and object store, and apply the retention settings (STREAM_*, KV_*, OBJECT_*)',
  usage: 'cti streams apply',
  async run(_args, io) {
    const { bus, config } = await connectCli(io.environment);
    try {
      const retention = retentionOverrides(config);
      await bus.ensureStreams(StreamNames, retention, config.jetstreamReplicas, true);
      const replicas = config.jetstreamReplicas;
      await bus.ensureKvBucket('CRM_PHONE_INDEX', { retention: retention.CRM_PHONE_INDEX ?? {}, replicas, updateExisting: true });
      await bus.ensureObjectStore('AI_AUDIO', { retention: retention.AI_AUDIO ?? {}, replicas, updateExisting: true });
      for (const name of StreamNames) {
        const info = await bus.jsm.streams.info(name);
        io.stdout.write(`${JSON.stringify({ stream: name, maxAgeSeconds: info.config.max_age / 1e9, maxBytes: info.config.max_bytes, replicas: info.config.num_replicas, messages: info.state.messages })}\n`);
      }
      for (const bucket of Object.values(Buckets)) {
        const stream = `${bucket.kind === 'kv' ? 'KV' : 'OBJ'}_${bucket.name}`;
        const info = await bus.jsm.streams.info(stream);
        io.stdout.write(`${JSON.stringify({ bucket: bucket.name, kind: bucket.kind, maxAgeSeconds: info.config.max_age / 1e9, maxBytes: info.config.max_bytes })}\n`);
      }
      return 0;
    } finally {
      await bus.drain();
    }
  },
};
