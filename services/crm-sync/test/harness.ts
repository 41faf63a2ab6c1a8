import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { Bus } from '@cti/bus';
import { loadConfig } from '@cti/config';
import type { AiConversationCompleted, CallCompleted, CallRinging } from '@cti/contracts';
import { createLogger } from '@cti/logging';
import { clientOptionsFrom, SuiteCrmClient } from '@cti/suitecrm';
import { RECORDED_CLIENT_CREDENTIALS, startSuiteCrmSimulator, type Row, type SimulatorOptions, type SuiteCrmSimulator } from '@cti/suitecrm-simulator';
import { collectLogLines, startNatsServer, type LogLines, type NatsServerHandle } from '@cti/testing';
import { Registry } from 'prom-client';

import { CrmSyncConfig, type CrmSyncSettings } from '../src/config.js';
import { createMetrics, crmObserver } from '../src/metrics.js';
import { CRM_SYNC_STREAMS, startCrmSync, type CrmSync } from '../src/service.js';

export interface Instance {
  bus: Bus;
  client: SuiteCrmClient;
  service: CrmSync;
  registry: Registry;
  stop(): Promise<void>;
}

export interface Harness {
  nats: NatsServerHandle;
  simulator: SuiteCrmSimulator;
  environment: Record<string, string>;
  config: CrmSyncSettings;
  logs: LogLines;
  /** The test's own connection, for publishing events and reading results. */
  bus: Bus;
  start(name?: string): Promise<Instance>;
  close(): Promise<void>;
}

/** Environment of a crm-sync under test: short backoffs and retries, the simulator's client. */
export function testEnvironment(natsUrl: string, suitecrmUrl: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    NATS_URL: natsUrl,
    SUITECRM_URL: suitecrmUrl,
    SUITECRM_CLIENT_ID: RECORDED_CLIENT_CREDENTIALS.id,
    SUITECRM_CLIENT_SECRET: RECORDED_CLIENT_CREDENTIALS.secret,
    SUITECRM_RETRY_BASE_DELAY_MS: '5',
    SUITECRM_MAX_RETRIES: '1',
    SUITECRM_CIRCUIT_OPEN_MS: '200',
    PHONE_DEFAULT_REGION: 'US',
    PHONE_HASH_KEY: 'test-phone-hash-key-0123456789',
    CRM_RETRY_BACKOFF_MS: '20,40,80',
    CRM_ACK_WAIT_MS: '5000',
    // Tests run the index sync by hand.
    CRM_INDEX_SYNC_INTERVAL_SECONDS: '3600',
    LOG_LEVEL: 'debug',
    ...overrides,
  };
}

export async function startHarness(options: { simulator?: SimulatorOptions; environment?: Record<string, string> } = {}): Promise<Harness> {
  const nats = await startNatsServer();
  const simulator = await startSuiteCrmSimulator({ seed: 'recorded', ...options.simulator });
  const environment = testEnvironment(nats.url, simulator.url, options.environment);
  const config = loadConfig(CrmSyncConfig, environment);
  const logs = collectLogLines();
  const logger = createLogger({ service: 'crm-sync', level: 'debug', destination: logs.stream, phoneNumbers: 'mask' });
  const bus = await Bus.connect(config, { name: 'test', logger: createLogger({ service: 'test', level: 'silent' }) });
  await bus.ensureStreams([...CRM_SYNC_STREAMS, 'AUDIT', 'DLQ']);
  const instances: Instance[] = [];

  return {
    nats,
    simulator,
    environment,
    config,
    logs,
    bus,
    async start(name = 'crm-sync') {
      const registry = new Registry();
      const metrics = createMetrics(registry);
      const instanceLogger = logger.child({ instance: name });
      const instanceBus = await Bus.connect(config, { name, logger: instanceLogger, registry });
      const client = new SuiteCrmClient({ ...clientOptionsFrom(config), logger: instanceLogger, observer: crmObserver(metrics) });
      const service = await startCrmSync({ bus: instanceBus, client, config, logger: instanceLogger, metrics, instanceId: name, runIndexSync: false });
      let stopped = false;
      const instance: Instance = {
        bus: instanceBus,
        client,
        service,
        registry,
        async stop() {
          if (stopped) {
            return;
          }
          stopped = true;
          await service.stop();
          await instanceBus.drain();
          await client.close();
        },
      };
      instances.push(instance);
      return instance;
    },
    async close() {
      for (const instance of instances.reverse()) {
        await instance.stop().catch(() => undefined);
      }
      await bus.drain().catch(() => undefined);
      await simulator.close();
      await nats.dispose();
    },
  };
}

let sequence = 0;

export function uniqueCallId(): string {
  sequence += 1;
  return `${1796412000 + sequence}.${sequence}`;
}

