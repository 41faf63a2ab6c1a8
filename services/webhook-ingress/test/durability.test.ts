import { createHash } from 'node:crypto';

import { BusError, BusErrorCode, type Publisher } from '@cti/bus';
import { startNatsServer, waitFor, type NatsServerHandle } from '@cti/testing';
import { Objm } from '@nats-io/obj';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { WebhookErrorCode } from '../src/errors.js';
import { deliver, forbiddenLogText, send, startIngress, variant, type RunningIngress } from './harness.js';

let nats: NatsServerHandle;
let ingress: RunningIngress;
// Publishes that should fail before reaching JetStream, as an ack that never comes would.
let failPublishes = 0;

beforeAll(async () => {
  nats = await startNatsServer();
  ingress = await startIngress(nats.url, {
    publishTimeoutMs: 1000,
    postCallBodyLimitBytes: 8 * 1024 * 1024,
    wrapPublisher: (publisher: Publisher): Publisher => ({
      publish(contract, message, options) {
        if (failPublishes > 0) {
          failPublishes -= 1;
          return Promise.reject(new BusError(BusErrorCode.PUBLISH_TIMEOUT, `timed out waiting for an answer on "${contract.name}"`));
        }
        return publisher.publish(contract, message, options);
      },
    }),
  });
});

afterAll(async () => {
  await ingress?.close();
  await nats?.dispose();
});

afterEach(() => {
  failPublishes = 0;
  const text = ingress.logs.text();
  for (const forbidden of forbiddenLogText()) {
    expect(text).not.toContain(forbidden);
  }
});

async function objectNames(): Promise<string[]> {
  const store = await new Objm(ingress.bus.connection).open('ai_audio');
  return (await store.list()).filter((info) => !info.deleted).map((info) => info.name);
}

function audioWithContent(conversationId: string, content: Buffer) {
  return variant('post_call_audio', (json) => {
    const data = json['data'] as Record<string, unknown>;
    data['conversation_id'] = conversationId;
    data['full_audio'] = content.toString('base64');
  });
}

describe('NATS outage', () => {
  it('answers 503 with Retry-After while NATS is down and stores the retry once', async () => {
    const delivery = variant('post_call_transcription.inbound_sip', (json) => {
      (json['data'] as Record<string, unknown>)['conversation_id'] = 'conv_during_outage';
    });
    expect((await send(ingress.url, { method: 'GET', path: '/readyz' })).status).toBe(200);

    await nats.stop();
    try {
      await waitFor(async () => (await send(ingress.url, { method: 'GET', path: '/readyz' })).status === 503, '/readyz to report NATS down');
      const refused = await deliver(ingress.url, delivery.body, delivery.signature);
      expect(refused.status).toBe(503);
      expect(refused.headers['retry-after']).toBe('30');
      expect(refused.json()).toEqual({ error: { code: WebhookErrorCode.UNAVAILABLE, message: 'the event store is unavailable, retry later' } });
    } finally {
      await nats.restart();
    }

    await waitFor(async () => (await send(ingress.url, { method: 'GET', path: '/readyz' })).status === 200, '/readyz to report NATS back', {
      timeoutMs: 15_000,
    });
    const accepted = await deliver(ingress.url, delivery.body, delivery.signature);
    expect(accepted.status).toBe(200);
    expect(accepted.json()).toEqual({ status: 'stored' });
    const copies = (await ingress.messages('AI')).filter((message) => message['id'] === 'elevenlabs.post_call_transcription.conv_during_outage');
    expect(copies.length).toBe(1);
    expect(ingress.logs.lines.some((line) => line['msg'] === 'webhook request failed' && line['statusCode'] === 503)).toBe(true);
  });

  it('answers 503 when the JetStream ack does not come', async () => {
    const before = await ingress.lastSequence('AI');
    const delivery = variant('call_initiation_failure.sip_busy', (json) => {
      (json['data'] as Record<string, unknown>)['conversation_id'] = 'conv_ack_timeout';
    });
    failPublishes = 1;

    const refused = await deliver(ingress.url, delivery.body, delivery.signature);
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('30');
    expect(await ingress.lastSequence('AI')).toBe(before);

    const retried = await deliver(ingress.url, delivery.body, delivery.signature);
    expect(retried.status).toBe(200);
    expect(retried.json()).toEqual({ status: 'stored' });
  });
});

