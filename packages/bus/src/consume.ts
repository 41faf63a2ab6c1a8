import { ContractError, DeadLetter, type MessageContract, type StreamName } from '@cti/contracts';
import { CtiError } from '@cti/errors';
import type { Logger } from '@cti/logging';
import { nanos, type MsgHdrs } from '@nats-io/nats-core';
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';

import { PermanentError } from './errors.js';
import type { BusMetrics } from './metrics.js';
import type { Publisher } from './publish.js';

/** Header naming the one consumer a dead-letter replay is meant for; other consumers skip it. */
export const REPLAY_CONSUMER_HEADER = 'Cti-Replay-Consumer';

export interface ConsumerSpec {
  stream: StreamName;
  /** Durable consumer name, shared by every replica of the service so they split the work. */
  durable: string;
  /** One subject filter (NATS 2.9 consumers take a single filter). */
  filterSubject: string;
  /** Contracts of the messages this consumer accepts, told apart by their `type` field. */
  contracts: readonly MessageContract[];
  /** Deliveries before a message goes to the dead-letter stream. */
  maxDeliver?: number;
  /** Delay before each redelivery after a failure; the last value repeats. */
  backoffMs?: readonly number[];
  /** Time the server waits for an ack before redelivering to another replica. */
  ackWaitMs?: number;
  maxAckPending?: number;
  /** Messages handled at once. 1 keeps the stream's order. */
  concurrency?: number;
  /** Where a newly created consumer starts: every stored message (`all`) or only new ones. */
  deliverPolicy?: 'all' | 'new';
  description?: string;
}

export interface DeliveryContext {
  subject: string;
  streamSequence: number;
  deliveryCount: number;
  headers: MsgHdrs | undefined;
  logger: Logger;
}

export type MessageHandler = (message: unknown, context: DeliveryContext) => Promise<void>;

export interface ConsumerDependencies {
  js: JetStreamClient;
  jsm: JetStreamManager;
  publisher: Publisher;
  logger: Logger;
  metrics?: BusMetrics;
}

export interface RunningConsumer {
  readonly durable: string;
  /** Stops fetching, waits for messages in flight to be handled and acknowledged, then resolves. */
  stop(): Promise<void>;
}

const DEFAULT_BACKOFF_MS = [1000, 5000, 15_000, 60_000];
const decoder = new TextDecoder();

/** Creates the durable consumer, or updates the settings that JetStream lets change. */
export async function ensureConsumer(jsm: JetStreamManager, spec: ConsumerSpec): Promise<void> {
  const settings = {
    description: spec.description ?? `${spec.durable} on ${spec.filterSubject}`,
    ack_wait: nanos(spec.ackWaitMs ?? 30_000),
    // Unlimited on the server: the client dead-letters after `maxDeliver`. A server-side limit
    // would silently stop redelivering a message whose dead-letter publish had failed.
    max_deliver: -1,
    max_ack_pending: spec.maxAckPending ?? 1000,
  };
  try {
    const info = await jsm.consumers.info(spec.stream, spec.durable);
    if (info.config.filter_subject !== spec.filterSubject) {
      throw new Error(
        `consumer ${spec.durable} filters ${info.config.filter_subject ?? '(nothing)'}, expected ${spec.filterSubject}: delete it to recreate it`,
      );
    }
    await jsm.consumers.update(spec.stream, spec.durable, settings);
  } catch (error) {
    if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound)) {
      throw error;
    }
    await jsm.consumers.add(spec.stream, {
      ...settings,
      durable_name: spec.durable,
      filter_subject: spec.filterSubject,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: spec.deliverPolicy === 'new' ? DeliverPolicy.New : DeliverPolicy.All,
    });
  }
}

/** Reads the `type` of a payload and checks it against the matching contract. */
export function decodeMessage(data: Uint8Array, contracts: readonly MessageContract[]): { contract: MessageContract; message: unknown } {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(data));
  } catch (error) {
    throw new PermanentError('CTI_ERR_BUS_MESSAGE_UNDECODABLE', 'message is not valid JSON', { cause: error });
  }
  const type = typeof value === 'object' && value !== null ? (value as { type?: unknown }).type : undefined;
  const contract = contracts.find((candidate) => candidate.name === type);
  if (contract === undefined) {
    throw new PermanentError('CTI_ERR_BUS_MESSAGE_UNDECODABLE', `no contract for message type ${JSON.stringify(type)}`);
  }
  return { contract, message: contract.parse(value) };
}

