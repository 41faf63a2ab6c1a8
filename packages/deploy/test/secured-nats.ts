import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

import { Bus } from '@cti/bus';
import { inboxPrefix, type ServiceName } from '@cti/contracts';
import { createLogger } from '@cti/logging';
import { startNatsServer, waitFor, type NatsServerHandle } from '@cti/testing';
import { errors, type NatsConnection } from '@nats-io/nats-core';

import { generatedAccounts, generateSecrets, SecretSpecs, type SecretConsumer } from '../src/index.js';

export const root = join(import.meta.dirname, '../../..');

export type PermissionViolation = InstanceType<typeof errors.PermissionViolationError>;

/** A nats-server running `deploy/nats/` with the users and passwords of a fresh secrets directory. */
export interface SecuredNats {
  server: NatsServerHandle;
  /** The deployment's secrets, as `cti secrets generate` writes them. */
  secretsDirectory: string;
  /** Path of a secret file of the deployment. */
  secretPath(name: string): string;
  password(service: ServiceName): string;
  dispose(): Promise<void>;
}

/** Name of the secret file with a user's NATS password. */
export function passwordSecret(service: ServiceName): string {
  const consumer: SecretConsumer = service === 'cli' ? 'cti' : service;
  const spec = SecretSpecs.find((candidate) => candidate.mounts[consumer] === 'NATS_PASSWORD_FILE');
  if (spec === undefined) {
    throw new Error(`no NATS password secret for ${service}`);
  }
  return spec.name;
}

/**
 * Starts a private nats-server with the account section of `deploy/nats/nats.conf`, the generated
 * `authorization.conf` and the password hashes of a new secrets directory, all as in production.
 * `editAuthorization` changes the permissions first, for tests that need a config that drifted.
 */
export async function startSecuredNats(editAuthorization: (text: string) => string = (text) => text): Promise<SecuredNats> {
  // The secrets directory is a sibling of the server's own temporary directory, so the server
  // config includes its files the way nats.conf does, by a relative path.
  const secretsDirectory = mkdtempSync(join(tmpdir(), 'cti-deploy-secrets-'));
  generateSecrets({ directory: secretsDirectory });
  writeFileSync(join(secretsDirectory, 'authorization.conf'), editAuthorization(readFileSync(join(root, 'deploy/nats/authorization.conf'), 'utf8')));
  const relative = `../${basename(secretsDirectory)}`;
  const serverConfig = readFileSync(join(root, 'deploy/nats/nats.conf'), 'utf8');
  const server = await startNatsServer({
    config: [`include "${relative}/nats_password_hashes.conf"`, `include "${relative}/authorization.conf"`, generatedAccounts(serverConfig)].join('\n'),
  });
  const secretPath = (name: string) => join(secretsDirectory, name);
  return {
    server,
    secretsDirectory,
    secretPath,
    password: (service) => readFileSync(secretPath(passwordSecret(service)), 'utf8').trim(),
    async dispose() {
      await server.dispose();
      rmSync(secretsDirectory, { recursive: true, force: true });
    },
  };
}

/** A connection as one NATS user, with every permission violation the server reported to it. */
export interface UserClient {
  service: ServiceName;
  bus: Bus;
  connection: NatsConnection;
  violations: PermissionViolation[];
}

const silent = createLogger({ service: 'deploy-test', level: 'silent' });

export async function connectUser(nats: SecuredNats, service: ServiceName): Promise<UserClient> {
  const bus = await Bus.connect(
    { natsUrl: nats.server.url, natsUser: service, natsPassword: nats.password(service) },
    { name: `${service}-probe`, logger: silent, waitOnFirstConnect: false, inboxPrefix: inboxPrefix(service) },
  );
  const violations: PermissionViolation[] = [];
  void (async () => {
    for await (const status of bus.connection.status()) {
      if (status.type === 'error' && status.error instanceof errors.PermissionViolationError) {
        violations.push(status.error);
      }
    }
  })();
  return { service, bus, connection: bus.connection, violations };
}

const encoder = new TextEncoder();

export async function expectPublishDenied(client: UserClient, subject: string): Promise<void> {
  client.connection.publish(subject, encoder.encode('{"probe":true}'));
  await client.connection.flush();
  await waitFor(
    () => client.violations.some((violation) => violation.operation === 'publish' && violation.subject === subject),
    `${client.service} denied publishing to ${subject}`,
    { timeoutMs: 5000 },
  );
}

export async function expectSubscribeDenied(client: UserClient, subject: string): Promise<void> {
  const subscription = client.connection.subscribe(subject);
  await client.connection.flush();
  await waitFor(
    () => client.violations.some((violation) => violation.operation === 'subscription' && violation.subject === subject),
    `${client.service} denied subscribing to ${subject}`,
    { timeoutMs: 5000 },
  );
  subscription.unsubscribe();
}
