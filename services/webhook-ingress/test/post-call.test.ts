import { createHash, createHmac } from 'node:crypto';

import { startNatsServer, waitFor, type NatsServerHandle } from '@cti/testing';
import { Objm } from '@nats-io/obj';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { WebhookErrorCode } from '../src/errors.js';
import { signPayload } from '../src/signature.js';
import {
  deliver,
  FIXTURE_NOW_MS,
  FIXTURE_SECRET,
  FIXTURE_T,
  fixture,
  forbiddenLogText,
  send,
  startIngress,
  variant,
  type RunningIngress,
} from './harness.js';

let nats: NatsServerHandle;
let ingress: RunningIngress;

beforeAll(async () => {
  nats = await startNatsServer();
  ingress = await startIngress(nats.url);
});

afterAll(async () => {
  await ingress?.close();
  await nats?.dispose();
});

afterEach(() => {
  const text = ingress.logs.text();
  for (const forbidden of forbiddenLogText()) {
    expect(text).not.toContain(forbidden);
  }
});

const NOW_SECONDS = FIXTURE_NOW_MS / 1000;

async function aiMessage(id: string): Promise<Record<string, unknown> | undefined> {
  return (await ingress.messages('AI')).find((message) => message['id'] === id);
}

/** Expects a 401 with the stable code and nothing else in the body, and no new AI message. */
async function expectRejected(body: Buffer | string, signature: string | undefined, reason: string, headers: Record<string, string> = {}) {
  const before = await ingress.lastSequence('AI');
  const failuresBefore = await ingress.metric('cti_webhook_auth_failures_total', { reason });
  const response = await deliver(ingress.url, body, signature, headers);

  expect(response.status).toBe(401);
  expect(response.json()).toEqual({ error: { code: WebhookErrorCode.SIGNATURE_INVALID, message: 'signature verification failed' } });
  expect(await ingress.lastSequence('AI')).toBe(before);
  expect(await ingress.metric('cti_webhook_auth_failures_total', { reason })).toBe(failuresBefore + 1);
  await waitFor(
    async () => (await ingress.messages('AUDIT')).some((event) => event['action'] === 'auth_failed' && event['reason'] === reason),
    `an auth_failed audit event with reason ${reason}`,
  );
}

describe('post-call webhook fixtures', () => {
  it('stores the inbound transcription with the caller as external number', async () => {
    const inbound = fixture('post_call_transcription.inbound_sip');
    const response = await deliver(ingress.url, inbound.body, inbound.signature);

    expect(response.status).toBe(200);
    expect(response.json()).toEqual({ status: 'stored' });
    const event = await aiMessage('elevenlabs.post_call_transcription.conv_0901kcti0fx7inb0und00sip0d4');
    expect(event?.['_subject']).toBe('ai.conversation.completed');
    expect(event?.['direction']).toBe('inbound');
    expect(event?.['externalNumber']).toBe('+14155550142');
    expect(event?.['agentNumber']).toBe('+14155550100');
    expect(event?.['pbxLinkedid']).toBe('1767225180.4711');
    expect(event?.['callSid']).toBe('SCL_q7Rf2LmX9vTb');
    expect(event?.['eventAt']).toBe('2025-12-31T23:59:58.000Z');
    expect(event?.['successful']).toBe('success');
    expect(event?.['title']).toBe('Cooler repair visit confirmed');
    expect(event?.['dataCollection']).toEqual({ case_number: 'CASE-20931', callback_requested: true });
    // 8 entries, of which the tool call and its result carry message null.
    expect((event?.['transcript'] as unknown[]).length).toBe(6);
  });

  it('stores the outbound transcription with the callee as external number', async () => {
    const outbound = fixture('post_call_transcription.outbound_sip');
    const response = await deliver(ingress.url, outbound.body, outbound.signature);

    expect(response.status).toBe(200);
    const event = await aiMessage('elevenlabs.post_call_transcription.conv_0901kcti0fx7outb0und0sip0e5');
    expect(event?.['direction']).toBe('outbound');
    expect(event?.['externalNumber']).toBe('+14155550177');
    expect(event?.['agentNumber']).toBe('+14155550101');
    expect(event?.['callResult']).toBe('answered');
    expect(event?.['pbxLinkedid']).toBeUndefined();
  });

  it('stores the call initiation failure', async () => {
    const failure = fixture('call_initiation_failure.sip_busy');
    const response = await deliver(ingress.url, failure.body, failure.signature);

    expect(response.status).toBe(200);
    const event = await aiMessage('elevenlabs.call_initiation_failure.conv_0901kcti0fx7fail0busy0sip0f6');
    expect(event?.['_subject']).toBe('ai.call.failed');
    expect(event?.['failureReason']).toBe('busy');
    expect(event?.['sipStatusCode']).toBe(486);
    expect(event?.['toNumber']).toBe('+14155550163');
    expect(event?.['providerType']).toBe('sip');
  });

  it('stores chunked audio in the object store and publishes its reference', async () => {
    const audio = fixture('post_call_audio');
    const response = await send(ingress.url, {
      body: audio.body,
      chunks: 4,
      headers: { 'content-type': 'application/json', 'elevenlabs-signature': audio.signature },
    });

    expect(response.status).toBe(200);
    const mp3 = Buffer.from((audio.json['data'] as { full_audio: string }).full_audio, 'base64');
    const sha256 = createHash('sha256').update(mp3).digest('hex');
    const event = await aiMessage('elevenlabs.post_call_audio.conv_0901kcti0fx7inb0und00sip0d4');
    expect(event?.['_subject']).toBe('ai.conversation.audio');
    expect(event?.['object']).toEqual({
      bucket: 'ai_audio',
      name: `conv_0901kcti0fx7inb0und00sip0d4/${sha256}.mp3`,
      size: 218,
      sha256,
      contentType: 'audio/mpeg',
    });
    const store = await new Objm(ingress.bus.connection).open('ai_audio');
    const stored = await store.getBlob(`conv_0901kcti0fx7inb0und00sip0d4/${sha256}.mp3`);
    expect(Buffer.from(stored ?? new Uint8Array()).equals(mp3)).toBe(true);
  });
});

