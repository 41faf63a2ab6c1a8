import { Bus } from '@cti/bus';
import { OriginateReply, OriginateRequest } from '@cti/contracts';
import { createLogger } from '@cti/logging';
import type { Subscription } from '@nats-io/nats-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { PushErrorCode } from '../src/errors.js';
import type { ServerFrame } from '../src/protocol.js';
import { Harness } from './harness.js';

type Reply = ReturnType<typeof OriginateReply.parse>;
type Request = ReturnType<typeof OriginateRequest.parse>;

/** Stands in for ami-bridge on rpc.pbx.originate.pbx1: records requests, places one call per request id. */
class FakeAmiBridge {
  readonly requests: Request[] = [];
  readonly placed = new Set<string>();
  answer: (request: Request) => Omit<Reply, 'v' | 'requestId'> = () => ({ status: 'accepted' });
  #subscription: Subscription | undefined;

  constructor(private readonly bus: Bus) {}

  start(): void {
    this.#subscription = this.bus.serve(
      OriginateRequest,
      OriginateReply,
      async (request) => {
        this.requests.push(request);
        const duplicate = this.placed.has(request.requestId);
        const reply = this.answer(request);
        if (reply.status === 'accepted') {
          this.placed.add(request.requestId);
        }
        return { v: 1 as const, requestId: request.requestId, ...reply, ...(duplicate ? { duplicate: true } : {}) };
      },
      { queue: 'ami-bridge', tokens: { pbx: 'pbx1' } },
    );
  }

  async stop(): Promise<void> {
    await this.#subscription?.drain();
    this.#subscription = undefined;
  }
}

