import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';

import { createLogger } from '@cti/logging';
import { collectLogLines, waitFor } from '@cti/testing';
import { afterEach, describe, expect, it } from 'vitest';

import { AmiClient, AmiError, AmiErrorCode, AmiFramer, Backoff, type AmiClientOptions, type AmiMessage } from '../src/index.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

type Handler = (action: AmiMessage, socket: Socket, connection: number) => void;

/** Starts a scripted AMI server: it sends the banner, accepts any login, and hands every other action to `handle`. */
async function scriptedServer(handle: Handler): Promise<{ port: number; actions: string[]; connections: () => number }> {
  const actions: string[] = [];
  let connections = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    connections += 1;
    const connection = connections;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.write('Asterisk Call Manager/11.0.0\r\n');
    const framer = new AmiFramer({
      banner: false,
      onMessage: (action) => {
        const name = action.get('Action') ?? '';
        actions.push(name);
        const id = action.get('ActionID') ?? '';
        if (name === 'Login') {
          socket.write(`Response: Success\r\nActionID: ${id}\r\nMessage: Authentication accepted\r\n\r\n`);
        } else if (name === 'Logoff') {
          socket.end(`Response: Goodbye\r\nActionID: ${id}\r\nMessage: Thanks for all the fish.\r\n\r\n`);
        } else {
          handle(action, socket, connection);
        }
      },
    });
    socket.on('data', (chunk: Buffer) => framer.push(chunk, 0));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(async () => {
    for (const socket of sockets) {
      socket.destroy();
    }
    server.close();
    await once(server, 'close');
  });
  const address = server.address();
  return { port: typeof address === 'object' && address !== null ? address.port : 0, actions, connections: () => connections };
}

function client(port: number, overrides: Partial<AmiClientOptions> = {}) {
  const events: AmiMessage[] = [];
  const lines = collectLogLines();
  const ami = new AmiClient({
    host: '127.0.0.1',
    port,
    username: 'cti',
    secret: 'not-logged',
    auth: 'plain',
    logger: createLogger({ service: 'test', level: 'debug', destination: lines.stream }),
    pingIntervalMs: 0,
    reconnectMinMs: 20,
    reconnectMaxMs: 80,
    onEvent: (message) => events.push(message),
    ...overrides,
  });
  cleanups.push(() => ami.stop());
  return { ami, events, lines };
}

