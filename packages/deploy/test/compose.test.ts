import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';

import { DeployedServices, SecretSpecs, type DeployedService, type SecretConsumer } from '../src/index.js';
import { acceptedVariables, loadDeployedConfig, mandatoryVariables, operatorValue, ProgramConfigs, sampleSecrets, unknownVariables } from './service-configs.js';

const root = join(import.meta.dirname, '../../..');
const composeText = readFileSync(join(root, 'docker-compose.yml'), 'utf8');

interface ComposeService {
  user?: string;
  read_only?: boolean;
  cap_drop?: string[];
  cap_add?: string[];
  security_opt?: string[];
  restart?: string;
  privileged?: boolean;
  ports?: string[];
  networks?: string[];
  environment?: Record<string, string>;
  secrets?: (string | { source: string; target?: string })[];
  tmpfs?: string[];
  logging?: { driver?: string; options?: Record<string, string> };
  deploy?: { resources?: { limits?: { cpus?: string; memory?: string } } };
  profiles?: string[];
  network_mode?: string;
  pid?: string;
  volumes?: string[];
}

interface ComposeFile {
  services: Record<string, ComposeService>;
  networks: Record<string, { internal?: boolean } | null>;
  secrets: Record<string, { file: string }>;
}

const compose = parse(composeText, { merge: true }) as ComposeFile;
const entries = Object.entries(compose.services);

/** Compose services that mount a secret consumer's files: the CLI runs as the setup job and as `cti`. */
function containersOf(consumer: SecretConsumer): string[] {
  return consumer === 'cti' ? ['cti', 'setup'] : [consumer];
}

function secretNames(service: ComposeService): string[] {
  return (service.secrets ?? []).map((secret) => (typeof secret === 'string' ? secret : secret.source));
}

function secretPath(service: ComposeService, name: string): string {
  const entry = (service.secrets ?? []).find((secret) => (typeof secret === 'string' ? secret : secret.source) === name);
  return typeof entry === 'object' && entry.target !== undefined ? entry.target : `/run/secrets/${name}`;
}

