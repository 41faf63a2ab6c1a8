import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

import { parse, parseAllDocuments } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';

import { DeployedServices, natsUsers, SecretSpecs, type DeployedService } from '../src/index.js';
import { loadDeployedConfig, mandatoryVariables, ProgramConfigs, sampleSecrets, unknownVariables } from './service-configs.js';

const root = join(import.meta.dirname, '../../..');
const base = join(root, 'deploy/kubernetes/base');

interface Manifest {
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  // The manifests are checked field by field below; their shapes vary by kind.
  spec: Record<string, unknown>;
}

interface Container {
  name: string;
  image: string;
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  envFrom?: { configMapRef?: { name: string } }[];
  securityContext?: {
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    privileged?: boolean;
    capabilities?: { drop?: string[]; add?: string[] };
  };
  resources?: { limits?: { cpu?: string; memory?: string }; requests?: { cpu?: string; memory?: string } };
  livenessProbe?: { httpGet?: { path: string; port: string } };
  readinessProbe?: { httpGet?: { path: string; port: string } };
  ports?: { name: string; containerPort: number }[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}

interface PodSpec {
  automountServiceAccountToken?: boolean;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; seccompProfile?: { type: string } };
  containers: Container[];
  volumes?: { name: string; secret?: { secretName: string; defaultMode?: number; items?: { key: string; path: string }[] } }[];
}

const kustomization = parse(readFileSync(join(base, 'kustomization.yaml'), 'utf8')) as { resources: string[]; namespace: string };
const manifests: Manifest[] = kustomization.resources.flatMap((file) =>
  parseAllDocuments(readFileSync(join(base, file), 'utf8')).map((document) => document.toJS() as Manifest),
);

function find(kind: string, name: string): Manifest {
  const manifest = manifests.find((candidate) => candidate.kind === kind && candidate.metadata.name === name);
  if (manifest === undefined) {
    throw new Error(`no ${kind} ${name} in deploy/kubernetes/base`);
  }
  return manifest;
}

function podSpec(manifest: Manifest): PodSpec {
  if (manifest.kind === 'Job' || manifest.kind === 'Deployment') {
    return (manifest.spec['template'] as { spec: PodSpec }).spec;
  }
  throw new Error(`${manifest.kind} has no pod template`);
}

const workloads = manifests.filter((manifest) => manifest.kind === 'Deployment' || manifest.kind === 'Job');
const policies = manifests.filter((manifest) => manifest.kind === 'NetworkPolicy');

