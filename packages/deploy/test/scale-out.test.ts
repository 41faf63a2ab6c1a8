import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { DEFAULT_CALL_MODEL, normalizeAmi } from '@cti/ami-bridge';
import { waitFor } from '@cti/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AgentSocket } from './agent-socket.js';
import { CAPTURES, PBX, startDeployment, storedMessages, type Deployment } from './deployment.js';

// Two replicas of every service on one nats-server, with the deployment's NATS permissions, the
// replay PBX and the SuiteCRM simulator. The services start before the setup job and wait for
// the streams it creates. Both ami-bridges log in to the PBX and publish every event; both
// crm-syncs share the durable consumers; the agents are spread over both gateways.

/**
 * The recorded calls, as testdata/ami/README.md describes them: who rang and who answered. The
 * busy and the abandoned call were answered by nobody.
 */
const RecordedCalls = [
  { capture: 'inbound-answered', linkedid: '1796412664.10', rang: ['101'], answeredBy: ['101'] },
  { capture: 'concurrent-inbound', linkedid: '1796416190.33', rang: ['101'], answeredBy: ['101'] },
  { capture: 'concurrent-inbound', linkedid: '1796416191.35', rang: ['102'], answeredBy: ['102'] },
  { capture: 'ringgroup', linkedid: '1796412732.20', rang: ['101', '102', '103'], answeredBy: ['102'] },
  { capture: 'queue', linkedid: '1796412741.30', rang: ['101', '102'], answeredBy: ['101'] },
  // 101 answers, then blind-transfers the caller to 102, who answers.
  { capture: 'blind-transfer', linkedid: '1796413573.15', rang: ['101', '102'], answeredBy: ['101', '102'] },
  { capture: 'inbound-busy', linkedid: '1796412688.14', rang: ['101'], answeredBy: [] },
  { capture: 'queue-abandon', linkedid: '1796413213.8', rang: ['101', '102'], answeredBy: [] },
] as const;

const captures = [...new Set(RecordedCalls.map((call) => call.capture))];

/** The call events ami-bridge makes of the captures, as its own call model computes them offline. */
const expectedCallEvents = captures.flatMap((name) => normalizeAmi(readFileSync(join(CAPTURES, `${name}.ami`)), { ...DEFAULT_CALL_MODEL, pbx: PBX }, 0));

let deployment: Deployment;
const agents: AgentSocket[] = [];

beforeAll(async () => {
  deployment = await startDeployment({ replicas: 2, captures: captures.map((name) => `${name}.jsonl`), timing: 'fast', setup: 'after' });
  const [first, second] = deployment.gateways as [string, string];
  await deployment.step('connecting the agents', async () => {
    // Anna has the console open twice, once on each gateway; Ben and Cara are on one each.
    agents.push(await AgentSocket.open(first, deployment.apiKey, { agentId: 'anna', pbx: PBX, extension: '101' }));
    agents.push(await AgentSocket.open(second, deployment.apiKey, { agentId: 'anna', pbx: PBX, extension: '101' }));
    agents.push(await AgentSocket.open(second, deployment.apiKey, { agentId: 'ben', pbx: PBX, extension: '102' }));
    agents.push(await AgentSocket.open(first, deployment.apiKey, { agentId: 'cara', pbx: PBX, extension: '103' }));
  });
  await deployment.startBridges();
}, 180_000);

afterAll(async () => {
  for (const agent of agents) {
    agent.close();
  }
  await deployment?.close();
});

function rowsOf(linkedid: string) {
  return deployment.crm.rows('Calls').filter((row) => !row.deleted && (row.values['description'] ?? '').includes(`PBX call: ${PBX}/${linkedid}`));
}