describe('signature verification', () => {
  const transcript = 'post_call_transcription.inbound_sip';

  it('rejects a tampered body', async () => {
    const original = fixture(transcript);
    const tampered = Buffer.from(original.body.toString('utf8').replace('"call_successful": "success"', '"call_successful": "failure"'));
    expect(tampered.equals(original.body)).toBe(false);
    await expectRejected(tampered, original.signature, 'signature_mismatch');
  });

  it('rejects a re-serialised body', async () => {
    const original = fixture(transcript);
    await expectRejected(JSON.stringify(original.json), original.signature, 'signature_mismatch');
  });

  it('rejects a wrong secret', async () => {
    const signed = variant(transcript, () => undefined, { secret: 'whsec_someone_else' });
    await expectRejected(signed.body, signed.signature, 'signature_mismatch');
  });

  it('rejects an expired timestamp', async () => {
    const t = Math.floor(NOW_SECONDS) - 1801;
    const signed = variant(transcript, () => undefined, { t });
    await expectRejected(signed.body, signed.signature, 'timestamp_expired');
  });

  it('rejects a future timestamp', async () => {
    const t = Math.floor(NOW_SECONDS) + 301;
    const signed = variant(transcript, () => undefined, { t });
    await expectRejected(signed.body, signed.signature, 'timestamp_in_future');
  });

  it('rejects a non-numeric t even when the HMAC matches', async () => {
    const body = fixture(transcript).body;
    const digest = createHmac('sha256', FIXTURE_SECRET).update('abc.').update(body).digest('hex');
    await expectRejected(body, `t=abc,v0=${digest}`, 'timestamp_invalid');
  });

  it('rejects a missing header', async () => {
    await expectRejected(fixture(transcript).body, undefined, 'header_missing');
  });

  it('rejects a header without v0', async () => {
    await expectRejected(fixture(transcript).body, `t=${FIXTURE_T}`, 'header_malformed');
  });

  it('rejects two v0 when neither matches', async () => {
    const body = fixture(transcript).body;
    await expectRejected(body, `t=${FIXTURE_T},v0=${'a'.repeat(64)},v0=${'b'.repeat(64)}`, 'signature_mismatch');
  });

  it('accepts a header with spaces after the commas', async () => {
    const signed = variant(transcript, (json) => {
      (json['data'] as Record<string, unknown>)['conversation_id'] = 'conv_spaces_in_header';
    });
    const [t, v0] = signed.signature.split(',');
    const response = await deliver(ingress.url, signed.body, `${t ?? ''},  ${v0 ?? ''}`);
    expect(response.status).toBe(200);
    expect(await aiMessage('elevenlabs.post_call_transcription.conv_spaces_in_header')).toBeDefined();
  });

  it('accepts two v0 when one matches', async () => {
    const signed = variant(transcript, (json) => {
      (json['data'] as Record<string, unknown>)['conversation_id'] = 'conv_two_v0';
    });
    const [t, v0] = signed.signature.split(',');
    const response = await deliver(ingress.url, signed.body, `${t ?? ''},v0=${'f'.repeat(64)},${v0 ?? ''}`);
    expect(response.status).toBe(200);
    expect(await aiMessage('elevenlabs.post_call_transcription.conv_two_v0')).toBeDefined();
  });

  it('matches the header name case-insensitively', async () => {
    const signed = variant(transcript, (json) => {
      (json['data'] as Record<string, unknown>)['conversation_id'] = 'conv_header_case';
    });
    const response = await send(ingress.url, {
      body: signed.body,
      headers: { 'Content-Type': 'application/json', 'ELEVENLABS-SIGNATURE': signed.signature },
    });
    expect(response.status).toBe(200);
  });

  it('accepts a timestamp exactly at the age limit', async () => {
    const signed = variant(
      transcript,
      (json) => {
        (json['data'] as Record<string, unknown>)['conversation_id'] = 'conv_age_boundary';
      },
      { t: NOW_SECONDS - 1800 },
    );
    expect((await deliver(ingress.url, signed.body, signed.signature)).status).toBe(200);
  });
});

