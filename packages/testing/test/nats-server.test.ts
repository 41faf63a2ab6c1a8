import { createConnection } from 'node:net';

import { afterAll, describe, expect, it } from 'vitest';

import { startNatsServer, type NatsServerHandle } from '../src/index.js';

function readInfo(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString('utf8'));
    });
    socket.once('error', reject);
  });
}

describe('startNatsServer', () => {
  let server: NatsServerHandle | undefined;
  afterAll(async () => server?.dispose());

  it('starts a JetStream server on a free port and restarts it on the same port', async () => {
    server = await startNatsServer();
    expect(server.url).toBe(`nats://127.0.0.1:${server.port}`);
    const info = await readInfo(server.port);
    expect(info).toMatch(/^INFO /);
    expect(info).toContain('"jetstream":true');

    await server.stop();
    await expect(readInfo(server.port)).rejects.toThrow(/ECONNREFUSED/);

    await server.restart();
    expect(await readInfo(server.port)).toMatch(/^INFO /);
  });
});
