import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';

import { formatMessage, type AmiMessage } from '@cti/ami';
import type { Logger } from '@cti/logging';

import { loadCapture, originateEvents, unsolicitedEvents, type Capture } from './capture.js';
import { ChannelTable } from './channels.js';
import { IdRewriter, type Substitutions } from './rewrite.js';
import { responses } from './responses.js';
import { RECORDED_READ, RECORDED_WRITE, ReplaySession, type ReplayCredentials, type SessionHost } from './session.js';

/** `recorded` keeps the recorded gaps between reads; `fast` sends as fast as the socket takes it. */
export type ReplayTiming = 'recorded' | 'fast' | { speed: number };

/** Outcome of an Originate, chosen by its channel: one of the recorded click-to-dial outcomes. */
export type OriginateOutcome = 'answered' | 'rejected' | 'local' | 'no_endpoint';

/** Captures of the recorded click-to-dial outcomes. */
export interface OriginateCaptures {
  /** `PJSIP/<ext>` rings and picks up, then the number is dialled (outbound-click-to-dial). */
  answered?: Capture | string;
  /** The agent's phone rejects the call (outbound-click-to-dial-rejected). */
  rejected?: Capture | string;
  /** A `Local/<ext>@context` originate (outbound-click-to-dial-local). */
  local?: Capture | string;
}

const MAX_KEPT_ACTIONS = 10_000;

export interface ReplayServerOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Recordings played as the PBX's call traffic, one after the other. */
  captures?: readonly (Capture | string)[];
  timing?: ReplayTiming;
  /** Plays the captures again and again, with fresh Uniqueid/Linkedid values each time. */
  loop?: boolean;
  /** Pause between two captures, in ms, under recorded timing. */
  gapMs?: number;
  /** Fresh identifiers on every replay; defaults to `loop`. */
  freshIds?: boolean;
  /** AMI users; defaults to the recorded `cti` user with secret `cti-secret`. */
  credentials?: ReplayCredentials | readonly ReplayCredentials[];
  /** Logged-in clients needed before the calls start playing (and while they play). */
  minClients?: number;
  /**
   * Drops every client after this many played events, then lets `skip` more events happen while
   * nobody is connected (they update the channel list that CoreShowChannels reports). With
   * `resumeAfterList`, the calls go on only once a client has listed the channels, so a test
   * knows which calls were still up when its client resynced.
   */
  dropAfter?: { messages: number; skip?: number; resumeAfterList?: boolean };
  originate?: {
    captures?: OriginateCaptures;
    /** Picks the outcome of an Originate. By default PJSIP/SIP/IAX2 phones pick up and Local runs the Local recording. */
    outcome?: (request: { channel: string; exten: string }) => OriginateOutcome;
  };
  /** Delay before the response to a failed login (Asterisk took about 1 s). */
  loginFailureDelayMs?: number;
  banner?: string;
  logger?: Logger;
  clock?: () => number;
}

/** An action a client sent, as received (Secret and Key values replaced by REDACTED). */
export interface ReceivedAction {
  session: number;
  action: string;
  pairs: [string, string][];
  at: number;
}

export interface ReplayServer {
  readonly host: string;
  readonly port: number;
  /** Clients logged in now. */
  connections(): number;
  /** Connections accepted so far. */
  readonly accepted: number;
  readonly receivedActions: ReceivedAction[];
  /** Call events played so far (sent, or skipped during a dropAfter outage). */
  played(): number;
  /** Resolves when every capture was played (never, with `loop`). */
  readonly finished: Promise<void>;
  /** Closes every client connection, as a network drop or a PBX restart would. */
  dropClients(): void;
  close(): Promise<void>;
}

export const DEFAULT_CREDENTIALS: ReplayCredentials = { username: 'cti', secret: 'cti-secret', read: RECORDED_READ, write: RECORDED_WRITE };

interface PlayItem {
  fields: readonly string[];
  atMs: number;
  substitutions?: Substitutions;
}

