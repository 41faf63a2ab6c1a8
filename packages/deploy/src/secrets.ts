import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { ServiceNames, type ServiceName } from '@cti/contracts';
import bcrypt from 'bcryptjs';

import { passwordVariable } from './nats-permissions.js';

/** A container of the compose deployment that can be given secrets. */
export type SecretConsumer = Exclude<ServiceName, 'cli'> | 'nats' | 'cti';

/** One secret file of a deployment: who provides it, who reads it, and through which variable. */
export interface SecretSpec {
  /** File name under the secrets directory, also the Docker secret name. */
  name: string;
  description: string;
  /** `generated`: `cti secrets generate` creates it; `operator`: it comes from the PBX, CRM or ElevenLabs. */
  source: 'generated' | 'operator';
  /** Containers that mount it, each under the variable that points at the file. */
  mounts: Partial<Record<SecretConsumer, string>>;
  /** Several secrets, one per line, so an old and a new one can be accepted during a rotation. */
  list?: boolean;
  /**
   * Content of a new file, for a generated file that is not a random secret. Such a file is
   * edited by the operator afterwards and never replaced, so it cannot be rotated.
   */
  initialContent?: string;
}

const NATS_USERS = ServiceNames;

function natsPasswordSecret(service: ServiceName): SecretSpec {
  const consumer: SecretConsumer = service === 'cli' ? 'cti' : service;
  return {
    name: `nats_${service.replaceAll('-', '_')}_password`,
    description: `NATS password of the ${service} user`,
    source: 'generated',
    mounts: { [consumer]: 'NATS_PASSWORD_FILE' },
  };
}

/** Name of the file with the bcrypt hashes of every NATS password, included by the NATS config. */
export const NATS_PASSWORD_HASHES = 'nats_password_hashes.conf';

/** Every secret of a compose or Kubernetes deployment. Each container mounts only those listed for it. */
export const SecretSpecs: readonly SecretSpec[] = [
  {
    name: 'ami_secret',
    description: 'password of the AMI user in /etc/asterisk/manager.conf (FreePBX: Settings, Asterisk Manager Users)',
    source: 'operator',
    mounts: { 'ami-bridge': 'AMI_SECRET_FILE' },
  },
  {
    name: 'suitecrm_client_secret',
    description: 'secret of the SuiteCRM OAuth2 client (client credentials grant)',
    source: 'operator',
    mounts: { 'crm-sync': 'SUITECRM_CLIENT_SECRET_FILE' },
  },
  {
    name: 'elevenlabs_webhook_secrets',
    description: 'ElevenLabs webhook HMAC secrets, one per line; two lines while a secret is rotated',
    source: 'operator',
    mounts: { 'webhook-ingress': 'ELEVENLABS_WEBHOOK_SECRETS_FILE' },
    list: true,
  },
  {
    name: 'elevenlabs_conversation_init_secrets',
    description:
      'shared secrets the ElevenLabs conversation-initiation webhook sends in its auth header, one per line; copy the first into the header settings in ElevenLabs',
    source: 'generated',
    mounts: { 'webhook-ingress': 'ELEVENLABS_CONVERSATION_INIT_SECRETS_FILE' },
    list: true,
  },
  {
    name: 'agent_token_key',
    description: 'key that signs and verifies agent tokens',
    source: 'generated',
    mounts: { 'push-gateway': 'AGENT_TOKEN_KEY_FILE' },
  },
  {
    name: 'push_gateway_api_keys',
    description: 'API keys that may mint agent tokens, as JSON with the SHA-256 hash of each key; starts empty, `cti api-key create` prints the entries to add',
    source: 'generated',
    mounts: { 'push-gateway': 'PUSH_API_KEYS_FILE' },
    initialContent: '{ "keys": [] }\n',
  },
  {
    name: 'phone_hash_key',
    description: 'key of the phone number hash in audit events and logs; the same for every service so hashes correlate',
    source: 'generated',
    mounts: {
      'ami-bridge': 'PHONE_HASH_KEY_FILE',
      'crm-sync': 'PHONE_HASH_KEY_FILE',
      'webhook-ingress': 'PHONE_HASH_KEY_FILE',
      'push-gateway': 'PHONE_HASH_KEY_FILE',
      cti: 'PHONE_HASH_KEY_FILE',
    },
  },
  ...NATS_USERS.map((service) => natsPasswordSecret(service)),
  {
    name: NATS_PASSWORD_HASHES,
    description: 'bcrypt hashes of the NATS passwords, derived from the password files',
    source: 'generated',
    mounts: { nats: '(included by nats.conf)' },
  },
];