describe('AmiClient', () => {
  it('collects an event list by ActionID while other events and garbage keep flowing', async () => {
    const server = await scriptedServer((action, socket) => {
      const id = action.get('ActionID') ?? '';
      socket.write(`Response: Success\r\nActionID: ${id}\r\nEventList: start\r\nMessage: Channels will follow\r\n\r\n`);
      socket.write(`Event: CoreShowChannel\r\nActionID: ${id}\r\nChannel: PJSIP/101-00000001\r\n\r\nEvent: Newstate\r\nPrivilege: call,all\r\nChannel: PJSIP/102-00000002\r\n\r\n`);
      socket.write(Buffer.from([0x00, 0xff, 0x13, 0x0a, 0x0d, 0x0a]));
      socket.write(`Event: UserEvent\r\nBody: ${'z'.repeat(5000)}\r\n\r\n`);
      socket.write(`Event: CoreShowChannel\r\nActionID: ${id}\r\nChannel: PJSIP/103-00000003\r\n\r\nEvent: CoreShowChannelsComplete\r\nActionID: ${id}\r\nEventList: Complete\r\nListItems: 2\r\n\r\n`);
      socket.write('Event: Hangup\r\nPrivilege: call,all\r\nCause: 16\r\n\r\n');
    });
    const { ami, events } = client(server.port, { maxMessageBytes: 4096 });
    ami.start();
    await waitFor(() => ami.isReady(), 'login');
    const result = await ami.sendAction('CoreShowChannels');
    expect(result.events.map((event) => [event.event, event.get('Channel')])).toEqual([
      ['CoreShowChannel', 'PJSIP/101-00000001'],
      ['CoreShowChannel', 'PJSIP/103-00000003'],
      ['CoreShowChannelsComplete', undefined],
    ]);
    await waitFor(() => events.some((event) => event.event === 'Hangup'), 'the event after the list');
    expect(events.map((event) => event.event).filter((name) => name !== undefined)).toEqual(['Newstate', 'Hangup']);
    expect(ami.isReady()).toBe(true);
    expect(server.connections()).toBe(1);
  });

  it('delivers a result before later events', async () => {
    const server = await scriptedServer((action, socket) => {
      const id = action.get('ActionID') ?? '';
      socket.write(`Response: Success\r\nActionID: ${id}\r\nPing: Pong\r\n\r\nEvent: Hangup\r\nPrivilege: call,all\r\n\r\n`);
    });
    const { ami, events } = client(server.port);
    ami.start();
    await waitFor(() => ami.isReady(), 'login');
    let eventsAtResult = -1;
    await ami.sendAction('Ping', [], { onResult: () => (eventsAtResult = events.length) });
    expect(eventsAtResult).toBe(0);
    await waitFor(() => events.length === 1, 'the Hangup');
  });

  it('drops an unanswered keepalive connection and logs in again', async () => {
    const server = await scriptedServer((action, socket, connection) => {
      // The first connection never answers a Ping, as a hung PBX would not.
      if (connection > 1) {
        socket.write(`Response: Success\r\nActionID: ${action.get('ActionID') ?? ''}\r\nPing: Pong\r\n\r\n`);
      }
    });
    const states: string[] = [];
    const { ami, lines } = client(server.port, { pingIntervalMs: 40, pingTimeoutMs: 30, onStateChange: (state) => states.push(state) });
    ami.start();
    await waitFor(() => ami.connections === 2 && ami.isReady(), 'the second login');
    expect(lines.lines.some((line) => line['code'] === AmiErrorCode.PING_TIMEOUT)).toBe(true);
    expect(states.slice(0, 6)).toEqual(['connecting', 'authenticating', 'ready', 'waiting', 'connecting', 'authenticating']);
  });

  it('reconnects after the PBX closes the socket', async () => {
    // The PBX goes away without a word (protocol-shutdown-cti): no Shutdown event, only EOF.
    const server = await scriptedServer((_action, socket) => socket.destroy());
    const disconnects: string[] = [];
    const { ami } = client(server.port, { onDisconnect: (reason) => disconnects.push(reason.code) });
    ami.start();
    await waitFor(() => ami.isReady(), 'login');
    await expect(ami.sendAction('Status')).rejects.toMatchObject({ code: AmiErrorCode.CONNECTION_CLOSED });
    await waitFor(() => ami.connections === 2 && ami.isReady(), 'the reconnect');
    expect(disconnects).toEqual([AmiErrorCode.CONNECTION_CLOSED]);
    expect(server.connections()).toBe(2);
  });

  it('rejects header injection, actions while logged out, and unanswered actions', async () => {
    const server = await scriptedServer(() => undefined);
    const { ami } = client(server.port);
    await expect(ami.sendAction('Ping')).rejects.toMatchObject({ code: AmiErrorCode.NOT_CONNECTED });
    ami.start();
    await waitFor(() => ami.isReady(), 'login');
    const injected = await ami.sendAction('Originate', [['Exten', '100\r\nAction: Hangup']]).catch((error: unknown) => error);
    expect(injected).toBeInstanceOf(AmiError);
    expect((injected as AmiError).code).toBe(AmiErrorCode.ACTION_INVALID);
    await expect(ami.sendAction('Status', [], { timeoutMs: 30 })).rejects.toMatchObject({ code: AmiErrorCode.ACTION_TIMEOUT });
    expect(server.actions).toEqual(['Login', 'Status']);
  });

  it('logs in through the MD5 challenge and logs off on stop', async () => {
    const server = await scriptedServer((action, socket) => {
      if (action.get('Action') === 'Challenge') {
        socket.write(`Response: Success\r\nActionID: ${action.get('ActionID') ?? ''}\r\nChallenge: 903560757\r\n\r\n`);
      }
    });
    const { ami } = client(server.port, { auth: 'md5' });
    ami.start();
    await waitFor(() => ami.isReady(), 'login');
    await ami.stop();
    expect(server.actions).toEqual(['Challenge', 'Login', 'Logoff']);
    expect(ami.state).toBe('stopped');
  });
});

describe('Backoff', () => {
  it('doubles up to its cap and resets', () => {
    const low = new Backoff(100, 1000, () => 0);
    expect([low.next(), low.next(), low.next(), low.next(), low.next(), low.next()]).toEqual([50, 100, 200, 400, 500, 500]);
    const high = new Backoff(100, 1000, () => 1);
    expect([high.next(), high.next(), high.next(), high.next(), high.next()]).toEqual([100, 200, 400, 800, 1000]);
    high.reset();
    expect(high.next()).toBe(100);
    expect(() => new Backoff(0, 10)).toThrow(RangeError);
  });
});
