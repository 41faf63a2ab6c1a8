import { join } from 'node:path';
import { PassThrough } from 'node:stream';

import { Bus } from '@cti/bus';
import { loadConfig } from '@cti/config';
import {
  AiConversationAudio,
  AiConversationCompleted,
  AiWebhookUnknown,
  AuditEvent,
  CallCompleted,
  CallerLookupReply,
  CallerLookupRequest,
  CallRinging,
  DeadLetter,
  OriginateResult,
  type AiConversationCompleted as AiConversationMessage,
  type CallCompleted as CallCompletedMessage,
  type CallRinging as CallRingingMessage,
} from '@cti/contracts';
import { CrmSyncConfig, CRM_SYNC_STREAMS, startCrmSync, type CrmSync } from '@cti/crm-sync';
import { createLogger, hashPhoneNumber } from '@cti/logging';
import { clientOptionsFrom, SuiteCrmClient } from '@cti/suitecrm';
import { RECORDED_CLIENT_CREDENTIALS, startSuiteCrmSimulator, type SuiteCrmSimulator } from '@cti/suitecrm-simulator';
import { startNatsServer, waitFor, type NatsServerHandle } from '@cti/testing';
import type { ObjectStore } from '@nats-io/obj';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runCli } from '../src/index.js';

const root = join(import.meta.dirname, '../../..');
const PHONE_HASH_KEY = 'erase-test-phone-hash-key-77ad';

// The number erased and another caller whose data must stay. Both are in the recorded CRM seed.
const ERASED = { e164: '+15550100001', digits: '5550100001', forms: ['+15550100001', '15550100001', '(555) 010-0001', '555-010-0001'] };
const KEPT = { e164: '+15550100008', digits: '5550100008' };
const ERASED_CALL = '1796700000.1';
const KEPT_CALL = '1796700000.2';
const STREAMS = ['CALLS', 'CRM', 'AI', 'DLQ', 'AUDIT', 'KV_crm_phone_index', 'KV_crm_call_log', 'OBJ_ai_audio'];

let nats: NatsServerHandle;
let simulator: SuiteCrmSimulator;
let bus: Bus;
let client: SuiteCrmClient;
let service: CrmSync;
let audio: ObjectStore;
let environment: Record<string, string>;

async function cti(words: string[]) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  const status = await runCli(words, { stdout, stderr, stdin: new PassThrough(), environment: { ...environment, CTI_OPERATOR: 'olivia' }, cwd: root });
  return { status, out, err, lines: out.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Record<string, unknown>) };
}

interface Stored {
  stream: string;
  seq: number;
  subject: string;
  text: string;
}

/** Every message of every stream and bucket, as text; the object store's chunks are binary. */
async function everything(): Promise<Stored[]> {
  const result: Stored[] = [];
  for (const stream of STREAMS) {
    const info = await bus.jsm.streams.info(stream);
    for (let seq = info.state.first_seq; info.state.messages > 0 && seq <= info.state.last_seq; seq += 1) {
      const stored = await bus.jsm.streams.getMessage(stream, { seq }).catch(() => null);
      if (stored !== null) {
        // Dead letters hold their original as base64; compare on the decoded text too.
        const text = new TextDecoder().decode(stored.data);
        const original = stream === 'DLQ' ? Buffer.from((JSON.parse(text) as { data: string }).data, 'base64').toString('utf8') : '';
        result.push({ stream, seq, subject: stored.subject, text: `${text}\n${original}` });
      }
    }
  }
  return result;
}

/** True when the message holds the erased number, in its body or in its subject (a KV key). */
function holdsErased(message: Stored): boolean {
  // Separators between digits are dropped, so `+1 555 010 0001` is found like `+15550100001`.
  const text = `${message.subject}\n${message.text}`.replace(/(?<=\d)[\s().+-]+(?=\d)/g, '');
  return text.includes(ERASED.digits);
}

function ringing(number: string, callId: string): CallRingingMessage {
  return {
    v: 1,
    id: `call.ringing:pbx1:${callId}:101`,
    type: 'call.ringing',
    callId,
    pbx: 'pbx1',
    direction: 'inbound',
    caller: { number },
    callee: { number: '101' },
    occurredAt: new Date().toISOString(),
    extension: '101',
  };
}

