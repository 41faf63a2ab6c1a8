import { createLogger } from '@cti/logging';
import { collectLogLines, startNatsServer, waitFor, type NatsServerHandle } from '@cti/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Bus } from '../src/index.js';

let server: NatsServerHandle;
let bus: Bus;

beforeAll(async () => {
  server = await startNatsServer();
  const logger = createLogger({ service: 'bus-test', level: 'debug', destination: collectLogLines().stream });
  bus = await Bus.connect({ natsUrl: server.url }, { name: 'bus-connection-test', logger });
});

afterAll(async () => {
  await bus?.drain();
  await server?.dispose();
});

describe('Bus.isConnected', () => {
  it('follows the server going away and coming back', async () => {
    expect(bus.isConnected()).toBe(true);

    await server.stop();
    await waitFor(() => !bus.isConnected(), 'isConnected to turn false after the server stopped');

    await server.restart();
    await waitFor(() => bus.isConnected(), 'isConnected to turn true after the server restarted', { timeoutMs: 15_000 });
  });
});
