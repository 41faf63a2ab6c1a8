import type { Logger } from '@cti/logging';
import type { Auditor } from '@cti/runtime';
import type { NatsConnection } from '@nats-io/nats-core';
import type { WebSocket } from 'ws';

import type { Dialer } from './dial.js';
import { PushError, PushErrorCode } from './errors.js';
import type { OutboundFrame } from './frames.js';
import type { StreamHistory } from './history.js';
import { HeartbeatWheel } from './heartbeat-wheel.js';
import { LiveFeed, type ExtensionKey } from './live-feed.js';
import type { PushMetrics } from './metrics.js';
import { CloseCode, type Cursor } from './protocol.js';
import { AgentSession, type DisconnectReason, type SessionSettings } from './session.js';
import type { AgentClaims, AgentTokenKeys } from './tokens.js';
import { WindowCounter } from './window-counter.js';

export interface HubOptions {
  connection: NatsConnection;
  logger: Logger;
  metrics: PushMetrics;
  tokenKeys: AgentTokenKeys;
  history: StreamHistory;
  dialer: Dialer;
  auditor: Pick<Auditor, 'recordLater'>;
  settings: SessionSettings & { maxConnections: number; maxConnectionsPerAgent: number; connectsPerAgentPerMinute: number };
  clock?: () => number;
  /** Counts each live event received from NATS, by message name. */
  countReceived?: (message: string) => void;
}

/**
 * The sessions of one gateway instance and the routing table from extension to sessions. An
 * extension's NATS subscriptions live exactly as long as a session holds that extension.
 */
export class SessionHub {
  readonly #options: HubOptions;
  readonly #feed: LiveFeed;
  readonly #sessions = new Set<AgentSession>();
  readonly #routes = new Map<ExtensionKey, Set<AgentSession>>();
  readonly #perAgent = new Map<string, number>();
  /** New connections per agent and minute: a reconnect loop costs a token check, a replay and an audit event each time. */
  readonly #connects: WindowCounter;
  readonly #heartbeats: HeartbeatWheel<AgentSession>;
  #closing = false;

