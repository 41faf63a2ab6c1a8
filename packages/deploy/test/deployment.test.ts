import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { AllContracts, Buckets, type ServiceName } from '@cti/contracts';
import { waitFor } from '@cti/testing';
import { signPayload, SIGNATURE_HEADER } from '@cti/webhook-ingress';
import { Objm } from '@nats-io/obj';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AgentSocket } from './agent-socket.js';
import { AMI_USER, CONVERSATION_INIT_SECRET, ELEVENLABS, PBX, startDeployment, storedMessages, type Deployment } from './deployment.js';
import { connectUser, expectPublishDenied, expectSubscribeDenied, type UserClient } from './secured-nats.js';

// The four services run as separate processes from their main entry points, each as its own NATS
// user of deploy/nats/, against the replay PBX and the SuiteCRM simulator. A subject the config
// does not grant shows up as a permission violation in a service's log, or as a step that never
// completes. Either fails these tests.

// inbound-answered (testdata/ami/README.md): Alice Example (+15550100001) calls DID 15550100100;
// 101 rings, answers after 2.0 s, they talk 3.0 s and the caller hangs up.
const CALL = { linkedid: '1796412664.10', caller: '+15550100001', did: '15550100100', extension: '101' };
// Alicia Anders has the caller's number in the recorded SuiteCRM data.
const ALICIA = 'c3c2da96-f7da-cfe7-78a9-6b1314bc53e3';
const CONVERSATION = 'conv_0901kcti0fx7inb0und00sip0d4';

let deployment: Deployment;
let anna: AgentSocket;
const started = new Date();

beforeAll(async () => {
  deployment = await startDeployment({ replicas: 1, captures: ['inbound-answered.jsonl'], timing: 'recorded', setup: 'before' });
  anna = await deployment.step('connecting agent 101', () => AgentSocket.open(deployment.gateways[0]!, deployment.apiKey, { agentId: 'anna', pbx: PBX, extension: CALL.extension }));
  await deployment.startBridges();
}, 120_000);

afterAll(async () => {
  anna?.close();
  await deployment?.close();
});

function eventOf(type: string, callId = CALL.linkedid) {
  return (frame: { type: string; event?: { type: string; callId?: string } }) => frame.type === 'event' && frame.event?.type === type && frame.event.callId === callId;
}

function callRows(linkedid: string) {
  return deployment.crm.rows('Calls').filter((row) => !row.deleted && (row.values['description'] ?? '').includes(`PBX call: ${PBX}/${linkedid}`));
}

function waitForRows(linkedid: string, count: number) {
  return waitFor(() => {
    const rows = callRows(linkedid);
    return rows.length >= count ? rows : undefined;
  }, `${count} Calls record(s) of ${linkedid}`, { timeoutMs: 20_000 });
}

/** Signs a recorded ElevenLabs body with the deployment's secret, now, and posts it to webhook-ingress. */
async function deliverWebhook(body: string): Promise<Response> {
  return fetch(new URL('/webhooks/elevenlabs', deployment.webhooks[0]), {
    method: 'POST',
    headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signPayload(body, deployment.webhookSecret, Math.floor(Date.now() / 1000)) },
    body,
  });
}

