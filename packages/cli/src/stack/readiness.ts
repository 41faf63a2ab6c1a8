import { createConnection } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Polls a /readyz URL until it answers 200; returns the last answer when the time runs out. */
export async function waitUntilReady(url: string, timeoutMs: number, stillRunning: () => boolean): Promise<{ ready: boolean; detail: string }> {
  const deadline = Date.now() + timeoutMs;
  let detail = 'no answer';
  while (Date.now() < deadline && stillRunning()) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      detail = await response.text();
      if (response.status === 200) {
        return { ready: true, detail };
      }
    } catch (error) {
      detail = error instanceof Error ? error.message : String(error);
    }
    await sleep(250);
  }
  return { ready: false, detail };
}

/** Polls until a TCP port on 127.0.0.1 accepts connections. */
export async function waitForPort(port: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) {
      return true;
    }
    await sleep(100);
  }
  return false;
}
