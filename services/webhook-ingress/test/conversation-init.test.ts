import { Bus } from '@cti/bus';
import { CallerLookupReply, CallerLookupRequest, type CallerLookupReply as LookupReply } from '@cti/contracts';
import { createLogger, hashPhoneNumber } from '@cti/logging';
import { collectLogLines, deferred, startNatsServer, waitFor, type NatsServerHandle } from '@cti/testing';
import type { Subscription } from '@nats-io/nats-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { WebhookErrorCode } from '../src/errors.js';
import { fixture, forbiddenLogText, PHONE_HASH_KEY, send, startIngress, type RunningIngress } from './harness.js';

const PATH = '/webhooks/elevenlabs/conversation-init';
const INIT_SECRET = 'init-shared-secret-5f1e2d';
const LOOKUP_TIMEOUT_MS = 400;

let nats: NatsServerHandle;
let ingress: RunningIngress;
// crm-sync's side of the lookup, on its own connection.
let crm: Bus;
let responder: Subscription | undefined;

beforeAll(async () => {
  nats = await startNatsServer();
  ingress = await startIngress(nats.url, {
    conversationInit: { secrets: [INIT_SECRET], header: 'X-Conversation-Init-Secret', lookupTimeoutMs: LOOKUP_TIMEOUT_MS },
  });
  const logger = createLogger({ service: 'crm-sync', destination: collectLogLines().stream });
  crm = await Bus.connect({ natsUrl: nats.url }, { name: 'crm-sync-double', logger });
});

afterAll(async () => {
  await ingress?.close();
  await crm?.drain();
  await nats?.dispose();
});

afterEach(async () => {
  await responder?.drain();
  responder = undefined;
  const text = ingress.logs.text();
  for (const forbidden of forbiddenLogText()) {
    expect(text).not.toContain(forbidden);
  }
});

/** Serves lookups as crm-sync would, replying once `answer` resolves; ready once the server has the subscription. */
async function serveLookups(answer: (number: string) => Promise<LookupReply>): Promise<void> {
  responder = crm.serve(CallerLookupRequest, CallerLookupReply, (request) => answer(request.number), { queue: 'crm-sync' });
  await crm.connection.flush();
}

function initRequest(body: string | Buffer, headers: Record<string, string> = {}) {
  return send(ingress.url, {
    path: PATH,
    body,
    headers: { 'content-type': 'application/json', 'X-Conversation-Init-Secret': INIT_SECRET, ...headers },
  });
}

const RENEE: LookupReply = {
  v: 1,
  status: 'ok',
  number: '+14155550142',
  source: 'index',
  matches: [
    {
      module: 'Contacts',
      id: '5b9e0c4a-1f2d-4e8a-9c61-7d0f3a2b1e55',
      name: 'Renée Okonkwo',
      field: 'phone_mobile',
      accountId: 'a7d1e9f0-2c34-4b58-8e6a-1f0b2c3d4e5f',
      accountName: 'Harbor Lane Bakery',
      url: 'https://crm.example.test/#/contacts/record/5b9e0c4a-1f2d-4e8a-9c61-7d0f3a2b1e55',
    },
  ],
  lastCallSummary: 'Asked about the cooler repair visit.',
};

const DEFAULTS = {
  caller_known: false,
  caller_display_name: '',
  caller_account_name: '',
  crm_record_module: '',
  crm_record_id: '',
  crm_record_url: '',
  last_call_summary: '',
  pbx_linkedid: '1767225180.4711',
  call_sid: '1767225180.4711',
};

