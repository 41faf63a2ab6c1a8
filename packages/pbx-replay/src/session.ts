import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';

import { AmiFramer, type AmiMessage } from '@cti/ami';

import { ACTION_WRITE_CLASSES, OPEN_ACTIONS, responses } from './responses.js';

/** An AMI user of the replayed PBX, with its manager.conf read and write classes. */
export interface ReplayCredentials {
  username: string;
  secret: string;
  /** Read classes; the recorded `cti` user had call, agent and user. */
  read?: readonly string[];
  /** Write classes; the recorded `cti` user had originate, call and reporting. */
  write?: readonly string[];
}

export const RECORDED_READ = ['call', 'agent', 'user'] as const;
export const RECORDED_WRITE = ['originate', 'call', 'reporting'] as const;

/** Services the server provides to its sessions. */
export interface SessionHost {
  credentials(username: string): ReplayCredentials | undefined;
  loginFailureDelayMs: number;
  clock(): number;
  uptimeSeconds(): number;
  onLogin(session: ReplaySession): void;
  onClose(session: ReplaySession): void;
  onAction(session: ReplaySession, message: AmiMessage): void;
  coreShowChannels(actionId: string | undefined): string;
  originate(session: ReplaySession, message: AmiMessage, actionId: string | undefined): string;
}

function equalSecrets(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function classesOf(list: readonly string[] | undefined, fallback: readonly string[]): Set<string> {
  return new Set((list ?? fallback).map((item) => item.trim().toLowerCase()));
}

/** One client connection to the replay server: it parses actions and responds to them. */
export class ReplaySession {
  readonly id: number;
  readonly socket: Socket;
  readonly #host: SessionHost;
  readonly #framer: AmiFramer;
  #user: ReplayCredentials | undefined;
  #challenge: string | undefined;
  #eventClasses: Set<string> | 'all' | 'none' = 'all';
  #closing = false;

  constructor(id: number, socket: Socket, host: SessionHost, banner: string) {
    this.id = id;
    this.socket = socket;
    this.#host = host;
    this.#framer = new AmiFramer({ banner: false, onMessage: (message) => this.#handle(message) });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#framer.push(chunk, host.clock()));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => host.onClose(this));
    socket.write(`${banner}\r\n`);
  }

  get loggedIn(): boolean {
    return this.#user !== undefined && !this.#closing;
  }

  get username(): string | undefined {
    return this.#user?.username;
  }

  /** Writes raw AMI text. Returns false when the socket's buffer is full. */
  send(text: string): boolean {
    if (this.socket.destroyed || this.#closing) {
      return true;
    }
    return this.socket.write(text);
  }

  /** Tells whether an event of these Privilege classes reaches this session (read classes and Events filter). */
  wants(privilege: string | undefined): boolean {
    if (this.#user === undefined || this.#eventClasses === 'none' || privilege === undefined) {
      return false;
    }
    const read = classesOf(this.#user.read, RECORDED_READ);
    const classes = privilege
      .split(',')
      .map((item) => item.trim().toLowerCase())
      .filter((item) => item !== 'all' && item !== '');
    const filter = this.#eventClasses;
    return classes.some((item) => (read.has('all') || read.has(item)) && (filter === 'all' || filter.has(item)));
  }

  close(): void {
    this.#closing = true;
    this.socket.destroy();
  }

  #handle(message: AmiMessage): void {
    if (this.#closing) {
      return;
    }
    this.#host.onAction(this, message);
    const action = (message.getIgnoreCase('Action') ?? '').toLowerCase();
    const actionId = message.getIgnoreCase('ActionID');

    if (action === 'login') {
      this.#login(message, actionId);
      return;
    }
    if (action === 'challenge') {
      this.#challenge = String(randomInt(100_000_000, 1_000_000_000));
      this.send(responses.challenge(actionId, this.#challenge));
      return;
    }
    if (action === 'logoff') {
      this.send(responses.goodbye(actionId));
      this.#closing = true;
      this.socket.end();
      return;
    }
    if (this.#user === undefined) {
      this.send(responses.permissionDenied(actionId));
      return;
    }

    const needed = ACTION_WRITE_CLASSES[action];
    if (needed === undefined && !OPEN_ACTIONS.has(action)) {
      this.send(responses.unknownCommand(actionId));
      return;
    }
    if (needed !== undefined) {
      const write = classesOf(this.#user.write, RECORDED_WRITE);
      if (!write.has('all') && !needed.some((item) => write.has(item))) {
        this.send(responses.permissionDenied(actionId));
        return;
      }
    }

    switch (action) {
      case 'ping':
        this.send(responses.pong(actionId, this.#host.clock()));
        return;
      case 'events': {
        const mask = message.getIgnoreCase('EventMask') ?? 'on';
        this.#setEvents(mask);
        this.send(responses.eventsSet(actionId, this.#eventClasses !== 'none'));
        return;
      }
      case 'coreshowchannels':
        this.send(this.#host.coreShowChannels(actionId));
        return;
      case 'originate':
        this.send(this.#host.originate(this, message, actionId));
        return;
      default:
        this.send(responses.notReplayed(actionId, message.getIgnoreCase('Action') ?? action));
    }
  }

  #login(message: AmiMessage, actionId: string | undefined): void {
    const username = message.getIgnoreCase('Username') ?? '';
    const user = this.#host.credentials(username);
    let accepted = false;
    if (user !== undefined) {
      if ((message.getIgnoreCase('AuthType') ?? '').toLowerCase() === 'md5') {
        const key = message.getIgnoreCase('Key') ?? '';
        const expected = this.#challenge === undefined ? undefined : createHash('md5').update(this.#challenge + user.secret).digest('hex');
        accepted = expected !== undefined && equalSecrets(key.toLowerCase(), expected);
      } else {
        accepted = equalSecrets(message.getIgnoreCase('Secret') ?? '', user.secret);
      }
    }

    if (!accepted) {
      // Asterisk responds to a failed login after about a second, then closes the connection.
      this.#closing = true;
      setTimeout(() => {
        if (!this.socket.destroyed) {
          this.socket.end(responses.loginFailed(actionId));
        }
      }, this.#host.loginFailureDelayMs).unref();
      return;
    }

    this.#user = user;
    this.#setEvents(message.getIgnoreCase('Events') ?? 'on');
    let text = responses.loginAccepted(actionId);
    const read = classesOf(user?.read, RECORDED_READ);
    // FullyBooted follows the login response, in the same write, for users with system read.
    if (read.has('system') || read.has('all')) {
      text += responses.fullyBooted(this.#host.uptimeSeconds());
    }
    this.send(text);
    this.#host.onLogin(this);
  }

  #setEvents(mask: string): void {
    const value = mask.trim().toLowerCase();
    if (value === 'off' || value === 'no' || value === 'false' || value === '0') {
      this.#eventClasses = 'none';
    } else if (value === 'on' || value === 'yes' || value === 'true' || value === '1' || value === 'all') {
      this.#eventClasses = 'all';
    } else {
      this.#eventClasses = new Set(value.split(',').map((item) => item.trim()));
    }
  }
}