describe('kustomize base', () => {
  it('lists every manifest file of the directory', () => {
    const files = readdirSync(base).filter((file) => file.endsWith('.yaml') && file !== 'kustomization.yaml');
    expect([...kustomization.resources].sort()).toEqual(files.sort());
    expect(kustomization.namespace).toBe('cti');
  });

  it('has a Deployment, a Service and a PodDisruptionBudget per service', () => {
    for (const service of DeployedServices) {
      expect(find('Deployment', service).spec['replicas'], service).toBeGreaterThanOrEqual(2);
      expect(find('Service', service).metadata.name).toBe(service);
      const budget = find('PodDisruptionBudget', service).spec as { minAvailable?: number; selector: { matchLabels: Record<string, string> } };
      expect(budget.selector.matchLabels['app.kubernetes.io/name']).toBe(service);
      expect(budget.minAvailable).toBe(1);
    }
  });

  it('autoscales crm-sync, webhook-ingress and push-gateway', () => {
    const scaled = manifests.filter((manifest) => manifest.kind === 'HorizontalPodAutoscaler');
    expect(scaled.map((manifest) => manifest.metadata.name).sort()).toEqual(['crm-sync', 'push-gateway', 'webhook-ingress']);
    for (const autoscaler of scaled) {
      const target = autoscaler.spec['scaleTargetRef'] as { kind: string; name: string };
      expect(target).toMatchObject({ kind: 'Deployment', name: autoscaler.metadata.name });
      expect(autoscaler.spec['minReplicas']).toBeGreaterThanOrEqual(2);
    }
  });

  it('runs every pod non-root with the RuntimeDefault seccomp profile', () => {
    expect(workloads.length).toBe(DeployedServices.length + 1);
    for (const workload of workloads) {
      const pod = podSpec(workload);
      expect(pod.securityContext?.runAsNonRoot, workload.metadata.name).toBe(true);
      expect(pod.securityContext?.runAsUser, workload.metadata.name).toBe(10001);
      expect(pod.securityContext?.seccompProfile?.type, workload.metadata.name).toBe('RuntimeDefault');
      expect(pod.automountServiceAccountToken, workload.metadata.name).toBe(false);
    }
  });

  it('runs every container read-only, without privileges or capabilities, within limits', () => {
    for (const workload of workloads) {
      for (const container of podSpec(workload).containers) {
        const context = container.securityContext;
        expect(context?.readOnlyRootFilesystem, container.name).toBe(true);
        expect(context?.allowPrivilegeEscalation, container.name).toBe(false);
        expect(context?.privileged, container.name).toBe(false);
        expect(context?.capabilities?.drop, container.name).toEqual(['ALL']);
        expect(context?.capabilities?.add, container.name).toBeUndefined();
        expect(container.resources?.limits?.memory, container.name).toBeDefined();
        expect(container.resources?.limits?.cpu, container.name).toBeDefined();
      }
    }
  });

  it('probes /healthz for liveness and /readyz for readiness', () => {
    for (const service of DeployedServices) {
      const [container] = podSpec(find('Deployment', service)).containers;
      const port = service === 'ami-bridge' || service === 'crm-sync' ? { name: 'ops', containerPort: 9464 } : { name: 'http', containerPort: 8080 };
      expect(container?.ports).toEqual([port]);
      expect(container?.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: port.name });
      expect(container?.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: port.name });
    }
  });

  it("mounts only the service's own secrets, as files", () => {
    for (const service of DeployedServices) {
      const pod = podSpec(find('Deployment', service));
      const [container] = pod.containers;
      const volume = pod.volumes?.find((candidate) => candidate.secret !== undefined);
      expect(volume?.secret?.secretName).toBe(`${service}-secrets`);
      expect(volume?.secret?.defaultMode).toBe(0o440);
      expect(container?.volumeMounts).toEqual([{ name: volume?.name, mountPath: '/run/secrets', readOnly: true }]);

      const expected = SecretSpecs.filter((spec) => spec.mounts[service] !== undefined);
      expect(volume?.secret?.items?.map((item) => item.key).sort()).toEqual(expected.map((spec) => spec.name).sort());
      for (const spec of expected) {
        const variable = container?.env?.find((entry) => entry.name === spec.mounts[service]);
        expect(variable?.value, `${service} ${spec.mounts[service]}`).toBe(`/run/secrets/${spec.name}`);
      }
    }
  });

  it('passes no secret as an environment value', () => {
    for (const workload of workloads) {
      for (const container of podSpec(workload).containers) {
        for (const variable of container.env ?? []) {
          expect(variable.valueFrom, `${container.name} ${variable.name}`).toBeUndefined();
          if (/SECRET|PASSWORD|TOKEN|KEY/.test(variable.name)) {
            expect(variable.name).toMatch(/_FILE$/);
          }
        }
      }
    }
  });

  it('logs in to NATS as each service, with replicated streams', () => {
    for (const workload of workloads) {
      const [container] = podSpec(workload).containers;
      const environment = Object.fromEntries((container?.env ?? []).map((entry) => [entry.name, entry.value]));
      const user = workload.metadata.name === 'cti-setup' ? 'cli' : workload.metadata.name;
      expect(environment['NATS_USER'], workload.metadata.name).toBe(user);
      expect(environment['JETSTREAM_REPLICAS'], workload.metadata.name).toBe('3');
    }
  });
});

/** Builds the environment of a workload's container: its ConfigMaps, then its own `env` entries. */
function environmentOf(workload: Manifest): Record<string, string> {
  const [container] = podSpec(workload).containers;
  const environment: Record<string, string> = {};
  for (const source of container?.envFrom ?? []) {
    const name = source.configMapRef?.name;
    if (name !== undefined) {
      Object.assign(environment, (find('ConfigMap', name) as unknown as { data: Record<string, string> }).data);
    }
  }
  for (const variable of container?.env ?? []) {
    environment[variable.name] = String(variable.value);
  }
  return environment;
}

