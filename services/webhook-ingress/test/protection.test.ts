import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { openRawRequest, startNatsServer, trickleRequest, waitFor, type NatsServerHandle } from '@cti/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { WebhookErrorCode } from '../src/errors.js';
import { deliver, forbiddenLogText, send, startIngress, variant, type RunningIngress } from './harness.js';

let nats: NatsServerHandle;

beforeAll(async () => {
  nats = await startNatsServer();
});

afterAll(async () => {
  await nats?.dispose();
});

/** Starts an ingress for one test and checks, whatever happened, that it logged no secret. */
async function withIngress(overrides: Parameters<typeof startIngress>[1], run: (ingress: RunningIngress) => Promise<void>): Promise<void> {
  const ingress = await startIngress(nats.url, overrides);
  try {
    await run(ingress);
    const text = ingress.logs.text();
    for (const forbidden of forbiddenLogText()) {
      expect(text).not.toContain(forbidden);
    }
  } finally {
    await ingress.close();
  }
}

function delivery(conversationId: string) {
  return variant('call_initiation_failure.sip_busy', (json) => {
    (json['data'] as Record<string, unknown>)['conversation_id'] = conversationId;
  });
}

/** Request line and headers of a post-call delivery with `contentLength` bytes of body, then `start` of it. */
function postCallHead(signature: string, contentLength: number, start = ''): string {
  return `POST /webhooks/elevenlabs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nElevenLabs-Signature: ${signature}\r\nContent-Length: ${contentLength}\r\n\r\n${start}`;
}

describe('rate limit', () => {
  it('answers 429 with Retry-After once a source exceeds its limit', async () => {
    await withIngress({ rateLimit: { max: 3, windowSeconds: 60 } }, async (ingress) => {
      for (let index = 0; index < 3; index += 1) {
        const allowed = delivery(`conv_rate_${index}`);
        expect((await deliver(ingress.url, allowed.body, allowed.signature)).status).toBe(200);
      }
      const before = await ingress.lastSequence('AI');
      const limited = delivery('conv_rate_limited');
      const response = await deliver(ingress.url, limited.body, limited.signature);

      expect(response.status).toBe(429);
      const retryAfter = Number(response.headers['retry-after']);
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect((response.json()['error'] as Record<string, unknown>)['code']).toBe(WebhookErrorCode.RATE_LIMITED);
      expect(await ingress.lastSequence('AI')).toBe(before);
      expect(await ingress.metric('cti_rate_limit_rejections_total', { limit: '/webhooks/elevenlabs' })).toBe(1);
      // The rejected request is counted, but not audited one by one: a flood must not push older
      // events out of the audit stream. The three accepted ones are.
      const calls = (await ingress.messages('AUDIT')).filter((event) => event['action'] === 'api_request');
      expect(calls.map((event) => (event['details'] as { status: number }).status)).toEqual([200, 200, 200]);
      // The ops routes are not rate limited.
      expect((await send(ingress.url, { method: 'GET', path: '/healthz' })).status).toBe(200);
    });
  });
});

describe('rate limit on conversation-init', () => {
  it('cuts off a flood of wrong secrets before checking them', async () => {
    await withIngress({ rateLimit: { max: 3, windowSeconds: 60 } }, async (ingress) => {
      const attempt = () =>
        send(ingress.url, {
          path: '/webhooks/elevenlabs/conversation-init',
          headers: { 'content-type': 'application/json', 'x-conversation-init-secret': 'guessed-secret-000000' },
          body: JSON.stringify({ caller_id: '+15550100011', agent_id: 'agent_x', called_number: '+15550100999', call_sid: 'CA1' }),
        });
      const statuses: number[] = [];
      for (let index = 0; index < 5; index += 1) {
        statuses.push((await attempt()).status);
      }
      expect(statuses).toEqual([401, 401, 401, 429, 429]);
      expect(await ingress.metric('cti_webhook_auth_failures_total', { route: 'conversation_init' })).toBe(3);
    });
  });
});

describe('rejection log lines', () => {
  it('throttles the lines of 404s and 429s too', async () => {
    await withIngress({ rateLimit: { max: 5, windowSeconds: 60 } }, async (ingress) => {
      for (let index = 0; index < 30; index += 1) {
        await send(ingress.url, { method: 'GET', path: '/nope' });
        await deliver(ingress.url, '{}', 't=1,v0=00');
      }
      const lines = ingress.logs.lines.filter((line) => line['msg'] === 'webhook request rejected');
      expect(lines.filter((line) => line['outcome'] === 'not_found')).toHaveLength(20);
      expect(lines.filter((line) => line['outcome'] === 'rate_limited')).toHaveLength(20);
    });
  });

  it('logs the first rejections of a source one by one, then one summary', async () => {
    const ingress = await startIngress(nats.url, { rateLimit: { max: 1000, windowSeconds: 60 } });
    let open = true;
    try {
      for (let index = 0; index < 25; index += 1) {
        expect((await deliver(ingress.url, '{"type":"post_call_audio"}', 't=1,v0=00')).status).toBe(401);
      }
      // Closing writes the summary of the window that is still open.
      open = false;
      await ingress.close();
      const lines = ingress.logs.text().split('\n').filter((line) => line.includes('webhook request rejected'));
      expect(lines).toHaveLength(20);
      const summary = ingress.logs.text().split('\n').find((line) => line.includes('not logged one by one'));
      expect(JSON.parse(summary ?? '{}')).toMatchObject({ route: 'post_call', suppressed: 5 });
    } finally {
      if (open) {
        await ingress.close();
      }
    }
  });
});

