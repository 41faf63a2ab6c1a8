import { writeFileSync } from 'node:fs';

import { StreamNames } from '@cti/contracts';
import { generateApiKey } from '@cti/push-gateway';
import { waitFor } from '@cti/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AgentSocket } from './agent-socket.js';
import { PBX, serviceEnvironment } from './deployment.js';
import { natsErrors, startProcess, type RunningProcess } from './processes.js';
import { connectUser, startSecuredNats, type SecuredNats, type UserClient } from './secured-nats.js';

// The deployment tests pass while the generated permissions cover what the services do. This
// checks that they would notice otherwise: with one subject the gateway uses taken out of the
// config, the gateway logs a permission violation, which those tests fail on.

const REMOVED = '"live.call.*.*.*"';

let nats: SecuredNats;
let cli: UserClient;
let gateway: RunningProcess;
let apiKey: string;

beforeAll(async () => {
  nats = await startSecuredNats((text) => {
    if (!text.includes(REMOVED)) {
      throw new Error(`authorization.conf has no ${REMOVED} to remove`);
    }
    return text.replace(REMOVED, '');
  });
  cli = await connectUser(nats, 'cli');
  await cli.bus.ensureStreams(StreamNames);
  const { key, entry } = generateApiKey({ id: 'drift-test' });
  apiKey = key;
  writeFileSync(nats.secretPath('push_gateway_api_keys'), JSON.stringify({ keys: [entry] }), { mode: 0o600 });
  gateway = startProcess(
    'push-gateway',
    'services/push-gateway',
    'src/main.ts',
    [],
    serviceEnvironment(nats, 'push-gateway', { PUSH_HTTP_HOST: '127.0.0.1', PUSH_HTTP_PORT: '0', PBX_ID: PBX }),
  );
  await gateway.waitForLog('service started', 60_000);
}, 90_000);

afterAll(async () => {
  await gateway?.stop();
  await cli?.bus.drain().catch(() => undefined);
  await nats?.dispose();
});

describe('a NATS config that drifted from the services', () => {
  it('makes the service log a permission violation', async () => {
    expect(natsErrors(gateway)).toEqual([]);
    const url = String(gateway.lines().find((line) => line.msg === 'push gateway listening')?.['url']);
    // The gateway subscribes to the agent's live subjects when the socket opens.
    const agent = await AgentSocket.open(url, apiKey, { agentId: 'anna', pbx: PBX, extension: '101' }).catch((error: unknown) => error);
    const violations = await waitFor(() => {
      const found = natsErrors(gateway).filter((line) => line.includes('Permissions Violation for Subscription to \\"live.call.*.pbx1.101\\"'));
      return found.length > 0 ? found : undefined;
    }, 'the violation in the gateway log');
    expect(violations.length).toBeGreaterThan(0);
    if (agent instanceof AgentSocket) {
      agent.close();
    }
  });
});
