import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { Bus } from '@cti/bus';
import { loadConfig } from '@cti/config';
import { OriginateReply, OriginateRequest, type AuditEvent, type CallEvent, type OriginateResult } from '@cti/contracts';
import { createLogger } from '@cti/logging';
import { loadCapture, startReplayServer, unsolicitedEvents, type ReplayServer, type ReplayServerOptions } from '@cti/pbx-replay';
import { createAuditor } from '@cti/runtime';
import { collectLogLines, startNatsServer, waitFor, type NatsServerHandle } from '@cti/testing';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { AmiBridgeConfig, DEFAULT_CALL_MODEL, normalizeAmi, summarize } from '../src/index.js';
import { startBridge, type RunningBridge } from '../src/bridge.js';
import { CAPTURES } from './helpers.js';

const capture = (name: string) => join(CAPTURES, name);
const ORIGINATE_CAPTURES = {
  answered: capture('outbound-click-to-dial.jsonl'),
  rejected: capture('outbound-click-to-dial-rejected.jsonl'),
  local: capture('outbound-click-to-dial-local.jsonl'),
};

let nats: NatsServerHandle;
let observer: Bus;
const logLines = collectLogLines();
const logger = createLogger({ service: 'ami-bridge-test', level: 'debug', destination: logLines.stream });
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
  observer = await Bus.connect({ natsUrl: nats.url }, { name: 'observer', logger });
  await observer.ensureStreams(['CALLS', 'AUDIT', 'DLQ']);
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

afterAll(async () => {
  await observer?.drain();
  await nats?.dispose();
});

async function replay(options: ReplayServerOptions): Promise<ReplayServer> {
  const server = await startReplayServer({ loginFailureDelayMs: 10, ...options });
  cleanups.push(() => server.close());
  return server;
}

interface TestBridge {
  bridge: RunningBridge;
  registry: Registry;
  bus: Bus;
}

async function bridgeFor(port: number, pbx: string, environment: Record<string, string> = {}): Promise<TestBridge> {
  const settings = loadConfig(AmiBridgeConfig, {
    NATS_URL: nats.url,
    PBX_ID: pbx,
    AMI_PORT: String(port),
    AMI_USERNAME: 'cti',
    AMI_SECRET: 'cti-secret',
    AMI_RECONNECT_MIN_MS: '20',
    AMI_RECONNECT_MAX_MS: '200',
    AMI_LOGIN_RETRY_MIN_MS: '50',
    AMI_LOGIN_RETRY_MAX_MS: '200',
    AMI_PING_INTERVAL_MS: '0',
    AMI_RESYNC_INTERVAL_MS: '0',
    AMI_ACTION_TIMEOUT_MS: '3000',
    ORIGINATE_TIMEOUT_MS: '5000',
    ...environment,
  });
  const registry = new Registry();
  const bus = await Bus.connect(settings, { name: 'ami-bridge', logger, registry });
  const auditor = createAuditor({ bus, service: 'ami-bridge', logger, phoneHashKey: undefined });
  const bridge = await startBridge({ settings, bus, auditor, logger, registry });
  // The click-to-dial subscription must reach the server before a test sends a request.
  await bus.connection.flush();
  cleanups.push(async () => {
    await bridge.stop();
    await bus.drain();
  });
  return { bridge, registry, bus };
}

interface Stored<T> {
  subject: string;
  message: T;
}

/** Reads every message of a stream, in stream order, whose parsed body passes `keep`. */
async function stored<T>(stream: string, keep: (message: T) => boolean): Promise<Stored<T>[]> {
  const info = await observer.jsm.streams.info(stream);
  const result: Stored<T>[] = [];
  for (let sequence = info.state.first_seq; sequence <= info.state.last_seq && info.state.messages > 0; sequence += 1) {
    const entry = await observer.jsm.streams.getMessage(stream, { seq: sequence }).catch(() => null);
    if (entry === null) {
      continue;
    }
    const message = entry.json<T>();
    if (keep(message)) {
      result.push({ subject: entry.subject, message });
    }
  }
  return result;
}

const callEventsOf = (pbx: string) => stored<CallEvent>('CALLS', (message) => message.pbx === pbx && message.type.startsWith('call.'));

