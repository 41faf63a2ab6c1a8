import { Bus } from '@cti/bus';
import { AuditEvent, CallAnswered, CallEnded, CallerIdentified, CallHeld, CallMissed, CallResumed, CallRinging, CallSummary, CallTransferred, OriginateResult } from '@cti/contracts';
import { createLogger } from '@cti/logging';
import { startNatsServer, waitFor } from '@cti/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { checkLiveCopies } from '../src/gateway.js';
import { AgentClient } from './client.js';
import * as events from './events.js';
import { Harness, startGatewayInstance, type GatewayInstance } from './harness.js';

describe('per-agent routing', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await Harness.start();
  });

  afterAll(async () => {
    await harness.close();
  });

  it('gives every event kind to its extension only', async () => {
    const agent101 = await harness.connect('anna', ['101']);
    const agent102 = await harness.connect('ben', ['102']);
    const callId = '1796412664.10';
    const leg = { callId, extension: '101' };
    const published = [
      () => harness.publish(CallRinging, events.ringing(leg)),
      () => harness.publish(CallerIdentified, events.identified(leg)),
      () => harness.publish(CallAnswered, events.answered(leg)),
      () => harness.publish(CallHeld, events.held(leg)),
      () => harness.publish(CallResumed, events.resumed(leg)),
      () => harness.publish(CallTransferred, events.transferred(leg)),
      () => harness.publish(CallEnded, events.ended(leg)),
      () => harness.publish(CallMissed, events.missed(leg)),
      () => harness.publish(CallSummary, events.summary(leg)),
      () => harness.publish(OriginateResult, events.originateResult({ ...leg, requestId: 'dial-0001' })),
    ];
    for (const publish of published) {
      await publish();
    }
    // A marker for 102 published after everything else: once it arrives, 102 has had every
    // chance to receive one of 101's frames.
    await harness.publish(CallRinging, events.ringing({ callId: 'marker', extension: '102' }));

    const kinds = [
      'call.ringing',
      'crm.caller.identified',
      'call.answered',
      'call.held',
      'call.resumed',
      'call.transferred',
      'call.ended',
      'call.missed',
      'crm.call.summary',
      'pbx.originate.result',
    ];
    await waitFor(() => agent101.events.length >= kinds.length, 'every event on 101');
    await agent102.waitForEvent('call.ringing', 'marker');

    expect(agent101.events.map((frame) => frame.event.type)).toEqual(kinds);
    expect(agent102.events.map((frame) => frame.event.type)).toEqual(['call.ringing']);
    expect(agent102.events.every((frame) => frame.event.extension === '102')).toBe(true);
  });

  it('sends the ringing frame first and the CRM details in a second frame', async () => {
    const agent = await harness.connect('anna', ['101']);
    const leg = { callId: '1796412700.20', extension: '101' };

    await harness.publish(CallRinging, events.ringing(leg));
    const ringingFrame = await agent.waitForEvent('call.ringing', leg.callId);
    expect(agent.events.some((frame) => frame.event.type === 'crm.caller.identified' && frame.event.callId === leg.callId)).toBe(false);

    await harness.publish(CallerIdentified, events.identified(leg));
    const identifiedFrame = await agent.waitForEvent('crm.caller.identified', leg.callId);
    expect(identifiedFrame.stream).toBe('CRM');
    expect(ringingFrame.stream).toBe('CALLS');
  });

  it('carries the stream sequence on every frame', async () => {
    const agent = await harness.connect('anna', ['101']);
    const leg = { callId: '1796412800.30', extension: '101' };

    const ringingStored = await harness.publish(CallRinging, events.ringing(leg));
    const identifiedStored = await harness.publish(CallerIdentified, events.identified(leg));

    expect((await agent.waitForEvent('call.ringing', leg.callId)).seq).toBe(ringingStored.sequence);
    expect((await agent.waitForEvent('crm.caller.identified', leg.callId)).seq).toBe(identifiedStored.sequence);
  });

  it('audits every screen pop with the agent, the CRM record and a hashed number', async () => {
    const agent = await harness.connect('anna', ['101']);
    const leg = { callId: '1796412900.40', extension: '101' };
    await harness.publish(CallerIdentified, events.identified(leg));
    await agent.waitForEvent('crm.caller.identified', leg.callId);

    const audit = await waitFor(async () => {
      const stored = await harness.publisher.jsm.streams.getMessage('AUDIT', { last_by_subj: 'audit.push-gateway.screen_pop_sent' });
      const entry = stored === null ? undefined : AuditEvent.parse(stored.json());
      return entry?.details?.['callId'] === leg.callId ? entry : undefined;
    }, 'screen pop audit event');
    expect(audit.actor).toEqual({ type: 'agent', id: 'anna' });
    expect(audit.target).toEqual({ type: 'Contacts', id: events.identified(leg).matches[0]?.id });
    expect(audit.numberHash).toMatch(/^h:[0-9a-f]{16}$/);
    expect(JSON.stringify(audit)).not.toContain('5550100001');
  });

  it('subscribes only to the extensions of connected agents', async () => {
    const gateway = harness.instance.gateway;
    const before = gateway.hub.subscribedSubjects().filter((subject) => subject.endsWith('.pbx1.555'));
    expect(before).toEqual([]);

    const agent = await harness.connect('carl', ['555']);
    expect(gateway.hub.subscribedSubjects().filter((subject) => subject.endsWith('.pbx1.555')).sort()).toEqual(
      ['live.call.*.pbx1.555', 'live.crm.*.*.pbx1.555', 'live.pbx.originate.result.pbx1.555'].sort(),
    );
    await agent.close();
    await waitFor(() => !gateway.hub.subscribedSubjects().some((subject) => subject.endsWith('.pbx1.555')), 'subscriptions of 555 dropped');
  });
});

