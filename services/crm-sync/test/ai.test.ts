import { AiCallFailed, AiConversationCompleted, CallCompleted, CallerLookupReply, CallerLookupRequest, type CallSummary } from '@cti/contracts';
import { waitFor } from '@cti/testing';
import { afterEach, describe, expect, it } from 'vitest';

import { RecordIds } from '../src/ids.js';
import { aiConversationFromFixture, callCompleted, callRows, startHarness, storedMessages, type Harness } from './harness.js';

const RENEE = '5b9e0c4a-1f2d-4e8a-9c61-7d0f3a2b1e55';
const LINKEDID = '1767225180.4711';

const harnesses: Harness[] = [];

afterEach(async () => {
  for (const harness of harnesses.splice(0)) {
    await harness.close();
  }
});

async function harnessWith(environment: Record<string, string> = {}, customFields?: Record<string, string[]>): Promise<Harness> {
  const harness = await startHarness({ environment, simulator: { seed: 'demo', ...(customFields === undefined ? {} : { customFields }) } });
  harnesses.push(harness);
  await harness.start();
  return harness;
}

/** Logs the PBX call the inbound fixture conversation belongs to: Renée calling extension 101. */
async function logPbxCall(harness: Harness, overrides: Parameters<typeof callCompleted>[0] = {}) {
  const now = Date.now();
  const event = callCompleted({
    callId: LINKEDID,
    caller: { number: '+14155550142', name: 'Renee Okonkwo' },
    startedAt: new Date(now - 40_000).toISOString(),
    endedAt: new Date(now).toISOString(),
    ...overrides,
  });
  await harness.bus.publish(CallCompleted, event);
  await waitFor(() => callRows(harness.simulator, event.pbx, event.callId)[0], 'the PBX call logged');
  await waitFor(async () => ((await storedMessages(harness.bus, 'CRM', 'crm.call.logged.')) as { callId: string }[]).some((message) => message.callId === event.callId) || undefined, 'crm.call.logged');
  return event;
}

function description(harness: Harness, id: string): string {
  return harness.simulator.rows('Calls').find((row) => row.id === id)?.values['description'] ?? '';
}

async function waitWritten(harness: Harness, count = 1) {
  return waitFor(() => {
    const lines = harness.logs.lines.filter((line) => line['msg'] === 'AI conversation written to SuiteCRM');
    return lines.length >= count ? lines : undefined;
  }, 'AI conversation written');
}