async function metric(registry: Registry, name: string): Promise<number> {
  const found = (await registry.getMetricsAsJSON()).find((entry) => entry.name === name);
  return (found?.values ?? []).reduce((total, value) => total + value.value, 0);
}

describe('ami-bridge end to end, over a real socket and a real nats-server', () => {
  it('publishes the recorded calls as the model describes them, on per-extension subjects', async () => {
    const server = await replay({ captures: [capture('ringgroup.ami'), capture('queue.ami')] });
    const { bridge, registry } = await bridgeFor(server.port, 'e2e-a');
    const expected = ['ringgroup.ami', 'queue.ami'].flatMap((name) => normalizeAmi(readFileSync(capture(name)), { ...DEFAULT_CALL_MODEL, pbx: 'e2e-a' }, 0));
    await waitFor(async () => (await callEventsOf('e2e-a')).length === expected.length, 'every call event stored');

    const events = await callEventsOf('e2e-a');
    expect(events.map(({ message }) => message.id)).toEqual(expected.map((event) => event.id));
    expect(events.map(({ message }) => summarize(message))).toEqual(expected.map((event) => summarize(event)));
    for (const { subject, message } of events) {
      expect(subject).toBe(message.type === 'call.completed' ? 'call.completed.e2e-a' : `${message.type}.e2e-a.${message.extension}`);
    }
    expect(bridge.isReady()).toBe(true);
    expect(await metric(registry, 'cti_ami_connected')).toBe(1);
    expect(await metric(registry, 'cti_ami_events_parsed_total')).toBe(server.played());
    expect(await metric(registry, 'cti_call_events_total')).toBe(expected.length);
    expect(logLines.text()).not.toContain('cti-secret');
    expect(logLines.text()).not.toContain('+15550100001');
  });

  it('stores each event once when two bridges serve the same PBX', async () => {
    const server = await replay({ captures: [capture('inbound-answered.ami')], minClients: 2 });
    const first = await bridgeFor(server.port, 'e2e-b');
    const second = await bridgeFor(server.port, 'e2e-b');
    const published = async (registry: Registry) => metric(registry, 'cti_bus_published_total');
    await waitFor(async () => (await published(first.registry)) === 4 && (await published(second.registry)) === 4, 'both bridges published the call');

    const events = await callEventsOf('e2e-b');
    expect(events.map(({ message }) => message.type)).toEqual(['call.ringing', 'call.answered', 'call.ended', 'call.completed']);
    const duplicates = async (registry: Registry) =>
      ((await registry.getMetricsAsJSON()).find((entry) => entry.name === 'cti_bus_published_total')?.values ?? [])
        .filter((value) => value.labels['result'] === 'duplicate')
        .reduce((total, value) => total + value.value, 0);
    expect((await duplicates(first.registry)) + (await duplicates(second.registry))).toBe(4);
  });

  it('ends vanished calls once after a disconnect', async () => {
    const recorded = loadCapture(capture('concurrent-inbound.ami'));
    const events = unsolicitedEvents(recorded).map(({ message }) => message);
    const bothTalking = events.findIndex((event) => event.event === 'BridgeEnter' && event.get('Channel') === 'PJSIP/pstn-trunk-0000000d') + 1;
    const firstGone = events.findLastIndex((event) => event.event === 'Hangup' && event.get('Linkedid') === '1796416190.33') + 1;
    const server = await replay({ captures: [recorded], dropAfter: { messages: bothTalking, skip: firstGone - bothTalking, resumeAfterList: true } });
    const { bridge, registry } = await bridgeFor(server.port, 'e2e-c');

    await waitFor(async () => (await callEventsOf('e2e-c')).filter(({ message }) => message.type === 'call.completed').length === 2, 'both calls completed');
    const stored = (await callEventsOf('e2e-c')).map(({ message }) => message);
    expect(stored.map((event) => `${event.callId} ${event.type}${event.resynced === true ? ' resynced' : ''}`)).toEqual([
      '1796416190.33 call.ringing',
      '1796416191.35 call.ringing',
      '1796416190.33 call.answered',
      '1796416191.35 call.answered',
      '1796416190.33 call.ended resynced',
      '1796416190.33 call.completed resynced',
      '1796416191.35 call.ended',
      '1796416191.35 call.completed',
    ]);
    expect(stored.at(-1)).toMatchObject({ disposition: 'answered', hangupBy: 'agent' });
    expect(bridge.ami.connections).toBe(2);
    expect(await metric(registry, 'cti_ami_reconnects_total')).toBe(1);
    expect(await metric(registry, 'cti_ami_resync_vanished_channels_total')).toBe(2);
  });

  describe('click-to-dial', () => {
    const request = (requestId: string, pbx: string, overrides: Partial<OriginateRequest> = {}): OriginateRequest => ({
      v: 1,
      requestId,
      pbx,
      extension: '102',
      to: '+1 (555) 010-0077',
      agentId: 'agent-7',
      ...overrides,
    });
    const ask = (message: OriginateRequest) => observer.request(OriginateRequest, OriginateReply, message, 8000);
    const results = (pbx: string) => stored<OriginateResult>('CALLS', (message) => message.pbx === pbx && message.type === 'pbx.originate.result');

    it('places a call and publishes its outcome', async () => {
      const server = await replay({ captures: [], originate: { captures: ORIGINATE_CAPTURES } });
      await bridgeFor(server.port, 'e2e-d');
      const { bridge } = await bridgeFor(server.port, 'e2e-d-other');
      await waitFor(() => bridge.isReady(), 'the second bridge logged in');

      const reply = await ask(request('req-happy-0001', 'e2e-d'));
      expect(reply).toEqual({ v: 1, requestId: 'req-happy-0001', status: 'accepted' });

      const originate = server.receivedActions.filter((action) => action.action === 'Originate');
      expect(originate).toHaveLength(1);
      expect(originate[0]?.pairs).toEqual([
        ['Action', 'Originate'],
        ['ActionID', 'c2d-req-happy-0001'],
        ['Channel', 'PJSIP/102'],
        ['Context', 'from-internal'],
        ['Exten', '+15550100077'],
        ['Priority', '1'],
        ['CallerID', 'Click-to-dial <+15550100077>'],
        ['Timeout', '5000'],
        ['Variable', 'CTI_REQUEST=req-happy-0001'],
        ['Async', 'true'],
      ]);

      await waitFor(async () => (await results('e2e-d')).length === 1, 'the click-to-dial outcome');
      const [result] = await results('e2e-d');
      expect(result?.subject).toBe('pbx.originate.result.e2e-d.102');
      expect(result?.message).toMatchObject({ requestId: 'req-happy-0001', status: 'answered', extension: '102', callId: expect.any(String) });

      await waitFor(async () => (await callEventsOf('e2e-d')).some(({ message }) => message.type === 'call.completed'), 'the call completed');
      const call = (await callEventsOf('e2e-d')).map(({ message }) => message);
      expect(call.map((event) => `${event.type} ${event.extension ?? '-'}`)).toEqual(['call.ringing 102', 'call.answered 102', 'call.ended 102', 'call.completed 102']);
      for (const event of call) {
        expect(event).toMatchObject({ direction: 'outbound', originateRequestId: 'req-happy-0001', callee: { number: '+15550100077' }, callId: result?.message.callId });
      }

      await waitFor(async () => (await stored<AuditEvent>('AUDIT', (message) => message.action === 'click_to_dial')).length > 0, 'the audit entry');
      const [audit] = await stored<AuditEvent>('AUDIT', (message) => message.action === 'click_to_dial');
      expect(audit?.message).toMatchObject({ outcome: 'success', actor: { type: 'agent', id: 'agent-7' }, target: { type: 'extension', id: 'e2e-d/102' } });
      expect(JSON.stringify(audit?.message)).not.toContain('5550100077');
    });

    it('places one call for a repeated request id, also when the requests race', async () => {
      const server = await replay({ captures: [], originate: { captures: ORIGINATE_CAPTURES } });
      const { bridge } = await bridgeFor(server.port, 'e2e-e');
      await waitFor(() => bridge.isReady(), 'login');
      const [first, second] = await Promise.all([ask(request('req-twice-0001', 'e2e-e')), ask(request('req-twice-0001', 'e2e-e'))]);
      const third = await ask(request('req-twice-0001', 'e2e-e'));
      const replies = [first, second, third];
      expect(replies.every((reply) => reply.status === 'accepted')).toBe(true);
      expect(replies.filter((reply) => reply.duplicate === true)).toHaveLength(2);
      expect(server.receivedActions.filter((action) => action.action === 'Originate')).toHaveLength(1);
    });

    it('reports the agent rejecting the call', async () => {
      const server = await replay({ captures: [], originate: { captures: ORIGINATE_CAPTURES, outcome: () => 'rejected' } });
      const { bridge } = await bridgeFor(server.port, 'e2e-f');
      await waitFor(() => bridge.isReady(), 'login');
      expect(await ask(request('req-reject-0001', 'e2e-f'))).toMatchObject({ status: 'accepted' });
      await waitFor(async () => (await results('e2e-f')).length === 1, 'the click-to-dial outcome');
      expect((await results('e2e-f'))[0]?.message).toMatchObject({ status: 'failed', reason: 'phone_rejected' });
      await waitFor(async () => (await callEventsOf('e2e-f')).some(({ message }) => message.type === 'call.completed'), 'the attempt completed');
      expect((await callEventsOf('e2e-f')).at(-1)?.message).toMatchObject({ type: 'call.completed', disposition: 'failed', originateRequestId: 'req-reject-0001' });
    });

    it('reports ami_down, then places the call', async () => {
      const server = await replay({ captures: [], originate: { captures: ORIGINATE_CAPTURES } });
      const port = server.port;
      await server.close();
      const { bridge } = await bridgeFor(port, 'e2e-g');
      expect(await ask(request('req-down-0001', 'e2e-g'))).toMatchObject({ status: 'failed', reason: 'ami_down' });

      const back = await replay({ port, captures: [], originate: { captures: ORIGINATE_CAPTURES } });
      await waitFor(() => bridge.isReady(), 'the reconnect', { timeoutMs: 15_000 });
      expect(await ask(request('req-down-0001', 'e2e-g'))).toEqual({ v: 1, requestId: 'req-down-0001', status: 'accepted' });
      expect(back.receivedActions.filter((action) => action.action === 'Originate')).toHaveLength(1);
    });

    it('answers permission_denied for an AMI user without the originate class', async () => {
      const server = await replay({
        captures: [],
        originate: { captures: ORIGINATE_CAPTURES },
        credentials: { username: 'cti', secret: 'cti-secret', read: ['call', 'agent'], write: ['call', 'reporting'] },
      });
      const { bridge } = await bridgeFor(server.port, 'e2e-h');
      await waitFor(() => bridge.isReady(), 'login');
      expect(await ask(request('req-denied-0001', 'e2e-h'))).toMatchObject({ status: 'failed', reason: 'permission_denied' });
    });

    it('rejects an invalid number or extension without asking the PBX', async () => {
      const server = await replay({ captures: [], originate: { captures: ORIGINATE_CAPTURES } });
      const { bridge } = await bridgeFor(server.port, 'e2e-i');
      await waitFor(() => bridge.isReady(), 'login');
      expect(await ask(request('req-badnum-0001', 'e2e-i', { to: '555;call 911' }))).toMatchObject({ status: 'failed', reason: 'invalid_number' });
      expect(await ask(request('req-badext-0001', 'e2e-i', { extension: 'pstn-trunk' }))).toMatchObject({ status: 'failed', reason: 'invalid_extension' });
      expect(server.receivedActions.filter((action) => action.action === 'Originate')).toHaveLength(0);
    });
  });

  it('works with the least-privilege user: read call,agent and write originate,call,reporting', async () => {
    const server = await replay({
      captures: [capture('queue.ami')],
      credentials: { username: 'cti', secret: 'cti-secret', read: ['call', 'agent'], write: ['originate', 'call', 'reporting'] },
    });
    const { bridge } = await bridgeFor(server.port, 'e2e-j');
    await waitFor(async () => (await callEventsOf('e2e-j')).length === 6, 'the queue call');
    expect(bridge.ami.isReady()).toBe(true);
    expect(server.receivedActions.map((action) => action.action)).toEqual(['Challenge', 'Login', 'CoreShowChannels']);
    expect(server.receivedActions[1]?.pairs).toContainEqual(['Events', 'call,agent']);
  });
});