function typeOf(data: Uint8Array): string {
  try {
    const value = JSON.parse(decoder.decode(data)) as { type?: unknown };
    return typeof value.type === 'string' ? value.type : 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * Starts a durable pull consumer. Each message is decoded against its contract and handed to the
 * handler; the outcome decides ack, nak with backoff, or the dead-letter stream:
 * - the handler resolves: ack, and wait for JetStream to confirm it;
 * - it throws PermanentError, or the message does not decode: dead-letter at once;
 * - it throws anything else: redeliver after the backoff, up to `maxDeliver` deliveries, then dead-letter.
 */
export async function startConsumer(deps: ConsumerDependencies, spec: ConsumerSpec, handler: MessageHandler): Promise<RunningConsumer> {
  await ensureConsumer(deps.jsm, spec);
  const consumer = await deps.js.consumers.get(spec.stream, spec.durable);
  const concurrency = Math.max(1, spec.concurrency ?? 1);
  const messages: ConsumerMessages = await consumer.consume({ max_messages: Math.max(10, concurrency * 2) });
  const logger = deps.logger.child({ consumer: spec.durable });
  const inFlight = new Set<Promise<void>>();
  let stopping = false;

  const loop = (async () => {
    for await (const msg of messages) {
      if (stopping) {
        // Hand it back at once, so another replica takes it instead of waiting for ack_wait.
        msg.nak();
        continue;
      }
      const task = handleDelivery(deps, spec, handler, msg, logger).finally(() => inFlight.delete(task));
      inFlight.add(task);
      if (inFlight.size >= concurrency) {
        await Promise.race(inFlight);
      }
    }
  })();

  logger.info({ stream: spec.stream, filter: spec.filterSubject }, 'consumer started');
  return {
    durable: spec.durable,
    async stop() {
      stopping = true;
      await messages.close();
      await loop.catch((error: unknown) => logger.error({ err: error }, 'consumer loop failed'));
      await Promise.allSettled([...inFlight]);
      logger.info('consumer stopped');
    },
  };
}

async function handleDelivery(deps: ConsumerDependencies, spec: ConsumerSpec, handler: MessageHandler, msg: JsMsg, logger: Logger): Promise<void> {
  const maxDeliver = spec.maxDeliver ?? 5;
  const deliveryCount = msg.info.deliveryCount;
  const messageName = typeOf(msg.data);
  const labels = { message: messageName, consumer: spec.durable };
  const context: DeliveryContext = {
    subject: msg.subject,
    streamSequence: msg.seq,
    deliveryCount,
    headers: msg.headers,
    logger: logger.child({ subject: msg.subject, sequence: msg.seq, delivery: deliveryCount }),
  };
  deps.metrics?.received.inc(labels);
  if (deliveryCount > 1) {
    deps.metrics?.redeliveries.inc(labels);
  }

  const replayTarget = msg.headers?.get(REPLAY_CONSUMER_HEADER);
  if (replayTarget !== undefined && replayTarget !== '' && replayTarget !== spec.durable) {
    msg.ack();
    deps.metrics?.handled.inc({ ...labels, outcome: 'skipped' });
    return;
  }

  // More deliveries than allowed without a recorded outcome: earlier attempts crashed the process
  // or outlived ack_wait. Running the handler again would likely do the same.
  if (deliveryCount > maxDeliver) {
    await deadLetter(deps, spec, msg, context, new Error(`no outcome after ${deliveryCount - 1} deliveries (crash or ack timeout)`), 'max_deliveries');
    return;
  }

  const heartbeat = setInterval(() => msg.working(), Math.max(1000, Math.floor((spec.ackWaitMs ?? 30_000) / 3)));
  const stopTimer = deps.metrics?.handlerSeconds.startTimer(labels);
  try {
    const { message } = decodeMessage(msg.data, spec.contracts);
    await handler(message, context);
  } catch (error) {
    clearInterval(heartbeat);
    stopTimer?.();
    const undecodable = error instanceof ContractError || CtiError.is(error, 'CTI_ERR_BUS_MESSAGE_UNDECODABLE');
    if (undecodable || error instanceof PermanentError) {
      await deadLetter(deps, spec, msg, context, error, undecodable ? 'undecodable' : 'permanent');
      return;
    }
    if (deliveryCount >= maxDeliver) {
      await deadLetter(deps, spec, msg, context, error, 'max_deliveries');
      return;
    }
    const backoff = spec.backoffMs ?? DEFAULT_BACKOFF_MS;
    const base = backoff[Math.min(deliveryCount - 1, backoff.length - 1)] ?? 1000;
    // Jitter of up to 20 % keeps replicas that failed together from retrying together.
    const delay = Math.round(base * (1 + Math.random() * 0.2));
    msg.nak(delay);
    deps.metrics?.handled.inc({ ...labels, outcome: 'retried' });
    context.logger.warn({ err: error, retryInMs: delay, maxDeliver }, 'message handler failed, will retry');
    return;
  }
  clearInterval(heartbeat);
  stopTimer?.();

  try {
    await msg.ackAck({ timeout: 5000 });
    deps.metrics?.handled.inc({ ...labels, outcome: 'acked' });
  } catch (error) {
    // The handler's work is done; the message comes back after ack_wait and handlers are idempotent.
    context.logger.warn({ err: error }, 'ack not confirmed, message may be redelivered');
  }
}

async function deadLetter(
  deps: ConsumerDependencies,
  spec: ConsumerSpec,
  msg: JsMsg,
  context: DeliveryContext,
  error: unknown,
  reason: 'undecodable' | 'permanent' | 'max_deliveries',
): Promise<void> {
  const messageName = typeOf(msg.data);
  const errorText = error instanceof Error ? error.message : String(error);
  const messageId = msg.headers?.get('Nats-Msg-Id');
  try {
    await deps.publisher.publish(DeadLetter, {
      v: 1,
      id: `${spec.stream}:${spec.durable}:${msg.seq}`,
      type: 'dlq',
      stream: spec.stream,
      consumer: spec.durable,
      subject: msg.subject,
      streamSequence: msg.seq,
      deliveries: msg.info.deliveryCount,
      error: {
        ...(CtiError.is(error) ? { code: error.code } : {}),
        message: errorText.slice(0, 2048),
      },
      failedAt: new Date().toISOString(),
      ...(messageId === undefined || messageId === '' ? {} : { messageId }),
      data: Buffer.from(msg.data).toString('base64'),
    });
  } catch (publishError) {
    // Without a stored dead letter the message must stay in its stream: hand it back for later.
    msg.nak(5000);
    context.logger.error({ err: publishError, reason }, 'dead-letter publish failed, message kept for redelivery');
    return;
  }
  msg.term(reason);
  deps.metrics?.deadLettered.inc({ message: messageName, consumer: spec.durable, reason });
  deps.metrics?.handled.inc({ message: messageName, consumer: spec.durable, outcome: 'dead_lettered' });
  context.logger.error({ err: error, reason, deliveries: msg.info.deliveryCount }, 'message sent to dead-letter stream');
}
