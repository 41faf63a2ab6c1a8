import type {
  CallAnswered,
  CallEnded,
  CallerIdentified,
  CallHeld,
  CallMissed,
  CallResumed,
  CallRinging,
  CallSummary,
  CallTransferred,
  OriginateResult,
} from '@cti/contracts';
import Type, { type Static } from 'typebox';

/**
 * The WebSocket protocol between the gateway and an agent's browser. docs/push-gateway.md
 * describes it for client authors; this module is its definition.
 */

export const PROTOCOL_VERSION = 1;
/** Subprotocol the gateway selects; a client offers it next to `cti.token.<token>`. */
export const SUBPROTOCOL = 'cti.v1';
export const TOKEN_SUBPROTOCOL_PREFIX = 'cti.token.';

/**
 * Close codes. 1000-1015 are the RFC 6455 codes; 4000-4999 are private to this protocol, one per
 * reason a client has to act on differently.
 */
export const CloseCode = {
  /** The gateway is shutting down; reconnect (to another replica) with the cursor. */
  GOING_AWAY: 1001,
  /** A frame larger than PUSH_MAX_INBOUND_FRAME_BYTES (set by the WebSocket library). */
  MESSAGE_TOO_BIG: 1009,
  /** The gateway failed to set the session up; reconnect with the cursor. */
  INTERNAL_ERROR: 1011,
  /** The token expired and no fresh one arrived on the socket; sign in again. */
  TOKEN_EXPIRED: 4001,
  /** The client read too slowly and its send buffer filled up; reconnect with the cursor. */
  SLOW_CONSUMER: 4008,
  /** Too many frames that failed the schema. */
  INVALID_FRAMES: 4009,
  /** Frames sent faster than PUSH_INBOUND_FRAMES_PER_SECOND allows. */
  RATE_LIMITED: 4029,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Streams whose sequences make up a cursor. */
export const CURSOR_STREAMS = ['CALLS', 'CRM'] as const;
export type CursorStream = (typeof CURSOR_STREAMS)[number];
/** Last stream sequence a client has seen, per stream. */
export type Cursor = Record<CursorStream, number>;

/** Events an agent receives, one discriminated union on `type`. */
export type AgentEvent =
  | CallRinging
  | CallAnswered
  | CallHeld
  | CallResumed
  | CallTransferred
  | CallEnded
  | CallMissed
  | CallerIdentified
  | CallSummary
  | OriginateResult;
export type AgentEventType = AgentEvent['type'];

export interface EventFrame {
  type: 'event';
  stream: CursorStream;
  seq: number;
  event: AgentEvent;
}

/** One call that is in progress on one of the agent's extensions. */
export interface SnapshotCall {
  callId: string;
  extension: string;
  state: 'ringing' | 'answered' | 'held' | 'transferred';
  /** The latest stored event of each kind for this call, oldest first: replaying them rebuilds the card. */
  events: EventFrame[];
}

export interface Snapshot {
  cursor: Cursor;
  calls: SnapshotCall[];
  /** Recent missed calls of the agent's extensions, oldest first. */
  missed: EventFrame[];
}

export type ServerFrame =
  | {
      type: 'welcome';
      protocol: number;
      sessionId: string;
      agentId: string;
      pbx: string;
      extensions: readonly string[];
      expiresAt: string;
      heartbeatSeconds: number;
    }
  | ({ type: 'snapshot' } & Snapshot)
  | EventFrame
  | { type: 'recovered'; recovered: true; replayed: number; cursor: Cursor }
  | { type: 'recovered'; recovered: false; reason: RecoveryFailure; snapshot: Snapshot }
  | { type: 'token_accepted'; expiresAt: string; extensions: readonly string[] }
  | { type: 'token_expiring'; expiresAt: string }
  | DialResultFrame
  | { type: 'pong'; id?: string }
  | { type: 'error'; code: string; message: string };

export interface DialResultFrame {
  type: 'dial_result';
  /** The client's `ref` from the dial frame, so it can match the answer. */
  ref?: string;
  /** HTTP status the same request gets from POST /v1/calls. */
  status: number;
  requestId?: string;
  duplicate?: boolean;
  code?: string;
  message?: string;
}

/** Why a reconnecting client got a snapshot instead of the frames it missed. */
export type RecoveryFailure = 'gap_too_old' | 'gap_too_large' | 'gap_purged' | 'unknown_cursor';

const Ref = Type.String({ minLength: 1, maxLength: 64 });

/** Frames a client may send. Anything else gets an error frame. */
export const ClientFrame = Type.Union([
  Type.Object({ type: Type.Literal('ping'), id: Type.Optional(Ref) }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('token'), token: Type.String({ minLength: 1, maxLength: 4096 }) }, { additionalProperties: false }),
  Type.Object(
    {
      type: Type.Literal('dial'),
      to: Type.String({ minLength: 1, maxLength: 64 }),
      extension: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
      idempotencyKey: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
      ref: Type.Optional(Ref),
    },
    { additionalProperties: false },
  ),
]);
export type ClientFrame = Static<typeof ClientFrame>;

/** Parses `CALLS:120,CRM:33`, the `resume` query parameter; returns undefined when invalid. */
export function parseCursor(text: string): Partial<Cursor> | undefined {
  const cursor: Partial<Cursor> = {};
  for (const part of text.split(',')) {
    const match = /^(CALLS|CRM):(\d{1,15})$/.exec(part.trim());
    if (match === null) {
      return undefined;
    }
    cursor[match[1] as CursorStream] = Number(match[2]);
  }
  return cursor;
}

export function formatCursor(cursor: Cursor): string {
  return CURSOR_STREAMS.map((stream) => `${stream}:${cursor[stream]}`).join(',');
}