function toCapture(capture: Capture | string): Capture {
  return typeof capture === 'string' ? loadCapture(capture) : capture;
}

// The extension and number a click-to-dial recording used, read from its Originate action.
function recordedOriginate(capture: Capture): { agent: string; number: string; callerIdName?: string } | undefined {
  const action = capture.actions.find(({ message }) => message.getIgnoreCase('Action') === 'Originate')?.message;
  const response = capture.messages.find(({ message }) => message.event === 'OriginateResponse')?.message;
  const channel = action?.getIgnoreCase('Channel') ?? response?.get('Channel');
  const number = action?.getIgnoreCase('Exten') ?? response?.get('Exten');
  const agent = channel === undefined ? undefined : /^(?:PJSIP|SIP|IAX2|Local)\/([^@/-]+)/.exec(channel)?.[1];
  if (agent === undefined || number === undefined) {
    return undefined;
  }
  const callerIdName = /^"?([^"<]*?)"?\s*</.exec(action?.getIgnoreCase('CallerID') ?? '')?.[1];
  return { agent, number, ...(callerIdName === undefined || callerIdName === '' ? {} : { callerIdName }) };
}

function defaultOutcome(request: { channel: string }): OriginateOutcome {
  if (request.channel.startsWith('Local/')) {
    return 'local';
  }
  return /^(PJSIP|SIP|IAX2)\/[A-Za-z0-9_-]+$/.test(request.channel) ? 'answered' : 'no_endpoint';
}

/**
 * Starts an AMI server on 127.0.0.1 that plays recorded Asterisk traffic: a test double for
 * ami-bridge and the demo PBX of `pnpm start`. Clients log in (plain or MD5), get the recorded
 * calls as events, and can Ping, list channels (CoreShowChannels) and Originate.
 */
