import { AiCallFailed, AiConversationCompleted } from '@cti/contracts';
import { describe, expect, it } from 'vitest';

import { deliveryId, eventTimeOf, normalizeCallFailure, normalizeTranscription } from '../src/normalize.js';
import { primaryIssue, Validators, type CallInitiationFailurePayload, type PostCallTranscriptionPayload } from '../src/payloads.js';
import { fixture } from './harness.js';

const STAMP = { id: 'elevenlabs.test', eventAt: '2026-01-01T00:00:00.000Z', receivedAt: '2026-01-01T00:01:00.000Z' };

function transcription(name: string, change: (json: PostCallTranscriptionPayload) => void = () => undefined): PostCallTranscriptionPayload {
  const json = structuredClone(fixture(name).json) as unknown as PostCallTranscriptionPayload;
  change(json);
  expect(Validators.postCallTranscription.check(json)).toBe(true);
  return json;
}

describe('normalizeTranscription', () => {
  it('produces a valid contract message from both fixtures', () => {
    for (const name of ['post_call_transcription.inbound_sip', 'post_call_transcription.outbound_sip']) {
      const event = normalizeTranscription(transcription(name), STAMP);
      expect(AiConversationCompleted.check(event)).toBe(true);
    }
  });

  it('keeps the spoken turns in order and drops tool entries', () => {
    const event = normalizeTranscription(transcription('post_call_transcription.inbound_sip'), STAMP);
    expect(event.transcript.map((turn) => [turn.role, turn.timeInCallSecs])).toEqual([
      ['agent', 0],
      ['user', 4],
      ['agent', 12],
      ['user', 21],
      ['agent', 25],
      ['user', 31],
    ]);
    expect(event.transcript[1]?.message).toContain('Renée');
  });

  it('keeps scalar dynamic variables only', () => {
    const event = normalizeTranscription(
      transcription('post_call_transcription.inbound_sip', (json) => {
        const variables = json.data.conversation_initiation_client_data?.dynamic_variables as Record<string, unknown>;
        variables['nested'] = { a: 1 };
      }),
      STAMP,
    );
    expect(event.dynamicVariables['pbx_linkedid']).toBe('1767225180.4711');
    expect(event.dynamicVariables['system__call_duration_secs']).toBe(37);
    expect(event.dynamicVariables['nested']).toBeUndefined();
  });

  it('falls back to the system variables without a phone_call block', () => {
    const inbound = normalizeTranscription(
      transcription('post_call_transcription.inbound_sip', (json) => {
        const phone = json.data.metadata?.phone_call as Record<string, unknown>;
        delete phone['external_number'];
        delete phone['agent_number'];
      }),
      STAMP,
    );
    expect(inbound.externalNumber).toBe('+14155550142');
    expect(inbound.agentNumber).toBe('+14155550100');

    const outbound = normalizeTranscription(
      transcription('post_call_transcription.outbound_sip', (json) => {
        const phone = json.data.metadata?.phone_call as Record<string, unknown>;
        delete phone['external_number'];
        delete phone['agent_number'];
      }),
      STAMP,
    );
    expect(outbound.externalNumber).toBe('+14155550177');
    expect(outbound.agentNumber).toBe('+14155550101');
  });

  it('copes with a missing analysis and a long title', () => {
    const bare = normalizeTranscription(
      transcription('post_call_transcription.outbound_sip', (json) => {
        json.data.analysis = null;
      }),
      STAMP,
    );
    expect(bare.successful).toBe('unknown');
    expect(bare.summary).toBeUndefined();

    const long = normalizeTranscription(
      transcription('post_call_transcription.outbound_sip', (json) => {
        if (json.data.analysis) {
          json.data.analysis.call_summary_title = 'é'.repeat(600);
          json.data.analysis.call_successful = 'partially';
        }
      }),
      STAMP,
    );
    expect(long.title?.length).toBe(512);
    expect(long.successful).toBe('unknown');
    expect(AiConversationCompleted.check(long)).toBe(true);
  });
});

describe('normalizeCallFailure', () => {
  it('reads the SIP fixture', () => {
    const payload = fixture('call_initiation_failure.sip_busy').json as unknown as CallInitiationFailurePayload;
    const event = normalizeCallFailure(payload, STAMP);
    expect(event).toMatchObject({
      failureReason: 'busy',
      fromNumber: '+14155550101',
      toNumber: '+14155550163',
      sipStatusCode: 486,
      providerType: 'sip',
      callSid: '7c1e4b2a-93d0-4f65-a8b7-0e2d5c9f1a36',
    });
    expect(AiCallFailed.check(event)).toBe(true);
  });

  it('reads the Twilio status callback fields', () => {
    const payload: CallInitiationFailurePayload = {
      type: 'call_initiation_failure',
      event_timestamp: 1767225590,
      data: {
        agent_id: 'agent_1',
        conversation_id: 'conv_twilio',
        failure_reason: 'no-answer',
        metadata: { type: 'twilio', body: { CallSid: 'CA123', CallStatus: 'no-answer', SipResponseCode: '487', From: '+14155550101', To: '+14155550163' } },
      },
    };
    const event = normalizeCallFailure(payload, STAMP);
    expect(event).toMatchObject({ failureReason: 'no-answer', sipStatusCode: 487, callSid: 'CA123', providerType: 'twilio', toNumber: '+14155550163' });
    expect(AiCallFailed.check(event)).toBe(true);
  });
});

describe('eventTimeOf', () => {
  it.each([
    [1767225598, '2025-12-31T23:59:58.000Z'],
    ['1767225598', '2025-12-31T23:59:58.000Z'],
    ['1767225598.5', '2025-12-31T23:59:58.500Z'],
    ['2026-01-01T00:00:00Z', '2026-01-01T00:00:00.000Z'],
    ['yesterday', undefined],
    [-1, undefined],
  ])('reads %j as %s', (value, expected) => {
    expect(eventTimeOf(value)).toBe(expected);
  });
});

describe('deliveryId', () => {
  it('hashes a type or key with characters a NATS header cannot carry', () => {
    const id = deliveryId('post_call\r\nNats-Expected-Stream: X', 'conv_1');
    expect(id).toMatch(/^elevenlabs\.sha256\.[0-9a-f]{64}$/);
    expect(deliveryId('x y', 'conv_1')).not.toBe(deliveryId('x_y', 'conv_1'));
  });

  it('joins type and conversation id, and hashes ids the contract cannot hold', () => {
    expect(deliveryId('post_call_audio', 'conv_1')).toBe('elevenlabs.post_call_audio.conv_1');
    const long = deliveryId('post_call_audio', 'c'.repeat(200));
    expect(long).toMatch(/^elevenlabs\.sha256\.[0-9a-f]{64}$/);
    expect(long).not.toBe(deliveryId('post_call_transcription', 'c'.repeat(200)));
  });
});

describe('payload validation', () => {
  it('accepts a transcript message of null and reports the deepest failing path', () => {
    const json = structuredClone(fixture('post_call_transcription.inbound_sip').json) as { data: { transcript: { message: unknown }[] } };
    expect(json.data.transcript[2]?.message).toBeNull();
    expect(Validators.postCallTranscription.check(json)).toBe(true);

    (json.data.transcript[2] as { message: unknown }).message = 42;
    expect(primaryIssue(Validators.postCallTranscription.issues(json)).path).toBe('/data/transcript/2/message');
  });
});
