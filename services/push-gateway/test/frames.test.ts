import { waitFor } from '@cti/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { PushErrorCode } from '../src/errors.js';
import { CloseCode, type ServerFrame } from '../src/protocol.js';
import { Harness } from './harness.js';

type ErrorFrame = Extract<ServerFrame, { type: 'error' }>;
const isError = (frame: ServerFrame): frame is ErrorFrame => frame.type === 'error';

describe('inbound frames', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await Harness.start({
      PUSH_INVALID_FRAMES_LIMIT: '3',
      PUSH_INBOUND_FRAMES_PER_SECOND: '5',
      PUSH_MAX_INBOUND_FRAME_BYTES: '1024',
      PUSH_HEARTBEAT_INTERVAL_MS: '1000',
    });
  });

  afterAll(async () => {
    await harness.close();
  });

  it('answers a garbage frame with an error frame and stays open', async () => {
    const client = await harness.connect('anna', ['101']);
    client.send('{not json');
    const first = await client.waitForFrame(isError, 'error frame');
    expect(first.code).toBe(PushErrorCode.FRAME_INVALID);
    expect(first.message).toBe('frame is not valid JSON');

    client.send({ type: 'dial', to: 42 });
    await client.waitForFrame((frame): frame is ErrorFrame => isError(frame) && frame.message.includes('invalid frame'), 'schema error frame');

    client.send({ type: 'ping', id: 'alive' });
    await client.waitForFrame((frame): frame is ServerFrame => frame.type === 'pong' && frame.id === 'alive', 'pong');
    expect(client.closeCode).toBeUndefined();
  });

  it('closes the socket with 4009 after a flood of garbage', async () => {
    const client = await harness.connect('anna', ['101']);
    for (let index = 0; index < 4; index += 1) {
      client.send(`garbage ${index}`);
    }
    expect((await client.closed).code).toBe(CloseCode.INVALID_FRAMES);
    expect(client.frames.filter(isError)).toHaveLength(3);
  });

  it('closes the socket with 4029 when frames come too fast', async () => {
    const client = await harness.connect('anna', ['101']);
    for (let index = 0; index < 30; index += 1) {
      client.send({ type: 'ping' });
    }
    expect((await client.closed).code).toBe(CloseCode.RATE_LIMITED);
  });

  it('closes the socket with 1009 for an oversized frame', async () => {
    const client = await harness.connect('anna', ['101']);
    client.send({ type: 'ping', id: 'x'.repeat(2000) });
    expect((await client.closed).code).toBe(CloseCode.MESSAGE_TOO_BIG);
  });

  it('closes a half-open connection that stops answering pings', async () => {
    const before = await harness.metric('cti_push_disconnects_total', { reason: 'heartbeat' });
    const client = await harness.connect('anna', ['101']);
    // A paused socket reads nothing, so it answers no ping: to the gateway it looks half-open.
    client.socket.pause();
    await waitFor(async () => (await harness.metric('cti_push_disconnects_total', { reason: 'heartbeat' })) > before, 'heartbeat disconnect', {
      timeoutMs: 5000,
    });
    client.socket.resume();
    expect((await client.closed).code).toBe(1006);
  });
});
