// Measures signed post_call_transcription deliveries per second and p99 latency of
// webhook-ingress, each accepted only after a durable JetStream ack, side by side with a minimal
// Express 4 receiver that verifies the same HMAC, parses the JSON and stores nothing.
//
//   node --conditions=source --import tsx bench/webhook/ingress-vs-express.ts
//
// BENCH_CONNECTIONS (50), BENCH_DURATION_SECONDS (10) and BENCH_WARMUP_SECONDS (3) change the
// run; BENCH_PROFILE_DIR writes a V8 CPU profile of webhook-ingress there. Everything runs on 127.0.0.1: a private nats-server, the real service (src/main.ts) and
// the Express receiver as child processes, and autocannon in this process.
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
const TARGET_RATIO = 1.2;
const TARGET_P99_MS = 30;
const profileDirectory = process.env['BENCH_PROFILE_DIR'];

// Every delivery is the inbound transcription fixture with its own conversation id, so each one
// is a new event that JetStream must store, not a duplicate it can drop.
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

function startChild(script: string, environment: Record<string, string>, stdout: 'pipe' | 'ignore', nodeFlags: string[] = []): ChildProcess {
  return spawn(process.execPath, [...nodeFlags, '--conditions=source', '--import', 'tsx', script], {
    cwd: root,
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

interface Measurement {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  ok: number;
  failed: number;
}

async function load(url: string, seconds: number): Promise<Measurement> {
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
  return {
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    ok: result['2xx'],
    failed: result.non2xx + result.errors + result.timeouts,
  };
}

async function main(): Promise<void> {
  const nats = await startNatsServer();
  const children: ChildProcess[] = [];
  try {
    const ingressPort = await freePort();
    children.push(
      startChild(
        'services/webhook-ingress/src/main.ts',
        {
          NATS_URL: nats.url,
          WEBHOOK_HTTP_HOST: '127.0.0.1',
          WEBHOOK_HTTP_PORT: String(ingressPort),
          ELEVENLABS_WEBHOOK_SECRETS: SECRET,
          // The benchmark is one source sending far more than ElevenLabs would.
          WEBHOOK_RATE_LIMIT_MAX: '100000000',
          LOG_LEVEL: 'info',
        },
        'ignore',
        profileDirectory === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDirectory}`],
      ),
    );
    const ingressUrl = `http://127.0.0.1:${ingressPort}`;
    await waitFor(async () => (await fetch(`${ingressUrl}/readyz`)).status === 200, 'webhook-ingress to be ready', { timeoutMs: 30_000 });

    const express = startChild('bench/webhook/express-receiver.ts', { BENCH_SECRET: SECRET }, 'pipe');
    children.push(express);
    const expressPort = await new Promise<number>((resolve) => {
      express.stdout?.once('data', (chunk: Buffer) => resolve((JSON.parse(chunk.toString('utf8')) as { port: number }).port));
    });
    const expressUrl = `http://127.0.0.1:${expressPort}`;

    const connection = await connect({ servers: nats.url });
    const jsm = await jetstreamManager(connection);
    const storedMessages = async () => (await jsm.streams.info('AI')).state.messages;

    console.log(`warming up both receivers for ${WARMUP_SECONDS} s each`);
    await load(`${expressUrl}/webhooks/elevenlabs`, WARMUP_SECONDS);
    await load(`${ingressUrl}/webhooks/elevenlabs`, WARMUP_SECONDS);

    console.log(`measuring ${DURATION_SECONDS} s each at ${CONNECTIONS} concurrent senders`);
    const baseline = await load(`${expressUrl}/webhooks/elevenlabs`, DURATION_SECONDS);
    const storedBefore = await storedMessages();
    const ours = await load(`${ingressUrl}/webhooks/elevenlabs`, DURATION_SECONDS);
    const stored = (await storedMessages()) - storedBefore;
    await connection.close();

    const ratio = ours.requestsPerSecond / baseline.requestsPerSecond;
    const row = (name: string, measurement: Measurement) =>
      `| ${name.padEnd(34)} | ${measurement.requestsPerSecond.toFixed(0).padStart(7)} | ${measurement.p50.toFixed(1).padStart(6)} | ${measurement.p99.toFixed(1).padStart(6)} | ${String(measurement.ok).padStart(7)} | ${String(measurement.failed).padStart(6)} |`;
    console.log('');
    console.log(`| ${'receiver'.padEnd(34)} |   req/s | p50 ms | p99 ms |    2xx  | failed |`);
    console.log(`| ${'-'.repeat(34)} | ------: | -----: | -----: | ------: | -----: |`);
    console.log(row('webhook-ingress (JetStream ack)', ours));
    console.log(row('Express 4 (verify + parse, no store)', baseline));
    console.log(`| ${'ratio ingress / Express'.padEnd(34)} | ${ratio.toFixed(2).padStart(6)}x | ${(ours.p50 / baseline.p50).toFixed(2).padStart(5)}x | ${(ours.p99 / baseline.p99).toFixed(2).padStart(5)}x |         |        |`);
    console.log('');
    console.log(`durably stored in the AI stream: ${stored} messages for ${ours.ok} responses 200`);
    console.log(`target req/s >= ${TARGET_RATIO}x Express: ${ratio >= TARGET_RATIO ? 'met' : 'missed'} (${ratio.toFixed(2)}x)`);
    console.log(`target p99 < ${TARGET_P99_MS} ms: ${ours.p99 < TARGET_P99_MS ? 'met' : 'missed'} (${ours.p99.toFixed(1)} ms)`);
  } finally {
    for (const child of children) {
      await stopChild(child);
    }
    await nats.dispose();
  }
}

await main();
