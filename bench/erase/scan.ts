// Measures how fast `cti erase` searches a stream, against reading it one message at a time.
//   node --conditions=source --import tsx bench/erase/scan.ts [--messages 100000] [--matching 100]
// Target (an estimate for a contact centre's CALLS stream of a few million messages, not a
// measured requirement): the search reads at least 20,000 messages a second, so a 14-day CALLS
// stream of 2 million events takes under two minutes per pass.
import { parseArgs } from 'node:util';

import { Bus } from '@cti/bus';
import { eraseNumber, NumberMatcher } from '@cti/cli';
import { CallRinging, type CallRinging as CallRingingMessage } from '@cti/contracts';
import { createLogger } from '@cti/logging';
import { normalizePhoneNumber } from '@cti/suitecrm';
import { startNatsServer } from '@cti/testing';

const { values } = parseArgs({ options: { messages: { type: 'string', default: '100000' }, matching: { type: 'string', default: '100' } } });
const total = Number(values.messages);
const matching = Number(values.matching);
const TARGET_PER_SECOND = 20_000;

function ringing(index: number, number: string): CallRingingMessage {
  return {
    v: 1,
    id: `bench-${index}`,
    type: 'call.ringing',
    callId: `1796800000.${index}`,
    pbx: 'bench',
    direction: 'inbound',
    caller: { number, name: 'Bench Caller' },
    callee: { number: '101', name: 'Anna Lee' },
    occurredAt: new Date().toISOString(),
    did: '15550100100',
    extension: String(100 + (index % 50)),
    channel: `PJSIP/${100 + (index % 50)}-0000000b`,
  };
}

const server = await startNatsServer();
const bus = await Bus.connect({ natsUrl: server.url }, { name: 'bench', logger: createLogger({ service: 'bench', level: 'silent' }) });
try {
  await bus.ensureStreams(['CALLS', 'CRM', 'AI', 'AUDIT', 'DLQ'], { CALLS: { maxBytes: 4 * 1024 * 1024 * 1024 } });
  const every = Math.max(1, Math.floor(total / Math.max(1, matching)));
  const pending: Promise<unknown>[] = [];
  for (let index = 0; index < total; index += 1) {
    const number = index % every === 0 ? '+15550100001' : `+1555${String(2000000 + index).padStart(7, '0')}`;
    pending.push(bus.publish(CallRinging, ringing(index, number)));
    if (pending.length >= 1000) {
      await Promise.all(pending.splice(0));
    }
  }
  await Promise.all(pending);

  const phone = { defaultRegion: 'US' };
  const target = normalizePhoneNumber('+15550100001', phone);
  if (target === undefined) {
    throw new Error('target number did not parse');
  }
  const matcher = new NumberMatcher(target, phone);

  let started = performance.now();
  const report = await eraseNumber({ js: bus.js, jsm: bus.jsm, matcher, dryRun: true });
  const eraseMs = performance.now() - started;
  const calls = report.streams.find((stream) => stream.stream === 'CALLS');

  // The slow way: one direct get per sequence, as a naive tool would read the stream.
  const sample = Math.min(total, 10_000);
  started = performance.now();
  for (let seq = 1; seq <= sample; seq += 1) {
    await bus.jsm.streams.getMessage('CALLS', { seq });
  }
  const getPerSecond = sample / ((performance.now() - started) / 1000);
  // A dry run reads CALLS twice (the number, then the linked calls); the other streams are empty.
  const scanPerSecond = (2 * total) / (eraseMs / 1000);

  process.stdout.write(`erase search over ${total} call events, ${calls?.withNumber ?? 0} with the number, ${calls?.linked ?? 0} linked\n`);
  process.stdout.write(`  dry run, every stream   ${(eraseMs / 1000).toFixed(2)} s   ${Math.round(scanPerSecond)} messages/s read\n`);
  process.stdout.write(`  one get per message     ${Math.round(getPerSecond)} messages/s (first ${sample})\n`);
  process.stdout.write(`  ordered scan / get      ${(scanPerSecond / getPerSecond).toFixed(1)}x\n`);
  process.stdout.write(`  target ${TARGET_PER_SECOND} messages/s: ratio ${(TARGET_PER_SECOND / scanPerSecond).toFixed(2)} (below 1.00 meets it)\n`);
} finally {
  await bus.drain();
  await server.dispose();
}
