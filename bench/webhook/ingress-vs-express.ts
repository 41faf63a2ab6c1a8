// Measures signed post_call_transcription deliveries per second and p99 latency of
// webhook-ingress, each accepted only after a durable JetStream ack, side by side with a minimal
// Express 4 receiver that verifies the same HMAC, parses the JSON and stores nothing. The same
// receiver on node:http alone is measured too, as a reference for what Node.js itself costs.
//
//   node --conditions=source --import tsx bench/webhook/ingress-vs-express.ts
//
// BENCH_CONNECTIONS (50), BENCH_DURATION_SECONDS (10), BENCH_WARMUP_SECONDS (3) and
// BENCH_ROUNDS (3) change the run. BENCH_PROFILE_DIR writes a V8 CPU profile of webhook-ingress
// there, and BENCH_COMPARE_TREE names another installed checkout whose webhook-ingress is
// measured in the same run. Everything runs on 127.0.0.1: a private nats-server per
// webhook-ingress, the services (src/main.ts) and the two reference receivers as child processes, and
// autocannon in this process. Each round measures every receiver, starting with a different
// one, and the summary is the median of the rounds.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { startNatsServer, waitFor } from '@cti/testing';
import { signPayload } from '@cti/webhook-ingress';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import autocannon from 'autocannon';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const SECRET = 'whsec_bench_secret_0b9d6c';
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? '50');
const DURATION_SECONDS = Number(process.env['BENCH_DURATION_SECONDS'] ?? '10');
const WARMUP_SECONDS = Number(process.env['BENCH_WARMUP_SECONDS'] ?? '3');
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? '3');
const TARGET_RATIO = 1.2;
const TARGET_P99_MS = 30;
const profileDirectory = process.env['BENCH_PROFILE_DIR'];
const compareTree = process.env['BENCH_COMPARE_TREE'];

// Every delivery is the inbound transcription fixture with its own conversation id, so each one
// is a new event that JetStream must store, not a duplicate it can drop. Both receivers get the
// same bodies, each signed when it is sent, with the current time.
const FIXTURE_CONVERSATION = 'conv_0901kcti0fx7inb0und00sip0d4';
const templateParts = readFileSync(join(root, 'testdata/elevenlabs/post_call_transcription.inbound_sip.json'), 'utf8').split(FIXTURE_CONVERSATION);
let deliveryCounter = 0;

