// Call-logging throughput against the SuiteCRM simulator with the recorded latency (a create
// takes 33 ms, a lookup 17.5 ms), per number of calls logged at once.
//   node --conditions=source --import tsx bench/crm/logging.ts [--calls 200] [--concurrency 1,4,16]
import { parseArgs } from 'node:util';

import { CallCompleted, type CallCompleted as CallCompletedMessage } from '@cti/contracts';

import { startBench } from './setup.js';

const { values } = parseArgs({ options: { calls: { type: 'string', default: '200' }, concurrency: { type: 'string', default: '1,4,16' } } });
const calls = Number(values.calls);
const levels = values.concurrency.split(',').map(Number);

function completed(run: number, index: number): CallCompletedMessage {
  const callId = `${1797000000 + run}.${index}`;
  const startedAt = new Date(Date.now() - 120_000).toISOString();
  return {
    v: 1,
    id: `call.completed:pbx1:${callId}`,
    type: 'call.completed',
    callId,
    pbx: 'pbx1',
    direction: 'inbound',
    // Known and unknown callers alternate, so half the calls need a live lookup.
    caller: { number: index % 2 === 0 ? '+15550100001' : `+1555030${String(index).padStart(4, '0')}` },
    callee: { number: '101' },
    occurredAt: new Date().toISOString(),
    disposition: 'answered',
    ringSeconds: 3,
    talkSeconds: 95,
    hangupBy: 'caller',
    hangupCause: 16,
    startedAt,
    endedAt: new Date().toISOString(),
    extension: '101',
    agents: [{ extension: '101', disposition: 'answered', ringSeconds: 3, talkSeconds: 95 }],
  };
}

process.stdout.write(`call logging, ${calls} calls per run, simulator latency as recorded\n`);
const results: { concurrency: number; perSecond: number }[] = [];
for (const [run, concurrency] of levels.entries()) {
  const setup = await startBench({ contacts: 0, environment: { CRM_CALL_CONCURRENCY: String(concurrency) } });
  try {
    await setup.service.sync.fullSync();
    const started = performance.now();
    for (let index = 0; index < calls; index += 1) {
      await setup.bus.publish(CallCompleted, completed(run, index));
    }
    for (;;) {
      const info = await setup.bus.jsm.streams.info('CRM', { subjects_filter: 'crm.call.logged.>' });
      if (info.state.messages >= calls) {
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const seconds = (performance.now() - started) / 1000;
    const perSecond = calls / seconds;
    results.push({ concurrency, perSecond });
    const records = setup.simulator.rows('Calls').length;
    process.stdout.write(`  concurrency ${String(concurrency).padStart(2)}: ${perSecond.toFixed(1).padStart(7)} calls/s   (${seconds.toFixed(1)} s, ${records} Calls records)\n`);
  } finally {
    await setup.close();
  }
}
const base = results[0]?.perSecond ?? 1;
process.stdout.write(`  speed-up over concurrency ${levels[0]}: ${results.map((result) => `${result.concurrency}: ${(result.perSecond / base).toFixed(1)}x`).join(', ')}\n`);
