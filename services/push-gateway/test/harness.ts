import { Bus } from '@cti/bus';
import { loadConfig } from '@cti/config';
import type { MessageContract } from '@cti/contracts';
import { createLogger } from '@cti/logging';
import { createAuditor } from '@cti/runtime';
import { collectLogLines, startNatsServer, type LogLines, type NatsServerHandle } from '@cti/testing';
import { Registry } from 'prom-client';
import type { Static, TSchema } from 'typebox';

import { PushGatewayConfig, type PushGatewaySettings } from '../src/config.js';
import { startGateway, type Gateway } from '../src/gateway.js';
import { AgentTokenKeys, mintAgentToken } from '../src/tokens.js';
import { AgentClient, type ConnectOptions } from './client.js';
import { PBX } from './events.js';

export const TOKEN_KEY = 'test-agent-token-key-0123456789abcdef';
export const PHONE_HASH_KEY = 'test-phone-hash-key-0123';

/** A clock the tests can move forward: real time plus an offset. */
export class TestClock {
  offsetMs = 0;
  readonly now = (): number => Date.now() + this.offsetMs;
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

export interface GatewayInstance {
  gateway: Gateway;
  bus: Bus;
  settings: PushGatewaySettings;
  registry: Registry;
  logs: LogLines;
  clock: TestClock;
  close(): Promise<void>;
}

/** The service environment tests start from; each test file overrides what it exercises. */
export function baseEnvironment(natsUrl: string): Record<string, string> {
  return {
    NATS_URL: natsUrl,
    AGENT_TOKEN_KEY: TOKEN_KEY,
    PHONE_HASH_KEY,
    PUSH_HTTP_PORT: '0',
    PBX_ID: PBX,
    LOG_LEVEL: 'debug',
  };
}

/** Starts one gateway instance over its own NATS connection, as `main.ts` would. */
export async function startGatewayInstance(natsUrl: string, environment: Record<string, string> = {}): Promise<GatewayInstance> {
  const settings = loadConfig(PushGatewayConfig, { ...baseEnvironment(natsUrl), ...environment });
  const logs = collectLogLines();
  const logger = createLogger({ service: 'push-gateway', level: settings.logLevel, phoneHashKey: PHONE_HASH_KEY, destination: logs.stream });
  const registry = new Registry();
  const bus = await Bus.connect(settings, { name: 'push-gateway', logger, registry });
  await bus.ensureStreams(['CALLS', 'CRM', 'AUDIT', 'DLQ']);
  const auditor = createAuditor({ bus, service: 'push-gateway', logger, phoneHashKey: PHONE_HASH_KEY });
  const clock = new TestClock();
  const gateway = await startGateway({ settings, bus, auditor, logger, registry, clock: clock.now, apiKeysPollMs: 50 });
  return {
    gateway,
    bus,
    settings,
    registry,
    logs,
    clock,
    async close() {
      await gateway.close();
      await bus.drain();
    },
  };
}

/**
 * A private nats-server, one gateway, and a second NATS connection that publishes the contract
 * messages the way ami-bridge and crm-sync would.
 */
export class Harness {
  readonly clients: AgentClient[] = [];

  private constructor(
    readonly nats: NatsServerHandle,
    readonly instance: GatewayInstance,
    readonly publisher: Bus,
  ) {}

  static async start(environment: Record<string, string> = {}): Promise<Harness> {
    const nats = await startNatsServer();
    try {
      const instance = await startGatewayInstance(nats.url, environment);
      const publisher = await Bus.connect(
        { natsUrl: nats.url },
        { name: 'publisher', logger: createLogger({ service: 'publisher', level: 'silent' }) },
      );
      return new Harness(nats, instance, publisher);
    } catch (error) {
      await nats.dispose();
      throw error;
    }
  }

  get url(): string {
    return this.instance.gateway.url;
  }

  get keys(): AgentTokenKeys {
    return new AgentTokenKeys([TOKEN_KEY]);
  }

  async token(agentId: string, extensions: string[], options: { ttlSeconds?: number; now?: number; keys?: AgentTokenKeys } = {}): Promise<string> {
    const { token } = await mintAgentToken(options.keys ?? this.keys, {
      agentId,
      extensions,
      pbx: PBX,
      ttlSeconds: options.ttlSeconds ?? 3600,
      ...(options.now === undefined ? {} : { now: options.now }),
    });
    return token;
  }

  /** Connects an agent and waits for its catch-up frame. */
  async connect(agentId: string, extensions: string[], options: Omit<ConnectOptions, 'token'> & { token?: string } = {}): Promise<AgentClient> {
    const token = options.token ?? (await this.token(agentId, extensions));
    const client = await AgentClient.open(this.url, { ...options, token });
    this.clients.push(client);
    await client.synced();
    return client;
  }

  publish<S extends TSchema>(contract: MessageContract<S>, message: Static<S>): Promise<{ sequence: number }> {
    return this.publisher.publish(contract, message);
  }

  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    const metric = await this.instance.registry.getSingleMetric(name)?.get();
    const matching = metric?.values.filter((value) => Object.entries(labels).every(([key, expected]) => String(value.labels[key]) === expected)) ?? [];
    return matching.reduce((sum, value) => sum + value.value, 0);
  }

  async close(): Promise<void> {
    for (const client of this.clients) {
      client.socket.terminate();
    }
    try {
      await this.instance.close();
      await this.publisher.drain();
    } finally {
      await this.nats.dispose();
    }
  }
}