describe('secret rotation', () => {
  it('accepts the previous secret while both are configured', async () => {
    const rotated = await startIngress(nats.url, { webhookSecrets: ['whsec_new_secret_after_rotation', FIXTURE_SECRET] });
    try {
      const signed = variant('post_call_transcription.inbound_sip', (json) => {
        (json['data'] as Record<string, unknown>)['conversation_id'] = 'conv_rotation_old_secret';
      });
      const response = await deliver(rotated.url, signed.body, signed.signature);
      expect(response.status).toBe(200);
      expect(await rotated.metric('cti_webhook_signatures_verified_total', { secret: '1' })).toBe(1);

      const fresh = variant(
        'post_call_transcription.inbound_sip',
        (json) => {
          (json['data'] as Record<string, unknown>)['conversation_id'] = 'conv_rotation_new_secret';
        },
        { secret: 'whsec_new_secret_after_rotation' },
      );
      expect((await deliver(rotated.url, fresh.body, fresh.signature)).status).toBe(200);
      expect(await rotated.metric('cti_webhook_signatures_verified_total', { secret: '0' })).toBe(1);
      expect(rotated.logs.text()).not.toContain('whsec_new_secret_after_rotation');
    } finally {
      await rotated.close();
    }
  });
});

describe('replays and duplicates', () => {
  it('acknowledges a replayed delivery without storing it again', async () => {
    const signed = variant('call_initiation_failure.sip_busy', (json) => {
      (json['data'] as Record<string, unknown>)['conversation_id'] = 'conv_replayed';
    });
    const first = await deliver(ingress.url, signed.body, signed.signature);
    expect(first.status).toBe(200);
    expect(first.json()).toEqual({ status: 'stored' });
    const afterFirst = await ingress.lastSequence('AI');

    const replay = await deliver(ingress.url, signed.body, signed.signature);
    expect(replay.status).toBe(200);
    expect(replay.json()).toEqual({ status: 'duplicate' });

    // A retry ElevenLabs signs anew, ten minutes later, is the same delivery.
    const resigned = variant(
      'call_initiation_failure.sip_busy',
      (json) => {
        (json['data'] as Record<string, unknown>)['conversation_id'] = 'conv_replayed';
      },
      { t: FIXTURE_T + 600 },
    );
    ingress.setNow((FIXTURE_T + 660) * 1000);
    const retry = await deliver(ingress.url, resigned.body, resigned.signature).finally(() => ingress.setNow(FIXTURE_NOW_MS));
    expect(retry.status).toBe(200);
    expect(retry.json()).toEqual({ status: 'duplicate' });

    expect(await ingress.lastSequence('AI')).toBe(afterFirst);
    const copies = (await ingress.messages('AI')).filter((message) => message['id'] === 'elevenlabs.call_initiation_failure.conv_replayed');
    expect(copies.length).toBe(1);
    expect(await ingress.metric('cti_webhook_deliveries_total', { type: 'call_initiation_failure', result: 'duplicate' })).toBe(2);
  });

});