  constructor(options: HubOptions) {
    this.#options = options;
    this.#connects = new WindowCounter(options.settings.connectsPerAgentPerMinute, options.clock ?? Date.now);
    this.#feed = new LiveFeed({
      connection: options.connection,
      logger: options.logger,
      metrics: options.metrics,
      onFrame: (key, frame) => this.#dispatch(key, frame),
      ...(options.countReceived === undefined ? {} : { countReceived: options.countReceived }),
    });
    this.#heartbeats = new HeartbeatWheel(options.settings.heartbeatIntervalMs);
  }

  get connections(): number {
    return this.#sessions.size;
  }

  get agents(): number {
    return this.#perAgent.size;
  }

  /** NATS subjects this instance subscribes to, for tests and operators. */
  subscribedSubjects(): string[] {
    return this.#feed.subjects();
  }

  /** Returns why a new connection for this agent must be refused, or undefined to accept it. */
  admission(agentId: string): PushError | undefined {
    if (this.#closing) {
      return new PushError(PushErrorCode.SHUTTING_DOWN, 503, 'the gateway is shutting down: reconnect to another instance');
    }
    if (this.#sessions.size >= this.#options.settings.maxConnections) {
      return new PushError(PushErrorCode.CAPACITY_REACHED, 503, 'the gateway holds as many connections as it may: try again later');
    }
    if ((this.#perAgent.get(agentId) ?? 0) >= this.#options.settings.maxConnectionsPerAgent) {
      return new PushError(
        PushErrorCode.AGENT_CONNECTIONS_EXCEEDED,
        429,
        'this agent has too many connections open: close another console tab first',
      );
    }
    if (!this.#connects.take(agentId)) {
      this.#options.metrics.http.rateLimited.inc({ limit: 'agent_connects' });
      return new PushError(
        PushErrorCode.AGENT_RECONNECTS_EXCEEDED,
        429,
        `this agent opened more than ${this.#connects.limit} connections in a minute: wait ${this.#connects.secondsLeft(agentId)} s before reconnecting`,
      );
    }
    return undefined;
  }

  /** Takes over an accepted socket: routes, subscriptions, then the catch-up. */
  async open(socket: WebSocket, claims: AgentClaims, resume: Partial<Cursor> | undefined, ip?: string): Promise<AgentSession> {
    const session = new AgentSession(socket, claims, {
      settings: this.#options.settings,
      logger: this.#options.logger,
      metrics: this.#options.metrics,
      tokenKeys: this.#options.tokenKeys,
      history: this.#options.history,
      dialer: this.#options.dialer,
      auditor: this.#options.auditor,
      updateRoutes: (target, previous) => this.#updateRoutes(target, previous),
      closed: (target, reason) => this.#closed(target, reason as DisconnectReason),
    });
    this.#sessions.add(session);
    this.#heartbeats.add(session);
    this.#perAgent.set(claims.agentId, (this.#perAgent.get(claims.agentId) ?? 0) + 1);
    this.#updateGauges();
    this.#options.logger.info({ sessionId: session.id, agentId: claims.agentId, extensions: claims.extensions, resume: resume !== undefined }, 'agent connected');
    this.#options.auditor.recordLater({
      action: 'session_opened',
      outcome: 'success',
      actor: { type: 'agent', id: claims.agentId, ...(ip === undefined ? {} : { ip }) },
      target: { type: 'session', id: session.id },
      details: { pbx: claims.pbx, extensions: claims.extensions.join(','), tokenId: claims.tokenId, resume: resume !== undefined },
    });

    try {
      await Promise.all(session.keys.map((key) => this.#addRoute(key, session)));
    } catch (error) {
      this.#options.logger.error({ err: error, sessionId: session.id }, 'subscribing to the extensions failed');
      session.close(CloseCode.INTERNAL_ERROR, 'subscription failed', 'error');
      return session;
    }
    if (!session.isClosed) {
      await session.start(resume);
    }
    return session;
  }

  /** Closes every session with 1001, so clients reconnect elsewhere, and drops the subscriptions. */
  async shutdown(): Promise<void> {
    this.#closing = true;
    this.#heartbeats.stop();
    for (const session of [...this.#sessions]) {
      session.close(CloseCode.GOING_AWAY, 'server shutting down', 'shutdown');
    }
    this.#feed.close();
  }

  #dispatch(key: ExtensionKey, frame: OutboundFrame): void {
    const sessions = this.#routes.get(key);
    if (sessions === undefined) {
      return;
    }
    for (const session of sessions) {
      session.deliver(frame);
    }
  }

  async #addRoute(key: ExtensionKey, session: AgentSession): Promise<void> {
    if (session.isClosed) {
      return;
    }
    let sessions = this.#routes.get(key);
    if (sessions === undefined) {
      sessions = new Set();
      this.#routes.set(key, sessions);
    }
    sessions.add(session);
    await this.#feed.acquire(key);
  }

  #removeRoute(key: ExtensionKey, session: AgentSession): void {
    const sessions = this.#routes.get(key);
    if (sessions?.delete(session) !== true) {
      return;
    }
    if (sessions.size === 0) {
      this.#routes.delete(key);
    }
    this.#feed.release(key);
  }

  async #updateRoutes(session: AgentSession, previous: readonly ExtensionKey[]): Promise<void> {
    const next = new Set(session.keys);
    const added = session.keys.filter((key) => !previous.includes(key));
    await Promise.all(added.map((key) => this.#addRoute(key, session)));
    for (const key of previous) {
      if (!next.has(key)) {
        this.#removeRoute(key, session);
      }
    }
  }

  #closed(session: AgentSession, reason: DisconnectReason): void {
    if (!this.#sessions.delete(session)) {
      return;
    }
    this.#heartbeats.delete(session);
    for (const key of session.keys) {
      this.#removeRoute(key, session);
    }
    const remaining = (this.#perAgent.get(session.agentId) ?? 1) - 1;
    if (remaining <= 0) {
      this.#perAgent.delete(session.agentId);
    } else {
      this.#perAgent.set(session.agentId, remaining);
    }
    this.#options.metrics.disconnects.inc({ reason });
    this.#updateGauges();
    this.#options.logger.info({ sessionId: session.id, agentId: session.agentId, reason }, 'agent disconnected');
    this.#options.auditor.recordLater({
      action: 'session_closed',
      outcome: 'success',
      actor: { type: 'agent', id: session.agentId },
      target: { type: 'session', id: session.id },
      reason,
      details: { seconds: Math.round((Date.now() - session.openedAt) / 1000) },
    });
  }

  #updateGauges(): void {
    this.#options.metrics.connections.set(this.#sessions.size);
    this.#options.metrics.connectedAgents.set(this.#perAgent.size);
  }
}