function completed(number: string, callId: string): CallCompletedMessage {
  const startedAt = new Date(Date.now() - 60_000).toISOString();
  return {
    v: 1,
    id: `call.completed:pbx1:${callId}`,
    type: 'call.completed',
    callId,
    pbx: 'pbx1',
    direction: 'inbound',
    caller: { number },
    callee: { number: '101' },
    occurredAt: new Date().toISOString(),
    disposition: 'answered',
    ringSeconds: 2,
    talkSeconds: 30,
    hangupBy: 'caller',
    hangupCause: 16,
    startedAt,
    endedAt: new Date().toISOString(),
    extension: '101',
    agents: [{ extension: '101', disposition: 'answered', ringSeconds: 2, talkSeconds: 30 }],
  };
}

function conversation(number: string, callId: string, conversationId: string): AiConversationMessage {
  const now = new Date().toISOString();
  return {
    v: 1,
    id: `ai:${conversationId}`,
    type: 'ai.conversation.completed',
    conversationId,
    agentId: 'agent_erase_test',
    eventAt: now,
    receivedAt: now,
    direction: 'inbound',
    externalNumber: number,
    agentNumber: '+15550100100',
    pbxLinkedid: callId,
    startedAt: new Date(Date.now() - 40_000).toISOString(),
    durationSeconds: 30,
    summary: 'The caller asked about an open invoice.',
    successful: 'success',
    transcript: [{ role: 'user', message: 'I am calling about my invoice.', timeInCallSecs: 3 }],
    dynamicVariables: { system__caller_id: number },
  };
}

async function storeAudio(conversationId: string): Promise<string> {
  const data = new TextEncoder().encode(`ID3 audio of ${conversationId}`);
  const name = `${conversationId}/a1b2.mp3`;
  const info = await audio.putBlob({ name, metadata: { conversationId, contentType: 'audio/mpeg' } }, data);
  await bus.publish(AiConversationAudio, {
    v: 1,
    id: `ai:${conversationId}:audio`,
    type: 'ai.conversation.audio',
    conversationId,
    agentId: 'agent_erase_test',
    eventAt: new Date().toISOString(),
    receivedAt: new Date().toISOString(),
    object: { bucket: 'ai_audio', name, size: info.size, sha256: 'a'.repeat(64), contentType: 'audio/mpeg' },
  });
  return name;
}

async function subjects(stream: string, prefix: string): Promise<number> {
  return (await everything()).filter((message) => message.stream === stream && message.subject.startsWith(prefix)).length;
}

beforeAll(async () => {
  nats = await startNatsServer();
  simulator = await startSuiteCrmSimulator({ seed: 'recorded' });
  environment = {
    NATS_URL: nats.url,
    SUITECRM_URL: simulator.url,
    SUITECRM_CLIENT_ID: RECORDED_CLIENT_CREDENTIALS.id,
    SUITECRM_CLIENT_SECRET: RECORDED_CLIENT_CREDENTIALS.secret,
    PHONE_DEFAULT_REGION: 'US',
    PHONE_HASH_KEY,
    CRM_AI_CORRELATION_GRACE_SECONDS: '0',
    LOG_LEVEL: 'silent',
  };
  const config = loadConfig(CrmSyncConfig, environment);
  const logger = createLogger({ service: 'crm-sync', level: 'silent' });
  bus = await Bus.connect(config, { name: 'crm-sync', logger });
  await bus.ensureStreams([...CRM_SYNC_STREAMS, 'AUDIT', 'DLQ']);
  audio = await bus.ensureObjectStore('AI_AUDIO');
  client = new SuiteCrmClient(clientOptionsFrom(config));
  const { createAuditor } = await import('@cti/runtime');
  const auditor = createAuditor({ bus, service: 'crm-sync', logger, phoneHashKey: PHONE_HASH_KEY });
  service = await startCrmSync({ bus, client, config, logger, auditor, runIndexSync: false });

  // Live lookups fill the lookup cache and teach the index both callers' CRM records.
  for (const number of [ERASED.e164, KEPT.e164]) {
    const reply = await bus.request(CallerLookupRequest, CallerLookupReply, { v: 1, number, requestedBy: 'webhook-ingress' }, 5000);
    expect(reply.matches.length).toBeGreaterThan(0);
  }
  // Both callers' calls: rung, identified, logged in SuiteCRM, answered by the AI with audio.
  for (const [number, callId, conversationId] of [
    [ERASED.forms[1] ?? '', ERASED_CALL, 'conv_erased'],
    [KEPT.e164, KEPT_CALL, 'conv_kept'],
  ] as const) {
    await bus.publish(CallRinging, ringing(number, callId));
    await bus.publish(CallCompleted, completed(number, callId));
    await waitFor(async () => (await subjects('CRM', 'crm.call.logged.')) === (callId === ERASED_CALL ? 1 : 2), `call ${callId} logged`);
    await bus.publish(AiConversationCompleted, conversation(number, callId, conversationId));
    await storeAudio(conversationId);
  }
  await waitFor(async () => (await subjects('CRM', 'crm.call.summary.')) === 2, 'both AI summaries attached');
  await waitFor(async () => (await subjects('CRM', 'crm.caller.identified.')) === 2, 'both screen pops');

  // Messages that tie to the erased caller without naming the number, or name it in free text.
  await bus.publish(OriginateResult, {
    v: 1,
    id: 'originate-result-erased',
    type: 'pbx.originate.result',
    requestId: 'req-erased-0001',
    pbx: 'pbx1',
    extension: '101',
    status: 'answered',
    callId: ERASED_CALL,
    occurredAt: new Date().toISOString(),
  });
  await bus.publish(AiWebhookUnknown, {
    v: 1,
    id: 'unknown-erased',
    type: 'ai.webhook.unknown',
    webhookType: 'post_call_future',
    receivedAt: new Date().toISOString(),
    body: JSON.stringify({ type: 'post_call_future', data: { note: `caller reachable at ${ERASED.forms[2] ?? ''}` } }),
  });
  await bus.publish(DeadLetter, {
    v: 1,
    id: 'CALLS:999',
    type: 'dlq',
    stream: 'CALLS',
    consumer: 'crm-sync-ringing',
    subject: 'call.ringing.pbx1.101',
    streamSequence: 999,
    deliveries: 3,
    error: { message: 'SuiteCRM timed out' },
    failedAt: new Date().toISOString(),
    data: Buffer.from(JSON.stringify(ringing(ERASED.forms[3] ?? '', '1796700000.9'))).toString('base64'),
  });
}, 120_000);

