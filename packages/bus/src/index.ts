export { Bus, type BusOptions } from './bus.js';
export { connectNats, connectionOptions, type NatsSettings } from './connect.js';
export {
  decodeMessage,
  ensureConsumer,
  REPLAY_CONSUMER_HEADER,
  startConsumer,
  type ConsumerSpec,
  type DeliveryContext,
  type MessageHandler,
  type RunningConsumer,
} from './consume.js';
export { deadLetterPayload, listDeadLetters, replayDeadLetter, type ReplayOptions, type ReplayResult, type StoredDeadLetter } from './dead-letters.js';
export { BusError, BusErrorCode, PermanentError, toBusError } from './errors.js';
export { createBusMetrics, type BusMetrics } from './metrics.js';
export { PubAckTracker, type PubAck, type PubAckOptions } from './pub-ack.js';
export { type PublishOptions, type PublishResult, type Publisher } from './publish.js';
export { request, requestAll, serve, type RequestHandler } from './rpc.js';
export { installShutdown, type ShutdownStep } from './shutdown.js';
export { ensureStreams, streamConfig, waitForStreams, type Retention, type RetentionOverrides, type WaitForStreamsOptions } from './streams.js';
export { ensureKvBucket, ensureObjectStore, type BucketName, type EnsureBucketOptions } from './buckets.js';
export { isPermissionDenied } from './errors.js';
