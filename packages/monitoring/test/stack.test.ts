import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';

import { Bus } from '@cti/bus';
import { AuditEvent, Buckets, StreamNames, type AuditEvent as AuditMessage } from '@cti/contracts';
import { createLogger, hashPhoneNumber } from '@cti/logging';
import { startReplayServer, type ReplayServer } from '@cti/pbx-replay';
import { generateApiKey } from '@cti/push-gateway';
import { RECORDED_CLIENT_CREDENTIALS, startSuiteCrmSimulator, type SuiteCrmSimulator } from '@cti/suitecrm-simulator';
import { startNatsServer, waitFor, type NatsServerHandle } from '@cti/testing';
import { signPayload } from '@cti/webhook-ingress';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

import { dashboardQueries, isExported, metricFamilies, metricNamesInExpression, ruleExpressions, sampleSum } from '../src/index.js';
import { readiness, ROOT, scrape, startService, waitForLog, type ServiceProcess } from './processes.js';

// The whole deployment on one machine: a private nats-server, the recorded PBX, the SuiteCRM
// simulator and the four services as separate processes, driven the way production traffic
// drives them. Everything below reads what the services themselves expose.

const PBX = 'stack';
const CALLER = '+15550100001';
const CALLER_CONTACT = 'c3c2da96-f7da-cfe7-78a9-6b1314bc53e3';
const AI_CALLER = '+14155550142';
const SECRETS = {
  phoneHashKey: 'stack-phone-hash-key-5f2e9a71',
  amiSecret: 'stack-ami-secret-0c41d7',
  webhook: 'whsec_stack_webhook_secret_8b3d',
  conversationInit: 'stack-conversation-init-secret-27ad',
  agentTokenKey: 'stack-agent-token-key-0123456789abcdef0123',
};
const RETENTION = {
  STREAM_CALLS_MAX_AGE_SECONDS: '86400',
  STREAM_CRM_MAX_AGE_SECONDS: '172800',
  STREAM_AI_MAX_AGE_SECONDS: '259200',
  OBJECT_AI_AUDIO_MAX_AGE_SECONDS: '86400',
  KV_CRM_PHONE_INDEX_MAX_BYTES: '33554432',
  KV_CRM_CALL_LOG_MAX_BYTES: '16777216',
  KV_PBX_ORIGINATE_REQUESTS_MAX_BYTES: '8388608',
  CRM_CALL_LOG_RETENTION_DAYS: '3',
  ORIGINATE_IDEMPOTENCY_SECONDS: '3600',
};

interface Running {
  process: ServiceProcess;
  url: string;
}

let nats: NatsServerHandle;
let simulator: SuiteCrmSimulator;
let replay: ReplayServer;
let observer: Bus;
let apiKey: string;
let agentToken: string;
let agent: WebSocket;
const frames: Record<string, unknown>[] = [];
const services: Record<'ami-bridge' | 'crm-sync' | 'webhook-ingress' | 'push-gateway', Running> = {} as never;

function secretFile(name: string, content: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'cti-stack-')), name);
  writeFileSync(path, `${content}\n`, { mode: 0o600 });
  return path;
}

async function opsUrl(process: ServiceProcess): Promise<string> {
  const line = await waitForLog(process, 'ops endpoints listening');
  return `http://127.0.0.1:${String(line['port'])}`;
}

function common(): Record<string, string> {
  return { NATS_URL: nats.url, PHONE_HASH_KEY: SECRETS.phoneHashKey, ...RETENTION };
}

async function startCrmSync(): Promise<Running> {
  const process = startService('crm-sync', {
    ...common(),
    SUITECRM_URL: simulator.url,
    SUITECRM_CLIENT_ID: RECORDED_CLIENT_CREDENTIALS.id,
    SUITECRM_CLIENT_SECRET_FILE: secretFile('suitecrm', RECORDED_CLIENT_CREDENTIALS.secret),
    SUITECRM_RETRY_BASE_DELAY_MS: '5',
    SUITECRM_MAX_RETRIES: '0',
    PHONE_DEFAULT_REGION: 'US',
    CRM_RETRY_BACKOFF_MS: '50,100',
    CRM_MAX_DELIVERIES: '3',
    // The recorded AI conversation names a PBX call that never happened here: no wait for it.
    CRM_AI_CORRELATION_GRACE_SECONDS: '0',
    OPS_PORT: '0',
  });
  return { process, url: await opsUrl(process) };
}

