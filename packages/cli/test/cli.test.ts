import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';

import { describe, expect, it } from 'vitest';

import { EXIT_USAGE, renderEnvironmentExample, runCli } from '../src/index.js';

const root = join(import.meta.dirname, '../../..');

function io() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  return {
    io: { stdout, stderr, stdin: new PassThrough(), environment: {}, cwd: root },
    out: () => out,
    err: () => err,
  };
}

describe('cti', () => {
  it('lists its commands', async () => {
    const session = io();
    expect(await runCli(['--help'], session.io)).toBe(0);
    expect(session.out()).toContain('cti dlq replay');
  });

  it('rejects an unknown command with the usage status', async () => {
    const session = io();
    expect(await runCli(['frobnicate'], session.io)).toBe(EXIT_USAGE);
    expect(session.err()).toContain('unknown command: frobnicate');
  });

  it('rejects an unknown option with the usage status', async () => {
    const session = io();
    expect(await runCli(['dlq', 'list', '--colour'], session.io)).toBe(EXIT_USAGE);
    expect(session.err()).toContain('usage: cti dlq list');
  });
});

describe('.env.example', () => {
  it('documents every variable of every service', () => {
    const current = readFileSync(join(root, '.env.example'), 'utf8');
    // Run `pnpm cti docs` to rewrite it after changing a config schema.
    expect(current).toBe(renderEnvironmentExample());
  });
});
