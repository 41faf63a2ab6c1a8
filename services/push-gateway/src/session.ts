import { randomUUID } from 'node:crypto';

import { CtiError } from '@cti/errors';
import type { Logger } from '@cti/logging';
import type { Auditor } from '@cti/runtime';
import { Compile } from 'typebox/compile';
import type { RawData, WebSocket } from 'ws';

import type { Dialer } from './dial.js';
import { auditDisclosure } from './disclosure.js';
import { PushErrorCode } from './errors.js';
import { frameKey, type OutboundFrame } from './frames.js';
import type { StreamHistory } from './history.js';
import { extensionKey, type ExtensionKey } from './live-feed.js';
import type { PushMetrics } from './metrics.js';
import {
  ClientFrame,
  CloseCode,
  PROTOCOL_VERSION,
  type Cursor,
  type ServerFrame,
  type Snapshot,
} from './protocol.js';
import { verifyAgentToken, type AgentClaims, type AgentTokenKeys } from './tokens.js';

const checkClientFrame = Compile(ClientFrame);
const INVALID_FRAME_WINDOW_MS = 60_000;
const PEER_GONE_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT']);

/** True for socket errors that only mean the client went away. */
export function isPeerGone(code: string | undefined): boolean {
  return code !== undefined && PEER_GONE_CODES.has(code);
}
const TOKEN_REFRESH_MIN_INTERVAL_MS = 10_000;

export interface SessionSettings {
  sendBufferBytes: number;
  slowCloseGraceMs: number;
  inboundFramesPerSecond: number;
  invalidFramesLimit: number;
  tokenExpiryWarningMs: number;
  heartbeatIntervalMs: number;
}

/** Services a session gets from the hub that owns it. */
export interface SessionContext {
  settings: SessionSettings;
  logger: Logger;
  metrics: PushMetrics;
  tokenKeys: AgentTokenKeys;
  history: StreamHistory;
  dialer: Dialer;
  auditor: Pick<Auditor, 'recordLater'>;
  /** Moves the session's routes when a fresh token names other extensions. */
  updateRoutes(session: AgentSession, previous: readonly ExtensionKey[]): Promise<void>;
  /** Called once when the session ends, whoever ended it. */
  closed(session: AgentSession, reason: string): void;
}

export type DisconnectReason =
  | 'client'
  | 'token_expired'
  | 'slow_client'
  | 'heartbeat'
  | 'invalid_frames'
  | 'rate_limited'
  | 'shutdown'
  | 'error';

/**
 * One agent's WebSocket. Event frames go out as they arrive. While the session catches up
 * (snapshot or replay), live frames wait in a queue and follow the catch-up, minus the ones it
 * already carried. Every write checks the socket's send buffer first, so a client that stops
 * reading is closed instead of holding memory and slowing the others.
 */
export class AgentSession {
  readonly id = randomUUID();
  /** When the socket was accepted, in milliseconds. */
  readonly openedAt = Date.now();
  readonly #socket: WebSocket;
  readonly #context: SessionContext;
  #childLogger: Logger | undefined;
  #claims: AgentClaims;
  #keys: ExtensionKey[];
  #state: 'syncing' | 'live' | 'closed' = 'syncing';
  #queued: OutboundFrame[] = [];
  #alive = true;
  #bucket: number;
  #bucketAt = Date.now();
  readonly #invalidAt: number[] = [];
  #lastRefreshAt = 0;
  /** A token frame is being verified; another one meanwhile would slip past the interval check. */
  #refreshing = false;
  #expiryTimer: NodeJS.Timeout | undefined;
  #warningTimer: NodeJS.Timeout | undefined;

  constructor(socket: WebSocket, claims: AgentClaims, context: SessionContext) {
    this.#socket = socket;
    this.#context = context;
    this.#claims = claims;
    this.#keys = claims.extensions.map((extension) => extensionKey(claims.pbx, extension));
    this.#bucket = context.settings.inboundFramesPerSecond * 2;

    socket.on('message', (data, isBinary) => this.#receive(data, isBinary));
    socket.on('pong', () => {
      this.#alive = true;
    });
    // ws closes the socket itself after a protocol error (1007 invalid UTF-8, 1009 too big), and
    // the close event then carries the peer's code, or 1006 when the peer sends no close frame.
    let protocolError = false;
    socket.on('close', (code) => this.#ended(protocolError || code === CloseCode.MESSAGE_TOO_BIG ? 'error' : 'client'));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      const code = error.code ?? 'unknown';
      if (isPeerGone(code)) {
        this.#logger.debug({ code }, 'websocket connection reset by the client');
        return;
      }
      protocolError = true;
      // The client caused it, so no stack trace: the code names the rule it broke.
      this.#logger.info({ code, reason: error.message }, 'websocket protocol error, connection closed');
    });
  }

