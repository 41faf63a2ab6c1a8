/**
 * Push gateway benchmark: ringing-to-frame latency with N agents connected at increasing call
 * rates, resident memory per connected agent, and the most agents one gateway holds.
 *
 *   node --conditions=source --import tsx bench/push/gateway.ts            # full run
 *   node --conditions=source --import tsx bench/push/gateway.ts --quick    # smoke run
 *
 * The gateway and ami-bridge run as their own processes (their built dist/ when present, else
 * their sources through tsx), so the gateway's resident memory is its own. A benchmark PBX
 * (ami-feed.ts) plays one call of the recorded load run at each rate, every copy rung at a
 * random connected agent's extension. Latency runs from the moment the AMI event that rings the
 * agent leaves the PBX's socket to the call.ringing frame's arrival at that agent's socket: AMI
 * parsing, the call model, the JetStream publish and the gateway's routing are all inside it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { Bus } from '@cti/bus';
import { createLogger } from '@cti/logging';
import { AgentTokenKeys, mintAgentToken } from '@cti/push-gateway/tokens';
import { startNatsServer, waitFor } from '@cti/testing';
import WebSocket from 'ws';

import { BenchPbx, loadCallTemplate, renderCall, type CallTemplate, type RenderedCall } from './ami-feed.js';
import { measureFloor, percentile } from './floor.js';

const TOKEN_KEY = 'bench-agent-token-key-0123456789abcdef';
const ROOT = join(import.meta.dirname, '../..');
const TARGETS = [
  { agents: 1000, rate: 100, p99Ms: 5 },
  { agents: 10_000, rate: 100, p99Ms: 50 },
];
const MEMORY_TARGET_KB = 30;

const { values: options } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    agents: { type: 'string' },
    rates: { type: 'string' },
    seconds: { type: 'string' },
    'max-agents': { type: 'string' },
  },
});
const quick = options.quick === true;
const agentSteps = (options.agents ?? (quick ? '200,1000' : '1000,10000')).split(',').map(Number);
const rates = (options.rates ?? (quick ? '10,100' : '10,50,100,200')).split(',').map(Number);
const phaseSeconds = Number(options.seconds ?? (quick ? 2 : 10));
const maxAgents = Number(options['max-agents'] ?? (quick ? 2000 : 19_000));

interface Agent {
  socket: WebSocket;
  extension: string;
}

const sentAt = new Map<string, number>();
let latencies: number[] = [];

function rssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  return match === null ? Number.NaN : Number(match[1]);
}

/** Reads one sample of the gateway's own Prometheus metrics (summed over labels). */
async function gatewayMetric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) {
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return total;
}

/** Lets the connect burst finish, then collects garbage, so memory is read in a steady state. */
async function settle(inspectorUrl: string): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 1000));
  await collectGarbage(inspectorUrl);
}

/** The soft limit on open files, which caps sockets per process (gateway and this client alike). */
function openFileLimit(): string {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  return /Max open files\s+(\d+)/.exec(limits)?.[1] ?? 'unknown';
}

/**
 * Runs a full garbage collection in the gateway through its inspector (the process starts with
 * `--inspect` on a free loopback port), so memory is read without garbage still in the heap.
 */
async function collectGarbage(inspectorUrl: string): Promise<void> {
  const socket = new WebSocket(inspectorUrl);
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  await new Promise<void>((resolve) => {
    socket.on('message', (data) => {
      if ((JSON.parse(data.toString()) as { id?: number }).id === 1) {
        resolve();
      }
    });
    socket.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' }));
  });
  socket.close();
}

function startGateway(natsUrl: string): Promise<{ child: ChildProcess; url: string; inspectorUrl: string }> {
  const built = join(ROOT, 'services/push-gateway/dist/main.js');
  const entry = existsSync(built) ? [built] : ['--conditions=source', '--import', 'tsx', join(ROOT, 'services/push-gateway/src/main.ts')];
  const args = ['--inspect=127.0.0.1:0', ...entry];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: {
      ...process.env,
      NATS_URL: natsUrl,
      AGENT_TOKEN_KEY: TOKEN_KEY,
      PHONE_HASH_KEY: 'bench-phone-hash-key-0123',
      PUSH_HTTP_PORT: '0',
      PUSH_MAX_CONNECTIONS: String(maxAgents + 1000),
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let buffered = '';
    let inspectorUrl: string | undefined;
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      inspectorUrl ??= /Debugger listening on (ws:\S+)/.exec(chunk)?.[1];
    });
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (line.includes('push gateway listening')) {
          if (inspectorUrl === undefined) {
            reject(new Error('the gateway printed no inspector address'));
            return;
          }
          resolve({ child, url: (JSON.parse(line) as { url: string }).url, inspectorUrl });
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`gateway exited with ${String(code)} before listening`)));
  });
}

