import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';

import { AmiClient, AmiErrorCode, AmiFramer, type AmiMessage } from '@cti/ami';
import { createLogger } from '@cti/logging';
import { collectLogLines, waitFor } from '@cti/testing';
import { afterEach, describe, expect, it } from 'vitest';

import { ChannelTable, loadCapture, startReplayServer, unsolicitedEvents, type ReplayServer, type ReplayServerOptions } from '../src/index.js';

const captures = join(import.meta.dirname, '../../../testdata/ami');
const capture = (name: string) => join(captures, name);
const ORIGINATE = {
  captures: {
    answered: capture('outbound-click-to-dial.jsonl'),
    rejected: capture('outbound-click-to-dial-rejected.jsonl'),
    local: capture('outbound-click-to-dial-local.jsonl'),
  },
};

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

async function server(options: ReplayServerOptions): Promise<ReplayServer> {
  const started = await startReplayServer({ loginFailureDelayMs: 20, ...options });
  cleanups.push(() => started.close());
  return started;
}

/** Opens a raw AMI connection that records every message it receives. */
async function rawClient(port: number): Promise<{ socket: Socket; messages: AmiMessage[]; bytes: () => Buffer; send: (text: string) => void }> {
  const socket = connect({ host: '127.0.0.1', port });
  cleanups.push(() => {
    socket.destroy();
  });
  const messages: AmiMessage[] = [];
  const chunks: Buffer[] = [];
  const framer = new AmiFramer({ onMessage: (message) => messages.push(message) });
  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    framer.push(chunk, Date.now());
  });
  await once(socket, 'connect');
  return { socket, messages, bytes: () => Buffer.concat(chunks), send: (text) => socket.write(text) };
}

function quietLogger() {
  const lines = collectLogLines();
  return { logger: createLogger({ service: 'test', level: 'debug', destination: lines.stream }), lines };
}

function client(port: number, overrides: Partial<ConstructorParameters<typeof AmiClient>[0]> = {}) {
  const events: AmiMessage[] = [];
  const { logger, lines } = quietLogger();
  const ami = new AmiClient({
    host: '127.0.0.1',
    port,
    username: 'cti',
    secret: 'cti-secret',
    logger,
    reconnectMinMs: 20,
    reconnectMaxMs: 100,
    loginRetryMinMs: 20,
    loginRetryMaxMs: 100,
    onEvent: (message) => events.push(message),
    ...overrides,
  });
  cleanups.push(() => ami.stop());
  return { ami, events, lines };
}