describe('click-to-dial', () => {
  let harness: Harness;
  let bridgeBus: Bus;
  let bridge: FakeAmiBridge;
  let token: string;

  const dial = (body: unknown, headers: Record<string, string> = {}, agentToken = token) =>
    fetch(`${harness.url}/v1/calls`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${agentToken}`, ...headers },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    harness = await Harness.start({ PUSH_DIAL_TIMEOUT_MS: '1000' });
    bridgeBus = await Bus.connect({ natsUrl: harness.nats.url }, { name: 'ami-bridge', logger: createLogger({ service: 'ami-bridge', level: 'silent' }) });
    token = await harness.token('anna', ['101', '105']);
  });

  afterEach(async () => {
    await bridge.stop();
  });

  afterAll(async () => {
    await bridgeBus.drain();
    await harness.close();
  });

  const startBridge = () => {
    bridge = new FakeAmiBridge(bridgeBus);
    bridge.start();
    return bridge;
  };

  it('answers 202 with the request id and sends the originate request', async () => {
    startBridge();
    const response = await dial({ to: '+1 555 0100-099' });
    expect(response.status).toBe(202);
    const body = (await response.json()) as { requestId: string; duplicate: boolean };
    expect(body.requestId).toMatch(/^dial-/);
    expect(body.duplicate).toBe(false);
    expect(bridge.requests).toEqual([{ v: 1, requestId: body.requestId, pbx: 'pbx1', extension: '101', to: '+15550100099', agentId: 'anna' }]);
  });

  it('dials from another extension of the token when asked', async () => {
    startBridge();
    const response = await dial({ to: '15550100099', extension: '105' });
    expect(response.status).toBe(202);
    expect(bridge.requests[0]?.extension).toBe('105');
  });

  it('answers 400 for an invalid number without asking the PBX', async () => {
    startBridge();
    for (const to of ['abc', '1', '+1555010009912345678901', '555;Local/1']) {
      const response = await dial({ to });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { code: string }).code).toBe(PushErrorCode.NUMBER_INVALID);
    }
    expect(bridge.requests).toEqual([]);
  });

  it('answers 403 for an extension the token does not hold', async () => {
    startBridge();
    const response = await dial({ to: '15550100099', extension: '102' });
    expect(response.status).toBe(403);
    expect(((await response.json()) as { code: string }).code).toBe(PushErrorCode.EXTENSION_FORBIDDEN);
    expect(bridge.requests).toEqual([]);
  });

  it('answers 401 without a valid agent token', async () => {
    startBridge();
    const response = await dial({ to: '15550100099' }, {}, 'not-a-token');
    expect(response.status).toBe(401);
  });

  it('answers 503 when no ami-bridge answers', async () => {
    bridge = new FakeAmiBridge(bridgeBus);
    const response = await dial({ to: '15550100099' });
    expect(response.status).toBe(503);
    expect(((await response.json()) as { code: string }).code).toBe(PushErrorCode.PBX_UNREACHABLE);
  });

  it('answers 503 when ami-bridge reports the AMI connection down', async () => {
    startBridge().answer = () => ({ status: 'failed', reason: 'ami_down' });
    const response = await dial({ to: '15550100098' });
    expect(response.status).toBe(503);
  });

  it('places one call for a double click', async () => {
    startBridge();
    const [first, second] = await Promise.all([dial({ to: '15550100077' }), dial({ to: '15550100077' })]);
    const bodies = (await Promise.all([first?.json(), second?.json()])) as { requestId: string; duplicate: boolean }[];
    expect([first?.status, second?.status]).toEqual([202, 202]);
    expect(bodies[0]?.requestId).toBe(bodies[1]?.requestId);
    expect(bodies.map((body) => body.duplicate).sort()).toEqual([false, true]);

    const third = await dial({ to: '15550100077' });
    expect(((await third.json()) as { requestId: string }).requestId).toBe(bodies[0]?.requestId);
    expect(bridge.placed.size).toBe(1);
    expect(bridge.requests).toHaveLength(1);
  });

  it('places one call per idempotency key', async () => {
    startBridge();
    const headers = { 'idempotency-key': 'click-7f3a' };
    const first = await dial({ to: '15550100066' }, headers);
    const second = await dial({ to: '15550100066' }, headers);
    const other = await dial({ to: '15550100066' }, { 'idempotency-key': 'click-8b41' });
    const ids = (await Promise.all([first.json(), second.json(), other.json()])) as { requestId: string }[];
    expect(ids[0]?.requestId).toBe(ids[1]?.requestId);
    expect(ids[2]?.requestId).not.toBe(ids[0]?.requestId);
    expect(bridge.placed.size).toBe(2);
  });

  it('rejects reused or overlong idempotency keys', async () => {
    startBridge();
    const headers = { 'idempotency-key': 'click-reuse-1' };
    expect((await dial({ to: '15550100044' }, headers)).status).toBe(202);
    const reused = await dial({ to: '15550100045' }, headers);
    expect(reused.status).toBe(422);
    expect(await reused.json()).toMatchObject({ code: PushErrorCode.IDEMPOTENCY_KEY_REUSED });

    // Cutting the key to 128 characters would merge two different keys into one call.
    const long = await dial({ to: '15550100046' }, { 'idempotency-key': 'k'.repeat(129) });
    expect(long.status).toBe(400);
    expect(await long.json()).toMatchObject({ code: PushErrorCode.IDEMPOTENCY_KEY_INVALID });
    expect(bridge.requests).toHaveLength(1);
  });

  it('dials over the socket too', async () => {
    startBridge();
    const client = await harness.connect('anna', ['101']);
    client.send({ type: 'dial', to: '15550100055', ref: 'button-1' });
    const result = await client.waitForFrame(
      (frame): frame is Extract<ServerFrame, { type: 'dial_result' }> => frame.type === 'dial_result',
      'dial_result frame',
    );
    expect(result).toMatchObject({ status: 202, ref: 'button-1', duplicate: false });
    expect(bridge.requests[0]).toMatchObject({ requestId: result.requestId, extension: '101', to: '15550100055' });

    client.send({ type: 'dial', to: 'nope', ref: 'button-2' });
    const invalid = await client.waitForFrame(
      (frame): frame is Extract<ServerFrame, { type: 'dial_result' }> => frame.type === 'dial_result' && frame.ref === 'button-2',
      'second dial_result frame',
    );
    expect(invalid).toMatchObject({ status: 400, code: PushErrorCode.NUMBER_INVALID });
  });
});

describe('click-to-dial rate limit', () => {
  let harness: Harness;
  let bridgeBus: Bus;
  let bridge: FakeAmiBridge;

  beforeAll(async () => {
    harness = await Harness.start({ PUSH_DIAL_RATE_PER_MINUTE: '3', PUSH_DIAL_DEDUPE_SECONDS: '0' });
    bridgeBus = await Bus.connect({ natsUrl: harness.nats.url }, { name: 'ami-bridge', logger: createLogger({ service: 'ami-bridge', level: 'silent' }) });
    bridge = new FakeAmiBridge(bridgeBus);
    bridge.start();
  });

  afterAll(async () => {
    await bridge.stop();
    await bridgeBus.drain();
    await harness.close();
  });

  it('shares one allowance across HTTP and socket', async () => {
    const token = await harness.token('carla', ['103']);
    const dial = (to: string) =>
      fetch(`${harness.url}/v1/calls`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ to }),
      });
    expect((await dial('15550100031')).status).toBe(202);
    expect((await dial('15550100032')).status).toBe(202);

    const client = await harness.connect('carla', ['103']);
    client.send({ type: 'dial', to: '15550100033', ref: 'socket-1' });
    client.send({ type: 'dial', to: '15550100034', ref: 'socket-2' });
    const second = await client.waitForFrame(
      (frame): frame is Extract<ServerFrame, { type: 'dial_result' }> => frame.type === 'dial_result' && frame.ref === 'socket-2',
      'dial_result over the limit',
    );
    expect(second).toMatchObject({ status: 429, code: PushErrorCode.RATE_LIMITED });

    const refused = await dial('15550100035');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(bridge.requests.filter((request) => request.agentId === 'carla')).toHaveLength(3);

    // Another agent has an allowance of their own.
    const other = await harness.token('dana', ['104']);
    const response = await fetch(`${harness.url}/v1/calls`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${other}` },
      body: JSON.stringify({ to: '15550100036' }),
    });
    expect(response.status).toBe(202);
  });

  it('dials the new number for a key reused after its window', async () => {
    // PUSH_DIAL_DEDUPE_SECONDS is 0 here: the gateway no longer remembers the key's first number.
    const token = await harness.token('erin', ['108']);
    const dial = (to: string) =>
      fetch(`${harness.url}/v1/calls`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'idempotency-key': 'erin-key-1' },
        body: JSON.stringify({ to }),
      });
    const first = (await (await dial('15550100041')).json()) as { requestId: string; duplicate: boolean };
    const second = (await (await dial('15550100042')).json()) as { requestId: string; duplicate: boolean };
    expect(second.duplicate).toBe(false);
    expect(second.requestId).not.toBe(first.requestId);
    const placed = bridge.requests.filter((request) => request.agentId === 'erin').map((request) => request.to);
    expect(placed).toEqual(['15550100041', '15550100042']);
  });
});
