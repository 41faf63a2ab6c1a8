import { extensionSubject, liveSubject, readersOf, type ExtensionTokens } from '@cti/contracts';
import type { Logger } from '@cti/logging';
import type { Msg, NatsConnection, Subscription } from '@nats-io/nats-core';

import { decodeStoredEvent, type OutboundFrame } from './frames.js';
import type { PushMetrics } from './metrics.js';

/** One extension of one PBX, as `<pbx>.<extension>`: the last two tokens of its subjects. */
export type ExtensionKey = string;

export function extensionKey(pbx: string, extension: string): ExtensionKey {
  return `${pbx}.${extension}`;
}

/** Splits a key into its PBX and extension; neither token can contain a dot. */
export function extensionTokens(key: ExtensionKey): ExtensionTokens {
  const [pbx = '', extension = ''] = key.split('.');
  return { pbx, extension };
}

/**
 * Live subjects of one extension: its call events (ringing to ended, and missed), its
 * click-to-dial outcomes, and its CRM screen pops and AI summaries. They come from the gateway's
 * stream reads declared in @cti/contracts, from which its NATS permissions are generated.
 */
export function liveSubjects(key: ExtensionKey): string[] {
  const tokens = extensionTokens(key);
  return readersOf('push-gateway').flatMap((reader) => reader.extensionSubjects.map((subject) => liveSubject(extensionSubject(subject, tokens))));
}

interface Entry {
  holders: number;
  subscriptions: Subscription[];
  /** Resolves once the server has registered the subscriptions. */
  ready: Promise<void>;
}

export interface LiveFeedOptions {
  connection: NatsConnection;
  logger: Logger;
  metrics: PushMetrics;
  /** Called for every decoded event, in the order NATS delivered it. */
  onFrame: (key: ExtensionKey, frame: OutboundFrame) => void;
  /** Counts each decoded event by message name (the bus's `cti_bus_received_total`). */
  countReceived?: (message: string) => void;
}

/**
 * Core NATS subscriptions to the live copies of the CALLS and CRM streams, one set per extension
 * that a connected agent holds, and none for any other extension. Replicas of the gateway behind
 * a load balancer therefore each receive only the traffic of their own agents.
 */
export class LiveFeed {
  readonly #options: LiveFeedOptions;
  readonly #entries = new Map<ExtensionKey, Entry>();

  constructor(options: LiveFeedOptions) {
    this.#options = options;
  }

  /** Subscribes to an extension, or adds a holder; resolves when messages will arrive. */
  acquire(key: ExtensionKey): Promise<void> {
    const existing = this.#entries.get(key);
    if (existing !== undefined) {
      existing.holders += 1;
      return existing.ready;
    }
    const subscriptions = liveSubjects(key).map((subject) =>
      this.#options.connection.subscribe(subject, { callback: (error, msg) => this.#receive(key, error, msg) }),
    );
    // A flush round trip guarantees the server has the subscriptions, so a message stored after
    // this resolves reaches us live; the caller reads everything older from the stream.
    const ready = this.#options.connection.flush();
    this.#entries.set(key, { holders: 1, subscriptions, ready });
    this.#options.metrics.subscribedExtensions.set(this.#entries.size);
    return ready;
  }

  /** Removes a holder; the last one leaving unsubscribes. */
  release(key: ExtensionKey): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) {
      return;
    }
    entry.holders -= 1;
    if (entry.holders > 0) {
      return;
    }
    this.#entries.delete(key);
    for (const subscription of entry.subscriptions) {
      subscription.unsubscribe();
    }
    this.#options.metrics.subscribedExtensions.set(this.#entries.size);
  }

  /** Extensions subscribed to right now. */
  keys(): ExtensionKey[] {
    return [...this.#entries.keys()];
  }

  /** NATS subjects subscribed to right now. */
  subjects(): string[] {
    return [...this.#entries.values()].flatMap((entry) => entry.subscriptions.map((subscription) => subscription.getSubject()));
  }

  close(): void {
    for (const key of [...this.#entries.keys()]) {
      const entry = this.#entries.get(key);
      entry?.subscriptions.forEach((subscription) => subscription.unsubscribe());
      this.#entries.delete(key);
    }
    this.#options.metrics.subscribedExtensions.set(0);
  }

  #receive(key: ExtensionKey, error: Error | null, msg: Msg): void {
    if (error !== null) {
      this.#options.logger.error({ err: error, extensionKey: key }, 'live subscription failed');
      return;
    }
    const headers = msg.headers;
    const stream = headers?.get('Nats-Stream');
    const sequence = Number(headers?.get('Nats-Sequence'));
    const subject = headers?.get('Nats-Subject') || msg.subject;
    const decoded = decodeStoredEvent(stream, sequence, subject, msg.data);
    if ('failure' in decoded) {
      this.#options.metrics.liveMessagesDropped.inc({ reason: decoded.failure });
      this.#options.logger.warn({ subject, stream, sequence, reason: decoded.failure }, 'live message dropped');
      return;
    }
    this.#options.countReceived?.(decoded.frame.event.type);
    this.#options.onFrame(key, decoded.frame);
  }
}