describe('docker-compose.yml', () => {
  it('runs the four services, NATS, the setup job and the proxy', () => {
    expect(Object.keys(compose.services).sort()).toEqual([...DeployedServices, 'cti', 'nats', 'proxy', 'setup'].sort());
  });

  it('publishes ports on the proxy only', () => {
    for (const [name, service] of entries) {
      if (name === 'proxy') {
        expect(service.ports).toEqual(['80:80', '443:443']);
      } else {
        expect(service.ports, name).toBeUndefined();
      }
    }
  });

  it('puts NATS and every service on the internal network', () => {
    expect(compose.networks['internal']?.internal).toBe(true);
    for (const name of ['nats', 'setup', 'cti', ...DeployedServices]) {
      expect(compose.services[name]?.networks, name).toContain('internal');
    }
  });

  it('keeps the proxy off the internal network', () => {
    expect(compose.services['proxy']?.networks?.sort()).toEqual(['edge', 'web']);
    expect(compose.networks['web']?.internal).toBe(true);
  });

  it('lets only ami-bridge, crm-sync and the proxy reach out', () => {
    const outbound = Object.entries(compose.networks)
      .filter(([, network]) => network?.internal !== true)
      .map(([name]) => name);
    const reaching = entries.filter(([, service]) => (service.networks ?? []).some((network) => outbound.includes(network))).map(([name]) => name);
    expect(reaching.sort()).toEqual(['ami-bridge', 'crm-sync', 'proxy']);
    expect(compose.services['ami-bridge']?.networks?.sort()).toEqual(['internal', 'pbx']);
    expect(compose.services['crm-sync']?.networks?.sort()).toEqual(['crm', 'internal']);
  });

  it('hardens every container', () => {
    for (const [name, service] of entries) {
      expect(service.cap_drop, name).toEqual(['ALL']);
      expect(service.cap_add, name).toBeUndefined();
      expect(service.security_opt, name).toContain('no-new-privileges:true');
      expect(service.read_only, name).toBe(true);
      expect(service.privileged, name).toBeUndefined();
      expect(service.network_mode, name).toBeUndefined();
      expect(service.pid, name).toBeUndefined();
      expect(service.user, name).toBe('10001:10001');
      expect(service.restart, name).toMatch(/^(unless-stopped|always|on-failure|no)$/);
    }
  });

  it('limits memory and CPU of every container', () => {
    for (const [name, service] of entries) {
      expect(service.deploy?.resources?.limits?.memory, name).toMatch(/^\d+[mg]$/);
      expect(Number(service.deploy?.resources?.limits?.cpus), name).toBeGreaterThan(0);
    }
  });

  it('rotates the logs of every container', () => {
    for (const [name, service] of entries) {
      expect(service.logging?.driver, name).toBe('json-file');
      expect(service.logging?.options?.['max-size'], name).toMatch(/^\d+m$/);
      expect(Number(service.logging?.options?.['max-file']), name).toBeGreaterThan(1);
    }
  });

  it('restarts long-running containers only', () => {
    for (const [name, service] of entries) {
      const oneShot = name === 'setup' || name === 'cti';
      expect(service.restart, name).toBe(oneShot ? 'no' : 'unless-stopped');
    }
  });

  it('gives a writable tmp to webhook-ingress alone', () => {
    for (const [name, service] of entries) {
      if (name === 'webhook-ingress') {
        expect(service.tmpfs?.[0]).toMatch(/^\/tmp:.*noexec/);
      } else {
        expect(service.tmpfs, name).toBeUndefined();
      }
    }
  });

  it('mounts each secret only where it is needed', () => {
    for (const spec of SecretSpecs) {
      const expected = (Object.keys(spec.mounts) as SecretConsumer[]).flatMap((consumer) => containersOf(consumer)).sort();
      const actual = entries.filter(([, service]) => secretNames(service).includes(spec.name)).map(([name]) => name).sort();
      expect(actual, spec.name).toEqual(expected);
    }
  });

  it('declares no secret that the deployment does not know', () => {
    const known = SecretSpecs.map((spec) => spec.name).sort();
    expect(Object.keys(compose.secrets).sort()).toEqual(known);
    for (const [name, secret] of Object.entries(compose.secrets)) {
      expect(secret.file, name).toBe(`./deploy/secrets/${name}`);
    }
    for (const [name, service] of entries) {
      for (const secret of secretNames(service)) {
        expect(known, `${name} mounts ${secret}`).toContain(secret);
      }
    }
  });

  it('points each service at its secret files', () => {
    for (const spec of SecretSpecs) {
      for (const [consumer, variable] of Object.entries(spec.mounts) as [SecretConsumer, string][]) {
        if (consumer === 'nats') {
          expect(secretPath(compose.services['nats']!, spec.name)).toBe('/etc/nats/nats_password_hashes.conf');
          continue;
        }
        for (const container of containersOf(consumer)) {
          const service = compose.services[container]!;
          expect(service.environment?.[variable], `${container} ${variable}`).toBe(secretPath(service, spec.name));
        }
      }
    }
  });

  it('passes no secret as an environment value', () => {
    for (const [name, service] of entries) {
      for (const [variable, value] of Object.entries(service.environment ?? {})) {
        if (/SECRET|PASSWORD|TOKEN|KEY/.test(variable)) {
          expect(variable, `${name} ${variable}`).toMatch(/_FILE$/);
          expect(String(value), `${name} ${variable}`).toMatch(/^\/run\/secrets\//);
        }
      }
    }
  });

  it('logs in to NATS as the user of each service', () => {
    for (const service of DeployedServices) {
      expect(compose.services[service]?.environment?.['NATS_USER']).toBe(service);
    }
    expect(compose.services['setup']?.environment?.['NATS_USER']).toBe('cli');
  });
});

/** The program each container runs: a service, or the CLI for the setup job and `cti`. */
const Programs: [string, DeployedService | 'cli'][] = [...DeployedServices.map((service) => [service, service] as [string, DeployedService]), ['setup', 'cli'], ['cti', 'cli']];

/**
 * Builds a container's environment after compose interpolation. With `minimal`, .env sets only the
 * variables compose requires (`${NAME:?…}`) and the rest take their `:-` defaults. With `full`,
 * .env sets every variable to its value in .env.example.
 */
function environmentOf(container: string, env: 'minimal' | 'full'): Record<string, string> {
  const environment = compose.services[container]?.environment ?? {};
  const interpolate = (value: string) =>
    value.replace(/\$\{([A-Z0-9_]+)(?:(:?[-?])([^}]*))?\}/g, (_match, name: string, operator: string | undefined, fallback: string) => {
      const required = operator?.endsWith('?') === true;
      if (env === 'full' || required) {
        return operatorValue(name, required);
      }
      return operator?.endsWith('-') === true ? fallback : '';
    });
  return Object.fromEntries(Object.entries(environment).map(([name, value]) => [name, interpolate(String(value))]));
}