export async function startReplayServer(options: ReplayServerOptions = {}): Promise<ReplayServer> {
  const host = options.host ?? '127.0.0.1';
  const clock = options.clock ?? Date.now;
  const startedAt = clock();
  const timing = options.timing ?? 'fast';
  // Playback speed: 0 sends without gaps, 1 keeps the recorded gaps.
  let speed = 0;
  if (timing === 'recorded') {
    speed = 1;
  } else if (timing !== 'fast') {
    speed = timing.speed;
  }
  const loop = options.loop ?? false;
  const captures = (options.captures ?? []).map(toCapture);
  const users = options.credentials === undefined ? [DEFAULT_CREDENTIALS] : Array.isArray(options.credentials) ? options.credentials : [options.credentials as ReplayCredentials];
  const minClients = Math.max(1, options.minClients ?? 1);
  const originateCaptures = {
    answered: options.originate?.captures?.answered === undefined ? undefined : toCapture(options.originate.captures.answered),
    rejected: options.originate?.captures?.rejected === undefined ? undefined : toCapture(options.originate.captures.rejected),
    local: options.originate?.captures?.local === undefined ? undefined : toCapture(options.originate.captures.local),
  };
  const channels = new ChannelTable(clock);
  const rewriter = new IdRewriter(options.freshIds ?? loop, clock);
  const sessions = new Set<ReplaySession>();
  const receivedActions: ReceivedAction[] = [];
  const abort = new AbortController();
  let nextSessionId = 0;
  let played = 0;
  let accepted = 0;
  let clientWaiters: (() => void)[] = [];

  const loggedIn = () => [...sessions].filter((session) => session.loggedIn);
  const wakeWaiters = () => {
    const waiters = clientWaiters;
    clientWaiters = [];
    for (const wake of waiters) {
      wake();
    }
  };

  async function waitForClients(): Promise<void> {
    while (loggedIn().length < minClients) {
      if (abort.signal.aborted) {
        throw abort.signal.reason;
      }
      await new Promise<void>((resolve) => clientWaiters.push(resolve));
    }
  }

  async function broadcast(fields: readonly string[]): Promise<void> {
    const text = formatMessage(fields);
    const privilege = fields.indexOf('Privilege');
    const classes = privilege !== -1 && privilege % 2 === 0 ? fields[privilege + 1] : undefined;
    for (const session of loggedIn()) {
      if (session.wants(classes) && !session.send(text)) {
        // Backpressure: a slow client slows the replay down, as it would fill Asterisk's queue.
        await Promise.race([once(session.socket, 'drain'), once(session.socket, 'close')]);
      }
    }
  }

  function dropClients(): void {
    for (const session of sessions) {
      session.close();
    }
  }

  // The outage of `dropAfter`: events still to play while no client is connected, and the
  // CoreShowChannels the calls wait for afterwards.
  const outage = { skipping: 0, dropped: false, listed: Promise.resolve(), markListed: () => {} };

  /**
   * Plays items in order with their recorded gaps. Timeline items (the recorded calls) wait
   * for logged-in clients and count towards `dropAfter`; Originate outcomes play at once.
   */
  async function play(items: readonly PlayItem[], timeline: boolean): Promise<void> {
    let previous = items[0]?.atMs ?? 0;
    let sinceYield = 0;
    for (const item of items) {
      const skipped = timeline && outage.skipping > 0;
      if (timeline && !skipped) {
        await outage.listed;
        await waitForClients();
      }
      const gap = speed === 0 ? 0 : (item.atMs - previous) / speed;
      previous = item.atMs;
      if (gap > 0) {
        await sleep(gap, undefined, { signal: abort.signal });
      } else if (++sinceYield >= 64) {
        sinceYield = 0;
        await yieldToLoop(undefined, { signal: abort.signal });
      }

      const fields = rewriter.rewrite(item.fields, item.substitutions);
      channels.apply(fields);
      if (!timeline) {
        await broadcast(fields);
        continue;
      }
      played += 1;
      if (skipped) {
        outage.skipping -= 1;
        continue;
      }
      await broadcast(fields);
      const dropAfter = options.dropAfter;
      if (dropAfter !== undefined && !outage.dropped && played >= dropAfter.messages) {
        outage.dropped = true;
        outage.skipping = dropAfter.skip ?? 0;
        if (dropAfter.resumeAfterList === true) {
          outage.listed = new Promise<void>((resolve) => {
            outage.markListed = resolve;
          });
        }
        options.logger?.info({ played, skip: outage.skipping }, 'replay dropping every client');
        dropClients();
      }
    }
  }

  async function runTimeline(): Promise<void> {
    const events = captures.map((capture) => unsolicitedEvents(capture).map(({ message, atMs }): PlayItem => ({ fields: message.fields, atMs })));
    do {
      rewriter.beginReplay();
      for (const items of events) {
        await play(items, true);
        if (speed > 0 && (loop || items !== events.at(-1))) {
          await sleep(options.gapMs ?? 2000, undefined, { signal: abort.signal });
        }
      }
    } while (loop && !abort.signal.aborted && events.length > 0);
  }

  function originate(session: ReplaySession, message: AmiMessage, actionId: string | undefined): string {
    const channel = message.getIgnoreCase('Channel');
    const exten = message.getIgnoreCase('Exten') ?? '';
    if (channel === undefined) {
      return responses.missingHeader(actionId, 'Channel');
    }
    const async = ['true', 'yes', '1'].includes((message.getIgnoreCase('Async') ?? '').toLowerCase());
    if (!async) {
      // Only the recorded synchronous failure is replayed; the bridge always originates async.
      return responses.originateFailed(actionId);
    }
    const outcome = (options.originate?.outcome ?? defaultOutcome)({ channel, exten });
    const capture = outcome === 'no_endpoint' ? undefined : originateCaptures[outcome];
    let items: PlayItem[];
    const recorded = capture === undefined ? undefined : recordedOriginate(capture);
    if (capture === undefined || recorded === undefined) {
      // As recorded for `PJSIP/999`: no channel at all, only a failed OriginateResponse.
      items = [
        {
          atMs: 0,
          fields: [
            'Event', 'OriginateResponse', 'Privilege', 'call,all', ...(actionId === undefined ? [] : ['ActionID', actionId]),
            'Response', 'Failure', 'Channel', channel, 'Context', message.getIgnoreCase('Context') ?? '', 'Exten', exten,
            'Reason', '0', 'Uniqueid', '<unknown>', 'CallerIDNum', '<unknown>', 'CallerIDName', '<unknown>',
          ],
        },
      ];
    } else {
      const agent = /^(?:PJSIP|SIP|IAX2|Local)\/([^@/-]+)/.exec(channel)?.[1] ?? recorded.agent;
      const values = new Map<string, string>([
        [recorded.agent, agent],
        [recorded.number, exten],
      ]);
      const callerIdName = /^"?([^"<]*?)"?\s*</.exec(message.getIgnoreCase('CallerID') ?? '')?.[1];
      if (recorded.callerIdName !== undefined && callerIdName !== undefined && callerIdName !== '') {
        values.set(recorded.callerIdName, callerIdName);
      }
      const substitutions: Substitutions = {
        values,
        agent: { from: recorded.agent, to: agent },
        ...(actionId === undefined ? {} : { actionId }),
      };
      items = originateEvents(capture).map(({ message: event, atMs }) => ({ fields: event.fields, atMs, substitutions }));
    }
    options.logger?.info({ session: session.id, outcome, items: items.length }, 'replay originate');
    void play(items, false).catch(() => undefined);
    return responses.originateQueued(actionId);
  }

  const host_: SessionHost = {
    credentials: (username) => users.find((user) => user.username === username),
    loginFailureDelayMs: options.loginFailureDelayMs ?? 1000,
    clock,
    uptimeSeconds: () => Math.floor((clock() - startedAt) / 1000),
    onLogin: () => wakeWaiters(),
    onClose: (session) => {
      sessions.delete(session);
    },
    onAction: (session, message) => {
      const pairs = message.pairs().map(([key, value]): [string, string] => {
        const lower = key.toLowerCase();
        return [key, lower === 'secret' || lower === 'key' ? 'REDACTED' : value];
      });
      const action = message.getIgnoreCase('Action') ?? '';
      receivedActions.push({ session: session.id, action, pairs, at: clock() });
      // A demo PBX runs for days and every client pings every 20 s: keep only the recent actions.
      if (receivedActions.length > MAX_KEPT_ACTIONS) {
        receivedActions.splice(0, receivedActions.length - MAX_KEPT_ACTIONS);
      }
      const fields = { session: session.id, action, actionId: message.getIgnoreCase('ActionID') ?? '' };
      if (action.toLowerCase() === 'ping') {
        options.logger?.debug(fields, 'action received');
      } else {
        options.logger?.info(fields, 'action received');
      }
    },
    coreShowChannels: (actionId) => {
      outage.markListed();
      const items = channels.listItems(actionId);
      return responses.channelsFollow(actionId) + items.map((fields) => formatMessage(fields)).join('') + responses.channelsComplete(actionId, items.length);
    },
    originate,
  };

  const server: Server = createServer((socket: Socket) => {
    accepted += 1;
    nextSessionId += 1;
    sessions.add(new ReplaySession(nextSessionId, socket, host_, options.banner ?? 'Asterisk Call Manager/11.0.0'));
  });
  server.listen(options.port ?? 0, host);
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : (options.port ?? 0);
  options.logger?.info({ host, port, captures: captures.map((capture) => capture.name), loop, timing }, 'ami replay server listening');

  const finished = runTimeline().catch((error: unknown) => {
    if (!abort.signal.aborted) {
      options.logger?.error({ err: error }, 'ami replay failed');
      throw error;
    }
  });
  finished.catch(() => undefined);

  return {
    host,
    port,
    connections: () => loggedIn().length,
    get accepted() {
      return accepted;
    },
    receivedActions,
    played: () => played,
    finished,
    dropClients,
    async close() {
      abort.abort(new Error('replay server closed'));
      wakeWaiters();
      dropClients();
      server.close();
      await once(server, 'close').catch(() => undefined);
    },
  };
}