async function startWebhookIngress(): Promise<Running> {
  const process = startService('webhook-ingress', {
    ...common(),
    ELEVENLABS_WEBHOOK_SECRETS_FILE: secretFile('webhook', SECRETS.webhook),
    ELEVENLABS_CONVERSATION_INIT_SECRETS_FILE: secretFile('init', SECRETS.conversationInit),
    WEBHOOK_HTTP_HOST: '127.0.0.1',
    WEBHOOK_HTTP_PORT: '0',
    WEBHOOK_RATE_LIMIT_MAX: '8',
    WEBHOOK_RATE_LIMIT_WINDOW_SECONDS: '60',
  });
  const line = await waitForLog(process, 'webhook endpoint listening');
  return { process, url: `http://127.0.0.1:${String(line['port'])}` };
}

async function startPushGateway(keysFile: string): Promise<Running> {
  const process = startService('push-gateway', {
    ...common(),
    // The gateway is not a stream owner: its default retention must not reach the streams.
    STREAM_CALLS_MAX_AGE_SECONDS: '',
    STREAM_CRM_MAX_AGE_SECONDS: '',
    AGENT_TOKEN_KEY_FILE: secretFile('agent-token-key', SECRETS.agentTokenKey),
    PUSH_HTTP_HOST: '127.0.0.1',
    PUSH_HTTP_PORT: '0',
    PBX_ID: PBX,
    PUSH_API_KEYS_FILE: keysFile,
  });
  const line = await waitForLog(process, 'push gateway listening');
  return { process, url: String(line['url']) };
}

async function startAmiBridge(): Promise<Running> {
  const process = startService('ami-bridge', {
    ...common(),
    PBX_ID: PBX,
    AMI_HOST: '127.0.0.1',
    AMI_PORT: String(replay.port),
    AMI_USERNAME: 'cti',
    AMI_SECRET_FILE: secretFile('ami', SECRETS.amiSecret),
    AMI_RECONNECT_MIN_MS: '50',
    AMI_RECONNECT_MAX_MS: '200',
    OPS_PORT: '0',
  });
  return { process, url: await opsUrl(process) };
}

async function mintToken(): Promise<Response> {
  return fetch(`${services['push-gateway'].url}/v1/agent-tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
    body: JSON.stringify({ agentId: 'anna', extensions: ['101'] }),
  });
}

function connectAgent(token: string): Promise<WebSocket> {
  const socket = new WebSocket(`${services['push-gateway'].url.replace(/^http/, 'ws')}/ws`, ['cti.v1', `cti.token.${token}`]);
  socket.on('message', (data: Buffer) => frames.push(JSON.parse(data.toString('utf8')) as Record<string, unknown>));
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}

function eventFrames(type: string): Record<string, unknown>[] {
  return frames.filter((frame) => frame['type'] === 'event' && (frame['event'] as { type?: string } | undefined)?.type === type);
}

function postWebhook(body: string, signature: string): Promise<Response> {
  return fetch(`${services['webhook-ingress'].url}/webhooks/elevenlabs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'elevenlabs-signature': signature },
    body,
  });
}

/** Builds the recorded post-call transcription, moved to now and signed with the stack's secret. */
function transcription(): { body: string; signature: string } {
  const json = JSON.parse(readFileSync(join(ROOT, 'testdata/elevenlabs/post_call_transcription.inbound_sip.json'), 'utf8')) as Record<string, unknown>;
  const now = Math.floor(Date.now() / 1000);
  json['event_timestamp'] = now;
  const body = JSON.stringify(json);
  return { body, signature: signPayload(body, SECRETS.webhook, now) };
}

async function auditEvents(): Promise<{ events: AuditMessage[]; text: string }> {
  const info = await observer.jsm.streams.info('AUDIT');
  const events: AuditMessage[] = [];
  let text = '';
  for (let sequence = info.state.first_seq; sequence <= info.state.last_seq && info.state.messages > 0; sequence += 1) {
    const stored = await observer.jsm.streams.getMessage('AUDIT', { seq: sequence }).catch(() => null);
    if (stored !== null) {
      const raw = new TextDecoder().decode(stored.data);
      text += `${raw}\n`;
      events.push(AuditEvent.parse(JSON.parse(raw)));
    }
  }
  return { events, text };
}