describe('audio durability', () => {
  it('keeps audio when the publish fails', async () => {
    const content = Buffer.concat([Buffer.from('ID3'), Buffer.alloc(4096, 7)]);
    const sha256 = createHash('sha256').update(content).digest('hex');
    const delivery = audioWithContent('conv_audio_retry', content);
    failPublishes = 1;

    const refused = await deliver(ingress.url, delivery.body, delivery.signature);
    expect(refused.status).toBe(503);
    expect(await objectNames()).toContain(`conv_audio_retry/${sha256}.mp3`);
    const eventsBefore = (await ingress.messages('AI')).filter((message) => message['conversationId'] === 'conv_audio_retry');
    expect(eventsBefore.length).toBe(0);

    const retried = await deliver(ingress.url, delivery.body, delivery.signature);
    expect(retried.status).toBe(200);
    const events = (await ingress.messages('AI')).filter((message) => message['conversationId'] === 'conv_audio_retry');
    expect(events.length).toBe(1);
    expect((events[0]?.['object'] as Record<string, unknown>)['sha256']).toBe(sha256);
    expect((await objectNames()).filter((name) => name.startsWith('conv_audio_retry/')).length).toBe(1);
    expect(await ingress.metric('cti_webhook_audio_bytes_total')).toBeGreaterThanOrEqual(content.length);
  });

  it('keeps the referenced audio of a duplicate with other content', async () => {
    const first = audioWithContent('conv_audio_duplicate', Buffer.concat([Buffer.from('ID3'), Buffer.alloc(512, 1)]));
    const second = audioWithContent('conv_audio_duplicate', Buffer.concat([Buffer.from('ID3'), Buffer.alloc(512, 2)]));

    expect((await deliver(ingress.url, first.body, first.signature)).json()).toEqual({ status: 'stored' });
    expect((await deliver(ingress.url, second.body, second.signature)).json()).toEqual({ status: 'duplicate' });

    const events = (await ingress.messages('AI')).filter((message) => message['conversationId'] === 'conv_audio_duplicate');
    expect(events).toHaveLength(1);
    const referenced = (events[0]?.['object'] as Record<string, unknown>)['name'];
    expect(await objectNames()).toContain(referenced);
  });

  it('keeps the audio when copies of one delivery race', async () => {
    const content = Buffer.concat([Buffer.from('ID3'), Buffer.alloc(256 * 1024, 9)]);
    const delivery = audioWithContent('conv_audio_race', content);
    const answers = await Promise.all([1, 2, 3, 4].map(() => deliver(ingress.url, delivery.body, delivery.signature)));
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200]);
    expect(answers.filter((answer) => answer.json()['status'] === 'stored')).toHaveLength(1);

    const events = (await ingress.messages('AI')).filter((message) => message['conversationId'] === 'conv_audio_race');
    expect(events).toHaveLength(1);
    const referenced = (events[0]?.['object'] as Record<string, unknown>)['name'];
    expect(await objectNames()).toContain(referenced);
  });

  it('rejects audio that is not base64', async () => {
    const before = await ingress.lastSequence('AI');
    const delivery = variant('post_call_audio', (json) => {
      (json['data'] as Record<string, unknown>)['full_audio'] = 'this is not base64!';
    });
    const response = await deliver(ingress.url, delivery.body, delivery.signature);

    expect(response.status).toBe(400);
    expect((response.json()['error'] as Record<string, unknown>)['path']).toBe('/data/full_audio');
    expect(await ingress.lastSequence('AI')).toBe(before);
  });

  it('stores a multi-megabyte audio delivered in chunks', async () => {
    const content = Buffer.alloc(3 * 1024 * 1024);
    for (let index = 0; index < content.length; index += 1) {
      content[index] = (index * 31) % 251;
    }
    const delivery = audioWithContent('conv_audio_large', content);
    const response = await send(ingress.url, {
      body: delivery.body,
      chunks: 64,
      headers: { 'content-type': 'application/json; charset=utf-8', 'elevenlabs-signature': delivery.signature },
    });

    expect(response.status).toBe(200);
    const event = (await ingress.messages('AI')).find((message) => message['conversationId'] === 'conv_audio_large');
    const reference = event?.['object'] as { name: string; size: number };
    expect(reference.size).toBe(content.length);
    const store = await new Objm(ingress.bus.connection).open('ai_audio');
    const stored = await store.getBlob(reference.name);
    expect(Buffer.from(stored ?? new Uint8Array()).equals(content)).toBe(true);
    // The event is a reference, far below the stream's message size limit.
    expect(JSON.stringify(event).length).toBeLessThan(1024);
  });
});