describe('AMI replay server', () => {
  it('sends the recorded events byte for byte after a plain login', async () => {
    const replay = await server({ captures: [capture('inbound-answered.ami')] });
    const raw = await rawClient(replay.port);
    raw.send('Action: Login\r\nActionID: login-0001\r\nUsername: cti\r\nSecret: cti-secret\r\n\r\n');
    await waitFor(() => replay.played() === 31 && raw.messages.length === 32, 'every event of the capture');

    const recorded = readFileSync(capture('inbound-answered.ami'));
    const goodbye = recorded.indexOf('Response: Goodbye');
    expect(raw.bytes().toString('latin1')).toBe(recorded.subarray(0, goodbye).toString('latin1'));
  });

  it('answers the MD5 challenge login and Ping through AmiClient', async () => {
    const replay = await server({ captures: [capture('internal.jsonl')] });
    const { ami, events } = client(replay.port, { auth: 'md5' });
    ami.start();
    await waitFor(() => ami.isReady(), 'login');
    const ping = await ami.sendAction('Ping');
    expect(ping.response.get('Ping')).toBe('Pong');
    expect(ping.response.get('Timestamp')).toMatch(/^\d+\.\d{6}$/);
    await waitFor(() => events.filter((event) => event.event === 'Hangup').length === 2, 'both hangups');
    const login = replay.receivedActions.find((action) => action.action === 'Login');
    expect(login?.pairs).toContainEqual(['AuthType', 'MD5']);
    expect(login?.pairs).toContainEqual(['Key', 'REDACTED']);
    expect(replay.receivedActions.map((action) => action.action)).toEqual(['Challenge', 'Login', 'Ping']);
  });

  it('rejects a wrong secret with capped backoff', async () => {
    const replay = await server({ captures: [] });
    const raw = await rawClient(replay.port);
    raw.send('Action: Login\r\nActionID: login-bad-0001\r\nUsername: cti\r\nSecret: wrong\r\n\r\n');
    await once(raw.socket, 'close');
    expect(raw.bytes().toString('latin1')).toBe(readFileSync(capture('protocol-login-failure.ami'), 'latin1'));

    const { ami, lines } = client(replay.port, { secret: 'wrong', loginRetryMinMs: 40, loginRetryMaxMs: 160, random: () => 0.5 });
    ami.start();
    const rejected = () => lines.lines.filter((line) => line['msg'] === 'ami login rejected; check AMI_USERNAME, AMI_SECRET and the permit list of the manager.conf user');
    await waitFor(() => rejected().length >= 4, 'four rejected logins');
    expect(rejected().map((line) => line['retryInMs'])).toEqual([30, 60, 120, 120]);
    expect(rejected().every((line) => line['code'] === AmiErrorCode.LOGIN_REJECTED && line['level'] === 'error')).toBe(true);
    expect(lines.text()).not.toContain('wrong');
    expect(ami.isReady()).toBe(false);
  });

  it('answers actions before login with Permission denied and unknown actions as Asterisk does', async () => {
    const replay = await server({ captures: [], credentials: { username: 'cti', secret: 'cti-secret' } });
    const raw = await rawClient(replay.port);
    raw.send('Action: CoreShowChannels\r\nActionID: a1\r\n\r\n');
    raw.send('Action: Login\r\nActionID: a2\r\nUsername: cti\r\nSecret: cti-secret\r\nEvents: off\r\n\r\n');
    raw.send('Action: Frobnicate\r\nActionID: a3\r\n\r\n');
    raw.send('Action: Command\r\nActionID: a4\r\nCommand: core show version\r\n\r\n');
    raw.send('Action: Logoff\r\nActionID: a5\r\n\r\n');
    await once(raw.socket, 'close');
    expect(raw.messages.map((message) => [message.actionId, message.get('Response'), message.get('Message')])).toEqual([
      ['a1', 'Error', 'Permission denied'],
      ['a2', 'Success', 'Authentication accepted'],
      ['a3', 'Error', 'Invalid/unknown command'],
      ['a4', 'Error', 'Permission denied'],
      ['a5', 'Goodbye', 'Thanks for all the fish.'],
    ]);
  });

  it('appends FullyBooted to the login of a user with system read', async () => {
    const replay = await server({ captures: [], credentials: { username: 'admin', secret: 'admin-secret', read: ['all'], write: ['all'] } });
    const raw = await rawClient(replay.port);
    raw.send('Action: Login\r\nActionID: login-0001\r\nUsername: admin\r\nSecret: admin-secret\r\n\r\n');
    await waitFor(() => raw.messages.length === 2, 'login response and FullyBooted');
    expect(raw.messages.map((message) => message.event ?? message.response)).toEqual(['Success', 'FullyBooted']);
  });

  it('lists the channels the played calls have up, as the recording did', () => {
    const recorded = loadCapture(capture('protocol-channels-status.jsonl'));
    const table = new ChannelTable(() => 0);
    const listedAt = recorded.actions.find(({ message }) => message.getIgnoreCase('Action') === 'CoreShowChannels')?.atMs ?? 0;
    for (const { message } of unsolicitedEvents(recorded).filter(({ atMs }) => atMs < listedAt)) {
      table.apply(message.fields);
    }
    const withoutDuration = (fields: readonly string[]) => {
      const copy = [...fields];
      copy.splice(copy.indexOf('Duration'), 2);
      return JSON.stringify(copy);
    };
    const expected = recorded.messages.filter(({ message }) => message.event === 'CoreShowChannel').map(({ message }) => withoutDuration(message.fields));
    expect(table.listItems('csc-0001').map(withoutDuration).sort()).toEqual(expected.sort());
  });

  it('plays click-to-dial for the requested phone', async () => {
    const replay = await server({ captures: [], originate: ORIGINATE });
    const { ami, events } = client(replay.port);
    ami.start();
    await waitFor(() => ami.isReady(), 'login');
    const queued = await ami.sendAction(
      'Originate',
      [
        ['Channel', 'PJSIP/102'],
        ['Context', 'from-internal'],
        ['Exten', '15550100077'],
        ['Priority', '1'],
        ['CallerID', '"Example Corp" <15550100100>'],
        ['Async', 'true'],
      ],
      { actionId: 'c2d-req-1' },
    );
    expect(queued.response.get('Message')).toBe('Originate successfully queued');
    await waitFor(() => events.find((event) => event.event === 'OriginateResponse'), 'OriginateResponse');
    const outcome = events.find((event) => event.event === 'OriginateResponse');
    expect(outcome?.get('ActionID')).toBe('c2d-req-1');
    expect(outcome?.get('Response')).toBe('Success');
    expect(outcome?.get('Exten')).toBe('15550100077');
    expect(events.find((event) => event.event === 'Newchannel')?.get('Channel')).toMatch(/^PJSIP\/102-[0-9a-f]{8}$/);
    expect(events.some((event) => event.get('CallerIDName') === 'Example Corp')).toBe(true);
  });

  it('plays the recorded rejection and the no-endpoint failure', async () => {
    const replay = await server({
      captures: [],
      originate: { ...ORIGINATE, outcome: ({ channel }) => (channel === 'PJSIP/103' ? 'rejected' : 'no_endpoint') },
    });
    const { ami, events } = client(replay.port);
    ami.start();
    await waitFor(() => ami.isReady(), 'login');
    for (const [actionId, channel] of [
      ['c2d-a', 'PJSIP/103'],
      ['c2d-b', 'PJSIP/999'],
    ] as const) {
      await ami.sendAction('Originate', [['Channel', channel], ['Context', 'from-internal'], ['Exten', '15550100099'], ['Async', 'true']], { actionId });
    }
    await waitFor(() => events.filter((event) => event.event === 'OriginateResponse').length === 2, 'two OriginateResponses');
    const outcomes = events.filter((event) => event.event === 'OriginateResponse').map((event) => [event.actionId, event.get('Response'), event.get('Reason')]);
    expect(outcomes).toContainEqual(['c2d-a', 'Failure', '0']);
    expect(outcomes).toContainEqual(['c2d-b', 'Failure', '0']);
    expect(events.find((event) => event.event === 'Hangup')?.get('Cause')).toBe('17');
  });

  it('denies Originate to a user without the originate write class', async () => {
    const replay = await server({ captures: [], originate: ORIGINATE, credentials: { username: 'cti', secret: 'cti-secret', write: ['call', 'reporting'] } });
    const { ami } = client(replay.port);
    ami.start();
    await waitFor(() => ami.isReady(), 'login');
    const result = await ami.sendAction('Originate', [['Channel', 'PJSIP/101'], ['Exten', '15550100099'], ['Async', 'true']]);
    expect([result.response.get('Response'), result.response.get('Message')]).toEqual(['Error', 'Permission denied']);
  });

  it('gives every loop fresh Uniqueid and Linkedid values', async () => {
    const replay = await server({ captures: [capture('inbound-answered.ami')], loop: true });
    const { ami, events } = client(replay.port);
    ami.start();
    await waitFor(() => events.filter((event) => event.event === 'Newchannel').length >= 6, 'three loops');
    const created = events.filter((event) => event.event === 'Newchannel').slice(0, 6);
    const linkedids = created.map((event) => event.get('Linkedid'));
    expect(new Set(linkedids).size).toBe(3);
    expect(new Set(created.map((event) => event.get('Uniqueid'))).size).toBe(6);
    for (let index = 0; index < 6; index += 2) {
      expect(created[index]?.get('Uniqueid')).toBe(linkedids[index]);
      expect(created[index + 1]?.get('Linkedid')).toBe(linkedids[index]);
    }
    expect(new Set(created.map((event) => event.get('Channel'))).size).toBe(6);
  });

  it('keeps the recorded gaps under recorded timing', async () => {
    const replay = await server({ captures: [capture('inbound-answered.jsonl')], timing: { speed: 10 } });
    const { ami, events } = client(replay.port);
    ami.start();
    await waitFor(() => events.filter((event) => event.event === 'Hangup').length === 2, 'the call', { timeoutMs: 5000 });
    const first = events.find((event) => event.event === 'Newchannel')?.receivedAt ?? 0;
    const last = events.filter((event) => event.event === 'Hangup').at(-1)?.receivedAt ?? 0;
    // The call lasted 5 s; at ten times the speed it cannot take less than 0.5 s.
    expect(last - first).toBeGreaterThanOrEqual(450);
  });

  it('drops clients mid-call and lists the channels that outlived the outage', async () => {
    const recorded = loadCapture(capture('concurrent-inbound.ami'));
    const events = unsolicitedEvents(recorded).map(({ message }) => message);
    const afterAnswers = events.findIndex((event) => event.event === 'BridgeEnter' && event.get('Channel') === 'PJSIP/pstn-trunk-0000000d') + 1;
    const firstCallGone = events.findLastIndex((event) => event.event === 'Hangup' && event.get('Linkedid') === '1796416190.33') + 1;
    const replay = await server({ captures: [recorded], dropAfter: { messages: afterAnswers, skip: firstCallGone - afterAnswers, resumeAfterList: true } });
    const { ami, events: received } = client(replay.port);
    ami.start();
    await waitFor(() => ami.connections === 2 && ami.isReady(), 'the reconnect');
    const listed = (await ami.sendAction('CoreShowChannels')).events.filter((event) => event.event === 'CoreShowChannel').map((event) => event.get('Channel') ?? '');
    expect(listed.sort()).toEqual(['PJSIP/102-0000000e', 'PJSIP/pstn-trunk-0000000d']);
    await waitFor(() => replay.played() === events.length, 'the rest of the capture');
    expect(received.length).toBe(events.length - (firstCallGone - afterAnswers));
  });
});