const metricsOf = (name: keyof typeof services) => scrape(services[name].url);

beforeAll(async () => {
  nats = await startNatsServer();
  simulator = await startSuiteCrmSimulator({ seed: 'recorded' });
  observer = await Bus.connect({ natsUrl: nats.url }, { name: 'stack-observer', logger: createLogger({ service: 'stack-test', level: 'silent' }) });

  // The setup job's part: every stream exists before the services start, so crm-sync and
  // push-gateway do not wait for ami-bridge, which starts last here.
  await observer.ensureStreams(StreamNames);

  const generated = generateApiKey({ id: 'sso-bridge', ratePerMinute: 2 });
  apiKey = generated.key;
  const keysFile = secretFile('api-keys.json', JSON.stringify({ keys: [generated.entry] }));

  const [crmSync, webhookIngress, pushGateway] = await Promise.all([startCrmSync(), startWebhookIngress(), startPushGateway(keysFile)]);
  services['crm-sync'] = crmSync;
  services['webhook-ingress'] = webhookIngress;
  services['push-gateway'] = pushGateway;

  // The agent signs in before the PBX plays its call, so the screen pop reaches a live socket.
  const minted = await mintToken();
  expect(minted.status).toBe(201);
  agentToken = ((await minted.json()) as { token: string }).token;
  agent = await connectAgent(agentToken);
  await waitFor(() => frames.some((frame) => frame['type'] === 'snapshot'), 'the agent snapshot');

  // One SuiteCRM create fails with 503, so crm-sync redelivers the call.completed it was logging.
  simulator.faults.add({ method: 'POST', route: 'POST module', status: 503, times: 1 });
  replay = await startReplayServer({ captures: [join(ROOT, 'testdata/ami/inbound-answered.jsonl')], timing: 'fast', credentials: { username: 'cti', secret: SECRETS.amiSecret } });
  services['ami-bridge'] = await startAmiBridge();

  await waitFor(() => eventFrames('crm.caller.identified').length > 0, 'the screen pop on the agent socket', { timeoutMs: 30_000 });
  await waitFor(async () => sampleSum(await metricsOf('crm-sync'), 'cti_crm_calls_logged_total') > 0, 'the call logged in SuiteCRM', { timeoutMs: 30_000 });

  // An undecodable message on a consumed subject goes to the dead-letter stream.
  await observer.js.publish(`call.completed.${PBX}`, new TextEncoder().encode('{not json'), { msgID: 'stack-garbage-1' });

  // Webhooks: a verified transcript, a forged one, and conversation-init for a known caller.
  const delivery = transcription();
  expect((await postWebhook(delivery.body, delivery.signature)).status).toBe(200);
  expect((await postWebhook(delivery.body, signPayload(delivery.body, 'whsec_wrong_secret', Math.floor(Date.now() / 1000)))).status).toBe(401);
  const init = await fetch(`${services['webhook-ingress'].url}/webhooks/elevenlabs/conversation-init`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-conversation-init-secret': SECRETS.conversationInit },
    body: JSON.stringify({ caller_id: CALLER, agent_id: 'agent_stack', called_number: '+15550100100', call_sid: 'stack-call-1' }),
  });
  expect(((await init.json()) as { dynamic_variables: { caller_known: boolean } }).dynamic_variables.caller_known).toBe(true);

  // Rate limits: the webhook route allows 8 requests a minute per address, the API key 2 tokens.
  for (let attempt = 0; attempt < 8; attempt += 1) {
    await postWebhook('{}', 't=1,v0=00');
  }
  expect((await mintToken()).status).toBe(201);
  expect((await mintToken()).status).toBe(429);
  const badKey = await fetch(`${services['push-gateway'].url}/v1/agent-tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'ctik_not_a_key' },
    body: JSON.stringify({ agentId: 'anna', extensions: ['101'] }),
  });
  expect(badKey.status).toBe(401);

  // A dropped AMI connection: the bridge logs in again and counts the reconnect.
  replay.dropClients();
  await waitFor(async () => sampleSum(await metricsOf('ami-bridge'), 'cti_ami_reconnects_total') >= 1, 'the AMI reconnect', { timeoutMs: 20_000 });
  await waitFor(async () => sampleSum(await metricsOf('crm-sync'), 'cti_bus_dead_lettered_total') >= 1, 'the dead letter', { timeoutMs: 20_000 });
  await waitFor(async () => sampleSum(await metricsOf('crm-sync'), 'cti_crm_ai_conversations_total') >= 1, 'the AI conversation in SuiteCRM', { timeoutMs: 30_000 });
}, 180_000);

afterAll(async () => {
  agent?.terminate();
  await Promise.all(Object.values(services).map((service) => service.process.stop()));
  await observer?.drain().catch(() => undefined);
  await replay?.close();
  await simulator?.close();
  await nats?.dispose();
});

describe('the four services over one nats-server', () => {
  it('serve health, readiness and metrics, ami-bridge and crm-sync on loopback only', async () => {
    for (const [name, service] of Object.entries(services)) {
      expect((await fetch(`${service.url}/healthz`)).status, name).toBe(200);
      const ready = await readiness(service.url);
      expect(ready.status, `${name}: ${JSON.stringify(ready.checks)}`).toBe(200);
      expect(ready.checks['nats'], name).toBe('ok');
    }
    expect((await readiness(services['ami-bridge'].url)).checks).toEqual({ nats: 'ok', ami: 'ok' });
    expect((await readiness(services['crm-sync'].url)).checks).toEqual({ nats: 'ok', suitecrm: 'ok' });

    for (const name of ['ami-bridge', 'crm-sync'] as const) {
      const line = services[name].process.logLines('ops endpoints listening')[0];
      expect(line?.['host'], name).toBe('127.0.0.1');
      // From another address of this machine the ops port does not respond.
      const external = Object.values(networkInterfaces())
        .flat()
        .find((address) => address !== undefined && address.family === 'IPv4' && !address.internal);
      if (external !== undefined) {
        const port = new URL(services[name].url).port;
        await expect(fetch(`http://${external.address}:${port}/healthz`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
      }
    }
  });

  it('move their metrics as traffic flows', async () => {
    const ami = await metricsOf('ami-bridge');
    expect(sampleSum(ami, 'cti_ami_connected')).toBe(1);
    expect(sampleSum(ami, 'cti_ami_reconnects_total')).toBeGreaterThanOrEqual(1);
    expect(sampleSum(ami, 'cti_bus_published_total', { message: 'call.ringing', result: 'stored' })).toBeGreaterThanOrEqual(1);
    expect(sampleSum(ami, 'cti_bus_published_total', { message: 'call.completed', result: 'stored' })).toBeGreaterThanOrEqual(1);
    expect(sampleSum(ami, 'cti_jetstream_stream_messages', { stream: 'CALLS' })).toBeGreaterThanOrEqual(1);
    expect(sampleSum(ami, 'cti_ready')).toBe(1);
    expect(sampleSum(ami, 'process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(sampleSum(ami, 'cti_audit_events_total', { action: 'config_loaded', result: 'stored' })).toBe(1);

    const crm = await metricsOf('crm-sync');
    expect(sampleSum(crm, 'cti_bus_received_total', { message: 'call.ringing', consumer: 'crm-sync-ringing' })).toBeGreaterThanOrEqual(1);
    expect(sampleSum(crm, 'cti_bus_handler_seconds_count', { message: 'call.completed', consumer: 'crm-sync-calls' })).toBeGreaterThanOrEqual(2);
    expect(sampleSum(crm, 'cti_bus_published_total', { message: 'crm.caller.identified', result: 'stored' })).toBeGreaterThanOrEqual(1);
    expect(sampleSum(crm, 'cti_bus_redeliveries_total', { consumer: 'crm-sync-calls' })).toBeGreaterThanOrEqual(1);
    expect(sampleSum(crm, 'cti_bus_dead_lettered_total', { consumer: 'crm-sync-calls', reason: 'undecodable' })).toBe(1);
    expect(sampleSum(crm, 'cti_crm_request_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(sampleSum(crm, 'cti_crm_request_errors_total', { outcome: '503' })).toBe(1);
    expect(sampleSum(crm, 'cti_crm_screen_pop_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(sampleSum(crm, 'cti_bus_served_total', { request: 'crm.lookup', outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(sampleSum(crm, 'cti_readiness_check', { check: 'suitecrm' })).toBe(1);

    const webhook = await metricsOf('webhook-ingress');
    expect(sampleSum(webhook, 'cti_webhook_deliveries_total', { type: 'post_call_transcription', result: 'stored' })).toBe(1);
    expect(sampleSum(webhook, 'cti_webhook_auth_failures_total', { route: 'post_call', reason: 'signature_mismatch' })).toBe(1);
    expect(sampleSum(webhook, 'cti_rate_limit_rejections_total', { limit: '/webhooks/elevenlabs' })).toBeGreaterThanOrEqual(1);
    expect(sampleSum(webhook, 'cti_http_requests_total', { route: '/webhooks/elevenlabs', status: '429' })).toBeGreaterThanOrEqual(1);
    expect(sampleSum(webhook, 'cti_bus_published_total', { message: 'ai.conversation.completed', result: 'stored' })).toBe(1);
    expect(sampleSum(webhook, 'cti_bus_requests_total', { request: 'crm.lookup', outcome: 'ok' })).toBe(1);

    const push = await metricsOf('push-gateway');
    expect(sampleSum(push, 'cti_push_connected_agents')).toBe(1);
    expect(sampleSum(push, 'cti_push_frames_sent_total', { frame: 'crm.caller.identified' })).toBeGreaterThanOrEqual(1);
    expect(sampleSum(push, 'cti_push_screen_pop_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(sampleSum(push, 'cti_bus_received_total', { message: 'call.ringing', consumer: 'live' })).toBeGreaterThanOrEqual(1);
    expect(sampleSum(push, 'cti_push_auth_failures_total', { credential: 'api_key', reason: 'unknown' })).toBe(1);
    expect(sampleSum(push, 'cti_rate_limit_rejections_total', { limit: '/v1/agent-tokens' })).toBe(1);
    expect(sampleSum(push, 'cti_push_tokens_minted_total', { issuer: 'api_key' })).toBe(2);
    expect(metricFamilies(push).get('cti_push_slow_client_disconnects_total')).toBe('counter');
  });

  it('audit screen pops with agent and record', async () => {
    const { events } = await auditEvents();
    const screenPop = events.find((event) => event.action === 'screen_pop_sent');
    expect(screenPop?.service).toBe('push-gateway');
    expect(screenPop?.actor).toEqual({ type: 'agent', id: 'anna' });
    expect(screenPop?.target).toEqual({ type: 'Contacts', id: CALLER_CONTACT });
    expect(screenPop?.numberHash).toBe(hashPhoneNumber(CALLER, SECRETS.phoneHashKey));

    const actions = (service: string) => new Set(events.filter((event) => event.service === service).map((event) => event.action));
    for (const service of ['ami-bridge', 'crm-sync', 'webhook-ingress', 'push-gateway']) {
      const loaded = events.find((event) => event.service === service && event.action === 'config_loaded');
      expect(loaded?.details?.['configFingerprint'], service).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(actions('push-gateway')).toEqual(new Set(['config_loaded', 'api_key_used', 'token_minted', 'api_request', 'session_opened', 'screen_pop_sent', 'auth_failed']));
    expect(actions('webhook-ingress')).toEqual(new Set(['config_loaded', 'api_request', 'auth_failed', 'caller_details_sent']));
    expect(actions('crm-sync')).toContain('crm_lookup');

    const disclosed = events.find((event) => event.action === 'caller_details_sent');
    expect(disclosed?.target).toEqual({ type: 'Contacts', id: CALLER_CONTACT });
    const tokenCall = events.find((event) => event.action === 'api_request' && event.target?.id === 'POST /v1/agent-tokens' && event.outcome === 'success');
    expect(tokenCall?.actor).toMatchObject({ type: 'api_key', id: 'sso-bridge' });
    const forged = events.find((event) => event.service === 'webhook-ingress' && event.action === 'auth_failed');
    expect(forged?.reason).toBe('signature_mismatch');
  });

  it('keep secrets and raw phone numbers out of the audit trail', async () => {
    const { text } = await auditEvents();
    expect(text).toContain('screen_pop_sent');
    for (const number of [CALLER, AI_CALLER]) {
      const digits = number.slice(1);
      expect(text).not.toContain(digits);
      expect(text).not.toContain(digits.slice(1));
    }
    for (const secret of [...Object.values(SECRETS), apiKey, agentToken, RECORDED_CLIENT_CREDENTIALS.secret]) {
      expect(text).not.toContain(secret);
    }
  });

  it('have every metric the alert rules and the dashboard query', async () => {
    const families = new Map<string, string>();
    for (const name of Object.keys(services) as (keyof typeof services)[]) {
      for (const [family, type] of metricFamilies(await metricsOf(name))) {
        families.set(family, type);
      }
    }
    // `up` is the one series Prometheus records itself, per scrape target.
    families.set('up', 'gauge');

    const rules = ruleExpressions(join(ROOT, 'deploy/prometheus/alerts.yml'));
    expect(rules.length).toBeGreaterThanOrEqual(20);
    for (const rule of rules) {
      const names = metricNamesInExpression(rule.expr);
      expect(names.length, rule.name).toBeGreaterThan(0);
      for (const name of names) {
        expect(isExported(name, families), `${rule.name} uses ${name}`).toBe(true);
      }
    }

    const queries = dashboardQueries(join(ROOT, 'deploy/grafana/cti-overview.json'));
    expect(queries.length).toBeGreaterThanOrEqual(20);
    for (const query of queries) {
      for (const name of metricNamesInExpression(query.expr)) {
        expect(isExported(name, families), `panel "${query.panel}" uses ${name}`).toBe(true);
      }
    }
  });

  it('apply the configured retention to the streams and buckets their service owns', async () => {
    const maxAge = async (stream: string) => (await observer.jsm.streams.info(stream)).config.max_age / 1e9;
    const maxBytes = async (stream: string) => (await observer.jsm.streams.info(stream)).config.max_bytes;
    expect(await maxAge('CALLS')).toBe(86_400);
    expect(await maxAge('CRM')).toBe(172_800);
    expect(await maxAge('AI')).toBe(259_200);
    expect(await maxAge(`KV_${Buckets.CRM_CALL_LOG.name}`)).toBe(3 * 86_400);
    expect(await maxBytes(`KV_${Buckets.CRM_CALL_LOG.name}`)).toBe(16_777_216);
    expect(await maxBytes(`KV_${Buckets.CRM_PHONE_INDEX.name}`)).toBe(33_554_432);
    expect(await maxAge(`KV_${Buckets.PBX_ORIGINATE_REQUESTS.name}`)).toBe(3600);
    expect(await maxBytes(`KV_${Buckets.PBX_ORIGINATE_REQUESTS.name}`)).toBe(8_388_608);
    expect(await maxAge(`OBJ_${Buckets.AI_AUDIO.name}`)).toBe(86_400);
  });

  it('become not ready while NATS is down and ready again when it returns', async () => {
    await nats.stop();
    for (const [name, service] of Object.entries(services)) {
      await waitFor(async () => (await readiness(service.url)).status === 503, `${name} not ready without NATS`, { timeoutMs: 15_000 });
      const ready = await readiness(service.url);
      expect(ready.checks['nats'], name).not.toBe('ok');
      expect(sampleSum(await scrape(service.url), 'cti_readiness_check', { check: 'nats' }), name).toBe(0);
    }
    // A dependency that still works stays reported as working.
    expect((await readiness(services['ami-bridge'].url)).checks['ami']).toBe('ok');

    await nats.restart();
    for (const [name, service] of Object.entries(services)) {
      await waitFor(async () => (await readiness(service.url)).status === 200, `${name} ready again`, { timeoutMs: 30_000 });
      expect(sampleSum(await scrape(service.url), 'cti_ready'), name).toBe(1);
    }
  });
});

describe('promtool', () => {
  const promtool = spawnSync('promtool', ['--version']);
  const available = promtool.status === 0;

  it('accepts the alert rules and passes their unit tests', () => {
    if (!available) {
      // Without promtool the rules are still parsed and checked against the metrics above.
      expect(ruleExpressions(join(ROOT, 'deploy/prometheus/alerts.yml')).length).toBeGreaterThan(0);
      return;
    }
    const check = spawnSync('promtool', ['check', 'rules', join(ROOT, 'deploy/prometheus/alerts.yml')], { encoding: 'utf8' });
    expect(check.status, check.stdout + check.stderr).toBe(0);
    const unit = spawnSync('promtool', ['test', 'rules', join(ROOT, 'deploy/prometheus/alerts.test.yml')], { encoding: 'utf8' });
    expect(unit.status, unit.stdout + unit.stderr).toBe(0);
    const config = spawnSync('promtool', ['check', 'config', join(ROOT, 'deploy/prometheus/prometheus.yml')], { encoding: 'utf8' });
    expect(config.status, config.stdout + config.stderr).toBe(0);
  });
});