describe('docker-compose.yml settings against the config specs', () => {
  const directory = mkdtempSync(join(tmpdir(), 'cti-compose-secrets-'));
  const secretFile = sampleSecrets(join(directory, 'secrets'));

  afterAll(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  it.each(Programs)('%s sets only variables its program reads', (container, program) => {
    expect(unknownVariables(ProgramConfigs[program], environmentOf(container, 'full'))).toEqual([]);
  });

  it.each(Programs)('%s sets every variable its program requires', (container, program) => {
    const environment = environmentOf(container, 'minimal');
    for (const name of mandatoryVariables(ProgramConfigs[program])) {
      const set = (environment[name] ?? '') !== '' || (environment[`${name}_FILE`] ?? '') !== '';
      expect(set, `${container} ${name}`).toBe(true);
    }
  });

  it.each(Programs)('%s loads its configuration from the required .env settings alone', (container, program) => {
    expect(() => loadDeployedConfig(program, environmentOf(container, 'minimal'), secretFile)).not.toThrow();
  });

  it.each(Programs)('%s loads its configuration from every .env.example setting', (container, program) => {
    expect(() => loadDeployedConfig(program, environmentOf(container, 'full'), secretFile)).not.toThrow();
  });

  it('names each secret by a variable its program reads', () => {
    for (const spec of SecretSpecs) {
      for (const [consumer, variable] of Object.entries(spec.mounts) as [SecretConsumer, string][]) {
        if (consumer !== 'nats') {
          expect(acceptedVariables(ProgramConfigs[consumer === 'cti' ? 'cli' : consumer]), `${spec.name} in ${consumer}`).toContain(variable);
        }
      }
    }
  });

  it('gives ami-bridge and push-gateway the same PBX id', () => {
    for (const env of ['minimal', 'full'] as const) {
      expect(environmentOf('push-gateway', env)['PBX_ID']).toBe(environmentOf('ami-bridge', env)['PBX_ID']);
    }
  });

  it('serves the proxy on the ports the services listen on', () => {
    const caddyfile = readFileSync(join(root, 'deploy/proxy/Caddyfile'), 'utf8');
    expect(caddyfile).toContain(`reverse_proxy push-gateway:${environmentOf('push-gateway', 'full')['PUSH_HTTP_PORT']} {`);
    expect(caddyfile).toContain(`reverse_proxy webhook-ingress:${environmentOf('webhook-ingress', 'full')['WEBHOOK_HTTP_PORT']} {`);
  });
});

/** `docker compose` (v2) or `docker-compose` (v1), whichever runs `version` here. */
function composeClient(): string[] | undefined {
  for (const command of [['docker', 'compose'], ['docker-compose']]) {
    const result = spawnSync(command[0]!, [...command.slice(1), 'version'], { encoding: 'utf8' });
    if (result.status === 0) {
      return command;
    }
  }
  return undefined;
}

const requiredVariables = [...new Set([...composeText.matchAll(/\$\{([A-Z0-9_]+):\?/g)].map((match) => match[1]!))];

/** Runs `config` with the given .env content; the variables it names are removed from the process environment. */
function runConfig(client: string[], envContent: string): { status: number | null; stdout: string; stderr: string } {
  const directory = mkdtempSync(join(tmpdir(), 'cti-compose-'));
  try {
    const envFile = join(directory, 'env');
    writeFileSync(envFile, envContent);
    const environment = { ...process.env };
    for (const name of requiredVariables) {
      delete environment[name];
    }
    const [command, ...prefix] = client;
    return spawnSync(command!, [...prefix, '--env-file', envFile, '-f', join(root, 'docker-compose.yml'), 'config'], {
      encoding: 'utf8',
      cwd: root,
      env: environment,
    });
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

describe('docker compose config', () => {
  const client = composeClient();

  // NOTE: runs only where a compose client is installed (scripts/setup.sh installs Debian's
  // docker-compose for the tests); the structural checks above run everywhere.
  it.runIf(client !== undefined)('validates the file with every required variable set', () => {
    const result = runConfig(client!, requiredVariables.map((name) => `${name}=example-${name.toLowerCase()}`).join('\n'));
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('no-new-privileges:true');
  });

  it.runIf(client !== undefined)('rejects the file when a required variable is missing', () => {
    const result = runConfig(client!, '');
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/set [A-Z_]+ in \.env/);
  });
});
