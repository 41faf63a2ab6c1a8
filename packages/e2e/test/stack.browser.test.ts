import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { waitFor } from '@cti/testing';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CHROMIUM = '/usr/bin/chromium';
const root = join(import.meta.dirname, '../../..');

interface CallEvent {
  type: string;
  callId: string;
  extension?: string;
  direction?: string;
  agents?: { extension: string }[];
  status?: string;
}

/**
 * The main job as a newcomer runs it: `pnpm cti up` with no PBX and no CRM configured, so the
 * demo PBX replays the recorded calls of a real Asterisk and the demo CRM answers as SuiteCRM.
 * Two agents sign in on the console in Debian's chromium.
 */
describe('cti up with the agent console', () => {
  let stack: ChildProcess;
  let output = '';
  let exited: Promise<number | null>;
  let dataDirectory: string;
  let browser: Browser;
  let nats: NatsConnection;
  const events: CallEvent[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium, or CTI_SETUP_BROWSER=1 bash scripts/setup.sh)`);
    }
    if (!existsSync(join(root, 'packages/cli/dist/main.js'))) {
      throw new Error('the CLI is not built: run pnpm build first (pnpm test does)');
    }
    dataDirectory = mkdtempSync(join(tmpdir(), 'cti-stack-'));
    stack = spawn(process.execPath, ['packages/cli/dist/main.js', 'up'], {
      cwd: root,
      // Only what a newcomer's shell has: no NATS_URL, AMI_HOST or SUITECRM_URL, so every demo part starts.
      env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? tmpdir(), CTI_DATA_DIR: dataDirectory, CTI_DEMO_PBX_SPEED: '3' },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so a failed test can stop the whole stack, not only `cti up`.
      detached: true,
    });
    stack.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    stack.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    exited = new Promise((resolve) => stack.once('exit', (code) => resolve(code)));

    await waitFor(() => output.includes('CTI stack is up.') || stack.exitCode !== null, 'the stack to start', { timeoutMs: 150_000, intervalMs: 200 });
    if (stack.exitCode !== null) {
      throw new Error(`cti up exited with ${String(stack.exitCode)}:\n${output}`);
    }
    const natsUrl = /NATS: +(\S+)/.exec(output)?.[1] ?? '';
    nats = await connect({ servers: natsUrl });
    const record = (_error: Error | null, message: { json<T>(): T }): void => {
      events.push(message.json<CallEvent>());
    };
    nats.subscribe('call.>', { callback: record });
    nats.subscribe('pbx.originate.result.>', { callback: record });

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await nats?.close();
    if (stack?.pid !== undefined && stack.exitCode === null) {
      process.kill(-stack.pid, 'SIGKILL');
    }
    if (dataDirectory !== undefined) {
      rmSync(dataDirectory, { recursive: true, force: true });
    }
  });

  async function signIn(agent: string, extension: string): Promise<Page> {
    const consoleUrl = /Agent console: +(\S+)/.exec(output)?.[1] ?? '';
    const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    await page.goto(consoleUrl);
    await page.getByLabel('Demo agent').selectOption(agent);
    await page.getByRole('button', { name: 'Sign in as demo agent' }).click();
    await page.getByRole('status').filter({ hasText: 'Online' }).waitFor();
    expect(await page.locator('#agent-extensions').textContent()).toBe(extension);
    return page;
  }

  it('pops a replayed call on 101 only, with its CRM details, and dials out through the PBX', async () => {
    const anna = await signIn('anna', '101');
    const ben = await signIn('ben', '102');

    // A call of the loop that rang only 101 (the recorded inbound call to DID 15550100100), and
    // whose ringing the consoles saw live: it completed after both agents were online.
    const signedInAt = events.length;
    const call = await waitFor(
      () =>
        events
          .slice(signedInAt)
          .find((event) => event.type === 'call.completed' && event.direction === 'inbound' && event.agents?.length === 1 && event.agents[0]?.extension === '101' && events.slice(signedInAt).some((other) => other.type === 'call.ringing' && other.callId === event.callId)),
      'a replayed inbound call that rang 101 only',
      { timeoutMs: 120_000, intervalMs: 200 },
    );
    const card = anna.locator(`li.card[data-call-id="${call.callId}"]`);
    await card.waitFor();
    await expect.poll(() => card.locator('.card-title').textContent()).toBe('Alice Example');
    expect(await ben.locator(`li.card[data-call-id="${call.callId}"]`).count()).toBe(0);

    // The demo CRM knows Alice Example: crm-sync's screen pop lands on the same card.
    const link = card.locator('a.crm-link');
    await link.waitFor({ timeout: 30_000 });
    expect(await link.getAttribute('href')).toMatch(/module=Contacts/);
    await anna.screenshot({ path: join(dataDirectory, 'console-anna.png') });

    const numberBox = anna.getByRole('textbox', { name: 'Number', exact: true });
    await numberBox.fill('+1 555 0100-099');
    await numberBox.press('Enter');
    const result = await waitFor(() => events.find((event) => event.type === 'pbx.originate.result'), 'the click-to-dial outcome', { timeoutMs: 60_000 });
    expect(result).toMatchObject({ extension: '101', status: 'answered' });
    const pbxLog = readFileSync(join(dataDirectory, 'logs/demo-pbx.log'), 'utf8');
    expect(pbxLog).toMatch(/"action":"Originate"/);
    // The console follows the outcome the PBX reported for the Originate.
    await expect.poll(() => anna.locator('#dial-status').textContent()).toContain('Your phone answered');
    // The recorded call hangs up a few seconds after the phone picks up, and the status line clears.
    await expect.poll(() => anna.locator('#dial-status').textContent(), { timeout: 5_000 }).toBe('');

    // Operator commands in another terminal reach this stack through the file it leaves behind.
    const cti = (...words: string[]) =>
      spawnSync(process.execPath, ['packages/cli/dist/main.js', ...words], {
        cwd: root,
        env: { PATH: process.env['PATH'] ?? '', CTI_DATA_DIR: dataDirectory },
        encoding: 'utf8',
      });
    const deadLetters = cti('dlq', 'list');
    expect(deadLetters.stderr).toContain('dead letter(s)');
    expect(deadLetters.status).toBe(0);
    const token = cti('token', '--agent', 'anna', '--ext', '101');
    expect(token.status).toBe(0);
    expect(token.stdout.trim()).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    const screenPops = cti('audit', '--agent', 'anna', '--since', '10m');
    expect(screenPops.status).toBe(0);
    expect(screenPops.stdout).toContain('screen_pop_sent');
    const signed = cti('webhook', 'sign', '--body', 'testdata/elevenlabs/post_call_transcription.inbound_sip.json');
    expect(signed.stderr).toBe('');
    expect(signed.status).toBe(0);
    expect(signed.stdout).toMatch(/t=\d+,v0=[0-9a-f]{64}/);

    // Ctrl-C stops everything cleanly.
    stack.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(output).toContain('stopped');
    expect(existsSync(join(dataDirectory, 'stack.env'))).toBe(false);
  });
});
