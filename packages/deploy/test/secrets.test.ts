import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import bcrypt from 'bcryptjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { generateApiKey, parseApiKeyFile } from '@cti/push-gateway';

import { generateSecrets, NATS_PASSWORD_HASHES, natsUsers, PLACEHOLDER, SecretSpecs } from '../src/index.js';

const root = join(import.meta.dirname, '../../..');
let directory: string;

beforeEach(() => {
  directory = join(mkdtempSync(join(tmpdir(), 'cti-secrets-')), 'secrets');
});

afterEach(() => {
  rmSync(join(directory, '..'), { recursive: true, force: true });
});

function read(name: string): string {
  return readFileSync(join(directory, name), 'utf8').trim();
}

describe('generateSecrets', () => {
  it('writes 256-bit secrets with mode 600 in a directory with mode 700', () => {
    generateSecrets({ directory });
    expect(statSync(directory).mode & 0o777).toBe(0o700);
    for (const spec of SecretSpecs.filter((candidate) => candidate.source === 'generated')) {
      expect(statSync(join(directory, spec.name)).mode & 0o777, spec.name).toBe(0o600);
      if (spec.name !== NATS_PASSWORD_HASHES && spec.initialContent === undefined) {
        expect(Buffer.from(read(spec.name), 'base64url')).toHaveLength(32);
      }
    }
  });

  it('writes a different value into every secret', () => {
    generateSecrets({ directory });
    const values = SecretSpecs.filter((spec) => spec.source === 'generated' && spec.name !== NATS_PASSWORD_HASHES && spec.initialContent === undefined).map((spec) =>
      read(spec.name),
    );
    expect(new Set(values).size).toBe(values.length);
  });

  it('leaves operator secrets to the operator and reports them', () => {
    const statuses = generateSecrets({ directory });
    for (const spec of SecretSpecs.filter((candidate) => candidate.source === 'operator')) {
      expect(existsSync(join(directory, spec.name)), spec.name).toBe(false);
      expect(statuses.find((status) => status.name === spec.name)?.state).toBe('missing');
    }
    writeFileSync(join(directory, 'ami_secret'), `${PLACEHOLDER}\n`);
    writeFileSync(join(directory, 'suitecrm_client_secret'), 'from-the-crm-admin\n');
    const again = generateSecrets({ directory });
    expect(again.find((status) => status.name === 'ami_secret')?.state).toBe('placeholder');
    expect(again.find((status) => status.name === 'suitecrm_client_secret')?.state).toBe('present');
    expect(read('suitecrm_client_secret')).toBe('from-the-crm-admin');
  });

  it('keeps existing secrets unless rotated', () => {
    generateSecrets({ directory });
    const key = read('agent_token_key');
    const phoneKey = read('phone_hash_key');
    expect(generateSecrets({ directory }).find((status) => status.name === 'agent_token_key')?.state).toBe('kept');
    expect(read('agent_token_key')).toBe(key);
    const statuses = generateSecrets({ directory, rotate: ['agent_token_key'] });
    expect(statuses.find((status) => status.name === 'agent_token_key')?.state).toBe('rotated');
    expect(read('agent_token_key')).not.toBe(key);
    expect(read('phone_hash_key')).toBe(phoneKey);
  });

  it('rewrites the hashes in place when a NATS password rotates', () => {
    generateSecrets({ directory });
    const before = statSync(join(directory, NATS_PASSWORD_HASHES)).ino;
    const hashes = read(NATS_PASSWORD_HASHES);
    generateSecrets({ directory, rotate: ['nats_crm_sync_password'] });
    expect(statSync(join(directory, NATS_PASSWORD_HASHES)).ino).toBe(before);
    expect(read(NATS_PASSWORD_HASHES)).not.toBe(hashes);
  });

  it('starts an empty API key file that push-gateway accepts, and keeps its entries', () => {
    generateSecrets({ directory });
    expect(parseApiKeyFile(read('push_gateway_api_keys'), 'push_gateway_api_keys')).toEqual([]);
    const { entry } = generateApiKey({ id: 'crm-sso' });
    writeFileSync(join(directory, 'push_gateway_api_keys'), JSON.stringify({ keys: [entry] }));
    expect(generateSecrets({ directory }).find((status) => status.name === 'push_gateway_api_keys')?.state).toBe('kept');
    expect(parseApiKeyFile(read('push_gateway_api_keys'), 'push_gateway_api_keys')).toEqual([entry]);
    expect(() => generateSecrets({ directory, rotate: ['push_gateway_api_keys'] })).toThrow(/cannot rotate push_gateway_api_keys/);
  });

  it('rejects rotating an operator secret', () => {
    expect(() => generateSecrets({ directory, rotate: ['ami_secret'] })).toThrow(/cannot rotate ami_secret/);
    expect(existsSync(directory)).toBe(false);
  });

  it('hashes every NATS password with bcrypt', () => {
    generateSecrets({ directory });
    const hashes = read(NATS_PASSWORD_HASHES);
    for (const user of natsUsers()) {
      const spec = SecretSpecs.find((candidate) => candidate.name === `nats_${user.user.replaceAll('-', '_')}_password`);
      const line = hashes.split('\n').find((candidate) => candidate.startsWith(`${user.passwordVariable}: `));
      const hash = JSON.parse(line?.slice(user.passwordVariable.length + 2) ?? '""') as string;
      expect(bcrypt.compareSync(read(spec!.name), hash), user.user).toBe(true);
    }
  });
});

describe('deploy/secrets.example', () => {
  const example = join(root, 'deploy/secrets.example');
  const readme = readFileSync(join(example, 'README.md'), 'utf8');

  it('names every secret of the deployment', () => {
    for (const spec of SecretSpecs) {
      expect(readme, spec.name).toContain(`\`${spec.name}\``);
    }
  });

  it('holds a placeholder for each secret the operator provides', () => {
    for (const spec of SecretSpecs.filter((candidate) => candidate.source === 'operator')) {
      expect(readFileSync(join(example, spec.name), 'utf8'), spec.name).toContain(PLACEHOLDER);
    }
  });
});
