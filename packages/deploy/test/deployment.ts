import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { startReplayServer, type ReplayServer, type ReplayTiming } from '@cti/pbx-replay';
import { generateApiKey } from '@cti/push-gateway';
import { RECORDED_CLIENT_CREDENTIALS, startSuiteCrmSimulator, type SuiteCrmSimulator } from '@cti/suitecrm-simulator';

import { SecretSpecs, type DeployedService } from '../src/index.js';
import { natsErrors, startProcess, type RunningProcess } from './processes.js';
import { connectUser, root, startSecuredNats, type SecuredNats, type UserClient } from './secured-nats.js';

export const CAPTURES = join(root, 'testdata/ami');
export const ELEVENLABS = join(root, 'testdata/elevenlabs');
export const PBX = 'pbx1';

/**
 * The least-privilege AMI user of docs/deploy.md: call and agent events in, Originate and
 * CoreShowChannels out. The replay PBX filters events and refuses actions by these classes as
 * Asterisk does (testdata/ami/PERMISSIONS.md).
 */
export const AMI_USER = { username: 'cti', secret: 'replay-ami-secret-7d41c0', read: ['call', 'agent'], write: ['originate', 'reporting'] };
const WEBHOOK_SECRET = 'whsec_deployment_test_5be20c';
export const CONVERSATION_INIT_SECRET = 'conversation-init-secret-deployment-test';

export interface DeploymentOptions {
  /** Replicas of each service. */
  replicas: number;
  /** AMI recordings (file names in testdata/ami) the PBX plays once every ami-bridge logged in. */
  captures: readonly string[];
  /** `recorded` keeps the recorded gaps, so ring and talk times match the recordings' READMEs. */
  timing: ReplayTiming;
  /**
   * `before`: the setup job runs to completion before the services start, as compose orders it.
   * `after`: the services start first and wait for the streams they read until the setup job
   * creates them, as when Kubernetes applies the Job and the Deployments together.
   */
  setup: 'before' | 'after';
}

/** The four services and the setup job on one nats-server with the deployment's permissions, and their doubles. */
export interface Deployment {
  nats: SecuredNats;
  pbx: ReplayServer;
  crm: SuiteCrmSimulator;
  /** The cli user's connection, for reading what the streams hold. */
  cli: UserClient;
  processes: RunningProcess[];
  /** Base URLs of the push-gateway replicas. */
  gateways: string[];
  /** Base URLs of the webhook-ingress replicas. */
  webhooks: string[];
  webhookSecret: string;
  /** An API key of the gateways' key file, for POST /v1/agent-tokens. */
  apiKey: string;
  /** Starts the ami-bridge replicas; the recorded calls play once all of them logged in. */
  startBridges(): Promise<void>;
  /** Runs `cti <args>` as the cli user and resolves with its exit code and output. */
  runCli(args: readonly string[]): Promise<CliRun>;
  /** NATS errors each process logged, by process name. */
  natsErrors(): Record<string, string[]>;
  /** Runs a step of a test; when it fails, the error lists what the processes logged as errors. */
  step<T>(description: string, action: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface CliRun {
  code: number | null;
  stdout: string;
  /** stdout and stderr together. */
  output: string;
}

/** Error lines (level error or fatal) and permission violations of every process. */
function diagnose(processes: readonly RunningProcess[]): string {
  return processes
    .flatMap((running) => {
      const errors = running
        .output()
        .split('\n')
        .filter((line) => /"level":(50|60)|permissions? violation/i.test(line));
      return errors.length === 0 ? [] : [`${running.name}:`, ...errors.slice(0, 20).map((line) => `  ${line.slice(0, 600)}`)];
    })
    .join('\n');
}

async function withDiagnosis<T>(processes: readonly RunningProcess[], description: string, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`${description} failed: ${message}\n${diagnose(processes)}`, { cause: error });
  }
}

/**
 * Environment of one service as the compose file gives it: every secret as the `_FILE` variable
 * the deployment's secret specs name, and the service's NATS user. `settings` adds the values of
 * this test: the addresses of the doubles and free ports.
 */
