import { existsSync } from 'node:fs';

import { Bus } from '@cti/bus';
import { CallAnswered, CallEnded, CallerIdentified, CallHeld, CallMissed, CallRinging, CallSummary, OriginateReply, OriginateRequest, OriginateResult } from '@cti/contracts';
import { createLogger } from '@cti/logging';
import { deferred, waitFor } from '@cti/testing';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import * as events from './events.js';
import { Harness } from './harness.js';

const CHROMIUM = '/usr/bin/chromium';

/** Number whose click-to-dial reply the stand-in ami-bridge holds back until a test releases it. */
const HELD_REPLY_NUMBER = '+15550100098';

/**
 * The console in Debian's chromium, driven by events published straight to NATS the way
 * ami-bridge and crm-sync publish them, with a stand-in ami-bridge answering click-to-dial.
 */
describe('agent console in a browser', () => {
  let harness: Harness;
  let bridgeBus: Bus;
  let browser: Browser;
  const originates: ReturnType<typeof OriginateRequest.parse>[] = [];
  const pageErrors: string[] = [];
  const heldReply = deferred();

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium, or CTI_SETUP_BROWSER=1 bash scripts/setup.sh)`);
    }
    harness = await Harness.start({ PUSH_DEMO_MODE: 'true', PUSH_DEMO_AGENTS: 'anna:101,ben:102' });
    bridgeBus = await Bus.connect({ natsUrl: harness.nats.url }, { name: 'ami-bridge', logger: createLogger({ service: 'ami-bridge', level: 'silent' }) });
    bridgeBus.serve(
      OriginateRequest,
      OriginateReply,
      async (request) => {
        originates.push(request);
        if (request.to === HELD_REPLY_NUMBER) {
          await heldReply.promise;
        }
        return { v: 1 as const, requestId: request.requestId, status: 'accepted' as const };
      },
      { queue: 'ami-bridge', tokens: { pbx: 'pbx1' } },
    );
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await bridgeBus?.drain();
    await harness?.close();
  });

  async function openConsole(): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${harness.url}/console/`);
    return page;
  }

  /** Signs in with a minted token. Each test signs in its own agent, so no snapshot shows another test's calls. */
  async function signInWithToken(page: Page, agentId: string, extension: string): Promise<void> {
    await page.getByLabel('Agent token').fill(await harness.token(agentId, [extension]));
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Online' }).waitFor();
  }

  /** Elements that carry the `hidden` attribute but still take up room on the page. */
  function shownDespiteHidden(page: Page): Promise<string[]> {
    return page
      .locator('[hidden]')
      .evaluateAll((nodes) => nodes.filter((node) => node.getClientRects().length > 0).map((node) => node.id || node.getAttribute('class') || node.tagName));
  }

  async function dial(page: Page, number: string): Promise<string> {
    const numberBox = page.getByRole('textbox', { name: 'Number', exact: true });
    await numberBox.fill(number);
    await numberBox.press('Enter');
    const request = await waitFor(() => originates.find((originate) => originate.to === number), `the originate request for ${number}`);
    return request.requestId;
  }

  it('pops the call on 101 only, adds the CRM details and dials out', async () => {
    // Agent 101 signs in with a token, by keyboard; agent 102 with the demo sign-in.
    const anna = await openConsole();
    await anna.getByLabel('Agent token').fill(await harness.token('anna', ['101']));
    await anna.getByLabel('Agent token').press('Tab');
    await anna.keyboard.press('Enter');
    await anna.getByRole('status').filter({ hasText: 'Online' }).waitFor();

    const ben = await openConsole();
    await ben.getByRole('button', { name: 'Sign in as demo agent' }).waitFor();
    await ben.getByLabel('Demo agent').selectOption('ben');
    await ben.getByRole('button', { name: 'Sign in as demo agent' }).click();
    await ben.getByRole('status').filter({ hasText: 'Online' }).waitFor();
    expect(await ben.locator('#agent-extensions').textContent()).toBe('102');

    const leg = { callId: '1796412664.10', extension: '101' };
    await harness.publish(CallRinging, events.ringing(leg));
    const card = anna.locator(`li.card[data-call-id="${leg.callId}"]`);
    await card.waitFor();
    expect(await card.getAttribute('data-state')).toBe('ringing');
    await expect.poll(() => card.locator('.card-title').textContent()).toBe('Alice Example');
    expect(await card.locator('dd').first().textContent()).toBe('+15550100001');
    await expect.poll(() => anna.locator('#announcer').textContent()).toContain('Incoming call from Alice Example');

    // 102's page: a call of its own arrives, and 101's never does.
    await harness.publish(CallRinging, events.ringing({ callId: 'ben-call', extension: '102' }));
    await ben.locator('li.card[data-call-id="ben-call"]').waitFor();
    expect(await ben.locator(`li.card[data-call-id="${leg.callId}"]`).count()).toBe(0);

    await harness.publish(CallerIdentified, events.identified(leg));
    const link = card.locator('a.crm-link');
    await link.waitFor();
    expect(await link.getAttribute('href')).toBe(events.identified(leg).matches[0]?.url);
    expect(await link.getAttribute('target')).toBe('_blank');
    expect(await card.locator('.crm-account').textContent()).toBe('Example Corp');

    await anna.screenshot({ path: '/tmp/cti-console-anna.png' });

    const numberBox = anna.getByRole('textbox', { name: 'Number', exact: true });
    await numberBox.fill('+1 555 0100-099');
    await numberBox.press('Enter');
    await waitFor(() => originates.length > 0, 'the originate request');
    expect(originates[0]).toMatchObject({ pbx: 'pbx1', extension: '101', to: '+15550100099', agentId: 'anna' });
    await expect.poll(() => anna.locator('#dial-status').textContent()).toContain('pick up your phone');
    expect(pageErrors).toEqual([]);
  });

  it('follows a call through answered, held and ended, with the missed list and the AI summary', async () => {
    const page = await openConsole();
    await page.getByLabel('Demo agent').selectOption('anna');
    await page.getByRole('button', { name: 'Sign in as demo agent' }).click();
    await page.getByRole('status').filter({ hasText: 'Online' }).waitFor();

    const leg = { callId: '1796412900.33', extension: '101' };
    const card = page.locator(`li.card[data-call-id="${leg.callId}"]`);
    const steps: [() => Promise<unknown>, string, string][] = [
      [() => harness.publish(CallRinging, events.ringing(leg)), 'ringing', 'Ringing'],
      [() => harness.publish(CallAnswered, events.answered(leg)), 'answered', 'Answered'],
      [() => harness.publish(CallHeld, events.held(leg)), 'held', 'On hold'],
      [() => harness.publish(CallEnded, events.ended(leg)), 'ended', 'Ended (answered)'],
    ];
    for (const [publish, state, label] of steps) {
      await publish();
      await expect.poll(() => card.getAttribute('data-state')).toBe(state);
      expect(await card.locator('.card-state').textContent()).toContain(label);
    }

    await harness.publish(CallSummary, events.summary(leg));
    await expect.poll(() => card.locator('.summary').textContent()).toContain('confirmed Friday');
    await expect.poll(() => page.locator('#summaries li').count()).toBe(1);

    await harness.publish(CallMissed, events.missed({ callId: '1796412950.44', extension: '101' }));
    const missedItem = page.locator('#missed li[data-call-id="1796412950.44"]');
    await missedItem.waitFor();
    expect(await missedItem.getByRole('button', { name: 'Call back Alice Example' }).count()).toBe(1);
    await page.screenshot({ path: '/tmp/cti-console-states.png' });
    expect(pageErrors).toEqual([]);
  });

  it('keeps hidden elements off the page', async () => {
    const page = await openConsole();
    await page.getByRole('button', { name: 'Sign in as demo agent' }).waitFor();
    expect(await shownDespiteHidden(page)).toEqual([]);
    expect(await page.locator('#workspace').isVisible()).toBe(false);

    await signInWithToken(page, 'cara', '103');
    await harness.publish(CallRinging, events.ringing({ callId: 'cara-call', extension: '103' }));
    await page.locator('li.card[data-call-id="cara-call"]').waitFor();
    expect(await shownDespiteHidden(page)).toEqual([]);
    expect(await page.locator('#sign-in').isVisible()).toBe(false);
    expect(await page.locator('.card-dismiss').isVisible()).toBe(false);
    expect(pageErrors).toEqual([]);
  });

  it('sign-out leaves nothing for the next agent', async () => {
    const page = await openConsole();
    await signInWithToken(page, 'dora', '104');
    const leg = { callId: 'dora-call', extension: '104' };
    await harness.publish(CallRinging, events.ringing(leg));
    await harness.publish(CallSummary, events.summary(leg));
    await harness.publish(CallMissed, events.missed({ callId: 'dora-missed', extension: '104' }));
    await page.locator('#missed li[data-call-id="dora-missed"]').waitFor();
    await page.locator('#summaries li[data-call-id="dora-call"]').waitFor();
    await expect.poll(() => page.locator('#announcer').textContent()).toContain('Missed call');

    // A click-to-dial still waiting for ami-bridge when the agent signs out.
    await dial(page, HELD_REPLY_NUMBER);
    expect(await page.locator('#dial-status').textContent()).toContain('your phone rings first');
    await page.getByRole('button', { name: 'Sign out' }).click();

    expect(await page.locator('#calls li').count()).toBe(0);
    expect(await page.locator('#missed li').count()).toBe(0);
    expect(await page.locator('#summaries li').count()).toBe(0);
    expect(await page.locator('#dial-status').textContent()).toBe('');
    expect(await page.locator('#dial-number').inputValue()).toBe('');
    expect(await page.locator('#dial-extension option').count()).toBe(0);
    expect(await page.locator('#agent-name').textContent()).toBe('');
    expect(await page.locator('#agent-extensions').textContent()).toBe('');
    expect(await page.locator('#announcer').textContent()).toBe('');
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    expect(await page.evaluate('localStorage.length')).toBe(0);

    await signInWithToken(page, 'erik', '105');
    const lateReply = page.waitForResponse((response) => response.url().endsWith('/v1/calls'));
    heldReply.resolve();
    await (await lateReply).finished();
    // Gives the page's fetch handler time to run after the response body arrived.
    await page.waitForTimeout(200);
    expect(await page.locator('#dial-status').textContent()).toBe('');
    expect(await page.locator('#agent-name').textContent()).toBe('erik');
    expect(await page.locator('li[data-call-id^="dora-"]').count()).toBe(0);
    expect(await page.evaluate("sessionStorage.getItem('cti.agentToken')")).not.toBeNull();
    expect(pageErrors).toEqual([]);
  });

  it('resets the dial status when the dialled call ends', async () => {
    const page = await openConsole();
    await signInWithToken(page, 'fay', '106');
    const status = page.locator('#dial-status');

    // Matched by the call id the originate result carries.
    const firstRequest = await dial(page, '+15550100097');
    await expect.poll(() => status.textContent()).toContain('pick up your phone');
    await harness.publish(OriginateResult, events.originateResult({ callId: 'fay-dial-1', extension: '106', requestId: firstRequest }));
    await expect.poll(() => status.textContent()).toContain('Your phone answered');

    const other = { callId: 'fay-other', extension: '106' };
    await harness.publish(CallRinging, events.ringing(other));
    await harness.publish(CallEnded, events.ended(other));
    await expect.poll(() => page.locator('li.card[data-call-id="fay-other"]').getAttribute('data-state')).toBe('ended');
    expect(await status.textContent()).toContain('Your phone answered');

    const firstCall = { callId: 'fay-dial-1', extension: '106' };
    await harness.publish(CallRinging, events.ringing(firstCall));
    await harness.publish(CallEnded, events.ended(firstCall));
    await expect.poll(() => status.textContent()).toBe('');

    // Matched by the request id on the call events, when Asterisk reported no call id.
    const secondRequest = await dial(page, '+15550100096');
    await expect.poll(() => status.textContent()).toContain('pick up your phone');
    const result = events.originateResult({ callId: 'unused', extension: '106', requestId: secondRequest });
    delete result.callId;
    await harness.publish(OriginateResult, result);
    await expect.poll(() => status.textContent()).toContain('Your phone answered');
    const secondCall = { callId: 'fay-dial-2', extension: '106' };
    await harness.publish(CallRinging, events.ringing(secondCall));
    await harness.publish(CallEnded, { ...events.ended(secondCall), originateRequestId: secondRequest });
    await expect.poll(() => status.textContent()).toBe('');
    expect(pageErrors).toEqual([]);
  });

  it('moves focus to the next card after dismiss', async () => {
    const page = await openConsole();
    await signInWithToken(page, 'gus', '107');
    for (const callId of ['gus-older', 'gus-newer']) {
      await harness.publish(CallRinging, events.ringing({ callId, extension: '107' }));
      await harness.publish(CallEnded, events.ended({ callId, extension: '107' }));
    }
    const focusedCard = () => page.locator(':focus').evaluate((node) => node.closest('li.card')?.getAttribute('data-call-id') ?? node.id);
    await expect.poll(() => page.locator('li.card[data-state="ended"]').count()).toBe(2);

    await page.locator('li.card[data-call-id="gus-newer"]').getByRole('button', { name: 'Dismiss' }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('li.card[data-call-id="gus-newer"]').count()).toBe(0);
    expect(await focusedCard()).toBe('gus-older');

    await page.locator('li.card[data-call-id="gus-older"]').getByRole('button', { name: 'Dismiss' }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('li.card').count()).toBe(0);
    expect(await focusedCard()).toBe('dial-number');
    expect(pageErrors).toEqual([]);
  });

  it('labels call-back buttons with number and time', async () => {
    const page = await openConsole();
    await signInWithToken(page, 'hana', '108');
    const now = Date.now();
    const missedCalls = [
      { callId: 'hana-yesterday', at: new Date(now - 26 * 3600_000) },
      { callId: 'hana-hour-ago', at: new Date(now - 3600_000) },
      { callId: 'hana-just-now', at: new Date(now - 60_000) },
    ];
    for (const { callId, at } of missedCalls) {
      await harness.publish(CallMissed, events.missed({ callId, extension: '108', at }));
    }
    await expect.poll(() => page.locator('#missed li').count()).toBe(3);

    const labels: string[] = [];
    for (const { callId, at } of missedCalls) {
      const item = page.locator(`#missed li[data-call-id="${callId}"]`);
      const label = (await item.getByRole('button').getAttribute('aria-label')) ?? '';
      const shownTime = (await item.locator('time').textContent()) ?? '';
      expect(label).toContain('Alice Example');
      expect(label).toContain(events.CALLER.number);
      expect(shownTime).not.toBe('');
      expect(label).toContain(shownTime);
      expect(await item.locator('time').getAttribute('datetime')).toBe(at.toISOString());
      labels.push(label);
    }
    expect(new Set(labels).size).toBe(3);
    // A call from another day shows its date, so two calls at the same time of day differ.
    const yesterday = await page.evaluate((iso) => new Date(iso).toLocaleDateString([], { day: 'numeric', month: 'short' }), missedCalls[0]!.at.toISOString());
    expect(labels[0]).toContain(yesterday);
    expect(pageErrors).toEqual([]);
  });
});
