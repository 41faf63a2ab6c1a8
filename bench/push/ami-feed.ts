/**
 * A PBX for the push benchmark: an AMI server on 127.0.0.1 that plays one call of the recorded
 * load run (testdata/ami/load.ami, a queue call answered by a SIPp agent) again and again at a
 * chosen rate, each copy with fresh Uniqueid/Linkedid values and channel names and rung at a
 * chosen agent extension. It answers Login, Ping and CoreShowChannels as Asterisk does, and
 * reports when the event that makes ami-bridge publish call.ringing left the socket.
 *
 * A call is written in three parts: what Asterisk had sent before the read that rang the agent,
 * that read, and the rest of the call. The recording has the same boundaries: the caller's
 * channel and the queue's events arrived up to half a second before the read that rang the
 * agent. Messages of that read after the ringing one go out with the rest.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';

import { AmiFramer, formatMessage, type AmiMessage } from '@cti/ami';
import { createTracker, DEFAULT_CALL_MODEL } from '@cti/ami-bridge';
import { responses } from '@cti/pbx-replay';

type Fields = string[];

export interface CallTemplate {
  /** Messages of the recorded call, in wire order, as flat key/value lists. */
  messages: Fields[];
  /** Index of the message after which ami-bridge publishes the first call.ringing. */
  ringingIndex: number;
  /** Index of the first message of the recorded read that contains the ringing message. */
  ringingReadStart: number;
  /** The agent extension the recording rang (a SIPp agent, e.g. 201). */
  agent: string;
}

const UNIQUEID_KEY = /(Uniqueid|Linkedid)$/;

function flatten(message: AmiMessage): Fields {
  return message.pairs().flatMap(([key, value]) => [key, value]);
}

/** Takes the first call of the load run whose every channel hung up, and finds its ringing event. */
export function loadCallTemplate(testdata: string): CallTemplate {
  const messages: AmiMessage[] = [];
  const framer = new AmiFramer({ onMessage: (message) => messages.push(message), banner: true });
  // The JSON Lines copy has one line per socket read, with its time, so each message's
  // receivedAt identifies the read that delivered it.
  for (const line of readFileSync(join(testdata, 'load.jsonl'), 'utf8').split('\n')) {
    const read = line.trim() === '' ? undefined : (JSON.parse(line) as { t_ms: number; dir: string; data: string });
    if (read?.dir === 'in') {
      framer.push(Buffer.from(read.data, 'utf8'), read.t_ms);
    }
  }
  framer.end(0);

  const linkedid = messages.find((message) => message.get('Event') === 'QueueCallerJoin')?.get('Linkedid');
  if (linkedid === undefined) {
    throw new Error('load.ami has no QueueCallerJoin');
  }
  const call = messages.filter((message) => message.get('Linkedid') === linkedid);

  // Feed the call through ami-bridge's own call model to find the message that rings the agent.
  let ringingIndex = -1;
  let agent: string | undefined;
  let current = 0;
  const tracker = createTracker(DEFAULT_CALL_MODEL, (event) => {
    if (event.type === 'call.ringing' && ringingIndex === -1) {
      ringingIndex = current;
      agent = event.extension;
    }
  });
  for (const [index, message] of call.entries()) {
    current = index;
    tracker.handle(message);
  }
  if (ringingIndex === -1 || agent === undefined) {
    throw new Error('the template call never rang an agent');
  }
  const ringingReadAt = call[ringingIndex]?.receivedAt;
  const ringingReadStart = call.findIndex((message) => message.receivedAt === ringingReadAt);
  return { messages: call.map(flatten), ringingIndex, ringingReadStart, agent };
}

/**
 * Renders copy `sequence` of the template for `extension`: new Uniqueid/Linkedid values (the
 * Linkedid stays the first channel's Uniqueid), new channel numbers, and the agent swapped.
 */
export function renderCall(template: CallTemplate, sequence: number, extension: string): RenderedCall {
  const uniqueids = new Map<string, string>();
  const suffix = sequence.toString(16).padStart(8, '0');
  const epoch = 1_900_000_000 + Math.floor(sequence / 1000);
  const renamed = template.messages.map((fields) =>
    fields.map((value, index) => {
      if (index % 2 === 0) {
        return value;
      }
      const key = fields[index - 1] ?? '';
      if (UNIQUEID_KEY.test(key) && value.includes('.')) {
        let mapped = uniqueids.get(value);
        if (mapped === undefined) {
          mapped = `${epoch}.${sequence * 16 + uniqueids.size}`;
          uniqueids.set(value, mapped);
        }
        return mapped;
      }
      return value
        .replaceAll(`PJSIP/${template.agent}-`, `PJSIP/${extension}-`)
        .replaceAll(`Local/${template.agent}@`, `Local/${extension}@`)
        .replace(/-([0-9a-f]{8})(;[12])?$/, (_match, _hex: string, half: string | undefined) => `-${suffix}${half ?? ''}`)
        .replace(new RegExp(`^${template.agent}$`), extension);
    }),
  );
  const text = renamed.map((fields) => formatMessage(fields));
  const linkedid = [...uniqueids.values()][0] ?? '';
  return {
    setup: text.slice(0, template.ringingReadStart).join(''),
    ringing: text.slice(template.ringingReadStart, template.ringingIndex + 1).join(''),
    rest: text.slice(template.ringingIndex + 1).join(''),
    linkedid,
  };
}

export interface RenderedCall {
  /** Messages Asterisk sent before the read that rang the agent: the caller's channel, the queue. */
  setup: string;
  /** The recorded read that rings the agent, up to the message that makes ami-bridge publish call.ringing. */
  ringing: string;
  /** The rest of the call: the agent picks up, they talk, both hang up. */
  rest: string;
  linkedid: string;
}

/** The AMI server the benchmark's ami-bridge logs in to. */
export class BenchPbx {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(): Promise<{ pbx: BenchPbx; port: number }> {
    const server = createServer();
    const pbx = new BenchPbx(server);
    server.on('connection', (socket) => pbx.#accept(socket));
    await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const address = server.address();
    return { pbx, port: typeof address === 'object' && address !== null ? address.port : 0 };
  }

  #accept(socket: Socket): void {
    socket.setNoDelay(true);
    socket.write('Asterisk Call Manager/11.0.0\r\n');
    const framer = new AmiFramer({
      onMessage: (action) => {
        const id = action.getIgnoreCase('ActionID');
        switch ((action.getIgnoreCase('Action') ?? '').toLowerCase()) {
          case 'challenge':
            // Any key is accepted: the benchmark measures routing, not authentication.
            socket.write(responses.challenge(id, '903560757'));
            break;
          case 'login':
            this.#sockets.add(socket);
            socket.write(responses.loginAccepted(id));
            break;
          case 'ping':
            socket.write(responses.pong(id, Date.now()));
            break;
          case 'coreshowchannels':
            socket.write(responses.channelsFollow(id) + responses.channelsComplete(id, 0));
            break;
          case 'logoff':
            socket.end(responses.goodbye(id));
            break;
          default:
            socket.write(responses.notReplayed(id, action.getIgnoreCase('Action') ?? ''));
        }
      },
    });
    socket.on('data', (chunk) => framer.push(chunk, Date.now()));
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => this.#sockets.delete(socket));
  }

  /** Number of logged-in AMI clients. */
  clients(): number {
    return this.#sockets.size;
  }

  /** Writes text to every logged-in client. */
  write(text: string): void {
    for (const socket of this.#sockets) {
      socket.write(text);
    }
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) {
      socket.destroy();
    }
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
