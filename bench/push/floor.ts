/**
 * The latency floor of the push benchmark's path on this machine: the same processes and hops
 * (this process, a Node.js process, nats-server, another Node.js process, this process), each
 * passing a few bytes on and doing nothing else. No AMI parsing, call model, JetStream storage,
 * routing or WebSocket. The gateway's latency minus this floor is what the work costs; the floor
 * itself is what the machine's scheduling of five processes costs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';

export interface FloorResult {
  sent: number;
  received: number;
  p50: number;
  p99: number;
  max: number;
}

/** Returns the value at `fraction` (0 to 1) of `sorted`, an ascending list, or NaN when it is empty. */
export function percentile(sorted: number[], fraction: number): number {
  if (sorted.length === 0) {
    return Number.NaN;
  }
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] as number;
}

export async function measureFloor(natsUrl: string, rate: number, seconds: number): Promise<FloorResult> {
  const sentAt = new Map<number, number>();
  const latencies: number[] = [];
  const ready = new Set<string>();
  let inbound: Socket | undefined;
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    // A token may be split across two reads: the part after the last `;` waits for the next.
    let partial = '';
    socket.on('data', (chunk) => {
      const tokens = (partial + chunk.toString('latin1')).split(';');
      partial = tokens.pop() ?? '';
      for (const token of tokens) {
        if (token === 'ready-in') {
          inbound = socket;
          ready.add('in');
        } else if (token === 'ready-out') {
          ready.add('out');
        } else if (token !== '') {
          const started = sentAt.get(Number(token));
          if (started !== undefined) {
            latencies.push(performance.now() - started);
            sentAt.delete(Number(token));
          }
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const relays: ChildProcess[] = ['in', 'out'].map((role) =>
    spawn(process.execPath, ['--conditions=source', '--import', 'tsx', join(import.meta.dirname, 'floor-relay.ts'), role, natsUrl, String(port)], {
      stdio: ['ignore', 'inherit', 'inherit'],
    }),
  );
  try {
    const deadline = performance.now() + 30_000;
    while (ready.size < 2) {
      if (performance.now() > deadline) {
        throw new Error('the floor relays did not connect within 30 s');
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const total = Math.max(1, Math.round(rate * seconds));
    const intervalMs = 1000 / rate;
    const started = performance.now();
    for (let index = 0; index < total; index += 1) {
      const wait = started + index * intervalMs - performance.now();
      if (wait > 1) {
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
      sentAt.set(index, performance.now());
      inbound?.write(`${index};`);
    }
    const settleDeadline = performance.now() + 2000;
    while (sentAt.size > 0 && performance.now() < settleDeadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const sorted = latencies.sort((left, right) => left - right);
    return { sent: total, received: sorted.length, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted.at(-1) ?? Number.NaN };
  } finally {
    relays.forEach((relay) => relay.kill('SIGTERM'));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