describe('a recorded call through the deployment', () => {
  it('rings the agent, then pops the caller from the CRM', async () => {
    await deployment.step('the screen pop', () => anna.waitFor(eventOf('crm.caller.identified'), 'the screen pop'));
    const types = anna.events().filter((event) => 'callId' in event && event.callId === CALL.linkedid).map((event) => event.type);
    expect(types.indexOf('call.ringing')).toBeGreaterThanOrEqual(0);
    expect(types.indexOf('call.ringing')).toBeLessThan(types.indexOf('crm.caller.identified'));

    const pop = anna.events().find((event) => event.type === 'crm.caller.identified');
    expect(pop).toMatchObject({ pbx: PBX, extension: CALL.extension, number: CALL.caller });
    expect(pop?.type === 'crm.caller.identified' ? pop.matches[0] : undefined).toMatchObject({ module: 'Contacts', id: ALICIA, name: 'Alicia Anders' });
  });

  it('shows the agent the answer and the hangup by the caller', async () => {
    const ended = await deployment.step('the end of the call', () => anna.waitFor(eventOf('call.ended'), 'call.ended'));
    const answered = anna.events().find((event) => event.type === 'call.answered');
    expect(answered).toMatchObject({ extension: CALL.extension, callId: CALL.linkedid });
    expect(ended.type === 'event' ? ended.event : undefined).toMatchObject({ disposition: 'answered', hangupBy: 'caller', hangupCause: 16 });
  });

  it('logs the call once in SuiteCRM', async () => {
    const [row] = await deployment.step('the Calls record', () => waitForRows(CALL.linkedid, 1));
    expect(row?.values).toMatchObject({ name: 'Inbound call from Alicia Anders', direction: 'Inbound', status: 'Held', parent_id: ALICIA });
    const description = row?.values['description'] ?? '';
    expect(description).toContain(`Dialled number: ${CALL.did}`);
    expect(description).toContain(`Agent: extension ${CALL.extension}`);
    expect(description).toContain('Talk time: 3 s');
    expect(description).toContain('Hung up by: caller (cause 16, Normal Clearing)');
    const logged = await waitFor(async () => {
      const stored = await storedMessages(deployment.cli, 'CRM', 'crm.call.logged.');
      const ofCall = stored.filter(({ message }) => message['callId'] === CALL.linkedid);
      return ofCall.length > 0 ? ofCall : undefined;
    }, 'crm.call.logged');
    expect(logged).toHaveLength(1);
    expect(logged[0]?.message).toMatchObject({ recordId: row?.id, status: 'Held' });
  });
});

describe('ElevenLabs webhooks through the deployment', () => {
  it('stores a transcript and shows the agent its summary', async () => {
    // The ElevenLabs recording belongs to another PBX call. Its Linkedid variable is pointed at
    // the recorded AMI call, as the trunk's X-CALL-ID header would carry it.
    const recorded = JSON.parse(readFileSync(join(ELEVENLABS, 'post_call_transcription.inbound_sip.json'), 'utf8')) as {
      data: { conversation_initiation_client_data: { dynamic_variables: Record<string, unknown> } };
    };
    const variables = recorded.data.conversation_initiation_client_data.dynamic_variables;
    variables['pbx_linkedid'] = CALL.linkedid;
    variables['system__call_sid'] = CALL.linkedid;
    const response = await deliverWebhook(JSON.stringify(recorded));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'stored' });

    const summary = await deployment.step('the AI summary', () => anna.waitFor(eventOf('crm.call.summary'), 'the AI summary'));
    expect(summary.type === 'event' ? summary.event : undefined).toMatchObject({ conversationId: CONVERSATION, extension: CALL.extension });
    const [row] = callRows(CALL.linkedid);
    expect(row?.values['description']).toContain(`--- AI conversation ${CONVERSATION} ---`);
    expect(callRows(CALL.linkedid)).toHaveLength(1);
  });

  it('stores conversation audio in the object store', async () => {
    const body = readFileSync(join(ELEVENLABS, 'post_call_audio.json'), 'utf8');
    const response = await deliverWebhook(body);
    expect(response.status).toBe(200);
    const store = await new Objm(deployment.cli.connection).open(Buckets.AI_AUDIO.name);
    const objects = await store.list();
    expect(objects.map((object) => object.name).join(',')).toContain(CONVERSATION);
    const [audio] = await storedMessages(deployment.cli, 'AI', 'ai.conversation.audio');
    expect(audio?.message).toMatchObject({ conversationId: CONVERSATION, object: { bucket: Buckets.AI_AUDIO.name } });
  });

  it('answers conversation initiation from the CRM over request/reply', async () => {
    const request = JSON.parse(readFileSync(join(ELEVENLABS, 'conversation_initiation.request.json'), 'utf8')) as Record<string, string>;
    const response = await fetch(new URL('/webhooks/elevenlabs/conversation-init', deployment.webhooks[0]), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-conversation-init-secret': CONVERSATION_INIT_SECRET },
      body: JSON.stringify({ ...request, caller_id: CALL.caller }),
    });
    expect(response.status).toBe(200);
    const { dynamic_variables: variables } = (await response.json()) as { dynamic_variables: Record<string, unknown> };
    expect(variables).toMatchObject({ caller_known: true, caller_display_name: 'Alicia Anders', crm_record_id: ALICIA });
  });
});