function nextDelivery(): { body: string; signature: string } {
  deliveryCounter += 1;
  const body = templateParts.join(`conv_bench_${process.pid}_${deliveryCounter}`);
  return { body, signature: signPayload(body, SECRET, Math.floor(Date.now() / 1000)) };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function startChild(
  script: string,
  environment: Record<string, string>,
  stdout: 'pipe' | 'ignore',
  options: { nodeFlags?: string[]; cwd?: string } = {},
): ChildProcess {
  return spawn(process.execPath, [...(options.nodeFlags ?? []), '--conditions=source', '--import', 'tsx', script], {
    cwd: options.cwd ?? root,
    env: { PATH: process.env['PATH'] ?? '', ...environment },
    stdio: ['ignore', stdout, 'inherit'],
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** CPU seconds (user and system, all threads) a process has used, from /proc, or NaN without /proc. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) {
    return Number.NaN;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime count in USER_HZ ticks, 100 per second on Linux.
    const clockTicksPerSecond = 100;
    return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond;
  } catch {
    return Number.NaN;
  }
}

interface Measurement {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  ok: number;
  failed: number;
  /** CPU time per request, in µs, of the receiver, its nats-server and this process (the sender). */
  cpu: { receiver: number; nats: number; sender: number };
}

async function load(url: string, seconds: number, pids: { receiver: number | undefined; nats: number | undefined }): Promise<Measurement> {
  const before = [cpuSeconds(pids.receiver), cpuSeconds(pids.nats), cpuSeconds(process.pid)];
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    requests: [
      {
        setupRequest: (request) => {
          const delivery = nextDelivery();
          return { ...request, body: delivery.body, headers: { ...request.headers, 'elevenlabs-signature': delivery.signature } };
        },
      },
    ],
  });
  const after = [cpuSeconds(pids.receiver), cpuSeconds(pids.nats), cpuSeconds(process.pid)];
  const requests = Math.max(1, result.requests.total);
  const perRequest = (index: number) => (((after[index] ?? 0) - (before[index] ?? 0)) * 1e6) / requests;
  return {
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    ok: result['2xx'],
    failed: result.non2xx + result.errors + result.timeouts,
    cpu: { receiver: perRequest(0), nats: perRequest(1), sender: perRequest(2) },
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? Number.NaN) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

const microseconds = (value: number) => (Number.isNaN(value) ? 'n/a' : value.toFixed(0));

function row(round: number, name: string, measurement: Measurement): string {
  const { cpu } = measurement;
  return `| ${String(round).padStart(5)} | ${name.padEnd(17)} | ${measurement.requestsPerSecond.toFixed(0).padStart(6)} | ${measurement.p50.toFixed(1).padStart(6)} | ${measurement.p99.toFixed(1).padStart(6)} | ${String(measurement.ok).padStart(6)} | ${String(measurement.failed).padStart(6)} | ${microseconds(cpu.receiver).padStart(8)} | ${microseconds(cpu.nats).padStart(5)} | ${microseconds(cpu.sender).padStart(6)} |`;
}

interface Receiver {
  name: string;
  url: string;
  pids: { receiver: number | undefined; nats: number | undefined };
  /** Messages in a stream of the receiver's own nats-server. Express has no nats-server. */
  storedMessages?: (stream: 'AI' | 'AUDIT') => Promise<number>;
  measurements: Measurement[];
}

/**
 * Starts webhook-ingress from the checkout `tree` (this one by default) against its own
 * nats-server, so two versions measured in one run do not share a store.
 */
async function startIngress(name: string, tree: string, cleanup: (() => Promise<void>)[]): Promise<Receiver> {
  const nats = await startNatsServer();
  cleanup.push(() => nats.dispose());
  const port = await freePort();
  const child = startChild(
    'services/webhook-ingress/src/main.ts',
    {
      NATS_URL: nats.url,
      WEBHOOK_HTTP_HOST: '127.0.0.1',
      WEBHOOK_HTTP_PORT: String(port),
      ELEVENLABS_WEBHOOK_SECRETS: SECRET,
      // The benchmark is one source sending far more than ElevenLabs would.
      WEBHOOK_RATE_LIMIT_MAX: '100000000',
      LOG_LEVEL: 'info',
    },
    'ignore',
    { cwd: tree, nodeFlags: profileDirectory === undefined || tree !== root ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDirectory}`] },
  );
  cleanup.push(() => stopChild(child));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, `${name} to be ready`, { timeoutMs: 30_000 });

  const connection = await connect({ servers: nats.url });
  cleanup.push(() => connection.close());
  const jsm = await jetstreamManager(connection);
  return {
    name,
    url: `${url}/webhooks/elevenlabs`,
    pids: { receiver: child.pid, nats: nats.pid },
    storedMessages: async (stream) => (await jsm.streams.info(stream)).state.messages,
    measurements: [],
  };
}

/** Starts a receiver that stores nothing (Express, or node:http alone), which prints its port. */
async function startReference(name: string, script: string, cleanup: (() => Promise<void>)[]): Promise<Receiver> {
  const child = startChild(script, { BENCH_SECRET: SECRET }, 'pipe');
  cleanup.push(() => stopChild(child));
  const port = await new Promise<number>((resolve) => {
    child.stdout?.once('data', (chunk: Buffer) => resolve((JSON.parse(chunk.toString('utf8')) as { port: number }).port));
  });
  return { name, url: `http://127.0.0.1:${port}/webhooks/elevenlabs`, pids: { receiver: child.pid, nats: undefined }, measurements: [] };
}

function summarize(ingress: Receiver, express: Receiver, stored: number, audited: number, isTarget: boolean): void {
  const ratios = ingress.measurements.map((measurement, index) => measurement.requestsPerSecond / (express.measurements[index]?.requestsPerSecond ?? Number.NaN));
  const ratio = median(ratios);
  const p99 = median(ingress.measurements.map((measurement) => measurement.p99));
  const served = ingress.measurements.reduce((sum, measurement) => sum + measurement.ok, 0);
  const completed = ingress.measurements.reduce((sum, measurement) => sum + measurement.ok + measurement.failed, 0);
  console.log('');
  console.log(`${ingress.name}: req/s ratio to Express per round ${ratios.map((value) => value.toFixed(2)).join(', ')}, median ${ratio.toFixed(2)}x`);
  console.log(`  median req/s ${median(ingress.measurements.map((measurement) => measurement.requestsPerSecond)).toFixed(0)}, median p99 ${p99.toFixed(1)} ms`);
  console.log(`  durably stored in the AI stream: ${stored} messages for ${served} responses 200 (deliveries in flight when a phase ended are stored too)`);
  console.log(`  audit events stored: ${audited} for ${completed} completed requests`);
  if (isTarget) {
    console.log(`  target req/s >= ${TARGET_RATIO}x Express: ${ratio >= TARGET_RATIO ? 'met' : 'missed'} (${ratio.toFixed(2)}x)`);
    console.log(`  target p99 < ${TARGET_P99_MS} ms: ${p99 < TARGET_P99_MS ? 'met' : 'missed'} (${p99.toFixed(1)} ms)`);
  }
}

async function main(): Promise<void> {
  const cleanup: (() => Promise<void>)[] = [];
  try {
    const ingress = await startIngress('webhook-ingress', root, cleanup);
    const express = await startReference('Express 4', 'bench/webhook/express-receiver.ts', cleanup);
    const node = await startReference('node:http alone', 'bench/webhook/node-receiver.ts', cleanup);
    const receivers = [express, ingress, node];
    if (compareTree !== undefined) {
      receivers.push(await startIngress('compared ingress', compareTree, cleanup));
    }

    console.log(`warming up every receiver for ${WARMUP_SECONDS} s`);
    for (const receiver of receivers) {
      await load(receiver.url, WARMUP_SECONDS, receiver.pids);
    }

    const before = new Map<Receiver, { ai: number; audit: number }>();
    for (const receiver of receivers) {
      if (receiver.storedMessages !== undefined) {
        before.set(receiver, { ai: await receiver.storedMessages('AI'), audit: await receiver.storedMessages('AUDIT') });
      }
    }
    console.log(`measuring ${ROUNDS} rounds of ${DURATION_SECONDS} s per receiver at ${CONNECTIONS} concurrent senders`);
    console.log('CPU columns: µs of CPU per request of the receiver, of its nats-server and of the sender (autocannon and signing)');
    console.log('');
    console.log(`| round | ${'receiver'.padEnd(17)} |  req/s | p50 ms | p99 ms |    2xx | failed | CPU recv |  nats | sender |`);
    console.log(`| ----: | ${'-'.repeat(17)} | -----: | -----: | -----: | -----: | -----: | -------: | ----: | -----: |`);
    for (let round = 1; round <= ROUNDS; round += 1) {
      // Each round starts with the next receiver, so a neighbour's burst or the order itself
      // does not favour one side.
      const shift = (round - 1) % receivers.length;
      for (const receiver of [...receivers.slice(shift), ...receivers.slice(0, shift)]) {
        const measurement = await load(receiver.url, DURATION_SECONDS, receiver.pids);
        receiver.measurements.push(measurement);
        console.log(row(round, receiver.name, measurement));
      }
    }

    // Audit events are published after the response, so the last ones may still be on their way.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const nodeRatios = node.measurements.map((measurement, index) => measurement.requestsPerSecond / (express.measurements[index]?.requestsPerSecond ?? Number.NaN));
    console.log('');
    console.log(`${node.name} (reference, stores nothing): req/s ratio to Express per round ${nodeRatios.map((value) => value.toFixed(2)).join(', ')}, median ${median(nodeRatios).toFixed(2)}x`);
    for (const receiver of receivers) {
      const counts = before.get(receiver);
      if (receiver.storedMessages !== undefined && counts !== undefined) {
        const stored = (await receiver.storedMessages('AI')) - counts.ai;
        const audited = (await receiver.storedMessages('AUDIT')) - counts.audit;
        summarize(receiver, express, stored, audited, receiver === ingress);
      }
    }
  } finally {
    for (const step of cleanup.reverse()) {
      await step();
    }
  }
}

await main();
