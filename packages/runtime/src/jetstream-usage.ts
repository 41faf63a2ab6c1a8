import type { Logger } from '@cti/logging';
import type { JetStreamManager, StreamInfo } from '@nats-io/jetstream';
import { Gauge, type Registry } from 'prom-client';

export interface JetStreamUsageOptions {
  jsm: JetStreamManager;
  registry: Registry;
  logger: Logger;
  /** JetStream streams to report, including the `KV_` and `OBJ_` streams behind buckets. */
  streams: readonly string[];
  /** How long one set of stream infos is reused, in ms, so several scrapes in a row cost one round. */
  cacheMs?: number;
}

interface Snapshot {
  streams: StreamInfo[];
  account: { storageBytes: number; storageLimitBytes: number } | undefined;
}

/**
 * Reports the size of the given streams and of the account's JetStream storage as gauges, read
 * from the JetStream API when Prometheus scrapes. A stream that does not exist, or that this
 * service's NATS user may not inspect, is left out rather than failing the scrape.
 */
export function registerJetStreamUsage(options: JetStreamUsageOptions): void {
  const { registry, jsm, logger } = options;
  if (registry.getSingleMetric('cti_jetstream_stream_bytes') !== undefined) {
    return;
  }
  const cacheMs = options.cacheMs ?? 5000;
  const warned = new Set<string>();
  let cached: { at: number; snapshot: Promise<Snapshot> } | undefined;

  const quietly = async <T>(what: string, work: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await work();
    } catch (error) {
      // Logged once per source: a permission the user lacks fails on every scrape.
      if (!warned.has(what)) {
        warned.add(what);
        logger.debug({ err: error, source: what }, 'jetstream usage not readable, left out of the metrics');
      }
      return undefined;
    }
  };

  const read = async (): Promise<Snapshot> => {
    const infos = await Promise.all(options.streams.map((stream) => quietly(stream, () => jsm.streams.info(stream))));
    const account = await quietly('account', () => jsm.getAccountInfo());
    return {
      streams: infos.filter((info): info is StreamInfo => info !== undefined),
      account: account === undefined ? undefined : { storageBytes: account.storage, storageLimitBytes: account.limits.max_storage },
    };
  };
  const snapshot = (): Promise<Snapshot> => {
    const now = Date.now();
    if (cached === undefined || now - cached.at > cacheMs) {
      cached = { at: now, snapshot: read() };
    }
    return cached.snapshot;
  };

  const registers = [registry];
  const streamGauge = (name: string, help: string, value: (info: StreamInfo) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['stream'],
      registers,
      async collect() {
        this.reset();
        for (const info of (await snapshot()).streams) {
          this.set({ stream: info.config.name }, value(info));
        }
      },
    });

  streamGauge('cti_jetstream_stream_messages', 'Messages stored in the stream', (info) => info.state.messages);
  streamGauge('cti_jetstream_stream_bytes', 'Bytes stored in the stream', (info) => info.state.bytes);
  streamGauge('cti_jetstream_stream_max_bytes', 'Size limit of the stream in bytes (-1: none); at the limit the oldest messages are dropped', (info) => info.config.max_bytes);
  streamGauge('cti_jetstream_stream_max_age_seconds', 'Age limit of the stream in seconds (0: none)', (info) => info.config.max_age / 1e9);

  new Gauge({
    name: 'cti_jetstream_account_storage_bytes',
    help: "Bytes of file storage the account's streams use",
    registers,
    async collect() {
      const account = (await snapshot()).account;
      if (account !== undefined) {
        this.set(account.storageBytes);
      }
    },
  });
  new Gauge({
    name: 'cti_jetstream_account_storage_limit_bytes',
    help: 'File storage limit of the account in bytes (-1: only the server limit max_file_store applies)',
    registers,
    async collect() {
      const account = (await snapshot()).account;
      if (account !== undefined) {
        this.set(account.storageLimitBytes);
      }
    },
  });
}