export function serviceEnvironment(nats: SecuredNats, service: DeployedService, settings: Record<string, string>): Record<string, string> {
  const environment: Record<string, string> = { NATS_URL: nats.server.url, NATS_USER: service, LOG_LEVEL: 'info' };
  for (const spec of SecretSpecs) {
    const variable = spec.mounts[service];
    if (variable !== undefined) {
      environment[variable] = nats.secretPath(spec.name);
    }
  }
  return { ...environment, ...settings };
}

function writeSecret(nats: SecuredNats, name: string, content: string): string {
  const path = nats.secretPath(name);
  writeFileSync(path, `${content}\n`, { mode: 0o600 });
  return path;
}

/** Fills in what the operator provides, and returns an API key of the gateways' key file. */
function writeOperatorSecrets(nats: SecuredNats): { apiKey: string; conversationInitSecrets: string } {
  writeSecret(nats, 'ami_secret', AMI_USER.secret);
  writeSecret(nats, 'suitecrm_client_secret', RECORDED_CLIENT_CREDENTIALS.secret);
  writeSecret(nats, 'elevenlabs_webhook_secrets', WEBHOOK_SECRET);
  // The key file starts empty; the operator adds the entry `cti api-key create` prints.
  const { key, entry } = generateApiKey({ id: 'deployment-test' });
  writeSecret(nats, 'push_gateway_api_keys', JSON.stringify({ keys: [entry] }));
  // The conversation-initiation route is optional and has no secret in the compose deployment.
  const conversationInitSecrets = writeSecret(nats, 'conversation_init_secrets', CONVERSATION_INIT_SECRET);
  return { apiKey: key, conversationInitSecrets };
}

function startPbx(options: DeploymentOptions): Promise<ReplayServer> {
  return startReplayServer({
    captures: options.captures.map((name) => join(CAPTURES, name)),
    credentials: AMI_USER,
    minClients: options.replicas,
    timing: options.timing,
    originate: {
      captures: {
        answered: join(CAPTURES, 'outbound-click-to-dial.jsonl'),
        rejected: join(CAPTURES, 'outbound-click-to-dial-rejected.jsonl'),
        local: join(CAPTURES, 'outbound-click-to-dial-local.jsonl'),
      },
    },
  });
}

/** Value of a field of the first log line with the message, e.g. the URL a service listens on. */
function logged(running: RunningProcess, message: string, field: string): string {
  return String(running.lines().find((line) => line.msg === message)?.[field]);
}

