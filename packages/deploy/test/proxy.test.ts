import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../../..');
const caddyfile = readFileSync(join(root, 'deploy/proxy/Caddyfile'), 'utf8')
  .split('\n')
  .filter((line) => !line.trimStart().startsWith('#'))
  .join('\n');

/** Returns the body of a top-level block of the Caddyfile, found by its opening line. */
function block(opening: string): string {
  const start = caddyfile.indexOf(`\n${opening} {`);
  if (start === -1) {
    throw new Error(`no block ${opening} in the Caddyfile`);
  }
  const end = caddyfile.indexOf('\n}', start);
  return caddyfile.slice(start, end);
}

describe('Caddyfile', () => {
  it('allows TLS 1.2 and 1.3 only, with forward-secret AEAD ciphers', () => {
    const policy = block('(tls_policy)');
    expect(policy).toMatch(/\n\s+protocols tls1\.2 tls1\.3\n/);
    const ciphers = /\n\s+ciphers (.+)\n/.exec(policy)?.[1]?.split(' ') ?? [];
    expect(ciphers.length).toBeGreaterThan(0);
    for (const cipher of ciphers) {
      expect(cipher).toMatch(/^TLS_ECDHE_(ECDSA|RSA)_WITH_(AES_(128|256)_GCM_SHA(256|384)|CHACHA20_POLY1305_SHA256)$/);
    }
  });

  it('sends HSTS for at least a year and the security headers', () => {
    const headers = block('(security_headers)');
    const maxAge = Number(/Strict-Transport-Security "max-age=(\d+)/.exec(headers)?.[1]);
    expect(maxAge).toBeGreaterThanOrEqual(31_536_000);
    for (const header of ['X-Content-Type-Options "nosniff"', 'X-Frame-Options "DENY"', 'Referrer-Policy "no-referrer"', '-Server']) {
      expect(headers).toContain(header);
    }
  });

  it('answers metrics and readiness with 404', () => {
    const internal = block('(internal_only)');
    expect(internal).toContain('@internal path /metrics /metrics/* /readyz');
    expect(internal).toContain('respond @internal 404');
  });

  it.each([
    ['{$CTI_AGENT_HOST}', 'push-gateway:8080'],
    ['{$CTI_WEBHOOK_HOST}', 'webhook-ingress:8080'],
  ])('serves %s from %s with the shared policies', (site, upstream) => {
    const body = block(site);
    for (const snippet of ['import tls_policy', 'import security_headers', 'import internal_only']) {
      expect(body).toContain(snippet);
    }
    expect(body).toContain(`reverse_proxy ${upstream} {`);
    expect(body).toContain('health_uri /readyz');
    expect(body).toMatch(/max_size \d+MB/);
  });

  it('has no admin endpoint and nothing but the two sites on public ports', () => {
    expect(caddyfile).toMatch(/\n\tadmin off\n/);
    const sites = [...caddyfile.matchAll(/\n([^\s(#][^\n]*) \{/g)].map((match) => match[1]);
    expect(sites).toEqual(['{$CTI_AGENT_HOST}', '{$CTI_WEBHOOK_HOST}', ':8081']);
    expect(block(':8081')).toContain('bind 127.0.0.1');
  });
});