// outbound-click-to-dial (testdata/ami/README.md): the Originate rings PJSIP/101, which answers
// after 2.0 s; then 15550100099 is dialled, answers, and hangs up at 7.1 s. Linkedid 1796412755.37.
const DIALLED = { number: '15550100099', linkedid: '1796412755.37' };

describe('click-to-dial through the deployment', () => {
  it('rings the agent phone through ami-bridge and reports the outcome', async () => {
    anna.send({ type: 'dial', to: DIALLED.number, ref: 'c2d' });
    const result = await deployment.step('the dial result', () => anna.waitFor((frame) => frame.type === 'dial_result', 'the dial result'));
    expect(result).toMatchObject({ type: 'dial_result', ref: 'c2d', status: 202 });
    const requestId = result.type === 'dial_result' ? result.requestId : undefined;

    const outcome = await deployment.step('the originate result', () =>
      anna.waitFor((frame) => frame.type === 'event' && frame.event.type === 'pbx.originate.result', 'pbx.originate.result'),
    );
    expect(outcome.type === 'event' ? outcome.event : undefined).toMatchObject({ requestId, extension: CALL.extension, status: 'answered', callId: DIALLED.linkedid });
    const originate = deployment.pbx.receivedActions.find((action) => action.action === 'Originate');
    expect(Object.fromEntries(originate?.pairs ?? [])).toMatchObject({ Channel: 'PJSIP/101', Exten: DIALLED.number, Context: 'from-internal' });

    await deployment.step('the end of the dialled call', () => anna.waitFor(eventOf('call.ended', DIALLED.linkedid), 'call.ended of the dialled call'));
    expect(anna.events().some((event) => event.type === 'call.answered' && event.callId === DIALLED.linkedid)).toBe(true);
  });
});

describe('the least-privilege AMI user', () => {
  it('lets ami-bridge resync, follow calls and originate', async () => {
    const bridge = deployment.processes.find((running) => running.name === 'ami-bridge-1');
    expect(bridge?.lines().some((line) => line.msg === 'resynced from CoreShowChannels')).toBe(true);
    // The replay PBX refuses every other action for this user, as Asterisk does.
    const actions = new Set(deployment.pbx.receivedActions.map((action) => action.action));
    expect(actions).toContain('CoreShowChannels');
    expect(actions).toContain('Originate');
    for (const action of actions) {
      expect(['Challenge', 'Login', 'CoreShowChannels', 'Originate', 'Ping', 'Logoff'], `${action} as ${AMI_USER.username}`).toContain(action);
    }
  });
});

describe('operators commands as the cli user', () => {
  it('reads the audit trail and the dead letters', async () => {
    const audit = await deployment.runCli(['audit', '--since', started.toISOString(), '--action', 'screen_pop_sent']);
    expect(audit.code, audit.output).toBe(0);
    expect(audit.stdout).toContain('anna');
    expect(audit.stdout).toContain(ALICIA);
    const letters = await deployment.runCli(['dlq', 'list']);
    expect(letters.code, letters.output).toBe(0);
  });

  it('erases the caller number everywhere', async () => {
    const run = await deployment.runCli(['erase', '--number', CALL.caller]);
    expect(run.code, run.output).toBe(0);
    const lines = run.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.find((line) => line['stream'] === 'CALLS')?.['removed']).toBeGreaterThan(0);
    expect(lines.find((line) => line['calls'] !== undefined)?.['calls']).toContain(`${PBX}/${CALL.linkedid}`);
    // crm-sync replied to the erase request under its own NATS user.
    expect(lines.some((line) => line['crmSync'] !== undefined)).toBe(true);

    const digits = CALL.caller.slice(2);
    for (const stream of ['CALLS', 'CRM', 'AI', 'DLQ', 'AUDIT']) {
      const stored = await storedMessages(deployment.cli, stream);
      expect(JSON.stringify(stored), stream).not.toContain(digits);
    }
  });
});

