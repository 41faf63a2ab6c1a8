import { inboxPrefix, type MessageContract, type StreamName } from '@cti/contracts';
import type { Logger } from '@cti/logging';
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { ObjectStore } from '@nats-io/obj';
import type { Registry } from 'prom-client';
import type { Static, TSchema } from 'typebox';

import { ensureKvBucket, ensureObjectStore, type BucketName, type EnsureBucketOptions } from './buckets.js';
import { connectNats, type NatsSettings } from './connect.js';
import { startConsumer, type ConsumerSpec, type MessageHandler, type RunningConsumer } from './consume.js';
import { createBusMetrics, type BusMetrics } from './metrics.js';
import { PubAckTracker } from './pub-ack.js';
import { createPublisher, type PublishOptions, type PublishResult, type Publisher } from './publish.js';
import { request, requestAll, serve, type RequestHandler, type ServeOptions } from './rpc.js';
import { ensureStreams, waitForStreams, type RetentionOverrides, type WaitForStreamsOptions } from './streams.js';

export interface BusOptions {
  /** Service name; also the NATS connection name. */
  name: string;
  logger: Logger;
  /** Registry for bus metrics; without one the bus records none. */
  registry?: Registry;
  publishTimeoutMs?: number;
  waitOnFirstConnect?: boolean;
  /** Inbox prefix of the connection; see `ConnectOptions.inboxPrefix`. */
  inboxPrefix?: string;
}

/** One service's view of NATS: typed publish, durable consumers and request/reply. */
export class Bus {
  readonly connection: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly metrics: BusMetrics | undefined;
  readonly #acks: PubAckTracker;
  readonly #publisher: Publisher;
  readonly #logger: Logger;
  readonly #consumers: RunningConsumer[] = [];
  readonly #subscriptions: Subscription[] = [];
  /** True when every service has its own inbox prefix, so a request's sender shows in its reply. */
  readonly #serviceInboxes: boolean;
  // The client keeps its current server while it redials, so `getServer()` cannot tell a lost
  // connection from a live one. The disconnect and reconnect events can.
  #linkUp = true;

  private constructor(connection: NatsConnection, jsm: JetStreamManager, options: BusOptions) {
    this.connection = connection;
    void this.#watchLink();
    this.jsm = jsm;
    this.js = jetstream(connection);
    this.#logger = options.logger;
    this.#serviceInboxes = options.inboxPrefix !== undefined;
    this.metrics = options.registry === undefined ? undefined : createBusMetrics(options.registry);
    this.#acks = new PubAckTracker(connection, options.inboxPrefix);
    this.#publisher = this.createPublisher(options.publishTimeoutMs === undefined ? {} : { timeoutMs: options.publishTimeoutMs });
  }

  static async connect(settings: NatsSettings, options: BusOptions): Promise<Bus> {
    const connection = await connectNats(settings, {
      name: options.name,
      logger: options.logger,
      ...(options.waitOnFirstConnect === undefined ? {} : { waitOnFirstConnect: options.waitOnFirstConnect }),
      ...(options.inboxPrefix === undefined ? {} : { inboxPrefix: options.inboxPrefix }),
    });
    const jsm = await jetstreamManager(connection, { checkAPI: false });
    return new Bus(connection, jsm, options);
  }

  /** True while the connection to NATS is up; readiness probes use it. */
  isConnected(): boolean {
    return !this.connection.isClosed() && !this.connection.isDraining() && this.#linkUp;
  }