describe('workload settings against the config specs', () => {
  const directory = mkdtempSync(join(tmpdir(), 'cti-kubernetes-secrets-'));
  const secretFile = sampleSecrets(join(directory, 'secrets'));
  const programs: [string, DeployedService | 'cli'][] = [...DeployedServices.map((service) => [service, service] as [string, DeployedService]), ['cti-setup', 'cli']];
  const workloadOf = (name: string) => workloads.find((candidate) => candidate.metadata.name === name)!;

  afterAll(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  it.each(programs)('%s sets only variables its program reads', (name, program) => {
    expect(unknownVariables(ProgramConfigs[program], environmentOf(workloadOf(name)))).toEqual([]);
  });

  it.each(programs)('%s sets every variable its program requires', (name, program) => {
    const environment = environmentOf(workloadOf(name));
    for (const variable of mandatoryVariables(ProgramConfigs[program])) {
      expect((environment[variable] ?? environment[`${variable}_FILE`] ?? '') !== '', `${name} ${variable}`).toBe(true);
    }
  });

  it.each(programs)('%s loads its configuration', (name, program) => {
    expect(() => loadDeployedConfig(program, environmentOf(workloadOf(name)), secretFile)).not.toThrow();
  });

  it('gives ami-bridge and push-gateway the same PBX id', () => {
    expect(environmentOf(workloadOf('push-gateway'))['PBX_ID']).toBe(environmentOf(workloadOf('ami-bridge'))['PBX_ID']);
  });

  it('lets the HTTP services listen on the ports their probes and Services use', () => {
    const ports: Record<string, string> = { 'push-gateway': 'PUSH_HTTP_PORT', 'webhook-ingress': 'WEBHOOK_HTTP_PORT', 'ami-bridge': 'OPS_PORT', 'crm-sync': 'OPS_PORT' };
    for (const [service, variable] of Object.entries(ports)) {
      const [container] = podSpec(workloadOf(service)).containers;
      expect(environmentOf(workloadOf(service))[variable], service).toBe(String(container?.ports?.[0]?.containerPort));
    }
  });

  it('allows the console origin of the agent host', () => {
    const ingress = find('Ingress', 'cti').spec as { rules: { host: string; http: { paths: { backend: { service: { name: string } } }[] } }[] };
    const agentHost = ingress.rules.find((rule) => rule.http.paths.some((path) => path.backend.service.name === 'push-gateway'))?.host;
    expect(environmentOf(workloadOf('push-gateway'))['PUSH_ALLOWED_ORIGINS']).toBe(`https://${agentHost}`);
  });
});

describe('NetworkPolicies', () => {
  interface Rule {
    to?: { ipBlock?: { cidr: string }; podSelector?: { matchLabels?: Record<string, string> }; namespaceSelector?: unknown }[];
    from?: { namespaceSelector?: { matchLabels?: Record<string, string> }; podSelector?: unknown }[];
    ports?: { port: number }[];
  }

  it('deny all traffic unless a policy allows it', () => {
    const deny = find('NetworkPolicy', 'default-deny').spec as { podSelector: object; policyTypes: string[]; ingress?: unknown; egress?: unknown };
    expect(deny.podSelector).toEqual({});
    expect(deny.policyTypes.sort()).toEqual(['Egress', 'Ingress']);
    expect(deny.ingress).toBeUndefined();
    expect(deny.egress).toBeUndefined();
  });

  it('let only ami-bridge and crm-sync leave the cluster', () => {
    const outbound = policies.filter((policy) => ((policy.spec['egress'] as Rule[] | undefined) ?? []).some((rule) => rule.to?.some((peer) => peer.ipBlock !== undefined)));
    const selected = outbound.map((policy) => (policy.spec['podSelector'] as { matchLabels: Record<string, string> }).matchLabels['app.kubernetes.io/name']);
    expect(selected.sort()).toEqual(['ami-bridge', 'crm-sync']);
    const pbx = (find('NetworkPolicy', 'ami-bridge-to-pbx').spec['egress'] as Rule[])[0];
    expect(pbx?.ports).toEqual([{ protocol: 'TCP', port: 5038 }]);
    const crm = (find('NetworkPolicy', 'crm-sync-to-crm').spec['egress'] as Rule[])[0];
    expect(crm?.ports).toEqual([{ protocol: 'TCP', port: 443 }]);
  });

  it('let the services reach NATS and nothing else inside the cluster', () => {
    const toNats = find('NetworkPolicy', 'services-to-nats').spec as { egress: Rule[] };
    expect(toNats.egress).toHaveLength(1);
    expect(toNats.egress[0]?.to?.[0]?.podSelector?.matchLabels).toEqual({ 'app.kubernetes.io/name': 'nats' });
    expect(toNats.egress[0]?.ports).toEqual([{ protocol: 'TCP', port: 4222 }]);
  });

  it('let only the Ingress controller reach the HTTP services', () => {
    const policy = find('NetworkPolicy', 'ingress-to-http-services').spec as { ingress: Rule[]; podSelector: { matchExpressions: { values: string[] }[] } };
    expect(policy.podSelector.matchExpressions[0]?.values.sort()).toEqual(['push-gateway', 'webhook-ingress']);
    expect(policy.ingress[0]?.from?.[0]?.namespaceSelector?.matchLabels).toEqual({ 'kubernetes.io/metadata.name': 'ingress-nginx' });
  });
});

describe('Ingress', () => {
  it('serves both hosts over TLS and keeps metrics and readiness internal', () => {
    const ingress = find('Ingress', 'cti').spec as {
      tls: { hosts: string[] }[];
      rules: { host: string; http: { paths: { path: string; backend: { service: { name: string } } }[] } }[];
    };
    const tlsHosts = ingress.tls.flatMap((entry) => entry.hosts).sort();
    expect(ingress.rules.map((rule) => rule.host).sort()).toEqual(tlsHosts);
    for (const rule of ingress.rules) {
      for (const path of ['/metrics', '/readyz']) {
        expect(rule.http.paths.find((candidate) => candidate.path === path)?.backend.service.name, `${rule.host}${path}`).toBe('cti-internal-only');
      }
    }
  });
});

describe('NATS Helm values', () => {
  const values = parse(readFileSync(join(root, 'deploy/kubernetes/nats/values.yaml'), 'utf8')) as {
    config: {
      cluster: { enabled: boolean; replicas: number };
      jetstream: { enabled: boolean; fileStore: { pvc: { size: string } } };
      merge: Record<string, unknown> & { accounts: { CTI: { jetstream: string; users: { user: string; password: string; permissions: string }[] } } };
    };
  };

  it('runs a three-node JetStream cluster on persistent volumes', () => {
    expect(values.config.cluster).toMatchObject({ enabled: true, replicas: 3 });
    expect(values.config.jetstream.enabled).toBe(true);
    expect(values.config.jetstream.fileStore.pvc.size).toMatch(/^\d+Gi$/);
  });

  it('has one user per service, with the generated permissions', () => {
    const users = values.config.merge.accounts.CTI.users;
    expect(users.map((user) => user.user)).toEqual(natsUsers().map((user) => user.user));
    for (const user of natsUsers()) {
      const entry = users.find((candidate) => candidate.user === user.user);
      expect(entry?.password).toBe(`<< $${user.passwordVariable} >>`);
      expect(entry?.permissions).toBe(`<< $${user.passwordVariable.replace('PASSWORD', 'PERMISSIONS')} >>`);
    }
    expect(values.config.merge['$include']).toBe('../nats-auth/nats_password_hashes.conf');
    expect(values.config.merge['0$include']).toBe('authorization.conf');
  });
});

describe('kubectl kustomize', () => {
  const available = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;

  // NOTE: runs where kubectl is installed; the checks above read the same files directly.
  it.runIf(available)('renders the base', () => {
    const result = spawnSync('kubectl', ['kustomize', base], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const kinds = parseAllDocuments(result.stdout).map((document) => (document.toJS() as Manifest).kind);
    expect(kinds.filter((kind) => kind === 'Deployment')).toHaveLength(DeployedServices.length);
  });
});
