import { waitFor } from '@cti/testing';
import WebSocket from 'ws';

import type { Cursor, EventFrame, ServerFrame } from '../src/protocol.js';

export interface ConnectOptions {
  token?: string;
  origin?: string;
  resume?: Cursor;
  /** Raw `resume` query text, for malformed cursors. */
  resumeText?: string;
  /** Send the token as a bearer header instead of the browser-style subprotocol. */
  bearer?: boolean;
}

export interface Refusal {
  status: number;
  body: { code?: string; message?: string };
}

/** A received frame with the time it arrived, for latency checks. */
export interface Received {
  frame: ServerFrame;
  at: number;
}

function socketUrl(baseUrl: string, options: ConnectOptions): string {
  const url = new URL('/ws', baseUrl.replace(/^http/, 'ws'));
  const resume = options.resume === undefined ? options.resumeText : `CALLS:${options.resume.CALLS},CRM:${options.resume.CRM}`;
  if (resume !== undefined) {
    url.searchParams.set('resume', resume);
  }
  return url.toString();
}

function openSocket(baseUrl: string, options: ConnectOptions): WebSocket {
  const protocols = ['cti.v1'];
  const headers: Record<string, string> = {};
  if (options.token !== undefined) {
    if (options.bearer === true) {
      headers['authorization'] = `Bearer ${options.token}`;
    } else {
      protocols.push(`cti.token.${options.token}`);
    }
  }
  return new WebSocket(socketUrl(baseUrl, options), protocols, {
    headers,
    ...(options.origin === undefined ? {} : { origin: options.origin }),
  });
}

/** An agent's socket as a test sees it: every frame it got, and helpers to wait for more. */
export class AgentClient {
  readonly socket: WebSocket;
  readonly received: Received[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  closeCode: number | undefined;

  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.on('message', (data, isBinary) => {
      // Browsers hand binary frames to the page as Blobs, so every frame must be text.
      const frame = isBinary ? ({ type: 'error', code: 'TEST_BINARY_FRAME', message: 'binary frame received' } as const) : (JSON.parse(data.toString()) as ServerFrame);
      this.received.push({ frame, at: performance.now() });
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', (code, reason) => {
        this.closeCode = code;
        resolve({ code, reason: reason.toString() });
      });
    });
  }

  /** Opens a socket and resolves once the handshake succeeded; rejects with the refusal. */
  static open(baseUrl: string, options: ConnectOptions): Promise<AgentClient> {
    const socket = openSocket(baseUrl, options);
    const client = new AgentClient(socket);
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(client));
      socket.once('unexpected-response', (_request, response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => reject(Object.assign(new Error(`refused with ${response.statusCode}`), { status: response.statusCode, body })));
      });
      socket.once('error', reject);
    });
  }

  /** Opens a socket that the gateway is expected to refuse, and returns the refusal. */
  static async refusal(baseUrl: string, options: ConnectOptions): Promise<Refusal> {
    try {
      const client = await AgentClient.open(baseUrl, options);
      client.socket.terminate();
    } catch (error) {
      const { status, body } = error as { status?: number; body?: string };
      if (status !== undefined) {
        return { status, body: JSON.parse(body ?? '{}') as Refusal['body'] };
      }
      throw error;
    }
    throw new Error('the gateway accepted a connection it should have refused');
  }

  get frames(): ServerFrame[] {
    return this.received.map((entry) => entry.frame);
  }

  get events(): EventFrame[] {
    return this.frames.filter((frame): frame is EventFrame => frame.type === 'event');
  }

  /** Waits until a frame matching the check has arrived, and returns it. */
  waitForFrame<T extends ServerFrame>(check: (frame: ServerFrame) => frame is T, description: string, timeoutMs = 10_000): Promise<T> {
    return waitFor(() => this.frames.find(check), description, { timeoutMs, intervalMs: 5 });
  }

  waitForEvent(type: string, callId: string, timeoutMs = 10_000): Promise<EventFrame> {
    return waitFor(
      () => this.events.find((frame) => frame.event.type === type && ('callId' in frame.event ? frame.event.callId === callId : false)),
      `${type} of ${callId}`,
      { timeoutMs, intervalMs: 5 },
    );
  }

  /** Waits for the catch-up after connecting: a snapshot, or a `recovered` frame. */
  synced(): Promise<ServerFrame> {
    return this.waitForFrame(
      (frame): frame is ServerFrame => frame.type === 'snapshot' || frame.type === 'recovered',
      'snapshot or recovered frame',
    );
  }

  /** Highest sequence seen per stream, starting from the snapshot's cursor. */
  cursor(): Cursor {
    const cursor: Cursor = { CALLS: 0, CRM: 0 };
    for (const frame of this.frames) {
      if (frame.type === 'snapshot') {
        Object.assign(cursor, frame.cursor);
      } else if (frame.type === 'recovered') {
        Object.assign(cursor, frame.recovered ? frame.cursor : frame.snapshot.cursor);
      } else if (frame.type === 'event') {
        cursor[frame.stream] = Math.max(cursor[frame.stream], frame.seq);
      }
    }
    return cursor;
  }

  send(frame: unknown): void {
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  close(): Promise<{ code: number; reason: string }> {
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) {
      this.socket.close(1000);
    }
    return this.closed;
  }
}
