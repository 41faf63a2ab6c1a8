import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

import type { Logger } from '@cti/logging';

import { Backoff } from './backoff.js';
import { AmiError, AmiErrorCode } from './errors.js';
import { AmiFramer } from './framer.js';
import { formatAction, type AmiMessage, type AmiPair } from './message.js';

/** Defaults, in milliseconds. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
export const DEFAULT_ACTION_TIMEOUT_MS = 10_000;
export const DEFAULT_PING_INTERVAL_MS = 20_000;
export const DEFAULT_PING_TIMEOUT_MS = 10_000;
export const DEFAULT_RECONNECT_MIN_MS = 500;
export const DEFAULT_RECONNECT_MAX_MS = 30_000;
// A PBX that locks an account after repeated failures must not see one attempt every few
// seconds: a rejected login waits at least 15 s, growing to 5 minutes.
export const DEFAULT_LOGIN_RETRY_MIN_MS = 15_000;
export const DEFAULT_LOGIN_RETRY_MAX_MS = 300_000;

/** State of the connection; `ready` means logged in. */
export type AmiConnectionState = 'stopped' | 'connecting' | 'authenticating' | 'ready' | 'waiting';

export interface AmiClientOptions {
  host: string;
  port: number;
  username: string;
  secret: string;
  /** `md5` logs in through the challenge, so the secret never crosses the network. */
  auth?: 'md5' | 'plain';
  /** Value of the Login `Events` header: event classes to receive (e.g. `call,agent`), `on` or `off`. */
  events?: string;
  logger: Logger;
  connectTimeoutMs?: number;
  actionTimeoutMs?: number;
  /** Interval of the keepalive Ping; 0 turns it off. */
  pingIntervalMs?: number;
  pingTimeoutMs?: number;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  loginRetryMinMs?: number;
  loginRetryMaxMs?: number;
  maxMessageBytes?: number;
  /** Source of jitter, for tests. */
  random?: () => number;
  /** Time stamped on received messages, in milliseconds. */
  clock?: () => number;

  /** Every event that is not an item of an event list this client asked for. */
  onEvent?: (message: AmiMessage) => void;
  /**
   * Called after each successful login, before keepalives start. The bridge resyncs here;
   * events keep flowing to `onEvent` meanwhile.
   */
  onReady?: () => void | Promise<void>;
  onStateChange?: (state: AmiConnectionState) => void;
  /** Called when an established or authenticating connection closes. */
  onDisconnect?: (reason: AmiError) => void;
  /** Frames skipped or cut short by the framer. */
  onFault?: (fault: AmiError) => void;
  /** Asterisk rejected the login; the client retries on the login backoff. */
  onLoginRejected?: (error: AmiError) => void;
}

/** Result of one action: its response and, for list actions, the list items. */
export interface AmiActionResult {
  response: AmiMessage;
  /** Items of an event list (`EventList: start` … `Complete`), the Complete event last. */
  events: AmiMessage[];
}

export interface SendActionOptions {
  timeoutMs?: number;
  actionId?: string;
  /**
   * Called with the result at its place in the stream, before any later message is handled
   * (the promise settles only after the rest of the read). A resync uses it so the channel
   * list applies before the events that follow it.
   */
  onResult?: (result: AmiActionResult) => void;
}

interface PendingAction {
  action: string;
  onResult: ((result: AmiActionResult) => void) | undefined;
  resolve: (result: AmiActionResult) => void;
  reject: (error: AmiError) => void;
  timer: NodeJS.Timeout;
  response?: AmiMessage;
  events: AmiMessage[];
}

/** True when a response reports success (`Response: Success`, or `Goodbye` for Logoff). */
export function isSuccess(response: AmiMessage): boolean {
  const value = response.get('Response');
  return value === 'Success' || value === 'Goodbye' || value === 'Follows';
}

/** True when Asterisk refused the action for the user's write classes. */
export function isPermissionDenied(response: AmiMessage): boolean {
  return response.get('Response') === 'Error' && response.get('Message') === 'Permission denied';
}

/**
 * One AMI connection that stays up: it logs in (plain or MD5 challenge), matches responses to
 * actions by ActionID (event lists included), sends a keepalive Ping, and reconnects with
 * backoff after any drop. A rejected login is retried on its own, slower backoff.
 *
 * A user without the `system` read class gets no Shutdown event, so a PBX restart shows up
 * only as the socket closing. The client treats every close the same way and reconnects.
 */
