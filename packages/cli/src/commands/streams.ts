import { Buckets, StreamNames } from '@cti/contracts';
import type { BucketName } from '@cti/bus';
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
      for (const name of Object.keys(Buckets) as BucketName[]) {
        // Buckets without a retention setting here (crm_call_log) are sized by their owning
        // service; the setup job only creates them when missing.
        const configured = retention[name];
        const options = { retention: configured ?? {}, replicas, updateExisting: configured !== undefined };
        if (Buckets[name].kind === 'kv') {
          await bus.ensureKvBucket(name, options);
        } else {
          await bus.ensureObjectStore(name, options);
        }
      }
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