async function connectAgent(url: string, index: number): Promise<Agent> {
  const extension = String(10_000 + index);
  const { token } = await mintAgentToken(new AgentTokenKeys([TOKEN_KEY]), { agentId: `agent-${index}`, extensions: [extension], pbx: 'pbx1', ttlSeconds: 3600 });
  // Spreading the client side over several loopback addresses keeps ephemeral ports in reserve.
  const socket = new WebSocket(`${url.replace('http', 'ws')}/ws`, ['cti.v1', `cti.token.${token}`], { localAddress: `127.0.0.${2 + (index % 50)}` });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no snapshot within 30 s')), 30_000);
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as { type: string; event?: { type: string; callId: string } };
      if (frame.type === 'snapshot') {
        clearTimeout(timer);
        resolve({ socket, extension });
      } else if (frame.type === 'event' && frame.event?.type === 'call.ringing') {
        const started = sentAt.get(frame.event.callId);
        if (started !== undefined) {
          latencies.push(performance.now() - started);
          sentAt.delete(frame.event.callId);
        }
      }
    });
    socket.once('unexpected-response', (_request, response) => {
      clearTimeout(timer);
      reject(new Error(`refused with HTTP ${response.statusCode}`));
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

async function connectMany(url: string, agents: Agent[], target: number): Promise<string | undefined> {
  const concurrency = 100;
  while (agents.length < target) {
    const batch = Math.min(concurrency, target - agents.length);
    const results = await Promise.allSettled(Array.from({ length: batch }, (_, offset) => connectAgent(url, agents.length + offset)));
    for (const result of results) {
      if (result.status === 'fulfilled') {
        agents.push(result.value);
      } else {
        return result.reason instanceof Error ? result.reason.message : String(result.reason);
      }
    }
  }
  return undefined;
}

let callCounter = 0;

async function runPhase(pbx: BenchPbx, template: CallTemplate, agents: Agent[], rate: number): Promise<{ sent: number; received: number; p50: number; p99: number; max: number }> {
  latencies = [];
  sentAt.clear();
  const total = Math.max(1, Math.round(rate * phaseSeconds));
  const intervalMs = 1000 / rate;
  // Every call of the phase is rendered before it starts. Rendered while the phase ran, the
  // calls kept this process's young generation busy: 45 scavenges of about 2 ms each in 10 s,
  // every one of them a pause on the client side of the latency being measured.
  const calls = Array.from({ length: total }, () => {
    const agent = agents[Math.floor(Math.random() * agents.length)] as Agent;
    callCounter += 1;
    return renderCall(template, callCounter, agent.extension);
  });
  // A call's setup (the caller's channel, the queue) goes out half an interval before the read
  // that rings the agent, as Asterisk sent it before that read in the recording. Written right
  // after the ringing read, it would share a socket read with it.
  const setupsWritten = new Set<number>();
  const writeSetup = (index: number) => {
    const call = calls[index];
    if (call !== undefined && !setupsWritten.has(index)) {
      setupsWritten.add(index);
      pbx.write(call.setup);
    }
  };
  writeSetup(0);
  const started = performance.now() + intervalMs;
  for (let index = 0; index < total; index += 1) {
    const due = started + index * intervalMs;
    const wait = due - performance.now();
    if (wait > 1) {
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
    const call = calls[index] as RenderedCall;
    // Behind schedule (after a pause in this process), the loop may reach a call before its
    // setup's timer ran. The setup then goes out first, in the same read.
    writeSetup(index);
    sentAt.set(call.linkedid, performance.now());
    pbx.write(call.ringing);
    setTimeout(() => writeSetup(index + 1), intervalMs / 2);
    // The rest of the call (answer, talk, hangup) follows a second later, so calls end and the
    // bridge's state stays as small as on a real PBX.
    setTimeout(() => pbx.write(call.rest), 1000);
  }
  const deadline = performance.now() + 5000;
  while (sentAt.size > 0 && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const sorted = [...latencies].sort((left, right) => left - right);
  return { sent: total, received: sorted.length, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted[sorted.length - 1] ?? Number.NaN };
}

function startBridge(natsUrl: string, amiPort: number): ChildProcess {
  const built = join(ROOT, 'services/ami-bridge/dist/main.js');
  const entry = existsSync(built) ? [built] : ['--conditions=source', '--import', 'tsx', join(ROOT, 'services/ami-bridge/src/main.ts')];
  return spawn(process.execPath, entry, {
    cwd: ROOT,
    env: {
      ...process.env,
      NATS_URL: natsUrl,
      PBX_ID: 'pbx1',
      AMI_HOST: '127.0.0.1',
      AMI_PORT: String(amiPort),
      AMI_USERNAME: 'bench',
      AMI_SECRET: 'bench-secret',
      PHONE_HASH_KEY: 'bench-phone-hash-key-0123',
      OPS_PORT: '0',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

function format(value: number, digits = 2): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

async function main(): Promise<void> {
  const nats = await startNatsServer();
  const bus = await Bus.connect({ natsUrl: nats.url }, { name: 'bench-publisher', logger: createLogger({ service: 'bench', level: 'warn' }) });
  await bus.ensureStreams(['CALLS', 'CRM', 'AUDIT', 'DLQ']);
  const template = loadCallTemplate(join(ROOT, 'testdata/ami'));
  const { pbx, port: amiPort } = await BenchPbx.start();
  const bridge = startBridge(nats.url, amiPort);
  // The child processes must not outlive the benchmark, whatever ends it.
  const children: ChildProcess[] = [bridge];
  process.once('exit', () => {
    children.forEach((childProcess) => childProcess.kill('SIGKILL'));
    try {
      process.kill(nats.pid, 'SIGKILL');
    } catch {
      // Already stopped by the normal clean-up.
    }
  });
  process.once('SIGINT', () => process.exit(130));
  process.once('SIGTERM', () => process.exit(143));
  await waitFor(() => pbx.clients() > 0, 'ami-bridge to log in to the benchmark PBX', { timeoutMs: 30_000 });
  const { child, url, inspectorUrl } = await startGateway(nats.url);
  children.push(child);
  const pid = child.pid as number;
  const agents: Agent[] = [];

  console.log('push gateway benchmark');
  console.log(`latency: from the AMI event that rings the agent leaving the PBX socket, through ami-bridge (AMI parse, call model, JetStream publish), to the call.ringing frame at the agent socket; template: one queue call of testdata/ami/load.ami (${template.messages.length} AMI messages; ${template.ringingReadStart} of them go out before the read that rings the agent, as recorded; the read contains ${template.ringingIndex + 1 - template.ringingReadStart}, the last of which rings the agent)`);
  console.log(`machine: ${process.platform} ${process.arch}, node ${process.version}; phases of ${phaseSeconds} s`);
  const floorRate = TARGETS[0]?.rate ?? 100;
  const floor = await measureFloor(nats.url, floorRate, phaseSeconds);
  console.log(
    `latency floor at ${floorRate}/s, the same hops (this process, a Node.js relay, nats-server, a second relay, this process) passing a few bytes with no work (bench/push/floor.ts): p50 ${format(floor.p50)} ms, p99 ${format(floor.p99)} ms, max ${format(floor.max)} ms (${floor.received} of ${floor.sent})\n`,
  );

  try {
    // A first agent warms the code paths up (JIT, lazily loaded modules), so the baseline holds
    // what a gateway costs before agents, not the first connection's one-off costs.
    await connectMany(url, agents, 1);
    await settle(inspectorUrl);
    const baselineKb = rssKb(pid);
    const baselineHeap = await gatewayMetric(url, 'nodejs_heap_size_used_bytes');
    console.log('agents  calls/s  sent  received  p50 ms  p99 ms  max ms  p99 target ms  p99/target');
    const memoryRows: string[] = [];
    for (const step of agentSteps) {
      const connectStarted = performance.now();
      const failure = await connectMany(url, agents, step);
      if (failure !== undefined) {
        console.log(`stopped connecting at ${agents.length} agents: ${failure}`);
        break;
      }
      const connectSeconds = (performance.now() - connectStarted) / 1000;
      await settle(inspectorUrl);
      const after = rssKb(pid);
      const heap = await gatewayMetric(url, 'nodejs_heap_size_used_bytes');
      const added = agents.length - 1;
      const perAgentKb = (after - baselineKb) / added;
      memoryRows.push(
        `${String(step).padStart(6)}  ${format(after / 1024, 1).padStart(8)}  ${format(perAgentKb, 1).padStart(12)}  ${format(perAgentKb / MEMORY_TARGET_KB).padStart(10)}  ${format((heap - baselineHeap) / 1024 / added, 1).padStart(16)}  ${format(connectSeconds, 1).padStart(11)}`,
      );
      for (const rate of rates) {
        const result = await runPhase(pbx, template, agents, rate);
        const target = TARGETS.find((candidate) => candidate.agents === step && candidate.rate === rate);
        console.log(
          `${String(step).padStart(6)}  ${String(rate).padStart(7)}  ${String(result.sent).padStart(4)}  ${String(result.received).padStart(8)}  ${format(result.p50).padStart(6)}  ${format(result.p99).padStart(6)}  ${format(result.max).padStart(6)}  ${(target === undefined ? '-' : String(target.p99Ms)).padStart(13)}  ${target === undefined ? '-' : format(result.p99 / target.p99Ms)}`,
        );
      }
    }

    console.log('\nresident memory of the gateway process (VmRSS) after a full GC, per connected agent over the gateway with one agent');
    console.log(`baseline with one agent: ${format(baselineKb / 1024, 1)} MB RSS, ${format(baselineHeap / 1024 / 1024, 1)} MB V8 heap used`);
    console.log('agents  RSS (MB)  KB per agent  per/target  heap KB per agent  connect (s)');
    for (const row of memoryRows) {
      console.log(row);
    }

    const ramped = await connectMany(url, agents, maxAgents);
    const reason = ramped ?? `reached --max-agents ${maxAgents}; open-file limit of each process here: ${openFileLimit()}`;
    console.log(`\nlargest number of agents held: ${agents.length} (${reason}); RSS ${format(rssKb(pid) / 1024, 1)} MB`);
  } finally {
    for (const agent of agents) {
      agent.socket.terminate();
    }
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    bridge.kill('SIGTERM');
    await new Promise((resolve) => bridge.once('exit', resolve));
    await pbx.close();
    await bus.drain();
    await nats.dispose();
  }
}

await main();
