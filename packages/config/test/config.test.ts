import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { ConfigError, configFingerprint, defineConfig, env, loadConfig } from '../src/index.js';

const spec = defineConfig('test-service', {
  host: env.string()('AMI_HOST', { description: 'AMI host name or address' }),
  port: env.port()('AMI_PORT', { description: 'AMI TCP port', default: 5038 }),
  secret: env.secret()('AMI_SECRET', { description: 'password of the AMI user' }),
  secrets: env.secretList()('WEBHOOK_SECRETS', { description: 'webhook signing secrets', optional: true }),
  mode: env.enum(['mask', 'hash'])('MODE', { description: 'phone log mode', default: 'mask' }),
  debug: env.boolean()('DEBUG_FRAMES', { description: 'log every AMI frame', default: false }),
});

function secretFile(content: string): string {
  const directory = mkdtempSync(join(tmpdir(), 'cti-config-'));
  const path = join(directory, 'secret');
  writeFileSync(path, content, { mode: 0o600 });
  return path;
}

function problemsOf(action: () => unknown): string[] {
  try {
    action();
  } catch (error) {
    if (error instanceof ConfigError) {
      return error.problems;
    }
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('converts values and applies defaults', () => {
    const config = loadConfig(spec, { AMI_HOST: 'pbx.example.net', AMI_SECRET: 's3cret', DEBUG_FRAMES: 'yes' });
    expect(config).toEqual({ host: 'pbx.example.net', port: 5038, secret: 's3cret', mode: 'mask', debug: true });
  });

  it('reads a secret from its _FILE variant without the trailing newline', () => {
    const config = loadConfig(spec, { AMI_HOST: 'h', AMI_SECRET_FILE: secretFile('from-file\n') });
    expect(config.secret).toBe('from-file');
  });

  it('reads a secret list one per line from a file', () => {
    const path = secretFile('# rotated 2026-12-01\nnew-secret\n\nold-secret\n');
    const config = loadConfig(spec, { AMI_HOST: 'h', AMI_SECRET: 'x', WEBHOOK_SECRETS_FILE: path });
    expect(config.secrets).toEqual(['new-secret', 'old-secret']);
  });

  it('reads a secret list comma-separated from the variable', () => {
    const config = loadConfig(spec, { AMI_HOST: 'h', AMI_SECRET: 'x', WEBHOOK_SECRETS: 'a, b' });
    expect(config.secrets).toEqual(['a', 'b']);
  });

  it('names a missing variable and what it is for', () => {
    const problems = problemsOf(() => loadConfig(spec, { AMI_HOST: 'h' }));
    expect(problems).toEqual([
      'AMI_SECRET is missing: password of the AMI user (set AMI_SECRET or AMI_SECRET_FILE)',
    ]);
  });

  it('lists every problem at once and never a value', () => {
    const problems = problemsOf(() =>
      loadConfig(spec, { AMI_PORT: 'seventy', MODE: 'loud-secret-value', AMI_SECRET: 'x' }),
    );
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/^AMI_HOST is missing/);
    expect(problems[1]).toMatch(/^AMI_PORT is invalid, expected a whole number: AMI TCP port$/);
    expect(problems[2]).toMatch(/^MODE is invalid, expected one of mask, hash/);
    expect(problems.join('\n')).not.toContain('loud-secret-value');
  });

  it('rejects a port out of range', () => {
    const problems = problemsOf(() => loadConfig(spec, { AMI_HOST: 'h', AMI_SECRET: 'x', AMI_PORT: '70000' }));
    expect(problems[0]).toMatch(/^AMI_PORT is invalid/);
  });

  it('reads a fallback variable only when unset', () => {
    const http = defineConfig('http-service', { port: env.port()('SERVICE_HTTP_PORT', { description: 'HTTP port', default: 8080, fallback: 'PORT' }) });
    expect(loadConfig(http, {}).port).toBe(8080);
    expect(loadConfig(http, { PORT: '3000' }).port).toBe(3000);
    expect(loadConfig(http, { PORT: '3000', SERVICE_HTTP_PORT: '9000' }).port).toBe(9000);
    expect(problemsOf(() => loadConfig(http, { PORT: 'http' }))[0]).toMatch(/^PORT is invalid/);
  });

  it('rejects a secret set twice', () => {
    const problems = problemsOf(() =>
      loadConfig(spec, { AMI_HOST: 'h', AMI_SECRET: 'x', AMI_SECRET_FILE: secretFile('y') }),
    );
    expect(problems).toEqual(['AMI_SECRET and AMI_SECRET_FILE are both set: keep one (password of the AMI user)']);
  });

  it('names an unreadable secret file by path', () => {
    const problems = problemsOf(() => loadConfig(spec, { AMI_HOST: 'h', AMI_SECRET_FILE: '/nonexistent/ami' }));
    expect(problems[0]).toBe(
      'AMI_SECRET_FILE points to a file that cannot be read (ENOENT): /nonexistent/ami (password of the AMI user)',
    );
  });
});

describe('configFingerprint', () => {
  it('changes with settings but not with secret values', () => {
    const base = loadConfig(spec, { AMI_HOST: 'h', AMI_SECRET: 'one' });
    const otherSecret = loadConfig(spec, { AMI_HOST: 'h', AMI_SECRET: 'two' });
    const otherHost = loadConfig(spec, { AMI_HOST: 'g', AMI_SECRET: 'one' });
    expect(configFingerprint(spec, base)).toBe(configFingerprint(spec, otherSecret));
    expect(configFingerprint(spec, base)).not.toBe(configFingerprint(spec, otherHost));
  });
});
