// AMI benchmark: parse speed of the protocol layer against two npm AMI libraries, parse and
// normalize speed of the call model, and resident memory over a long replay.
//
//   node --conditions=source --import tsx bench/ami/ami.ts                   # smoke run, about a minute
//   node --conditions=source --import tsx bench/ami/ami.ts --rss-seconds 600 # the 10-minute memory run
//
// Options: --repeat N (copies of the load capture per parse run, default 20), --runs N (best of
// N per client, default 3), --rss-seconds N (length of the replay, default 30).
import { fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { AmiClient, AmiFramer, type AmiMessage } from '@cti/ami';
import { createTracker, DEFAULT_CALL_MODEL } from '@cti/ami-bridge';
import { createLogger } from '@cti/logging';
import { IdRewriter, loadCapture, unsolicitedEvents } from '@cti/pbx-replay';

const root = join(import.meta.dirname, '../..');
const capture = join(root, 'testdata/ami/load.ami');
const require = createRequire(import.meta.url);
const logger = createLogger({ service: 'bench', level: 'silent' });

const { values } = parseArgs({
  options: {
    repeat: { type: 'string', default: '20' },
    runs: { type: 'string', default: '3' },
    'rss-seconds': { type: 'string', default: '30' },
  },
});
const repeat = Number(values.repeat);
const runs = Number(values.runs);
const rssSeconds = Number(values['rss-seconds']);

interface Blast {
  port: number;
  events: number;
  sameRead: number;
  stop: () => void;
}

async function startBlastServer(): Promise<Blast> {
  const child = fork(join(import.meta.dirname, 'blast-server.ts'), [capture, String(repeat), '50'], {
    execArgv: ['--conditions=source', '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const [message] = (await once(child, 'message')) as [{ port: number; events: number; sameRead: number }];
  return { ...message, stop: () => child.kill() };
}

interface Measured {
  events: number;
  milliseconds: number;
}

/** Runs one client until the marker event; resolves with the events it delivered and the time taken. */
type Client = (port: number) => Promise<Measured>;

const BENCH_DONE = 'BenchDone';

const ours: Client = async (port) => {
  let count = 0;
  let started = 0;
  let finish!: (value: Measured) => void;
  const done = new Promise<Measured>((resolve) => (finish = resolve));
  const client = new AmiClient({
    host: '127.0.0.1',
    port,
    username: 'bench',
    secret: 'bench',
    auth: 'plain',
    logger,
    pingIntervalMs: 0,
    onReady: () => {
      started = performance.now();
    },
    onEvent: (message: AmiMessage) => {
      count += 1;
      if (message.event === 'UserEvent' && message.get('UserEvent') === BENCH_DONE) {
        finish({ events: count, milliseconds: performance.now() - started });
      }
    },
  });
  client.start();
  const result = await done;
  await client.stop();
  return result;
};

// The baseline a plain byte-framed split gives: no values decoded, no ActionID matching.
const plainSplit: Client = async (port) => {
  const socket = connect({ port, host: '127.0.0.1' });
  await once(socket, 'connect');
  socket.write('Action: Login\r\nActionID: 1\r\nUsername: bench\r\nSecret: bench\r\n\r\n');
  let pending = '';
  let count = 0;
  const started = performance.now();
  return new Promise((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      const parts = (pending + chunk.toString('latin1')).split('\r\n\r\n');
      pending = parts.pop() ?? '';
      for (const part of parts) {
        if (part.startsWith('Event:') || part.includes('\nEvent:')) {
          count += 1;
          if (part.endsWith(BENCH_DONE)) {
            socket.destroy();
            resolve({ events: count, milliseconds: performance.now() - started });
          }
        }
      }
    });
  });
};

const asteriskManager: Client = async (port) => {
  const AsteriskManager = require('asterisk-manager') as (port: number, host: string, user: string, secret: string, events: boolean) => NodeJS.EventEmitter & { disconnect: () => void };
  let count = 0;
  const started = performance.now();
  return new Promise((resolve) => {
    const manager = AsteriskManager(port, '127.0.0.1', 'bench', 'bench', true);
    manager.on('managerevent', (event: { event: string; userevent?: string }) => {
      count += 1;
      if (event.userevent === BENCH_DONE) {
        manager.disconnect();
        resolve({ events: count, milliseconds: performance.now() - started });
      }
    });
  });
};

const asteriskAmiClient: Client = async (port) => {
  const AmiClientLibrary = require('asterisk-ami-client') as new (options: object) => NodeJS.EventEmitter & {
    connect: (user: string, secret: string, options: object) => Promise<unknown>;
    disconnect: () => void;
  };
  const client = new AmiClientLibrary({ reconnect: false, keepAlive: false });
  let count = 0;
  let started = 0;
  const done = new Promise<Measured>((resolve) => {
    client.on('event', (event: { UserEvent?: string }) => {
      count += 1;
      if (event.UserEvent === BENCH_DONE) {
        client.disconnect();
        resolve({ events: count, milliseconds: performance.now() - started });
      }
    });
  });
  started = performance.now();
  await client.connect('bench', 'bench', { host: '127.0.0.1', port });
  return done;
};

async function best(client: Client, port: number): Promise<Measured> {
  let fastest: Measured | undefined;
  for (let run = 0; run < runs; run += 1) {
    const measured = await client(port);
    if (fastest === undefined || measured.events / measured.milliseconds > fastest.events / fastest.milliseconds) {
      fastest = measured;
    }
  }
  return fastest as Measured;
}

const rate = (measured: Measured) => (measured.events / measured.milliseconds) * 1000;
const format = (value: number) => Math.round(value).toLocaleString('en-US');

async function parseComparison(): Promise<void> {
  const blast = await startBlastServer();
  try {
    console.log(`\n1. AMI parsing over TCP: load.ami x${repeat} (${format(blast.events)} events), best of ${runs}`);
    console.log(`   the first ${blast.sameRead} events arrive in the same write as the Login response\n`);
    const clients = [
      ['@cti/ami (this project)', ours],
      ['plain split on \\r\\n\\r\\n', plainSplit],
      ['asterisk-manager 0.2.0', asteriskManager],
      ['asterisk-ami-client 1.1.5', asteriskAmiClient],
    ] as const;
    // One unmeasured run each first, so no client pays for the JIT warming up the server.
    for (const [, client] of clients) {
      await client(blast.port);
    }
    const results: [string, Measured][] = [];
    for (const [name, client] of clients) {
      results.push([name, await best(client, blast.port)]);
    }
    const oursRate = rate(results[0]?.[1] as Measured);
    const managerRate = rate(results[2]?.[1] as Measured);
    console.log('   client                          events/s    lost   ours/this');
    for (const [name, measured] of results) {
      console.log(`   ${name.padEnd(30)} ${format(rate(measured)).padStart(9)}  ${String(blast.events - measured.events).padStart(6)}   ${(oursRate / rate(measured)).toFixed(2).padStart(6)}`);
    }
    const ratio = oursRate / managerRate;
    console.log(`\n   target: at least 5x asterisk-manager; measured ${ratio.toFixed(2)}x -> ${ratio >= 5 ? 'met' : 'NOT met'}`);
  } finally {
    blast.stop();
  }
}

/** Copies of the load capture's events with fresh ids, so the model sees distinct calls. */
function freshCopies(copies: number): Buffer[] {
  const events = unsolicitedEvents(loadCapture(capture)).map(({ message }) => message.fields);
  const rewriter = new IdRewriter(true);
  const chunks: Buffer[] = [];
  for (let copy = 0; copy < copies; copy += 1) {
    rewriter.beginReplay();
    let text = '';
    for (const fields of events) {
      const rewritten = rewriter.rewrite(fields);
      for (let index = 0; index < rewritten.length; index += 2) {
        text += `${rewritten[index] as string}: ${rewritten[index + 1] as string}\r\n`;
      }
      text += '\r\n';
    }
    chunks.push(Buffer.from(text, 'latin1'));
  }
  return chunks;
}

function parseAndNormalize(): void {
  const copies = freshCopies(repeat);
  const total = copies.reduce((sum, chunk) => sum + chunk.length, 0);
  let best = 0;
  let events = 0;
  let published = 0;
  for (let run = 0; run < runs; run += 1) {
    let count = 0;
    let emitted = 0;
    const tracker = createTracker(DEFAULT_CALL_MODEL, () => (emitted += 1));
    const framer = new AmiFramer({
      banner: false,
      onMessage: (message) => {
        count += 1;
        tracker.handle(message);
      },
    });
    const started = performance.now();
    for (const chunk of copies) {
      for (let start = 0; start < chunk.length; start += 65_536) {
        framer.push(chunk.subarray(start, start + 65_536), 0);
      }
    }
    const seconds = (performance.now() - started) / 1000;
    best = Math.max(best, count / seconds);
    events = count;
    published = emitted;
  }
  console.log(`\n2. Parse and normalize in one thread: ${format(events)} events (${(total / 1e6).toFixed(1)} MB), ${format(published)} call events out, best of ${runs}`);
  console.log(`   ${format(best)} events/s; target 100,000 -> ${(best / 100_000).toFixed(2)}x, ${best >= 100_000 ? 'met' : 'NOT met'}`);
}

async function residentMemory(): Promise<void> {
  const replay = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', join(root, 'packages/pbx-replay/src/main.ts'), '--capture', join(root, 'testdata/ami/load.jsonl'), '--loop', '--timing', 'fast', '--port', '0'],
    { cwd: root, env: { ...process.env, LOG_LEVEL: 'info', AMI_SECRET: 'bench-secret' }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let output = '';
  const port = await new Promise<number>((resolve) => {
    replay.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const line = output.split('\n').find((text) => text.includes('ami replay server listening'));
      if (line !== undefined) {
        resolve((JSON.parse(line) as { port: number }).port);
      }
    });
  });
  replay.stdout?.removeAllListeners('data');
  replay.stdout?.resume();

  let events = 0;
  let callEvents = 0;
  const tracker = createTracker(DEFAULT_CALL_MODEL, () => (callEvents += 1));
  const client = new AmiClient({
    host: '127.0.0.1',
    port,
    username: 'cti',
    secret: 'bench-secret',
    auth: 'md5',
    logger,
    onEvent: (message) => {
      events += 1;
      tracker.handle(message);
    },
  });
  client.start();
  console.log(`\n3. Resident memory: load.jsonl replayed in a loop at full speed for ${rssSeconds} s, through AmiClient and the call model`);
  const samples: { second: number; rss: number }[] = [];
  const startedAt = performance.now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const second = Math.round((performance.now() - startedAt) / 1000);
      samples.push({ second, rss: process.memoryUsage().rss });
      if (second % Math.max(1, Math.round(rssSeconds / 10)) === 0) {
        console.log(`   ${String(second).padStart(4)} s  rss ${(process.memoryUsage().rss / 1048576).toFixed(1).padStart(6)} MB  events ${format(events).padStart(12)}  calls open ${tracker.activeCalls}`);
      }
      if (second >= rssSeconds) {
        clearInterval(timer);
        resolve();
      }
    }, 1000);
  });
  await client.stop();
  replay.kill();

  // Flat means: the second half of the run grows no more than a tenth of the first-quarter level.
  const settled = samples.filter((sample) => sample.second >= rssSeconds / 4);
  const firstRss = settled[0]?.rss ?? 0;
  const lastRss = settled.at(-1)?.rss ?? 0;
  const peak = Math.max(...settled.map((sample) => sample.rss));
  const growth = (lastRss - firstRss) / firstRss;
  console.log(`   after warm-up ${(firstRss / 1048576).toFixed(1)} MB, at the end ${(lastRss / 1048576).toFixed(1)} MB, peak ${(peak / 1048576).toFixed(1)} MB`);
  console.log(`   ${format(events)} AMI events, ${format(callEvents)} call events; growth ${(growth * 100).toFixed(1)}% -> ${growth <= 0.1 ? 'flat' : 'GROWING'}`);
}

console.log(`AMI benchmark on Node ${process.version}, ${new Date().toISOString()}`);
await parseComparison();
parseAndNormalize();
if (rssSeconds > 0) {
  await residentMemory();
}
process.exit(0);
