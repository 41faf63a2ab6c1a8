import type { MessageContract } from '@cti/contracts';
import { CtiError } from '@cti/errors';
import type { Logger } from '@cti/logging';
import { headers as natsHeaders, type Msg, type NatsConnection, type Subscription } from '@nats-io/nats-core';
import type { Static, TSchema } from 'typebox';

import { BusError, BusErrorCode, toBusError } from './errors.js';
import type { BusMetrics } from './metrics.js';

// Header names of the NATS services protocol, so `nats req` and other clients read our errors.
const SERVICE_ERROR_HEADER = 'Nats-Service-Error';
const SERVICE_ERROR_CODE_HEADER = 'Nats-Service-Error-Code';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface RequestOptions {
  /** Deadline for the answer. */
  timeoutMs: number;
  metrics?: BusMetrics;
}

/**
 * Sends a request and waits for its reply until the deadline. Rejects with BusError
 * REQUEST_TIMEOUT, NO_RESPONDER or REQUEST_REJECTED (the service reported an error), or a
 * ContractError when either side's message does not match its contract.
 */
export async function request<Q extends TSchema, R extends TSchema>(
  connection: NatsConnection,
  requestContract: MessageContract<Q>,
  replyContract: MessageContract<R>,
  message: Static<Q>,
  options: RequestOptions,
): Promise<Static<R>> {
  const checked = requestContract.parse(message);
  const subject = requestContract.subjectOf(checked);
  const count = (outcome: string) => options.metrics?.requests.inc({ request: requestContract.name, outcome });

  let reply: Msg;
  try {
    reply = await connection.request(subject, encoder.encode(JSON.stringify(checked)), { timeout: options.timeoutMs });
  } catch (error) {
    const busError = toBusError(error, BusErrorCode.REQUEST_TIMEOUT, subject);
    count(busError.code === BusErrorCode.NO_RESPONDER ? 'no_responder' : busError.code === BusErrorCode.REQUEST_TIMEOUT ? 'timeout' : 'failed');
    throw busError;
  }

  const serviceError = reply.headers?.get(SERVICE_ERROR_HEADER);
  if (serviceError !== undefined && serviceError !== '') {
    count('rejected');
    throw new BusError(BusErrorCode.REQUEST_REJECTED, `${requestContract.name} rejected: ${serviceError}`, {
      details: { subject, status: reply.headers?.get(SERVICE_ERROR_CODE_HEADER) ?? '' },
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(reply.data));
  } catch (error) {
    count('failed');
    throw new BusError(BusErrorCode.MESSAGE_UNDECODABLE, `reply on "${subject}" is not valid JSON`, { cause: error });
  }
  const parsed = replyContract.parse(value);
  count('ok');
  return parsed;
}

export interface ServeOptions {
  logger: Logger;
  /**
   * Queue group: replicas of one service share the requests. Without one every replica receives
   * and replies to each request, for requests that each replica must act on (see `requestAll`).
   */
  queue?: string;
  metrics?: BusMetrics;
  /** Subject tokens to serve (e.g. the PBX id); missing tokens become wildcards. */
  tokens?: Record<string, string>;
  /**
   * Reply subjects a request may carry: the inbox prefixes of the services allowed to send it.
   * A message without such a reply is not a request from a client (a JetStream delivery replies
   * to `$JS.ACK.…`) and is ignored.
   */
  replyPrefixes?: readonly string[];
}

export type RequestHandler<Q extends TSchema, R extends TSchema> = (request: Static<Q>, subject: string) => Promise<Static<R>>;

function respondWithError(msg: Msg, status: number, text: string): void {
  const headers = natsHeaders();
  headers.set(SERVICE_ERROR_HEADER, text);
  headers.set(SERVICE_ERROR_CODE_HEADER, String(status));
  msg.respond(encoder.encode(''), { headers });
}

/**
 * Answers requests of one contract. An invalid request gets a 400 service error naming the
 * field; a handler failure gets a 500 with the error code, never the stack.
 */
export function serve<Q extends TSchema, R extends TSchema>(
  connection: NatsConnection,
  requestContract: MessageContract<Q>,
  replyContract: MessageContract<R>,
  handler: RequestHandler<Q, R>,
  options: ServeOptions,
): Subscription {
  const subject = requestContract.filter(options.tokens ?? {});
  const logger = options.logger.child({ request: requestContract.name });
  const replyPrefixes = options.replyPrefixes ?? ['_INBOX.'];
  let ignored = 0;

  const count = (outcome: 'ok' | 'invalid' | 'failed') => options.metrics?.served.inc({ request: requestContract.name, outcome });

  return connection.subscribe(subject, {
    ...(options.queue === undefined ? {} : { queue: options.queue }),
    callback: (error, msg) => {
      if (error !== null) {
        logger.error({ err: error }, 'request subscription failed');
        return;
      }
      answer(msg).catch((error: unknown) => logger.error({ err: error, subject: msg.subject }, 'request handling failed'));
    },
  });

  async function answer(msg: Msg): Promise<void> {
    const reply = msg.reply ?? '';
    if (!replyPrefixes.some((prefix) => reply.startsWith(prefix))) {
      // Never acted on: a push consumer of another service can deliver stored data to this
      // subject, with a JetStream reply. Logged for the first few and then every 1000th.
      ignored += 1;
      if (ignored <= 10 || ignored % 1000 === 0) {
        logger.warn({ subject: msg.subject, reply: reply.slice(0, 64), ignored }, 'request from an unexpected sender ignored');
      }
      options.metrics?.requests.inc({ request: requestContract.name, outcome: 'ignored' });
      return;
    }
    let parsed: Static<Q>;
    try {
      parsed = requestContract.parse(JSON.parse(decoder.decode(msg.data)));
    } catch (error) {
      const text = error instanceof SyntaxError ? 'request is not valid JSON' : error instanceof Error ? error.message : 'invalid request';
      logger.info({ subject: msg.subject, reason: text }, 'invalid request rejected');
      respondWithError(msg, 400, text);
      count('invalid');
      return;
    }
    const stopTimer = options.metrics?.serveSeconds.startTimer({ request: requestContract.name });
    try {
      const reply = replyContract.parse(await handler(parsed, msg.subject));
      msg.respond(encoder.encode(JSON.stringify(reply)));
      count('ok');
    } catch (error) {
      const code = CtiError.is(error) ? error.code : 'CTI_ERR_INTERNAL';
      logger.error({ err: error, subject: msg.subject }, 'request handler failed');
      respondWithError(msg, 500, code);
      count('failed');
    } finally {
      stopTimer?.();
    }
  }
}

/**
 * Sends a request that every replica of the serving service answers (one served without a queue
 * group), and collects the replies that arrive within `timeoutMs`. Resolves with no replies when
 * nobody serves the subject; a reply that is a service error or does not match its contract
 * rejects, because the caller cannot tell what that replica did.
 */
export async function requestAll<Q extends TSchema, R extends TSchema>(
  connection: NatsConnection,
  requestContract: MessageContract<Q>,
  replyContract: MessageContract<R>,
  message: Static<Q>,
  options: RequestOptions,
): Promise<Static<R>[]> {
  const checked = requestContract.parse(message);
  const subject = requestContract.subjectOf(checked);
  const count = (outcome: string) => options.metrics?.requests.inc({ request: requestContract.name, outcome });
  const replies: Static<R>[] = [];
  try {
    const messages = await connection.requestMany(subject, encoder.encode(JSON.stringify(checked)), { strategy: 'timer', maxWait: options.timeoutMs });
    for await (const reply of messages) {
      const serviceError = reply.headers?.get(SERVICE_ERROR_HEADER);
      if (serviceError !== undefined && serviceError !== '') {
        count('rejected');
        throw new BusError(BusErrorCode.REQUEST_REJECTED, `${requestContract.name} rejected: ${serviceError}`, {
          details: { subject, status: reply.headers?.get(SERVICE_ERROR_CODE_HEADER) ?? '' },
        });
      }
      replies.push(replyContract.parse(JSON.parse(decoder.decode(reply.data))));
    }
  } catch (error) {
    if (error instanceof BusError || CtiError.is(error)) {
      throw error;
    }
    const busError = toBusError(error, BusErrorCode.REQUEST_TIMEOUT, subject);
    if (busError.code === BusErrorCode.NO_RESPONDER) {
      count('no_responder');
      return [];
    }
    count('failed');
    throw busError;
  }
  count(replies.length === 0 ? 'timeout' : 'ok');
  return replies;
}