/** A call.completed as ami-bridge publishes it; the defaults are an answered inbound call. */
export function callCompleted(overrides: Partial<CallCompleted> = {}): CallCompleted {
  const callId = overrides.callId ?? uniqueCallId();
  const startedAt = overrides.startedAt ?? new Date(Date.now() - 60_000).toISOString();
  const endedAt = overrides.endedAt ?? new Date(Date.parse(startedAt) + 45_000).toISOString();
  return {
    v: 1,
    id: `call.completed:pbx1:${callId}`,
    type: 'call.completed',
    callId,
    pbx: 'pbx1',
    direction: 'inbound',
    caller: { number: '+15550100001', name: 'Alicia Anders' },
    callee: { number: '101', name: 'Anna Lee' },
    occurredAt: endedAt,
    did: '15550100100',
    disposition: 'answered',
    ringSeconds: 3,
    talkSeconds: 42,
    hangupBy: 'caller',
    hangupCause: 16,
    hangupCauseText: 'Normal Clearing',
    startedAt,
    endedAt,
    extension: '101',
    agents: [{ extension: '101', disposition: 'answered', ringSeconds: 3, talkSeconds: 42 }],
    ...overrides,
  };
}

export function callRinging(overrides: Partial<CallRinging> = {}): CallRinging {
  const callId = overrides.callId ?? uniqueCallId();
  return {
    v: 1,
    id: `call.ringing:pbx1:${callId}:101`,
    type: 'call.ringing',
    callId,
    pbx: 'pbx1',
    direction: 'inbound',
    caller: { number: '+15550100008' },
    callee: { number: '101' },
    occurredAt: new Date().toISOString(),
    extension: '101',
    ...overrides,
  };
}

interface FixtureTurn {
  role: 'agent' | 'user';
  message: string | null;
  time_in_call_secs: number;
}

/**
 * An ai.conversation.completed as webhook-ingress makes it from the recorded ElevenLabs
 * post_call_transcription fixture, moved to `endedAt` so grace periods behave as they would live.
 */
export function aiConversationFromFixture(file: 'inbound_sip' | 'outbound_sip', overrides: Partial<AiConversationCompleted> = {}, endedAt = Date.now()): AiConversationCompleted {
  const path = join(import.meta.dirname, `../../../testdata/elevenlabs/post_call_transcription.${file}.json`);
  const body = JSON.parse(readFileSync(path, 'utf8')) as {
    data: {
      agent_id: string;
      conversation_id: string;
      transcript: FixtureTurn[];
      metadata: { call_duration_secs: number; phone_call: { direction: 'inbound' | 'outbound'; external_number: string; agent_number: string; call_sid: string } };
      analysis: { call_successful: 'success' | 'failure' | 'unknown'; transcript_summary: string; call_summary_title: string };
      conversation_initiation_client_data: { dynamic_variables: Record<string, string | number | boolean | null> };
    };
  };
  const { data } = body;
  const duration = data.metadata.call_duration_secs;
  const { pbx_linkedid: linkedid, ...variables } = data.conversation_initiation_client_data.dynamic_variables;
  return {
    v: 1,
    id: `ai:${data.conversation_id}:${endedAt}`,
    type: 'ai.conversation.completed',
    conversationId: data.conversation_id,
    agentId: data.agent_id,
    eventAt: new Date(endedAt).toISOString(),
    receivedAt: new Date(endedAt).toISOString(),
    direction: data.metadata.phone_call.direction,
    externalNumber: data.metadata.phone_call.external_number,
    agentNumber: data.metadata.phone_call.agent_number,
    callSid: data.metadata.phone_call.call_sid,
    ...(typeof linkedid === 'string' ? { pbxLinkedid: linkedid } : {}),
    startedAt: new Date(endedAt - duration * 1000).toISOString(),
    durationSeconds: duration,
    title: data.analysis.call_summary_title,
    summary: data.analysis.transcript_summary,
    successful: data.analysis.call_successful,
    transcript: data.transcript.filter((turn) => turn.message !== null).map((turn) => ({ role: turn.role, message: turn.message ?? '', timeInCallSecs: turn.time_in_call_secs })),
    dynamicVariables: { ...variables, ...(typeof linkedid === 'string' ? { pbx_linkedid: linkedid } : {}) },
    ...overrides,
  };
}

/** Calls rows of the simulator whose description names this PBX call. */
export function callRows(simulator: SuiteCrmSimulator, pbx: string, callId: string): Row[] {
  return simulator.rows('Calls').filter((row) => !row.deleted && (row.values['description'] ?? '').includes(`PBX call: ${pbx}/${callId}`));
}

/**
 * Messages a stream stored under a subject prefix, oldest first. Core subscribers see every
 * publish, duplicates too; the stream keeps one per message id, and that is what counts.
 */
export async function storedMessages(bus: Bus, stream: string, subjectPrefix: string): Promise<unknown[]> {
  const info = await bus.jsm.streams.info(stream);
  const messages: unknown[] = [];
  for (let sequence = info.state.first_seq; sequence <= info.state.last_seq && info.state.messages > 0; sequence += 1) {
    const stored = await bus.jsm.streams.getMessage(stream, { seq: sequence }).catch(() => null);
    if (stored !== null && stored.subject.startsWith(subjectPrefix)) {
      messages.push(stored.json());
    }
  }
  return messages;
}