  async #watchLink(): Promise<void> {
    for await (const status of this.connection.status()) {
      if (status.type === 'disconnect') {
        this.#linkUp = false;
      } else if (status.type === 'reconnect') {
        this.#linkUp = true;
      }
    }
  }

  /**
   * Creates the streams that are missing. With `owner` set, also brings existing streams to the
   * configured limits; only the service that owns a stream should.
   */
  ensureStreams(
    names: readonly StreamName[],
    retention?: RetentionOverrides,
    replicas?: number,
    owner = true,
  ): Promise<void> {
    return ensureStreams(this.jsm, names, {
      logger: this.#logger,
      updateExisting: owner,
      ...(retention === undefined ? {} : { retention }),
      ...(replicas === undefined ? {} : { replicas }),
    });
  }

  /** Waits until streams this service reads, but does not create, exist; see `waitForStreams`. */
  waitForStreams(names: readonly StreamName[], options: Omit<WaitForStreamsOptions, 'logger'> = {}): Promise<void> {
    return waitForStreams(this.jsm, names, { ...options, logger: this.#logger });
  }

  ensureKvBucket(name: BucketName, options: Omit<EnsureBucketOptions, 'logger'> = {}): Promise<KV> {
    return ensureKvBucket(this.connection, this.jsm, name, { ...options, logger: this.#logger });
  }

  ensureObjectStore(name: BucketName, options: Omit<EnsureBucketOptions, 'logger'> = {}): Promise<ObjectStore> {
    return ensureObjectStore(this.connection, this.jsm, name, { ...options, logger: this.#logger });
  }

  publish<S extends TSchema>(contract: MessageContract<S>, message: Static<S>, options?: PublishOptions): Promise<PublishResult> {
    return this.#publisher.publish(contract, message, options);
  }

  get publisher(): Publisher {
    return this.#publisher;
  }

  /**
   * Returns a publisher with its own acknowledgement timeout (5 s by default). It shares the
   * connection, the acknowledgement subscription, the batches and the metrics of this bus.
   */
  createPublisher(options: { timeoutMs?: number } = {}): Publisher {
    return createPublisher(this.#acks, {
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      ...(this.metrics === undefined ? {} : { metrics: this.metrics }),
    });
  }

  async consume(spec: ConsumerSpec, handler: MessageHandler): Promise<RunningConsumer> {
    const consumer = await startConsumer(
      {
        js: this.js,
        jsm: this.jsm,
        publisher: this.#publisher,
        logger: this.#logger,
        ...(this.metrics === undefined ? {} : { metrics: this.metrics }),
      },
      spec,
      handler,
    );
    this.#consumers.push(consumer);
    return consumer;
  }

  request<Q extends TSchema, R extends TSchema>(
    requestContract: MessageContract<Q>,
    replyContract: MessageContract<R>,
    message: Static<Q>,
    timeoutMs: number,
  ): Promise<Static<R>> {
    return request(this.connection, requestContract, replyContract, message, {
      timeoutMs,
      ...(this.metrics === undefined ? {} : { metrics: this.metrics }),
    });
  }

  /** Sends a request that every replica of the serving service replies to; see `requestAll`. */
  requestAll<Q extends TSchema, R extends TSchema>(
    requestContract: MessageContract<Q>,
    replyContract: MessageContract<R>,
    message: Static<Q>,
    timeoutMs: number,
  ): Promise<Static<R>[]> {
    return requestAll(this.connection, requestContract, replyContract, message, {
      timeoutMs,
      ...(this.metrics === undefined ? {} : { metrics: this.metrics }),
    });
  }

  serve<Q extends TSchema, R extends TSchema>(
    requestContract: MessageContract<Q>,
    replyContract: MessageContract<R>,
    handler: RequestHandler<Q, R>,
    options: Omit<ServeOptions, 'logger' | 'metrics'>,
  ): Subscription {
    // With per-service inboxes, only the services the contract names as requesters are answered.
    const replyPrefixes = this.#serviceInboxes ? requestContract.publishedBy.map((service) => `${inboxPrefix(service)}.`) : ['_INBOX.'];
    const subscription = serve(this.connection, requestContract, replyContract, handler, {
      replyPrefixes,
      ...options,
      logger: this.#logger,
      ...(this.metrics === undefined ? {} : { metrics: this.metrics }),
    });
    this.#subscriptions.push(subscription);
    return subscription;
  }

  /**
   * Stops taking new work and finishes what is in flight: request subscriptions drain, consumers
   * wait for their handlers and acks, then the connection drains and closes.
   */
  async drain(): Promise<void> {
    await Promise.allSettled(this.#subscriptions.map((subscription) => subscription.drain()));
    await Promise.allSettled(this.#consumers.map((consumer) => consumer.stop()));
    if (!this.connection.isClosed()) {
      await this.connection.drain();
    }
    this.#logger.info('nats connection drained');
  }
}
