// Measures the client CPU one JetStream publish costs, with its acknowledgement awaited, for
// @nats-io/jetstream's `js.publish` and for the bus's PubAckTracker, both with 50 publishes in
// flight against a private nats-server on 127.0.0.1.
//
//   node --conditions=source --import tsx bench/webhook/publish-cpu.ts [--publishes 20000] [--rounds 3]
//
// Both send the same pre-encoded 2 KB message with a fresh Nats-Msg-Id to a file-storage stream.
// The figure is the CPU time of this process (user and system) divided by the publishes. It
// includes the socket writes and reads, but not the work of nats-server.
import { parseArgs } from 'node:util';

import { Bus, PubAckTracker } from '@cti/bus';
import { createLogger } from '@cti/logging';
import { startNatsServer } from '@cti/testing';

const { values: options } = parseArgs({
  options: {
    publishes: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '3' },
  },
});
const PUBLISHES = Number(options.publishes);
const ROUNDS = Number(options.rounds);
const IN_FLIGHT = 50;
const TIMEOUT_MS = 5000;

type PublishOne = (messageId: string) => Promise<unknown>;

async function measure(publish: PublishOne, label: string, round: number): Promise<{ cpuMicroseconds: number; perSecond: number }> {
  let next = 0;
  const startedAt = process.hrtime.bigint();
  const startCpu = process.cpuUsage();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < PUBLISHES) {
        next += 1;
        await publish(`${label}-${round}-${next}`);
      }
    }),
  );
  const cpu = process.cpuUsage(startCpu);
  const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
  return { cpuMicroseconds: (cpu.user + cpu.system) / PUBLISHES, perSecond: PUBLISHES / seconds };
}

const server = await startNatsServer();
const bus = await Bus.connect({ natsUrl: server.url }, { name: 'publish-cpu-bench', logger: createLogger({ service: 'bench', level: 'warn' }) });
try {
  await bus.ensureStreams(['AI']);
  const data = new TextEncoder().encode(JSON.stringify({ text: 'x'.repeat(2048) }));
  const tracker = new PubAckTracker(bus.connection, undefined);
  const methods: [string, PublishOne][] = [
    ['js.publish', (messageId) => bus.js.publish('ai.webhook.unknown', data, { msgID: messageId, timeout: TIMEOUT_MS })],
    ['PubAckTracker', (messageId) => tracker.publish('ai.webhook.unknown', data, { messageId, timeoutMs: TIMEOUT_MS })],
  ];
  console.log(`| round | method        | CPU µs per publish | publishes/s |`);
  console.log(`| ----: | ------------- | -----------------: | ----------: |`);
  for (let round = 1; round <= ROUNDS; round += 1) {
    for (const [label, publish] of round % 2 === 1 ? methods : [...methods].reverse()) {
      const result = await measure(publish, label, round);
      console.log(`| ${String(round).padStart(5)} | ${label.padEnd(13)} | ${result.cpuMicroseconds.toFixed(1).padStart(18)} | ${result.perSecond.toFixed(0).padStart(11)} |`);
    }
  }
} finally {
  await bus.drain();
  await server.dispose();
}