export class AmiClient {
  readonly #options: AmiClientOptions;
  readonly #logger: Logger;
  readonly #reconnectBackoff: Backoff;
  readonly #loginBackoff: Backoff;
  readonly #pending = new Map<string, PendingAction>();
  // A per-client prefix keeps our ActionIDs apart from those of any other connection.
  readonly #idPrefix = `cti-${randomBytes(4).toString('hex')}`;
  #sequence = 0;
  #state: AmiConnectionState = 'stopped';
  #socket: Socket | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #pingTimer: NodeJS.Timeout | undefined;
  #pingInFlight = false;
  #loginRejected = false;
  #paused = false;
  #stopping: Promise<void> | undefined;
  #banner: string | undefined;
  #connections = 0;

  constructor(options: AmiClientOptions) {
    this.#options = options;
    this.#logger = options.logger.child({ component: 'ami', host: options.host, port: options.port });
    const random = options.random ?? Math.random;
    this.#reconnectBackoff = new Backoff(options.reconnectMinMs ?? DEFAULT_RECONNECT_MIN_MS, options.reconnectMaxMs ?? DEFAULT_RECONNECT_MAX_MS, random);
    this.#loginBackoff = new Backoff(options.loginRetryMinMs ?? DEFAULT_LOGIN_RETRY_MIN_MS, options.loginRetryMaxMs ?? DEFAULT_LOGIN_RETRY_MAX_MS, random);
  }

  get state(): AmiConnectionState {
    return this.#state;
  }

  /** True while logged in. */
  isReady(): boolean {
    return this.#state === 'ready';
  }

  /** The banner of the current connection, e.g. `Asterisk Call Manager/11.0.0`. */
  get banner(): string | undefined {
    return this.#banner;
  }

  /** Successful logins so far; the first is 1. */
  get connections(): number {
    return this.#connections;
  }

  /** Starts connecting; the client keeps reconnecting until `stop`. */
  start(): void {
    if (this.#state !== 'stopped') {
      return;
    }
    this.#stopping = undefined;
    this.#connect();
  }

  /** Logs off (when logged in), closes the connection and stops reconnecting. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  /** Stops reading from the socket, so a slow consumer makes Asterisk wait instead of this process buffering. */
  pause(): void {
    this.#paused = true;
    this.#socket?.pause();
  }

  resume(): void {
    this.#paused = false;
    this.#socket?.resume();
  }

  /**
   * Sends an action and resolves with its response (and list items). An `Error` response
   * resolves too, for the caller to read. Rejects with AmiError when not logged in, on timeout,
   * or when the connection closes first.
   */
  sendAction(action: string, headers: readonly AmiPair[] = [], options: SendActionOptions = {}): Promise<AmiActionResult> {
    if (this.#state !== 'ready') {
      return Promise.reject(new AmiError(AmiErrorCode.NOT_CONNECTED, `AMI is not logged in; ${action} not sent`, { details: { action } }));
    }
    return this.#send(action, headers, options);
  }