describe('AI conversations', () => {
  it('attaches summary, verdict and transcript to the PBX call named by pbx_linkedid', async () => {
    const harness = await harnessWith({}, { Calls: ['ai_summary_c', 'ai_success_c', 'ai_conversation_id_c'] });
    const call = await logPbxCall(harness);
    const recordId = RecordIds.pbxCall(call.pbx, call.callId);
    const event = aiConversationFromFixture('inbound_sip');
    await harness.bus.publish(AiConversationCompleted, event);
    const [line] = await waitWritten(harness);
    expect(line).toMatchObject({ recordId, correlation: 'call_id', outcome: 'attached' });

    const text = description(harness, recordId);
    expect(text).toContain('PBX call: pbx1/1767225180.4711');
    expect(text).toContain('--- AI conversation conv_0901kcti0fx7inb0und00sip0d4 ---');
    expect(text).toContain('Title: Cooler repair visit confirmed');
    expect(text).toContain('Result: successful');
    expect(text).toContain('A bakery customer asked about an open cooler repair case.');
    expect(text).toContain("[00:04] Caller: Hi Ava, it's Renée from Harbor Lane Bakery. I'm calling about the walk-in cooler repair ticket.");
    expect(text).toContain('[00:31] Caller: No, that');
    expect(text).not.toContain('????');

    const row = harness.simulator.rows('Calls').find((candidate) => candidate.id === recordId);
    expect(row?.values['ai_summary_c']).toBe(event.summary);
    expect(row?.values['ai_success_c']).toBe('success');
    expect(row?.values['ai_conversation_id_c']).toBe(event.conversationId);

    const [summary] = (await storedMessages(harness.bus, 'CRM', 'crm.call.summary.')) as CallSummary[];
    expect(summary).toMatchObject({ callId: LINKEDID, pbx: 'pbx1', extension: '101', conversationId: event.conversationId, successful: 'success', recordId, title: 'Cooler repair visit confirmed' });

    // The next lookup of this caller carries the summary, for the AI's greeting.
    const reply = await waitFor(async () => {
      const answer = await harness.bus.request(CallerLookupRequest, CallerLookupReply, { v: 1, number: '+14155550142', requestedBy: 'webhook-ingress' }, 5000);
      return answer.lastCallSummary === undefined ? undefined : answer;
    }, 'a lookup with the last call summary');
    expect(reply.matches[0]?.id).toBe(RENEE);
    expect(reply.lastCallSummary).toBe(event.summary);
  });

  it('attaches a conversation once however often it is delivered', async () => {
    const harness = await harnessWith();
    const call = await logPbxCall(harness);
    const event = aiConversationFromFixture('inbound_sip');
    await harness.bus.publish(AiConversationCompleted, event);
    await harness.bus.publish(AiConversationCompleted, { ...event, id: `${event.id}:retry` });
    await waitWritten(harness, 2);
    const text = description(harness, RecordIds.pbxCall(call.pbx, call.callId));
    expect(text.split('--- AI conversation conv_0901kcti0fx7inb0und00sip0d4 ---')).toHaveLength(2);
  });

  it('matches a conversation without call ids by external number and time', async () => {
    const harness = await harnessWith();
    const call = await logPbxCall(harness, { callId: '1796419999.77' });
    const { pbxLinkedid: _linkedid, callSid: _callSid, ...event } = aiConversationFromFixture('inbound_sip', { dynamicVariables: {} });
    await harness.bus.publish(AiConversationCompleted, event);
    const [line] = await waitWritten(harness);
    expect(line).toMatchObject({ recordId: RecordIds.pbxCall(call.pbx, call.callId), correlation: 'number', outcome: 'attached' });
  });

  it('waits for a PBX call that is not logged yet, then attaches to it', async () => {
    const harness = await harnessWith();
    const event = aiConversationFromFixture('inbound_sip');
    await harness.bus.publish(AiConversationCompleted, event);
    await waitFor(
      () => harness.logs.lines.some((line) => line['msg'] === 'message handler failed, will retry' && (line['err'] as { code?: string } | undefined)?.code === 'CTI_ERR_CRMSYNC_AI_CALL_NOT_LOGGED_YET') || undefined,
      'the conversation waiting for its call',
    );
    const call = await logPbxCall(harness);
    const [line] = await waitWritten(harness);
    expect(line).toMatchObject({ recordId: RecordIds.pbxCall(call.pbx, call.callId), outcome: 'attached' });
  });

  it('gives an unmatched conversation a Calls record of its own', async () => {
    const harness = await harnessWith({ CRM_AI_CORRELATION_GRACE_SECONDS: '0' });
    const event = aiConversationFromFixture('outbound_sip');
    await harness.bus.publish(AiConversationCompleted, event);
    const [line] = await waitWritten(harness);
    const recordId = RecordIds.aiConversation(event.conversationId);
    expect(line).toMatchObject({ recordId, correlation: 'none', outcome: 'own_record' });
    const row = harness.simulator.rows('Calls').find((candidate) => candidate.id === recordId);
    expect(row?.values).toMatchObject({
      name: 'AI call to Marcus Bell',
      direction: 'Outbound',
      status: 'Held',
      parent_type: 'Contacts',
      parent_id: 'c2f7a913-6d84-4b0e-b5a2-90e1d4c7f318',
      duration_minutes: '1',
    });
    expect(row?.values['description']).toContain('--- AI conversation conv_0901kcti0fx7outb0und0sip0e5 ---');
    expect(row?.values['description']).toContain("[00:15] Caller: Friday's bad. Could you do Monday morning instead?");
    expect(harness.simulator.relationRows('calls_contacts').filter((relation) => relation.left === recordId).map((relation) => relation.right)).toEqual(['c2f7a913-6d84-4b0e-b5a2-90e1d4c7f318']);
  });

  it('splits a long transcript into linked Notes instead of cutting it', async () => {
    const harness = await harnessWith({ CRM_AI_NOTE_MAX_BYTES: '20000' });
    const call = await logPbxCall(harness);
    const turns = Array.from({ length: 1200 }, (_value, index) => ({
      role: index % 2 === 0 ? ('agent' as const) : ('user' as const),
      message: `Turn ${index}: ${'the caller explains the cooler problem in detail '.repeat(2)}`,
      timeInCallSecs: index * 3,
    }));
    const event = aiConversationFromFixture('inbound_sip', { transcript: turns });
    await harness.bus.publish(AiConversationCompleted, event);
    await waitWritten(harness);

    const recordId = RecordIds.pbxCall(call.pbx, call.callId);
    const text = description(harness, recordId);
    expect(Buffer.byteLength(text)).toBeLessThan(65_535);
    const notes = harness.simulator.rows('Notes').filter((note) => note.values['parent_id'] === recordId && note.values['parent_type'] === 'Calls');
    expect(notes.length).toBeGreaterThan(5);
    expect(text).toContain(`Transcript: in ${notes.length} linked notes of this call.`);
    const ordered = [...notes].sort((left, right) => Number(/AI transcript (\d+)\//.exec(left.values['name'] ?? '')?.[1]) - Number(/AI transcript (\d+)\//.exec(right.values['name'] ?? '')?.[1]));
    const transcript = ordered.map((note) => note.values['description'] ?? '').join('');
    expect(transcript.split('\n')).toHaveLength(1200);
    expect(transcript).toContain('[59:57] Caller: Turn 1199: the caller explains');
    for (const note of notes) {
      expect(Buffer.byteLength(note.values['description'] ?? '')).toBeLessThanOrEqual(20_000);
      expect(note.values['contact_id']).toBe(RENEE);
    }
  });

  it('keeps markers and emoji of a transcript readable after SuiteCRM saves it', async () => {
    const harness = await harnessWith();
    const call = await logPbxCall(harness);
    const event = aiConversationFromFixture('inbound_sip', {
      transcript: [
        { role: 'user', message: 'hello <inaudible> my email is <jane@example.com> 😀', timeInCallSecs: 1 },
        { role: 'agent', message: 'noted &lt;tag&gt; & done', timeInCallSecs: 5 },
      ],
    });
    await harness.bus.publish(AiConversationCompleted, event);
    await waitWritten(harness);
    const text = description(harness, RecordIds.pbxCall(call.pbx, call.callId));
    expect(text).toContain('[00:01] Caller: hello ‹inaudible› my email is ‹jane@example.com› \ufffd');
    expect(text).toContain('[00:05] AI agent: noted ＆lt;tag＆gt; & done');
    expect(text).not.toContain('????');
  });

  it('logs a failed AI call as a Not Held outbound call', async () => {
    const harness = await harnessWith();
    const event = {
      v: 1 as const,
      id: 'ai.call.failed:conv_0901kcti0fx7fail0busy0sip0f6',
      type: 'ai.call.failed' as const,
      conversationId: 'conv_0901kcti0fx7fail0busy0sip0f6',
      agentId: 'agent_4801kcti0fx7demo9pbx2crm0aa',
      eventAt: new Date().toISOString(),
      receivedAt: new Date().toISOString(),
      failureReason: 'busy',
      fromNumber: '+14155550101',
      toNumber: '+14155550163',
      sipStatusCode: 486,
      providerType: 'sip',
      callSid: '7c1e4b2a-93d0-4f65-a8b7-0e2d5c9f1a36',
    };
    await harness.bus.publish(AiCallFailed, event);
    const recordId = RecordIds.aiFailure(event.conversationId);
    const row = await waitFor(() => harness.simulator.rows('Calls').find((candidate) => candidate.id === recordId), 'the failed call logged');
    expect(row.values).toMatchObject({ name: 'Failed AI call to Dana Whitfield', direction: 'Outbound', status: 'Not Held', duration_minutes: '0', parent_type: 'Leads' });
    expect(row.values['description']).toContain('could not be set up: busy');
    expect(row.values['description']).toContain('SIP status: 486');
    expect(harness.simulator.relationRows('calls_leads').filter((relation) => relation.left === recordId)).toHaveLength(1);
  });
});
