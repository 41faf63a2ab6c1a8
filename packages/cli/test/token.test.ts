import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';

import { AgentTokenKeys, verifyAgentToken } from '@cti/push-gateway/tokens';
import { describe, expect, it } from 'vitest';

import { EXIT_USAGE, runCli } from '../src/index.js';

const root = join(import.meta.dirname, '../../..');
const KEY = 'cli-test-agent-token-key-0123456789abcdef';

function io(environment: Record<string, string> = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  return {
    io: { stdout, stderr, stdin: new PassThrough(), environment, cwd: root },
    out: () => out,
    err: () => err,
  };
}

describe('cti token', () => {
  it('prints a token the gateway accepts', async () => {
    const session = io({ AGENT_TOKEN_KEY: KEY, PBX_ID: 'pbx7' });
    expect(await runCli(['token', '--agent', 'anna', '--ext', '101', '--ext', '102', '--ttl', '600'], session.io)).toBe(0);
    const claims = await verifyAgentToken(new AgentTokenKeys([KEY]), session.out().trim());
    expect(claims).toMatchObject({ agentId: 'anna', extensions: ['101', '102'], pbx: 'pbx7' });
    expect(claims.expiresAt - Date.now()).toBeLessThanOrEqual(600_000);
    expect(session.err()).toContain('token for agent anna');
  });

  it('fails without a signing key and names the variable', async () => {
    const session = io();
    expect(await runCli(['token', '--agent', 'anna', '--ext', '101'], session.io)).toBe(1);
    expect(session.err()).toContain('AGENT_TOKEN_KEY');
  });

  it('rejects a missing extension with the usage status', async () => {
    const session = io({ AGENT_TOKEN_KEY: KEY });
    expect(await runCli(['token', '--agent', 'anna'], session.io)).toBe(EXIT_USAGE);
    expect(session.err()).toContain('--ext is missing');
  });
});

describe('cti api-key create', () => {
  it('prints the key once with the entry that holds only its hash', async () => {
    const session = io();
    expect(await runCli(['api-key', 'create', '--id', 'crm-sso', '--expires-days', '30'], session.io)).toBe(0);
    const { key, entry } = JSON.parse(session.out()) as { key: string; entry: { id: string; sha256: string; expiresAt: string } };
    expect(entry.id).toBe('crm-sso');
    expect(entry.sha256).toBe(createHash('sha256').update(key).digest('hex'));
    expect(JSON.stringify(entry)).not.toContain(key);
    expect(Date.parse(entry.expiresAt) - Date.now()).toBeGreaterThan(29 * 86_400_000);
  });
});