  // Created on first use: most sessions never log, and a pino child per connection costs memory.
  get #logger(): Logger {
    this.#childLogger ??= this.#context.logger.child({ sessionId: this.id, agentId: this.#claims.agentId });
    return this.#childLogger;
  }

  get agentId(): string {
    return this.#claims.agentId;
  }

  get claims(): AgentClaims {
    return this.#claims;
  }

  get keys(): readonly ExtensionKey[] {
    return this.#keys;
  }

  get isClosed(): boolean {
    return this.#state === 'closed';
  }

  /**
   * Sends the welcome, then either the frames missed since `resume` followed by `recovered`, or
   * a snapshot, then whatever arrived live meanwhile.
   */
  async start(resume: Partial<Cursor> | undefined): Promise<void> {
    this.#sendControl({
      type: 'welcome',
      protocol: PROTOCOL_VERSION,
      sessionId: this.id,
      agentId: this.#claims.agentId,
      pbx: this.#claims.pbx,
      extensions: this.#claims.extensions,
      expiresAt: new Date(this.#claims.expiresAt).toISOString(),
      heartbeatSeconds: Math.round(this.#context.settings.heartbeatIntervalMs / 1000),
    });
    // Scheduled after the welcome, so a short-lived token's token_expiring never comes first.
    this.#scheduleExpiry();
    const started = performance.now();
    const alreadySent = new Set<string>();
    let snapshotCursor: Cursor | undefined;
    let kind: 'replay' | 'snapshot' = 'snapshot';
    try {
      if (resume !== undefined) {
        const replay = await this.#context.history.replay(this.#keys, resume);
        if (replay.ok) {
          kind = 'replay';
          const cursor = { ...resume } as Cursor;
          for (const frame of replay.frames) {
            alreadySent.add(frameKey(frame));
            cursor[frame.stream] = Math.max(cursor[frame.stream], frame.seq);
            this.#sendEvent(frame);
          }
          this.#sendControl({ type: 'recovered', recovered: true, replayed: replay.frames.length, cursor });
          this.#context.metrics.recoveries.inc({ outcome: 'recovered', reason: 'none' });
        } else {
          const snapshot = await this.#snapshot();
          snapshotCursor = snapshot.cursor;
          this.#sendControl({ type: 'recovered', recovered: false, reason: replay.reason, snapshot });
          this.#context.metrics.recoveries.inc({ outcome: 'snapshot', reason: replay.reason });
          this.#logger.info({ reason: replay.reason }, 'recovery not possible, snapshot sent');
        }
      } else {
        const snapshot = await this.#snapshot();
        snapshotCursor = snapshot.cursor;
        this.#sendControl({ type: 'snapshot', ...snapshot });
      }
    } catch (error) {
      this.#logger.error({ err: error }, 'session catch-up failed');
      this.close(CloseCode.INTERNAL_ERROR, 'catch-up failed', 'error');
      return;
    }
    this.#context.metrics.syncSeconds.observe({ kind }, (performance.now() - started) / 1000);

    const queued = this.#queued;
    this.#queued = [];
    if (this.#state === 'closed') {
      return;
    }
    this.#state = 'live';
    for (const frame of queued) {
      const covered = snapshotCursor === undefined ? alreadySent.has(frameKey(frame)) : frame.seq <= snapshotCursor[frame.stream];
      if (!covered) {
        this.#sendEvent(frame);
      }
    }
  }

  /** Hands a live frame to the session: sent now, or queued while the session catches up. */
  deliver(frame: OutboundFrame): void {
    if (this.#state === 'live') {
      if (this.#sendEvent(frame)) {
        this.#observeScreenPop(frame);
      }
    } else if (this.#state === 'syncing') {
      this.#queued.push(frame);
    }
  }

  /** Called every heartbeat interval: ends a socket that did not answer the previous ping. */
  heartbeat(): void {
    if (this.#state === 'closed') {
      return;
    }
    if (!this.#alive) {
      this.#logger.info('heartbeat missed, connection closed');
      this.#socket.terminate();
      this.#ended('heartbeat');
      return;
    }
    this.#alive = false;
    this.#socket.ping();
  }

  close(code: number, reason: string, disconnect: DisconnectReason): void {
    if (this.#state === 'closed') {
      return;
    }
    this.#socket.close(code, reason);
    // A client that reads nothing never answers the close frame either.
    const grace = setTimeout(() => this.#socket.terminate(), code === CloseCode.SLOW_CONSUMER ? this.#context.settings.slowCloseGraceMs : 5000);
    grace.unref();
    this.#socket.once('close', () => clearTimeout(grace));
    this.#ended(disconnect);
  }

  #ended(reason: DisconnectReason): void {
    if (this.#state === 'closed') {
      return;
    }
    this.#state = 'closed';
    this.#queued = [];
    clearTimeout(this.#expiryTimer);
    clearTimeout(this.#warningTimer);
    this.#context.closed(this, reason);
  }

  #sendEvent(frame: OutboundFrame): boolean {
    if (this.#write(frame.payload, frame.event.type)) {
      auditDisclosure(this.#context.auditor, this.#claims.agentId, frame);
      return true;
    }
    return false;
  }

  /** Times a live screen pop from the ring that caused it; a replayed or snapshot one is not timed. */
  #observeScreenPop(frame: OutboundFrame): void {
    if (frame.event.type !== 'crm.caller.identified' || frame.event.ringingAt === undefined) {
      return;
    }
    const ringingAt = Date.parse(frame.event.ringingAt);
    if (Number.isFinite(ringingAt)) {
      this.#context.metrics.screenPopSeconds.observe(Math.max(0, Date.now() - ringingAt) / 1000);
    }
  }

  #sendControl(frame: ServerFrame): void {
    this.#write(JSON.stringify(frame), frame.type);
  }

  #write(payload: Buffer | string, label: string): boolean {
    if (this.#state === 'closed') {
      return false;
    }
    const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    if (this.#socket.bufferedAmount + size > this.#context.settings.sendBufferBytes) {
      this.#logger.warn({ bufferedBytes: this.#socket.bufferedAmount }, 'slow client, connection closed');
      this.#context.metrics.slowClientDisconnects.inc();
      this.close(CloseCode.SLOW_CONSUMER, 'slow consumer', 'slow_client');
      return false;
    }
    // Event payloads are Buffers, which ws would send as binary frames; browsers then hand the
    // page a Blob instead of text.
    this.#socket.send(payload, { binary: false });
    this.#context.metrics.framesSent.inc({ frame: label });
    return true;
  }

  async #snapshot(): Promise<Snapshot> {
    const { snapshot, frames } = await this.#context.history.snapshot(this.#keys);
    for (const frame of frames) {
      auditDisclosure(this.#context.auditor, this.#claims.agentId, frame);
    }
    return snapshot;
  }

  #receive(data: RawData, isBinary: boolean): void {
    this.#alive = true;
    if (this.#state === 'closed') {
      return;
    }
    if (!this.#takeFromBucket()) {
      this.#context.metrics.http.rateLimited.inc({ limit: 'inbound_frames' });
      this.#logger.info('inbound frame rate exceeded, connection closed');
      this.close(CloseCode.RATE_LIMITED, 'too many frames', 'rate_limited');
      return;
    }
    if (isBinary) {
      this.#invalid('binary frames are not accepted: send JSON text frames');
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(rawText(data));
    } catch {
      this.#invalid('frame is not valid JSON');
      return;
    }
    if (!checkClientFrame.Check(value)) {
      const issue = checkClientFrame.Errors(value)[0];
      this.#invalid(`invalid frame: ${issue?.instancePath || '(root)'} ${issue?.message ?? 'does not match any frame type'}`);
      return;
    }
    const frame = value;
    this.#context.metrics.inboundFrames.inc({ frame: frame.type });
    switch (frame.type) {
      case 'ping':
        this.#sendControl(frame.id === undefined ? { type: 'pong' } : { type: 'pong', id: frame.id });
        return;
      case 'token':
        void this.#refresh(frame.token);
        return;
      case 'dial':
        void this.#dial(frame);
        return;
      default: {
        const unknownFrame: never = frame;
        throw new TypeError(`unhandled client frame ${JSON.stringify(unknownFrame)}`);
      }
    }
  }

  #takeFromBucket(): boolean {
    const rate = this.#context.settings.inboundFramesPerSecond;
    const now = Date.now();
    this.#bucket = Math.min(rate * 2, this.#bucket + ((now - this.#bucketAt) / 1000) * rate);
    this.#bucketAt = now;
    if (this.#bucket < 1) {
      return false;
    }
    this.#bucket -= 1;
    return true;
  }

  #invalid(message: string, code: PushErrorCode = PushErrorCode.FRAME_INVALID): void {
    this.#context.metrics.inboundFrames.inc({ frame: 'invalid' });
    const now = Date.now();
    this.#invalidAt.push(now);
    while ((this.#invalidAt[0] ?? now) < now - INVALID_FRAME_WINDOW_MS) {
      this.#invalidAt.shift();
    }
    if (this.#invalidAt.length > this.#context.settings.invalidFramesLimit) {
      this.#logger.info({ invalidFrames: this.#invalidAt.length }, 'too many invalid frames, connection closed');
      this.close(CloseCode.INVALID_FRAMES, 'too many invalid frames', 'invalid_frames');
      return;
    }
    this.#sendControl({ type: 'error', code, message });
  }

  async #refresh(token: string): Promise<void> {
    if (this.#refreshing) {
      this.#invalid('a token refresh is already being checked: send one token at a time', PushErrorCode.TOKEN_REFRESH_TOO_SOON);
      return;
    }
    this.#refreshing = true;
    try {
      await this.#applyRefresh(token);
    } finally {
      this.#refreshing = false;
    }
  }

  async #applyRefresh(token: string): Promise<void> {
    // Each accepted refresh is audited, so a client may not repeat them back to back: one per
    // token lifetime is what a well-behaved client needs. Rejected ones count as invalid frames.
    if (Date.now() - this.#lastRefreshAt < TOKEN_REFRESH_MIN_INTERVAL_MS) {
      this.#invalid(`token refreshed less than ${TOKEN_REFRESH_MIN_INTERVAL_MS / 1000} s ago: send a fresh token when token_expiring arrives`, PushErrorCode.TOKEN_REFRESH_TOO_SOON);
      return;
    }
    let claims: AgentClaims;
    try {
      claims = await verifyAgentToken(this.#context.tokenKeys, token);
    } catch (error) {
      const code = CtiError.is(error) ? error.code : PushErrorCode.TOKEN_INVALID;
      this.#context.metrics.authFailures.inc({ credential: 'agent_token', reason: 'refresh_rejected' });
      this.#context.auditor.recordLater({
        action: 'auth_failed',
        outcome: 'denied',
        actor: { type: 'agent', id: this.#claims.agentId },
        target: { type: 'session', id: this.id },
        reason: 'refresh_rejected',
        details: { credential: 'agent_token', code },
      });
      // Counted as an invalid frame, so a client that keeps sending bad tokens is closed.
      this.#invalid(error instanceof Error ? error.message : 'token rejected', code as PushErrorCode);
      return;
    }
    if (claims.agentId !== this.#claims.agentId) {
      this.#context.auditor.recordLater({
        action: 'auth_failed',
        outcome: 'denied',
        actor: { type: 'agent', id: this.#claims.agentId },
        target: { type: 'session', id: this.id },
        reason: 'token_agent_mismatch',
        details: { credential: 'agent_token', presentedAgentId: claims.agentId },
      });
      this.#invalid('the fresh token is for another agent: open a new connection to switch agents', PushErrorCode.TOKEN_AGENT_MISMATCH);
      return;
    }
    if (this.#state === 'closed') {
      return;
    }
    this.#lastRefreshAt = Date.now();
    const previous = this.#keys;
    this.#claims = claims;
    this.#keys = claims.extensions.map((extension) => extensionKey(claims.pbx, extension));
    await this.#context.updateRoutes(this, previous);
    this.#context.auditor.recordLater({
      action: 'token_refreshed',
      outcome: 'success',
      actor: { type: 'agent', id: claims.agentId },
      target: { type: 'session', id: this.id },
      details: { tokenId: claims.tokenId, extensions: claims.extensions.join(',') },
    });
    this.#sendControl({ type: 'token_accepted', expiresAt: new Date(claims.expiresAt).toISOString(), extensions: claims.extensions });
    // After token_accepted, so a short-lived fresh token's token_expiring never comes first.
    this.#scheduleExpiry();
  }

  async #dial(frame: Extract<ClientFrame, { type: 'dial' }>): Promise<void> {
    const outcome = await this.#context.dialer.dial(this.#claims, frame);
    const base = { type: 'dial_result' as const, status: outcome.status, ...(frame.ref === undefined ? {} : { ref: frame.ref }) };
    if (outcome.outcome === 'accepted') {
      this.#sendControl({ ...base, requestId: outcome.requestId, duplicate: outcome.duplicate });
    } else {
      this.#sendControl({ ...base, code: outcome.code, message: outcome.message, ...('requestId' in outcome ? { requestId: outcome.requestId } : {}) });
    }
  }

  #scheduleExpiry(): void {
    clearTimeout(this.#expiryTimer);
    clearTimeout(this.#warningTimer);
    const now = Date.now();
    const expiresAt = this.#claims.expiresAt;
    const warningAt = expiresAt - this.#context.settings.tokenExpiryWarningMs;
    this.#warningTimer = setTimeout(
      () => this.#sendControl({ type: 'token_expiring', expiresAt: new Date(expiresAt).toISOString() }),
      Math.max(0, warningAt - now),
    );
    this.#expiryTimer = setTimeout(() => {
      this.#logger.info('agent token expired, connection closed');
      this.close(CloseCode.TOKEN_EXPIRED, 'token expired', 'token_expired');
    }, Math.max(0, expiresAt - now));
  }
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) {
    return Buffer.concat(data).toString('utf8');
  }
  return Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data).toString('utf8');
}