describe('request deadline', () => {
  it('answers 408 to a trickled body and keeps serving', async () => {
    await withIngress({ requestTimeoutMs: 1000 }, async (ingress) => {
      // A current, well-formed signature header: the body is read only after it passes.
      const { signature } = delivery('conv_trickled');
      const started = Date.now();
      const response = await trickleRequest(ingress.url, postCallHead(signature, 100_000, '{'));
      expect(response.split('\r\n')[0]).toBe('HTTP/1.1 408 Request Timeout');
      expect(response).toContain(`"code":"${WebhookErrorCode.REQUEST_TIMEOUT}"`);
      expect(Date.now() - started).toBeLessThan(5000);
      expect((await send(ingress.url, { method: 'GET', path: '/healthz' })).status).toBe(200);
    });
  });
});

describe('body budget', () => {
  it('sends 503 while bodies fill the budget', async () => {
    await withIngress({ postCallBodyLimitBytes: 1024 * 1024, bodyBytesInFlight: 2 * 1024 * 1024 }, async (ingress) => {
      const { signature } = delivery('conv_budget_holder');
      const head = postCallHead(signature, 1024 * 1024);
      // Two requests send all but the last byte of their 1 MiB bodies and stall: together they
      // fill the budget, because bytes are charged as they arrive.
      const holders = await Promise.all([1, 2].map(() => openRawRequest(ingress.url, head, Buffer.alloc(1024 * 1024 - 1, 0x20))));
      const blocked = delivery('conv_budget_blocked');
      await waitFor(async () => (await ingress.metric('cti_webhook_body_bytes_in_flight')) === 2 * (1024 * 1024 - 1), 'the held bodies to be received');
      const refused = await deliver(ingress.url, blocked.body, blocked.signature);
      expect(refused.status).toBe(503);
      expect(refused.headers['retry-after']).toBe('5');
      expect((refused.json()['error'] as Record<string, unknown>)['code']).toBe(WebhookErrorCode.BUSY);
      expect(await ingress.metric('cti_webhook_body_budget_rejections_total')).toBeGreaterThan(0);

      // Connections that announce large bodies and send almost nothing take almost nothing.
      const idle = await Promise.all([1, 2, 3, 4].map(() => openRawRequest(ingress.url, head, '{')));
      for (const socket of holders) {
        socket.destroy();
      }
      await waitFor(async () => (await deliver(ingress.url, blocked.body, blocked.signature)).status === 200, 'the delivery once the budget is free');
      for (const socket of idle) {
        socket.destroy();
      }
      // The deferred deliveries were logged as a warning, never as an error with a stack.
      expect(ingress.logs.lines.some((line) => line['msg'] === 'webhook delivery deferred: the body budget is full' && line['level'] === 'warn')).toBe(true);
      expect(ingress.logs.lines.some((line) => line['outcome'] === 'busy' && line['level'] === 'error')).toBe(false);
    });
  });
});

describe('source allow-list', () => {
  it('rejects a source outside the list with 403 and an audit event', async () => {
    await withIngress({ allowedIps: ['34.67.146.145', '35.204.38.71'] }, async (ingress) => {
      const before = await ingress.lastSequence('AI');
      const blocked = delivery('conv_blocked_source');
      const response = await deliver(ingress.url, blocked.body, blocked.signature);

      expect(response.status).toBe(403);
      expect(response.json()).toEqual({ error: { code: WebhookErrorCode.SOURCE_FORBIDDEN, message: 'source address not allowed' } });
      expect(await ingress.lastSequence('AI')).toBe(before);
      await waitFor(
        async () => (await ingress.messages('AUDIT')).some((event) => event['reason'] === 'source_not_allowed'),
        'an audit event for the refused source',
      );
    });
  });

  it('accepts a source inside a listed network', async () => {
    await withIngress({ allowedIps: ['34.67.146.145', '127.0.0.0/8'] }, async (ingress) => {
      const allowed = delivery('conv_allowed_network');
      expect((await deliver(ingress.url, allowed.body, allowed.signature)).status).toBe(200);
    });
  });

  it('uses X-Forwarded-For only from a trusted proxy', async () => {
    await withIngress({ allowedIps: ['34.67.146.145'], trustProxy: ['127.0.0.1'] }, async (ingress) => {
      const viaProxy = delivery('conv_via_proxy');
      const forwarded = await deliver(ingress.url, viaProxy.body, viaProxy.signature, { 'x-forwarded-for': '34.67.146.145' });
      expect(forwarded.status).toBe(200);

      const spoofed = delivery('conv_spoofed');
      const direct = await deliver(ingress.url, spoofed.body, spoofed.signature, { 'x-forwarded-for': '35.204.38.71' });
      expect(direct.status).toBe(403);
    });
    await withIngress({ allowedIps: ['34.67.146.145'], trustProxy: false }, async (ingress) => {
      const untrusted = delivery('conv_untrusted_proxy');
      const response = await deliver(ingress.url, untrusted.body, untrusted.signature, { 'x-forwarded-for': '34.67.146.145' });
      expect(response.status).toBe(403);
    });
  });
});