/** Bytes of randomness in each generated secret: 256 bits. */
export const SECRET_BYTES = 32;

/** bcrypt cost of the NATS password hashes, as `nats server passwd` uses. */
export const BCRYPT_COST = 11;

export interface GenerateOptions {
  directory: string;
  /** Generated secrets to replace with new values (a rotation); operator secrets cannot be named. */
  rotate?: readonly string[];
  /** Owner for every file, `uid:gid`; applied only when running as root. */
  owner?: { uid: number; gid: number };
}

export interface SecretStatus {
  name: string;
  state: 'created' | 'rotated' | 'kept' | 'missing' | 'placeholder' | 'present';
}

/** Placeholder in `deploy/secrets.example/`; a secret file that still contains it is not filled in. */
export const PLACEHOLDER = 'CHANGE-ME';

/** Returns a new random secret: 32 bytes from the system CSPRNG, base64url without padding (43 characters). */
export function newSecret(): string {
  return randomBytes(SECRET_BYTES).toString('base64url');
}

function writeSecretFile(path: string, content: string, owner: GenerateOptions['owner']): void {
  // Rewritten in place rather than replaced: Docker bind-mounts secret files by inode, so a
  // running container (NATS on a configuration reload) sees the new content only this way.
  writeFileSync(path, content, { mode: 0o600 });
  chmodSync(path, 0o600);
  if (owner !== undefined && process.getuid?.() === 0) {
    chownSync(path, owner.uid, owner.gid);
  }
}

function readSecret(path: string): string {
  return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
}

/**
 * Renders the NATS password hashes file: one bcrypt hash per user, as the variables that
 * `deploy/nats/authorization.conf` uses. `passwords` maps each service to its password.
 */
export function renderPasswordHashes(passwords: ReadonlyMap<ServiceName, string>, cost = BCRYPT_COST): string {
  const lines = ['# bcrypt hashes of the NATS passwords. Generated by `pnpm cti secrets generate`; regenerate after a rotation.'];
  for (const [service, password] of passwords) {
    lines.push(`${passwordVariable(service)}: ${JSON.stringify(bcrypt.hashSync(password, cost))}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Creates the generated secrets that are missing and those named in `rotate`, rewrites the NATS
 * password hashes from the password files, and reports the state of every secret. Files are
 * created with mode 600 in a directory with mode 700. Throws on a name in `rotate` that is not a
 * generated secret, before writing anything.
 */
export function generateSecrets(options: GenerateOptions): SecretStatus[] {
  const rotate = new Set(options.rotate ?? []);
  const rotatable = SecretSpecs.filter((spec) => spec.source === 'generated' && spec.name !== NATS_PASSWORD_HASHES && spec.initialContent === undefined).map(
    (spec) => spec.name,
  );
  for (const name of rotate) {
    if (!rotatable.includes(name)) {
      throw new Error(`cannot rotate ${name}: expected one of ${rotatable.join(', ')}`);
    }
  }
  mkdirSync(options.directory, { recursive: true, mode: 0o700 });
  chmodSync(options.directory, 0o700);
  const statuses: SecretStatus[] = [];

  for (const spec of SecretSpecs) {
    if (spec.name === NATS_PASSWORD_HASHES) {
      continue;
    }
    const path = join(options.directory, spec.name);
    const exists = existsSync(path);
    if (spec.source === 'operator') {
      const state = !exists ? 'missing' : readSecret(path).includes(PLACEHOLDER) ? 'placeholder' : 'present';
      statuses.push({ name: spec.name, state });
      continue;
    }
    if (exists && !rotate.has(spec.name) && !readSecret(path).includes(PLACEHOLDER)) {
      statuses.push({ name: spec.name, state: 'kept' });
      continue;
    }
    writeSecretFile(path, spec.initialContent ?? `${newSecret()}\n`, options.owner);
    statuses.push({ name: spec.name, state: exists ? 'rotated' : 'created' });
  }

  const passwords = new Map<ServiceName, string>();
  for (const service of NATS_USERS) {
    passwords.set(service, readSecret(join(options.directory, natsPasswordSecret(service).name)));
  }
  writeSecretFile(join(options.directory, NATS_PASSWORD_HASHES), renderPasswordHashes(passwords), options.owner);
  statuses.push({ name: NATS_PASSWORD_HASHES, state: 'created' });
  return statuses;
}