describe('conversation-init', () => {
  it('answers the fixture request with the CRM match and the Linkedid', async () => {
    const asked: string[] = [];
    await serveLookups(async (number) => {
      asked.push(number);
      return RENEE;
    });
    const response = await initRequest(fixture('conversation_initiation.request').body);

    expect(response.status).toBe(200);
    expect(asked).toEqual(['+14155550142']);
    expect(response.json()).toEqual({
      type: 'conversation_initiation_client_data',
      dynamic_variables: {
        caller_known: true,
        caller_display_name: 'Renée Okonkwo',
        caller_account_name: 'Harbor Lane Bakery',
        crm_record_module: 'Contacts',
        crm_record_id: '5b9e0c4a-1f2d-4e8a-9c61-7d0f3a2b1e55',
        crm_record_url: 'https://crm.example.test/#/contacts/record/5b9e0c4a-1f2d-4e8a-9c61-7d0f3a2b1e55',
        last_call_summary: 'Asked about the cooler repair visit.',
        pbx_linkedid: '1767225180.4711',
        call_sid: '1767225180.4711',
        crm_lookup_status: 'match',
      },
    });
    // Handing the caller's CRM record to the AI agent is a disclosure, audited like a screen pop.
    const audit = await waitFor(async () => {
      const events = await ingress.messages('AUDIT');
      const disclosed = events.find((event) => event['action'] === 'caller_details_sent');
      const call = events.find((event) => event['action'] === 'api_request' && (event['details'] as { lookupStatus?: string } | undefined)?.lookupStatus === 'match');
      return disclosed !== undefined && call !== undefined ? { disclosed, call } : undefined;
    }, 'the disclosure and the request in the audit trail');
    expect(audit.disclosed).toMatchObject({
      actor: { type: 'remote', id: 'elevenlabs' },
      target: { type: 'Contacts', id: '5b9e0c4a-1f2d-4e8a-9c61-7d0f3a2b1e55' },
      numberHash: hashPhoneNumber('+14155550142', PHONE_HASH_KEY),
    });
    expect(audit.call).toMatchObject({ outcome: 'success', target: { type: 'webhook', id: 'conversation_init' }, details: { status: 200 } });
    expect(JSON.stringify(audit)).not.toContain('4155550142');

    // The Linkedid set here is the one the fixture's post-call transcript carries back.
    const transcript = fixture('post_call_transcription.inbound_sip').json as { data: { conversation_initiation_client_data: { dynamic_variables: Record<string, unknown> } } };
    expect(transcript.data.conversation_initiation_client_data.dynamic_variables['pbx_linkedid']).toBe('1767225180.4711');
  });

  it('answers with defaults within its deadline when the CRM is slow', async () => {
    const release = deferred<void>();
    await serveLookups(async () => {
      await release.promise;
      return RENEE;
    });
    try {
      const started = performance.now();
      const response = await initRequest(fixture('conversation_initiation.request').body);
      const elapsed = performance.now() - started;

      expect(response.status).toBe(200);
      expect(response.json()['dynamic_variables']).toEqual({ ...DEFAULTS, crm_lookup_status: 'timeout' });
      expect(elapsed).toBeGreaterThanOrEqual(LOOKUP_TIMEOUT_MS - 50);
      // Well under a ring: the deadline plus the time to build and send the response.
      expect(elapsed).toBeLessThan(LOOKUP_TIMEOUT_MS + 500);
    } finally {
      release.resolve();
    }
    expect(await ingress.metric('cti_webhook_caller_lookups_total', { outcome: 'timeout' })).toBe(1);
  });

  it('answers with defaults when crm-sync is not running', async () => {
    const response = await initRequest(fixture('conversation_initiation.request').body);
    expect(response.status).toBe(200);
    expect(response.json()['dynamic_variables']).toEqual({ ...DEFAULTS, crm_lookup_status: 'no_responder' });
  });

  it('answers with defaults when the CRM is unavailable', async () => {
    await serveLookups(async (number) => ({ v: 1, status: 'unavailable', number, matches: [], error: { code: 'CTI_ERR_CRM_UNAVAILABLE', message: 'CRM did not answer' } }));
    const response = await initRequest(fixture('conversation_initiation.request').body);
    expect(response.json()['dynamic_variables']).toEqual({ ...DEFAULTS, crm_lookup_status: 'unavailable' });
  });

  it('answers with defaults when the lookup fails in crm-sync', async () => {
    await serveLookups(async () => {
      throw new Error('SuiteCRM answered 500');
    });
    const response = await initRequest(fixture('conversation_initiation.request').body);
    expect(response.json()['dynamic_variables']).toEqual({ ...DEFAULTS, crm_lookup_status: 'unavailable' });
  });

  it('answers with defaults when no record matches', async () => {
    await serveLookups(async (number) => ({ v: 1, status: 'ok', number, matches: [], source: 'index' }));
    const response = await initRequest(fixture('conversation_initiation.request').body);
    expect(response.json()['dynamic_variables']).toEqual({ ...DEFAULTS, crm_lookup_status: 'no_match' });
  });

  it('skips the lookup for a withheld number and a provider call id', async () => {
    const asked: string[] = [];
    await serveLookups(async (number) => {
      asked.push(number);
      return RENEE;
    });
    const response = await initRequest(JSON.stringify({ caller_id: 'anonymous', agent_id: 'agent_1', called_number: '+14155550100', call_sid: 'SCL_q7Rf2LmX9vTb' }));

    expect(response.json()['dynamic_variables']).toEqual({ ...DEFAULTS, pbx_linkedid: '', call_sid: 'SCL_q7Rf2LmX9vTb', crm_lookup_status: 'no_caller_id' });
    expect(asked).toEqual([]);
  });

  it('reads call_id and a form-encoded body', async () => {
    await serveLookups(async () => RENEE);
    const response = await send(ingress.url, {
      path: PATH,
      body: 'caller_id=%2B14155550142&agent_id=agent_1&call_id=1767225180.4711',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-conversation-init-secret': INIT_SECRET },
    });
    const variables = response.json()['dynamic_variables'] as Record<string, unknown>;
    expect(variables['crm_lookup_status']).toBe('match');
    expect(variables['pbx_linkedid']).toBe('1767225180.4711');
  });

  it('answers with defaults when fields have unexpected types', async () => {
    const response = await initRequest(JSON.stringify({ caller_id: 14155550142, call_sid: ['x'] }));
    expect(response.status).toBe(200);
    expect((response.json()['dynamic_variables'] as Record<string, unknown>)['crm_lookup_status']).toBe('no_caller_id');
  });

  it('rejects a missing or wrong secret with 401 and an audit event', async () => {
    const body = fixture('conversation_initiation.request').body;
    const missing = await send(ingress.url, { path: PATH, body, headers: { 'content-type': 'application/json' } });
    const wrong = await initRequest(body, { 'X-Conversation-Init-Secret': 'init-shared-secret-5f1e2' });

    for (const response of [missing, wrong]) {
      expect(response.status).toBe(401);
      expect(response.json()).toEqual({ error: { code: WebhookErrorCode.AUTH_INVALID, message: 'authentication failed' } });
    }
    await waitFor(async () => {
      const reasons = (await ingress.messages('AUDIT')).filter((event) => event['action'] === 'auth_failed').map((event) => event['reason']);
      return reasons.includes('secret_missing') && reasons.includes('secret_mismatch');
    }, 'audit events for the missing and the wrong secret');
    expect(await ingress.metric('cti_webhook_auth_failures_total', { route: 'conversation_init' })).toBe(2);
  });

  it('rejects an oversized body with 413', async () => {
    const response = await initRequest(JSON.stringify({ caller_id: '+14155550142', padding: 'x'.repeat(70 * 1024) }));
    expect(response.status).toBe(413);
    expect((response.json()['error'] as Record<string, unknown>)['code']).toBe(WebhookErrorCode.BODY_TOO_LARGE);
  });

  it('rejects malformed JSON with 400', async () => {
    const response = await initRequest('{"caller_id": ');
    expect(response.status).toBe(400);
    expect((response.json()['error'] as Record<string, unknown>)['code']).toBe(WebhookErrorCode.BODY_NOT_JSON);
  });
});

describe('conversation-init without a secret', () => {
  it('does not exist', async () => {
    const closed = await startIngress(nats.url, { conversationInit: undefined });
    try {
      const response = await send(closed.url, {
        path: PATH,
        body: fixture('conversation_initiation.request').body,
        headers: { 'content-type': 'application/json', 'x-conversation-init-secret': INIT_SECRET },
      });
      expect(response.status).toBe(404);
    } finally {
      await closed.close();
    }
  });
});