const SAMPLE_TOKENS: Record<string, string> = { pbx: PBX, extension: '101' };

/** Builds a subject of a contract with sample tokens. */
function sample(name: string): string {
  const contract = AllContracts.find((candidate) => candidate.name === name);
  if (contract === undefined) {
    throw new Error(`no contract ${name}`);
  }
  return contract.subjectPattern.replace(/\{([a-z]+)\}/g, (_match, token: string) => SAMPLE_TOKENS[token] ?? `${token}1`);
}

// The cases the deployment checklist names, checked as each service's user on the server the
// services run on: one forbidden publish and one forbidden subscribe at least for each.
const Forbidden: Record<ServiceName, { publish: string[]; subscribe: string[] }> = {
  'ami-bridge': {
    publish: [sample('crm.caller.identified'), sample('ai.conversation.completed'), '$JS.API.CONSUMER.CREATE.CRM.probe.crm.>', '$JS.API.STREAM.MSG.GET.CRM'],
    subscribe: ['crm.>', 'live.crm.>', 'rpc.crm.lookup'],
  },
  'crm-sync': {
    publish: [sample('call.ringing'), sample('ai.conversation.completed'), sample('pbx.originate'), '$JS.API.STREAM.DELETE.CALLS'],
    subscribe: ['call.>', 'live.>', 'rpc.pbx.originate.*'],
  },
  'webhook-ingress': {
    publish: [sample('call.ringing'), sample('crm.caller.identified'), sample('pbx.originate.result'), sample('call.missed'), 'audit.crm-sync.login'],
    subscribe: ['ai.>', 'crm.>', 'live.>'],
  },
  'push-gateway': {
    publish: [
      ...AllContracts.filter((contract) => contract.kind === 'event' && contract.stream === 'CALLS').map((contract) => sample(contract.name)),
      '$JS.API.CONSUMER.MSG.NEXT.CALLS.crm-sync-calls',
      '$JS.API.CONSUMER.DELETE.CALLS.crm-sync-ringing',
      '$JS.API.CONSUMER.CREATE.CALLS.crm-sync-calls.call.missed.*.*',
      '$JS.API.CONSUMER.CREATE.CALLS.probe.call.completed.*',
    ],
    subscribe: ['call.>', 'crm.>', 'live.ai.>'],
  },
  cli: {
    publish: ['$JS.API.STREAM.DELETE.AUDIT', 'audit.push-gateway.login'],
    subscribe: ['call.>', 'audit.>'],
  },
};

describe('forbidden subjects', () => {
  const probes = new Map<ServiceName, UserClient>();

  afterAll(async () => {
    await Promise.all([...probes.values()].map((probe) => probe.bus.drain().catch(() => undefined)));
  });

  it.each(Object.entries(Forbidden) as [ServiceName, { publish: string[]; subscribe: string[] }][])('%s is denied its forbidden subjects', async (service, forbidden) => {
    const probe = await connectUser(deployment.nats, service);
    probes.set(service, probe);
    for (const subject of forbidden.publish) {
      await expectPublishDenied(probe, subject);
    }
    for (const subject of forbidden.subscribe) {
      await expectSubscribeDenied(probe, subject);
    }
  });
});

describe('NATS permissions of the running services', () => {
  it('logs no permission violation or NATS error in any process', () => {
    const errors = deployment.natsErrors();
    for (const [name, lines] of Object.entries(errors)) {
      expect(lines.join('\n'), name).toBe('');
    }
    expect(Object.keys(errors)).toEqual(expect.arrayContaining(['ami-bridge-1', 'crm-sync-1', 'webhook-ingress-1', 'push-gateway-1', 'cti streams apply', 'cti dlq list', `cti erase --number ${CALL.caller}`]));
  });
});