describe('start-up', () => {
  it('fails when a stream does not republish live copies', async () => {
    const nats = await startNatsServer();
    try {
      const bus = await Bus.connect({ natsUrl: nats.url }, { name: 'old-service', logger: createLogger({ service: 'old', level: 'silent' }) });
      try {
        await bus.jsm.streams.add({ name: 'CALLS', subjects: ['call.>', 'pbx.>'] });
        await bus.jsm.streams.add({ name: 'CRM', subjects: ['crm.>'] });
        await expect(startGatewayInstance(nats.url)).rejects.toThrow(/stream CALLS: it exists with another republish setting than live\.>/);
        await expect(checkLiveCopies(bus)).rejects.toMatchObject({ code: 'CTI_ERR_PUSH_LIVE_COPIES_MISSING' });
      } finally {
        await bus.drain();
      }
    } finally {
      await nats.dispose();
    }
  });
});

describe('replicas', () => {
  let harness: Harness;
  let second: GatewayInstance;

  beforeAll(async () => {
    harness = await Harness.start();
    second = await startGatewayInstance(harness.nats.url);
  });

  afterAll(async () => {
    await second.close();
    await harness.close();
  });

  it('each carry only their own agents share', async () => {
    const onFirst = await harness.connect('anna', ['101']);
    const token = await harness.token('ben', ['102']);
    const onSecond = await AgentClient.open(second.gateway.url, { token });
    harness.clients.push(onSecond);
    await onSecond.synced();

    expect(harness.instance.gateway.hub.subscribedSubjects().some((subject) => subject.endsWith('.102'))).toBe(false);
    expect(second.gateway.hub.subscribedSubjects().some((subject) => subject.endsWith('.101'))).toBe(false);

    await harness.publish(CallRinging, events.ringing({ callId: 'r-101', extension: '101' }));
    await harness.publish(CallRinging, events.ringing({ callId: 'r-102', extension: '102' }));
    await onFirst.waitForEvent('call.ringing', 'r-101');
    await onSecond.waitForEvent('call.ringing', 'r-102');
    expect(onFirst.events.map((frame) => frame.event.extension)).toEqual(['101']);
    expect(onSecond.events.map((frame) => frame.event.extension)).toEqual(['102']);
  });
});
