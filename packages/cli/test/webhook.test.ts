import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';

import { afterAll, describe, expect, it } from 'vitest';

import { EXIT_USAGE, runCli } from '../src/index.js';

const directory = mkdtempSync(join(tmpdir(), 'cti-cli-webhook-'));
const fixtures = join(import.meta.dirname, '../../../testdata/elevenlabs');

afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

function session(environment: Record<string, string> = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  return { io: { stdout, stderr, stdin: new PassThrough(), environment, cwd: fixtures }, out: () => out, err: () => err };
}

describe('cti webhook sign', () => {
  it('reproduces the fixture signature from a secrets file', async () => {
    const secrets = join(directory, 'secrets');
    writeFileSync(secrets, '# current first\nwhsec_test_fixture_secret\nwhsec_older\n');
    const run = session();
    const status = await runCli(['webhook', 'sign', '--body', 'post_call_audio.json', '--secret-file', secrets, '--timestamp', '1767225600'], run.io);

    expect(status).toBe(0);
    expect(run.out()).toBe('t=1767225600,v0=a61ef16d2af01c3727cbe079311809fae8a0998701a923a25db235e9cbb091c8\n');
  });

  it('takes the first secret of ELEVENLABS_WEBHOOK_SECRETS', async () => {
    const run = session({ ELEVENLABS_WEBHOOK_SECRETS: 'whsec_test_fixture_secret, whsec_older' });
    expect(await runCli(['webhook', 'sign', '--body', 'call_initiation_failure.sip_busy.json', '--timestamp', '1767225600'], run.io)).toBe(0);
    expect(run.out()).toBe('t=1767225600,v0=456813d5ed72502df6d0889a035467abc1e4cac463e8d4042fd3e7e579d27d4c\n');
  });

  it('rejects a missing secret with the usage status', async () => {
    const run = session();
    expect(await runCli(['webhook', 'sign', '--body', 'post_call_audio.json'], run.io)).toBe(EXIT_USAGE);
    expect(run.err()).toContain('no secret: pass --secret-file');
  });
});