  #nextActionId(): string {
    this.#sequence += 1;
    return `${this.#idPrefix}-${this.#sequence}`;
  }

  #send(action: string, headers: readonly AmiPair[], options: SendActionOptions): Promise<AmiActionResult> {
    const socket = this.#socket;
    if (socket === undefined || socket.destroyed) {
      return Promise.reject(new AmiError(AmiErrorCode.NOT_CONNECTED, `AMI is not connected; ${action} not sent`, { details: { action } }));
    }
    const actionId = options.actionId ?? this.#nextActionId();
    if (this.#pending.has(actionId)) {
      return Promise.reject(new AmiError(AmiErrorCode.ACTION_INVALID, `ActionID ${actionId} is already waiting for a response`, { details: { action } }));
    }
    let text: string;
    try {
      text = formatAction([['Action', action], ['ActionID', actionId], ...headers]);
    } catch (error) {
      return Promise.reject(error as AmiError);
    }
    const timeoutMs = options.timeoutMs ?? this.#options.actionTimeoutMs ?? DEFAULT_ACTION_TIMEOUT_MS;
    return new Promise<AmiActionResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(actionId);
        reject(new AmiError(AmiErrorCode.ACTION_TIMEOUT, `AMI ${action} timed out after ${timeoutMs} ms without a response`, { details: { action, actionId } }));
      }, timeoutMs);
      this.#pending.set(actionId, { action, onResult: options.onResult, resolve, reject, timer, events: [] });
      socket.write(text);
    });
  }

  #setState(state: AmiConnectionState): void {
    if (this.#state !== state) {
      this.#state = state;
      this.#options.onStateChange?.(state);
    }
  }

  #connect(): void {
    this.#setState('connecting');
    this.#banner = undefined;
    const { host, port } = this.#options;
    this.#logger.info('ami connecting');
    const socket = connect({ host, port });
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    if (this.#paused) {
      socket.pause();
    }

    const framer = new AmiFramer({
      onMessage: (message) => this.#onMessage(message),
      onBanner: (banner) => {
        this.#banner = banner;
      },
      onFault: (fault) => {
        this.#logger.warn({ code: fault.code, size: fault.details['size'] }, 'ami frame skipped');
        this.#options.onFault?.(fault);
      },
      ...(this.#options.maxMessageBytes === undefined ? {} : { maxMessageBytes: this.#options.maxMessageBytes }),
    });
    const clock = this.#options.clock ?? Date.now;
    let closeReason: AmiError | undefined;

    const connectTimer = setTimeout(() => {
      closeReason = new AmiError(AmiErrorCode.CONNECT_FAILED, `AMI connect to ${host}:${port} timed out`);
      socket.destroy();
    }, this.#options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);

    socket.on('connect', () => {
      clearTimeout(connectTimer);
      this.#setState('authenticating');
      this.#login().catch((error: unknown) => {
        closeReason ??= error instanceof AmiError ? error : new AmiError(AmiErrorCode.CONNECT_FAILED, 'AMI login failed', { cause: error });
        socket.destroy();
      });
    });
    socket.on('data', (chunk: Buffer) => framer.push(chunk, clock()));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error instanceof AmiError) {
        closeReason ??= error;
        return;
      }
      closeReason ??= new AmiError(AmiErrorCode.CONNECT_FAILED, `AMI connection to ${host}:${port} failed: ${error.code ?? error.message}`, {
        cause: error,
      });
    });
    socket.on('close', () => {
      clearTimeout(connectTimer);
      framer.end(clock());
      this.#onClose(socket, closeReason ?? new AmiError(AmiErrorCode.CONNECTION_CLOSED, 'AMI connection closed by the PBX'));
    });
  }

  async #login(): Promise<void> {
    const { username, secret } = this.#options;
    const events: AmiPair[] = this.#options.events === undefined ? [] : [['Events', this.#options.events]];
    let login: AmiActionResult;
    if ((this.#options.auth ?? 'md5') === 'md5') {
      const challenge = await this.#send('Challenge', [['AuthType', 'MD5']], {});
      const value = challenge.response.get('Challenge');
      if (!isSuccess(challenge.response) || value === undefined) {
        throw new AmiError(AmiErrorCode.CONNECT_FAILED, `AMI Challenge failed: ${challenge.response.get('Message') ?? 'no challenge in the response'}`);
      }
      const key = createHash('md5').update(value + secret).digest('hex');
      login = await this.#send('Login', [['AuthType', 'MD5'], ['Username', username], ['Key', key], ...events], {});
    } else {
      login = await this.#send('Login', [['Username', username], ['Secret', secret], ...events], {});
    }

    if (!isSuccess(login.response)) {
      this.#loginRejected = true;
      const error = new AmiError(AmiErrorCode.LOGIN_REJECTED, `AMI login as ${username} rejected: ${login.response.get('Message') ?? 'no reason given'}`, {
        details: { username },
      });
      this.#options.onLoginRejected?.(error);
      throw error;
    }

    this.#loginRejected = false;
    this.#reconnectBackoff.reset();
    this.#loginBackoff.reset();
    this.#connections += 1;
    this.#setState('ready');
    this.#logger.info({ username, banner: this.#banner, connections: this.#connections }, 'ami logged in');
    try {
      await this.#options.onReady?.();
    } catch (error) {
      this.#logger.error({ err: error }, 'ami ready handler failed');
    }
    this.#startPing();
  }

  #startPing(): void {
    const interval = this.#options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS;
    if (interval <= 0 || this.#state !== 'ready') {
      return;
    }
    const socket = this.#socket;
    this.#pingTimer = setInterval(() => {
      if (this.#pingInFlight || this.#state !== 'ready') {
        return;
      }
      this.#pingInFlight = true;
      const timeoutMs = this.#options.pingTimeoutMs ?? DEFAULT_PING_TIMEOUT_MS;
      this.#send('Ping', [], { timeoutMs })
        .catch((error: unknown) => {
          if (error instanceof AmiError && error.code === AmiErrorCode.ACTION_TIMEOUT && socket === this.#socket) {
            this.#logger.warn({ code: AmiErrorCode.PING_TIMEOUT, timeoutMs }, 'ami keepalive unanswered; reconnecting');
            socket?.destroy(new AmiError(AmiErrorCode.PING_TIMEOUT, `AMI Ping unanswered within ${timeoutMs} ms`));
          }
        })
        .finally(() => {
          this.#pingInFlight = false;
        });
    }, interval);
    this.#pingTimer.unref();
  }

  #onMessage(message: AmiMessage): void {
    if (message.truncated) {
      return;
    }
    const event = message.event;
    // Events carry an ActionID only as items of a list this client requested. With no action
    // waiting, there is no need to look for one.
    const actionId = event !== undefined && this.#pending.size === 0 ? undefined : message.actionId;
    const pending = actionId === undefined ? undefined : this.#pending.get(actionId);

    if (event !== undefined) {
      if (pending?.response !== undefined && actionId !== undefined) {
        pending.events.push(message);
        if (message.get('EventList') === 'Complete') {
          this.#settle(actionId, pending);
        }
        return;
      }
      this.#options.onEvent?.(message);
      return;
    }

    if (message.response === undefined || pending === undefined || actionId === undefined) {
      if (message.response !== undefined) {
        this.#logger.debug({ actionId }, 'ami response to an unknown action ignored');
      }
      return;
    }
    pending.response = message;
    if (message.get('EventList') !== 'start') {
      this.#settle(actionId, pending);
    }
  }

  #settle(actionId: string, pending: PendingAction): void {
    clearTimeout(pending.timer);
    this.#pending.delete(actionId);
    const result = { response: pending.response as AmiMessage, events: pending.events };
    try {
      pending.onResult?.(result);
    } catch (error) {
      this.#logger.error({ err: error, action: pending.action }, 'ami action result handler failed');
    }
    pending.resolve(result);
  }

  #onClose(socket: Socket, reason: AmiError): void {
    if (socket !== this.#socket) {
      return;
    }
    this.#socket = undefined;
    clearInterval(this.#pingTimer);
    this.#pingTimer = undefined;
    this.#pingInFlight = false;
    for (const [actionId, pending] of this.#pending) {
      clearTimeout(pending.timer);
      pending.reject(new AmiError(AmiErrorCode.CONNECTION_CLOSED, `AMI connection closed before ${pending.action} was answered`, { details: { action: pending.action, actionId } }));
    }
    this.#pending.clear();
    const wasUp = this.#state === 'ready' || this.#state === 'authenticating';

    if (this.#stopping !== undefined) {
      this.#setState('stopped');
      return;
    }
    if (wasUp) {
      this.#options.onDisconnect?.(reason);
    }
    this.#setState('waiting');
    const rejected = this.#loginRejected;
    const delay = rejected ? this.#loginBackoff.next() : this.#reconnectBackoff.next();
    if (rejected) {
      this.#logger.error({ code: AmiErrorCode.LOGIN_REJECTED, username: this.#options.username, retryInMs: delay }, 'ami login rejected; check AMI_USERNAME, AMI_SECRET and the permit list of the manager.conf user');
    } else {
      this.#logger.warn({ code: reason.code, reason: reason.message, retryInMs: delay }, 'ami disconnected; reconnecting');
    }
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#connect();
    }, delay);
  }

  async #stop(): Promise<void> {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    const socket = this.#socket;
    if (socket === undefined) {
      this.#setState('stopped');
      return;
    }
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    if (this.#state === 'ready') {
      await this.#send('Logoff', [], { timeoutMs: 2000 }).catch(() => undefined);
    }
    socket.end();
    const forced = setTimeout(() => socket.destroy(), 2000);
    await closed;
    clearTimeout(forced);
    this.#logger.info('ami connection closed');
  }
}