describe('two replicas of each service', () => {
  it('store every call event once', async () => {
    const stored = await deployment.step('the call events', () =>
      waitFor(
        async () => {
          const events = (await storedMessages<{ id: string; type: string }>(deployment.cli, 'CALLS', 'call.')).filter(({ message }) => message.type !== 'call.missed');
          return events.length >= expectedCallEvents.length ? events : undefined;
        },
        `${expectedCallEvents.length} call events`,
        { timeoutMs: 30_000 },
      ),
    );
    expect(stored.map(({ message }) => message.id).sort()).toEqual(expectedCallEvents.map((event) => event.id).sort());
    // Both bridges published every event; the stream's duplicate window kept one of each.
    const published = deployment.processes.filter((running) => running.name.startsWith('ami-bridge')).map((running) => running.lines().some((line) => line.msg === 'ami logged in'));
    expect(published).toEqual([true, true]);
  });

  it('log every call once in SuiteCRM', async () => {
    await deployment.step('the Calls records', () =>
      waitFor(() => RecordedCalls.every((call) => rowsOf(call.linkedid).length > 0), 'a Calls record for every call', { timeoutMs: 30_000 }),
    );
    for (const call of RecordedCalls) {
      const rows = rowsOf(call.linkedid);
      expect(rows, call.linkedid).toHaveLength(1);
      expect(rows[0]?.values['status'], call.linkedid).toBe(call.answeredBy.length > 0 ? 'Held' : 'Not Held');
    }
    const logged = await waitFor(async () => {
      const messages = await storedMessages<{ callId: string }>(deployment.cli, 'CRM', 'crm.call.logged.');
      return messages.length >= RecordedCalls.length ? messages : undefined;
    }, 'crm.call.logged of every call');
    expect(logged.map(({ message }) => message.callId).sort()).toEqual(RecordedCalls.map((call) => call.linkedid).sort());
    // One create request per call: the two crm-syncs never both worked on the same call.
    expect(deployment.crm.requests.filter((request) => request.route === 'POST module')).toHaveLength(RecordedCalls.length);
  });

  it('give every agent the events of its extension, on either gateway', async () => {
    // What the agents must get: everything CALLS and CRM stored under their extension.
    const expectedFor = async (extension: string) => {
      const stored = [
        ...(await storedMessages(deployment.cli, 'CALLS')).map((entry) => ({ ...entry, stream: 'CALLS' })),
        ...(await storedMessages(deployment.cli, 'CRM')).map((entry) => ({ ...entry, stream: 'CRM' })),
      ];
      return stored.filter(({ subject }) => subject.endsWith(`.${PBX}.${extension}`)).map(({ stream, seq }) => `${stream}:${seq}`);
    };
    // The missed-call notices crm-sync sends for the abandoned call come last.
    await deployment.step('the missed-call notices', () =>
      waitFor(
        async () => (await storedMessages(deployment.cli, 'CALLS', 'call.missed.')).length >= 2 || undefined,
        'call.missed for 101 and 102',
        { timeoutMs: 30_000 },
      ),
    );

    for (const agent of agents) {
      const expected = (await expectedFor(agent.extension)).sort();
      const received = await deployment.step(`the events of ${agent.agentId} on ${agent.gateway}`, () =>
        waitFor(
          () => {
            const keys = agent.frames.flatMap((frame) => (frame.type === 'event' ? [`${frame.stream}:${frame.seq}`] : []));
            return keys.length >= expected.length ? keys : undefined;
          },
          `${expected.length} events for ${agent.agentId}`,
          { timeoutMs: 20_000 },
        ),
      );
      expect(received.sort(), `${agent.agentId} on ${agent.gateway}`).toEqual(expected);
    }
  });

  it('ring, pop and report to the agents the recordings name', () => {
    for (const call of RecordedCalls) {
      for (const agent of agents) {
        const { extension } = agent;
        const types = agent.events().flatMap((event) => ('callId' in event && event.callId === call.linkedid ? [event.type] : []));
        const rang = (call.rang as readonly string[]).includes(extension);
        expect(types.includes('call.ringing'), `${call.linkedid} rang ${extension}`).toBe(rang);
        expect(types.includes('crm.caller.identified'), `${call.linkedid} popped on ${extension}`).toBe(rang);
        expect(types.includes('call.answered'), `${call.linkedid} answered by ${extension}`).toBe((call.answeredBy as readonly string[]).includes(extension));
      }
    }
    // The abandoned queue call is reported missed to both agents it rang.
    for (const agent of agents.filter((candidate) => candidate.agentId !== 'cara')) {
      expect(agent.events().some((event) => event.type === 'call.missed' && event.callId === '1796413213.8'), agent.agentId).toBe(true);
    }
  });

  it('subscribe each gateway only to its own agents', async () => {
    const subscribed = await Promise.all(
      deployment.gateways.map(async (gateway) => {
        const metrics = await (await fetch(new URL('/metrics', gateway))).text();
        return Number(/^cti_push_subscribed_extensions\{[^}]*\} (\d+)$/m.exec(metrics)?.[1]);
      }),
    );
    // The first gateway has agents on 101 and 103, the second on 101 and 102.
    expect(subscribed).toEqual([2, 2]);
  });

  it('log no permission violation or NATS error in any process', () => {
    const errors = deployment.natsErrors();
    expect(Object.keys(errors).filter((name) => !name.startsWith('cti '))).toHaveLength(8);
    for (const [name, lines] of Object.entries(errors)) {
      expect(lines.join('\n'), name).toBe('');
    }
  });
});