export async function startDeployment(options: DeploymentOptions): Promise<Deployment> {
  const nats = await startSecuredNats();
  const processes: RunningProcess[] = [];
  let pbx: ReplayServer | undefined;
  let crm: SuiteCrmSimulator | undefined;
  let cli: UserClient | undefined;

  const close = async () => {
    await Promise.all(processes.map((running) => running.stop()));
    await cli?.bus.drain().catch(() => undefined);
    await pbx?.close();
    await crm?.close();
    await nats.dispose();
  };

  const runCli = async (args: readonly string[]): Promise<CliRun> => {
    const running = startProcess(`cti ${args.join(' ')}`, 'packages/cli', 'src/main.ts', args, {
      NATS_URL: nats.server.url,
      NATS_USER: 'cli',
      NATS_PASSWORD_FILE: nats.secretPath('nats_cli_password'),
      PHONE_HASH_KEY_FILE: nats.secretPath('phone_hash_key'),
    });
    processes.push(running);
    let stdout = '';
    running.child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    const code = await running.exited;
    return { code, stdout, output: running.output() };
  };

  const start = (service: DeployedService, replicas: number, settings: Record<string, string>): RunningProcess[] =>
    Array.from({ length: replicas }, (_unused, index) => {
      const running = startProcess(`${service}-${index + 1}`, `services/${service}`, 'src/main.ts', [], serviceEnvironment(nats, service, settings));
      processes.push(running);
      return running;
    });

  try {
    const { apiKey, conversationInitSecrets } = writeOperatorSecrets(nats);
    const simulator = await startSuiteCrmSimulator({ seed: 'recorded' });
    crm = simulator;
    const replay = await startPbx(options);
    pbx = replay;

    const setup = async () => {
      const result = await runCli(['streams', 'apply']);
      if (result.code !== 0) {
        throw new Error(`cti streams apply exited with ${String(result.code)}:\n${result.output}`);
      }
    };
    const startServices = () => ({
      crmSync: start('crm-sync', options.replicas, {
        SUITECRM_URL: simulator.url,
        SUITECRM_CLIENT_ID: RECORDED_CLIENT_CREDENTIALS.id,
        OPS_HOST: '127.0.0.1',
        OPS_PORT: '0',
        CRM_RETRY_BACKOFF_MS: '100,200,400',
      }),
      webhookIngress: start('webhook-ingress', options.replicas, {
        WEBHOOK_HTTP_HOST: '127.0.0.1',
        WEBHOOK_HTTP_PORT: '0',
        ELEVENLABS_CONVERSATION_INIT_SECRETS_FILE: conversationInitSecrets,
      }),
      pushGateway: start('push-gateway', options.replicas, { PUSH_HTTP_HOST: '127.0.0.1', PUSH_HTTP_PORT: '0', PBX_ID: PBX }),
    });

    let services: ReturnType<typeof startServices>;
    if (options.setup === 'before') {
      await setup();
      services = startServices();
    } else {
      services = startServices();
      // crm-sync reads CALLS and push-gateway CALLS and CRM, which neither creates.
      const readers = [...services.crmSync, ...services.pushGateway];
      await Promise.all(readers.map((running) => running.waitForLog('stream not found; waiting for it to be created', 60_000)));
      await setup();
    }
    const all = [...services.crmSync, ...services.webhookIngress, ...services.pushGateway];
    await Promise.all(all.map((running) => running.waitForLog('service started', 60_000)));
    const reader = await connectUser(nats, 'cli');
    cli = reader;

    return {
      nats,
      pbx: replay,
      crm: simulator,
      cli: reader,
      processes,
      gateways: services.pushGateway.map((running) => logged(running, 'push gateway listening', 'url')),
      webhooks: services.webhookIngress.map((running) => `http://127.0.0.1:${logged(running, 'webhook endpoint listening', 'port')}`),
      webhookSecret: WEBHOOK_SECRET,
      apiKey,
      async startBridges() {
        const bridges = start('ami-bridge', options.replicas, {
          PBX_ID: PBX,
          AMI_HOST: '127.0.0.1',
          AMI_PORT: String(replay.port),
          AMI_USERNAME: AMI_USER.username,
          OPS_HOST: '127.0.0.1',
          OPS_PORT: '0',
        });
        await Promise.all(bridges.map((running) => running.waitForLog('service started', 60_000)));
      },
      runCli,
      natsErrors: () => Object.fromEntries(processes.map((running) => [running.name, natsErrors(running)])),
      step: (description, action) => withDiagnosis(processes, description, action),
      close,
    };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const diagnosis = diagnose(processes);
    await close();
    throw new Error(`the deployment did not start: ${message}\n${diagnosis}`, { cause: error });
  }
}

/** Reads every message of a stream under a subject prefix, oldest first, as the cli user. */
export async function storedMessages<T = Record<string, unknown>>(cli: UserClient, stream: string, subjectPrefix = ''): Promise<{ subject: string; seq: number; message: T }[]> {
  const info = await cli.bus.jsm.streams.info(stream);
  const result: { subject: string; seq: number; message: T }[] = [];
  for (let seq = info.state.first_seq; info.state.messages > 0 && seq <= info.state.last_seq; seq += 1) {
    const stored = await cli.bus.jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (stored !== null && stored.subject.startsWith(subjectPrefix)) {
      result.push({ subject: stored.subject, seq, message: stored.json<T>() });
    }
  }
  return result;
}