describe('security headers and HTTPS', () => {
  it('sends helmet headers with HSTS', async () => {
    await withIngress({}, async (ingress) => {
      const response = await send(ingress.url, { method: 'GET', path: '/healthz' });
      expect(response.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
      expect(response.headers['x-content-type-options']).toBe('nosniff');
      expect(response.headers['content-security-policy']).toContain("default-src 'none'");
      expect(response.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(response.headers['x-frame-options']).toBe('SAMEORIGIN');
    });
  });

  it('sends the same headers on errors', async () => {
    await withIngress({}, async (ingress) => {
      const healthy = await send(ingress.url, { method: 'GET', path: '/healthz' });
      const rejected = await deliver(ingress.url, '{}', undefined);
      const missing = await send(ingress.url, { method: 'GET', path: '/nothing-here' });
      expect(rejected.status).toBe(401);
      expect(missing.status).toBe(404);
      for (const name of ['strict-transport-security', 'content-security-policy', 'x-content-type-options', 'referrer-policy', 'cross-origin-resource-policy']) {
        expect(healthy.headers[name]).toBeDefined();
        expect(rejected.headers[name]).toBe(healthy.headers[name]);
        expect(missing.headers[name]).toBe(healthy.headers[name]);
      }
    });
  });

  it('serves HTTPS natively with the configured certificate', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'cti-webhook-tls-'));
    try {
      const keyPath = join(directory, 'key.pem');
      const certPath = join(directory, 'cert.pem');
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '1', '-subj', '/CN=127.0.0.1'], {
        stdio: 'ignore',
      });
      const cert = readFileSync(certPath);
      await withIngress({ https: { key: readFileSync(keyPath), cert } }, async (ingress) => {
        expect(ingress.url.startsWith('https://')).toBe(true);
        const signed = delivery('conv_over_https');
        const status = await new Promise<number>((resolve, reject) => {
          const request = httpsRequest(
            new URL('/webhooks/elevenlabs', ingress.url),
            { method: 'POST', ca: cert, checkServerIdentity: () => undefined, headers: { 'content-type': 'application/json', 'elevenlabs-signature': signed.signature } },
            (response) => {
              response.resume();
              resolve(response.statusCode ?? 0);
            },
          );
          request.on('error', reject);
          request.end(signed.body);
        });
        expect(status).toBe(200);
      });
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

describe('event size limit', () => {
  it('rejects an oversized event with 413', async () => {
    // The normalized inbound transcription is about 2.1 KB.
    await withIngress({ maxEventBytes: 1024 }, async (ingress) => {
      const before = await ingress.lastSequence('AI');
      const signed = variant('post_call_transcription.inbound_sip', (json) => {
        (json['data'] as Record<string, unknown>)['conversation_id'] = 'conv_event_too_large';
      });
      const response = await deliver(ingress.url, signed.body, signed.signature);

      expect(response.status).toBe(413);
      const error = response.json()['error'] as Record<string, unknown>;
      expect(error['code']).toBe(WebhookErrorCode.EVENT_TOO_LARGE);
      expect(error['message']).toMatch(/^the post_call_transcription event is \d+ bytes, more than the 1024 the event stream accepts$/);
      expect(await ingress.lastSequence('AI')).toBe(before);
      const logged = ingress.logs.lines.find((line) => line['msg'] === 'webhook delivery too large to store');
      expect(logged?.['level']).toBe('error');
      expect(logged?.['statusCode']).toBe(413);
    });
  });
});

describe('metrics', () => {
  it('serves the request and failure counters on /metrics', async () => {
    await withIngress({}, async (ingress) => {
      await deliver(ingress.url, '{}', undefined);
      const response = await send(ingress.url, { method: 'GET', path: '/metrics' });
      expect(response.status).toBe(200);
      expect(response.text).toContain('cti_webhook_auth_failures_total{route="post_call",reason="header_missing"} 1');
      expect(response.text).toContain('cti_webhook_requests_total{route="post_call",outcome="signature_invalid"} 1');
    });
  });
});
