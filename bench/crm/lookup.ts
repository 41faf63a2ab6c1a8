// Caller lookup from the phone index against a live SuiteCRM query, side by side.
//   node --conditions=source --import tsx bench/crm/lookup.ts [--contacts 5000] [--rounds 20000] [--live-rounds 200]
// Targets: p99 at most 2 ms from the index, at least 50 times faster than live.
import { parseArgs } from 'node:util';

import { CallerLookupReply, CallerLookupRequest } from '@cti/contracts';
import { liveLookup, normalizePhoneNumber } from '@cti/suitecrm';

import { format, generatedNumber, percentile, startBench } from './setup.js';

const { values } = parseArgs({
  options: {
    contacts: { type: 'string', default: '5000' },
    rounds: { type: 'string', default: '20000' },
    'live-rounds': { type: 'string', default: '200' },
  },
});
const contacts = Number(values.contacts);
const rounds = Number(values.rounds);
const liveRounds = Number(values['live-rounds']);

const setup = await startBench({ contacts });
try {
  await setup.service.sync.fullSync();
  const numbers = Array.from({ length: 1000 }, (_value, index) => generatedNumber((index * 7919) % contacts));

  // Warm-up, then the lookups crm-sync makes in process (call.ringing, RPC handler).
  for (let index = 0; index < 2000; index += 1) {
    await setup.service.lookup.lookup(numbers[index % numbers.length] ?? '');
  }
  const indexTimes: number[] = [];
  for (let index = 0; index < rounds; index += 1) {
    const started = performance.now();
    const result = await setup.service.lookup.lookup(numbers[index % numbers.length] ?? '');
    indexTimes.push(performance.now() - started);
    if (result.status !== 'ok' || result.source !== 'index' || result.matches.length !== 1) {
      throw new Error(`lookup ${index} did not come from the index`);
    }
  }

  // The same through rpc.crm.lookup, as webhook-ingress and the agent console see it.
  const rpcTimes: number[] = [];
  for (let index = 0; index < Math.min(rounds, 5000); index += 1) {
    const started = performance.now();
    await setup.bus.request(CallerLookupRequest, CallerLookupReply, { v: 1, number: numbers[index % numbers.length] ?? '', requestedBy: 'bench' }, 5000);
    rpcTimes.push(performance.now() - started);
  }

  // A live query: what every lookup would cost without the index (three OR queries in parallel).
  const liveTimes: number[] = [];
  const phone = { defaultRegion: 'US' };
  for (let index = 0; index < liveRounds; index += 1) {
    const target = normalizePhoneNumber(numbers[index % numbers.length] ?? '', phone);
    if (target === undefined) {
      throw new Error('number did not parse');
    }
    const started = performance.now();
    await liveLookup(setup.client, target, { phone });
    liveTimes.push(performance.now() - started);
  }

  const summary = (times: number[]) => {
    const sorted = [...times].sort((left, right) => left - right);
    return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
  };
  const indexed = summary(indexTimes);
  const rpc = summary(rpcTimes);
  const live = summary(liveTimes);
  process.stdout.write(`caller lookup, ${contacts + 21} CRM records, simulator latency as recorded (median 17.5 ms per query)\n`);
  const row = (label: string, p50: string, p99: string, note = '') =>
    process.stdout.write(`  ${label.padEnd(24)} p50 ${p50.padStart(10)}   p99 ${p99.padStart(10)}   ${note}\n`);
  row('index, in process', format(indexed.p50), format(indexed.p99), `(${rounds} lookups)`);
  row('index, rpc.crm.lookup', format(rpc.p50), format(rpc.p99), `(${rpcTimes.length} requests over NATS)`);
  row('live query', format(live.p50), format(live.p99), `(${liveRounds} lookups)`);
  row('live / index', `${(live.p50 / indexed.p50).toFixed(0)}x`, `${(live.p99 / indexed.p99).toFixed(0)}x`);
  row('live / rpc', `${(live.p50 / rpc.p50).toFixed(0)}x`, `${(live.p99 / rpc.p99).toFixed(0)}x`);
  process.stdout.write(`  targets: index p99 <= 2 ms ${indexed.p99 <= 2 ? 'met' : 'MISSED'}; >= 50x faster than live ${live.p50 / indexed.p50 >= 50 ? 'met' : 'MISSED'}\n`);
} finally {
  await setup.close();
}