afterAll(async () => {
  await service?.stop();
  await bus?.drain();
  await client?.close();
  await simulator?.close();
  await nats?.dispose();
});

describe('cti erase', () => {
  it('reports in a dry run what it would remove, and removes nothing', async () => {
    const before = await everything();
    const result = await cti(['erase', '--number', '(555) 010-0001', '--dry-run']);
    expect(result.err).toContain('would remove');
    expect(result.status).toBe(0);
    const calls = result.lines.find((line) => line['stream'] === 'CALLS');
    expect(calls?.['removed']).toBeGreaterThanOrEqual(3);
    const after = (await everything()).filter((message) => message.stream !== 'AUDIT');
    expect(after).toEqual(before.filter((message) => message.stream !== 'AUDIT'));
    const preview = await bus.jsm.streams.getMessage('AUDIT', { last_by_subj: 'audit.cli.data_erase_previewed' });
    expect(AuditEvent.parse(preview?.json()).actor).toEqual({ type: 'operator', id: 'olivia' });
  });

  it('leaves no message, index entry or object with the number, and the rest untouched', async () => {
    const before = await everything();
    const withErased = before.filter(holdsErased);
    const unrelated = before.filter((message) => !holdsErased(message) && message.stream !== 'AUDIT');
    expect(withErased.map((message) => message.stream)).toEqual(expect.arrayContaining(['CALLS', 'CRM', 'AI', 'DLQ', 'KV_crm_phone_index', 'KV_crm_call_log']));
    expect(withErased.some((message) => message.stream === 'AUDIT')).toBe(false);
    const keptObjects = (await audio.list()).filter((info) => info.name.startsWith('conv_kept/'));
    expect(keptObjects).toHaveLength(1);

    const result = await cti(['erase', '--number', '(555) 010-0001']);
    expect(result.err).toContain(`${hashPhoneNumber(ERASED.e164, PHONE_HASH_KEY)}: removed`);
    expect(result.status).toBe(0);

    // Nothing anywhere holds the number in any of the forms it was written in.
    const after = await everything();
    expect(after.filter(holdsErased)).toEqual([]);
    // The messages of the erased caller's call and conversation went too, though they do not
    // name the number: the click-to-dial outcome, the AI audio event and the AI summary.
    expect(after.some((message) => message.text.includes(ERASED_CALL))).toBe(false);
    expect(after.some((message) => message.text.includes('conv_erased') && message.stream !== 'OBJ_ai_audio')).toBe(false);
    expect((await audio.list()).map((info) => info.name)).toEqual(keptObjects.map((info) => info.name));

    // Everything else is still there, at the same sequence.
    const remaining = new Set(after.map((message) => `${message.stream}:${message.seq}`));
    const removedUnrelated = unrelated.filter((message) => !remaining.has(`${message.stream}:${message.seq}`));
    const linkedOnly = removedUnrelated.filter((message) => !message.text.includes(ERASED_CALL) && !message.text.includes('conv_erased'));
    expect(linkedOnly).toEqual([]);
    expect(after.filter((message) => message.text.includes(KEPT.digits)).length).toBe(before.filter((message) => message.text.includes(KEPT.digits)).length);

    // The report counts what went, and the running crm-sync dropped the number from memory.
    const byStream = Object.fromEntries(result.lines.filter((line) => 'stream' in line).map((line) => [line['stream'], line]));
    expect(byStream['DLQ']).toMatchObject({ withNumber: 1, removed: 1 });
    expect(byStream['AUDIT']).toMatchObject({ withNumber: 0, removed: 0 });
    expect(result.lines).toContainEqual(expect.objectContaining({ bucket: 'crm_phone_index', keys: expect.arrayContaining([expect.stringMatching(/^Contacts\//)]) }));
    expect(result.lines).toContainEqual(expect.objectContaining({ objectStore: 'ai_audio', removed: 1, names: ['conv_erased/a1b2.mp3'] }));
    expect(result.lines).toContainEqual({ calls: [`pbx1/${ERASED_CALL}`, 'pbx1/1796700000.9'], conversations: ['conv_erased'] });
    // The index purge reached crm-sync through its watch, and that dropped the cached lookup too.
    const replica = result.lines.find((line) => 'crmSync' in line);
    expect(replica).toMatchObject({ cacheEntries: 0, indexRecords: 0 });

    const erased = service.lookup.normalize(ERASED.e164);
    const kept = service.lookup.normalize(KEPT.e164);
    expect(erased === undefined ? ['unparsed'] : service.index.lookup(erased)).toEqual([]);
    expect(kept === undefined ? [] : service.index.lookup(kept)).not.toEqual([]);
    await waitFor(() => service.callLog.lastSummary('Contacts', 'c3c2da96-f7da-cfe7-78a9-6b1314bc53e3') === undefined, 'the summary gone from memory');

    // The audit event names the operator and the hash, never the number.
    const stored = await bus.jsm.streams.getMessage('AUDIT', { last_by_subj: 'audit.cli.data_erased' });
    const event = AuditEvent.parse(stored?.json());
    expect(event).toMatchObject({
      outcome: 'success',
      actor: { type: 'operator', id: 'olivia' },
      numberHash: hashPhoneNumber(ERASED.e164, PHONE_HASH_KEY),
      details: { crmSyncReplicas: 1, conversations: 1, objects: 1 },
    });
    expect(JSON.stringify(event)).not.toContain(ERASED.digits);

    // A later lookup finds the caller again only because SuiteCRM still holds the record.
    const lookup = await service.lookup.lookup(ERASED.e164);
    expect(lookup.status === 'ok' ? lookup.source : lookup.status).toBe('live');
  });

  it('drops the cached lookup of a caller the CRM does not know', async () => {
    const unknown = '+15550100123';
    const first = await service.lookup.lookup(unknown);
    expect(first.status === 'ok' ? [first.source, first.matches.length] : first.status).toEqual(['live', 0]);
    const cached = await service.lookup.lookup(unknown);
    expect(cached.status === 'ok' ? cached.source : cached.status).toBe('cache');

    const result = await cti(['erase', '--number', unknown]);
    expect(result.status).toBe(0);
    expect(result.lines.find((line) => 'crmSync' in line)).toMatchObject({ cacheEntries: 1, indexRecords: 0 });
    const again = await service.lookup.lookup(unknown);
    expect(again.status === 'ok' ? again.source : again.status).toBe('live');
  });

  it('rejects a text that is no phone number before it touches NATS', async () => {
    const result = await cti(['erase', '--number', '12']);
    expect(result.status).toBe(1);
    expect(result.err).toContain('CTI_ERR_CRM_NUMBER_INVALID');
    const missing = await cti(['erase']);
    expect(missing.status).toBe(64);
    expect(missing.err).toContain('--number is missing');
  });
});