describe('request validation', () => {
  it('rejects an oversized body with 413', async () => {
    const before = await ingress.lastSequence('AI');
    const huge = Buffer.alloc(1024 * 1024 + 1, 0x20);
    const response = await deliver(ingress.url, huge, signPayload(huge, FIXTURE_SECRET, FIXTURE_T));

    expect(response.status).toBe(413);
    expect((response.json()['error'] as Record<string, unknown>)['code']).toBe(WebhookErrorCode.BODY_TOO_LARGE);
    expect(await ingress.lastSequence('AI')).toBe(before);
  });

  it('rejects a wrong content type with 415', async () => {
    const before = await ingress.lastSequence('AI');
    const original = fixture('post_call_transcription.inbound_sip');
    const response = await deliver(ingress.url, original.body, original.signature, { 'content-type': 'text/plain' });

    expect(response.status).toBe(415);
    expect((response.json()['error'] as Record<string, unknown>)['code']).toBe(WebhookErrorCode.CONTENT_TYPE_UNSUPPORTED);
    expect(await ingress.lastSequence('AI')).toBe(before);
  });

  it('rejects malformed JSON with a valid signature', async () => {
    const before = await ingress.lastSequence('AI');
    const body = Buffer.from('{"type": "post_call_transcription", "data": {');
    const response = await deliver(ingress.url, body, signPayload(body, FIXTURE_SECRET, FIXTURE_T));

    expect(response.status).toBe(400);
    expect(response.json()).toEqual({ error: { code: WebhookErrorCode.BODY_NOT_JSON, message: 'request body is not valid JSON' } });
    expect(await ingress.lastSequence('AI')).toBe(before);
  });

  it('names the missing required field', async () => {
    const before = await ingress.lastSequence('AI');
    const signed = variant('post_call_transcription.inbound_sip', (json) => {
      delete (json['data'] as Record<string, unknown>)['conversation_id'];
    });
    const response = await deliver(ingress.url, signed.body, signed.signature);

    expect(response.status).toBe(400);
    const error = response.json()['error'] as Record<string, unknown>;
    expect(error['code']).toBe(WebhookErrorCode.PAYLOAD_INVALID);
    expect(error['path']).toBe('/data/conversation_id');
    expect(error['message']).toBe('invalid post_call_transcription payload: /data/conversation_id is missing');
    expect(await ingress.lastSequence('AI')).toBe(before);
  });

  it('names a transcript entry of the wrong type', async () => {
    const signed = variant('post_call_transcription.inbound_sip', (json) => {
      const transcript = (json['data'] as { transcript: Record<string, unknown>[] }).transcript;
      (transcript[3] as Record<string, unknown>)['time_in_call_secs'] = 'eleven';
    });
    const response = await deliver(ingress.url, signed.body, signed.signature);

    expect(response.status).toBe(400);
    expect((response.json()['error'] as Record<string, unknown>)['path']).toBe('/data/transcript/3/time_in_call_secs');
  });

  it('accepts a string event_timestamp and extra fields', async () => {
    const signed = variant('post_call_transcription.outbound_sip', (json) => {
      json['event_timestamp'] = '1767225500';
      json['added_by_elevenlabs_later'] = { nested: [1, 2, 3] };
      const data = json['data'] as Record<string, unknown>;
      data['conversation_id'] = 'conv_string_timestamp';
      data['visited_agents'] = [];
    });
    const response = await deliver(ingress.url, signed.body, signed.signature);

    expect(response.status).toBe(200);
    expect((await aiMessage('elevenlabs.post_call_transcription.conv_string_timestamp'))?.['eventAt']).toBe('2025-12-31T23:58:20.000Z');
  });

  it('stores an unknown webhook type as ai.webhook.unknown', async () => {
    const body = Buffer.from(JSON.stringify({ type: 'voice_removal_notice', event_timestamp: FIXTURE_T, data: { voice_id: 'voice_123' } }));
    const response = await deliver(ingress.url, body, signPayload(body, FIXTURE_SECRET, FIXTURE_T));

    expect(response.status).toBe(200);
    const stored = (await ingress.messages('AI')).find((message) => message['webhookType'] === 'voice_removal_notice');
    expect(stored?.['_subject']).toBe('ai.webhook.unknown');
    expect(stored?.['body']).toBe(body.toString('utf8'));
    expect(ingress.logs.lines.some((line) => line['msg'] === 'webhook of unknown type stored' && line['webhookType'] === 'voice_removal_notice')).toBe(true);
  });

  it('answers an unknown path with a JSON 404', async () => {
    const response = await send(ingress.url, { path: '/webhooks/other', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(response.status).toBe(404);
    expect((response.json()['error'] as Record<string, unknown>)['code']).toBe(WebhookErrorCode.NOT_FOUND);
  });
});
