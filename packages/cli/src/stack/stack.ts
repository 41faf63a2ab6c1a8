import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';

import { ConfigError, loadConfig } from '@cti/config';
import { startNatsServer, type NatsServerHandle } from '@cti/nats-process';
import { DEFAULT_OPS_PORTS } from '@cti/runtime';
import { connect } from '@nats-io/transport-node';

import { followCalls } from './call-feed.js';
import { StackConfig } from './config.js';
import { startChild, type StackChild } from './child.js';
import { isSet, loadStackEnvironment, stackEnvironmentPath } from './environment.js';
import { localSecret } from './local-secrets.js';
import { choosePort } from './ports.js';
import { waitForPort, waitUntilReady } from './readiness.js';

export const SERVICES = ['ami-bridge', 'crm-sync', 'webhook-ingress', 'push-gateway'] as const;

const READY_TIMEOUT_MS = 90_000;
const DEMO_AGENTS = 'anna:101,ben:102,cara:103';

export interface StackOptions {
  root: string;
  processEnvironment: Record<string, string | undefined>;
  output: Writable;
}

export interface RunningStack {
  logDirectory: string;
  consoleUrl: string;
  webhookUrl: string;
  natsUrl: string;
  /** Base URL of each service's /healthz, /readyz and /metrics. */
  health: Record<string, string>;
  demoPbx: boolean;
  demoCrm: boolean;
  /** Resolves with the name of the first child that exits on its own. */
  failure: Promise<StackChild>;
  stop(): Promise<void>;
}

class StackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StackError';
  }
}

/** Sets a variable that is missing or empty (a copied .env.example leaves required ones empty). */
function setDefault(environment: Record<string, string>, name: string, value: string): void {
  if ((environment[name] ?? '') === '') {
    environment[name] = value;
  }
}

/** Sets a secret's `_FILE` variable unless the operator gave the secret in either form. */
function defaultSecret(environment: Record<string, string>, name: string, file: string, generated?: Record<string, string>): void {
  if (!isSet(environment, name)) {
    environment[`${name}_FILE`] = file;
    if (generated !== undefined) {
      generated[`${name}_FILE`] = file;
    }
  }
}

function portSetting(environment: Record<string, string>, name: string, fallback: number): number {
  const value = Number(environment[name]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
}

/**
 * Writes what `cti` commands need to reach this stack (its NATS, the demo CRM, the key files it
 * generated) to `stack.env`, which `pnpm cti` reads under the process environment.
 */
function writeStackEnvironment(path: string, values: Record<string, string>): void {
  const lines = ['# Written by `cti up` for the stack it runs; removed when it stops. `pnpm cti` reads it.'];
  for (const [name, value] of Object.entries(values)) {
    lines.push(`${name}=${value}`);
  }
  writeFileSync(path, `${lines.join('\n')}\n`, { mode: 0o600 });
}

/**
 * Starts the whole stack on this machine: nats-server (unless NATS_URL is set), a demo PBX and a
 * demo CRM (unless AMI_HOST and SUITECRM_URL are set), the setup job and the four services.
 */
export async function startStack(options: StackOptions): Promise<RunningStack> {
  const { root, output } = options;
  const environment = loadStackEnvironment(root, options.processEnvironment);
  // CTI_DATA_DIR moves the stack's NATS store, generated secrets and logs (tests use a temp folder).
  let stackConfig;
  try {
    stackConfig = loadConfig(StackConfig, environment);
  } catch (error) {
    throw error instanceof ConfigError ? new StackError(error.message) : error;
  }
  const dataDirectory = stackConfig.dataDirectory ?? join(root, '.data');
  const logDirectory = join(dataDirectory, 'logs');
  const secrets = join(dataDirectory, 'secrets');
  const children: StackChild[] = [];
  let nats: NatsServerHandle | undefined;

  for (const service of SERVICES) {
    if (!existsSync(join(root, 'services', service, 'dist/main.js'))) {
      throw new StackError(`services/${service} is not built: run bash scripts/start.sh, or pnpm build`);
    }
  }

  const stop = async () => {
    // Services first, so they drain while NATS and the demo PBX and CRM are still there.
    const services = children.filter((child) => (SERVICES as readonly string[]).includes(child.name));
    await Promise.all(services.map((child) => child.stop()));
    await Promise.all(children.filter((child) => !services.includes(child)).map((child) => child.stop()));
    await nats?.dispose();
  };

  try {
    if (!isSet(environment, 'NATS_URL')) {
      nats = await startNatsServer({ directory: join(dataDirectory, 'nats'), port: await choosePort(4222) });
      environment['NATS_URL'] = nats.url;
    }
    setDefault(environment, 'LOG_LEVEL', 'info');
    setDefault(environment, 'PBX_ID', 'pbx1');
    // The local stack listens on loopback only, unless .env says otherwise.
    setDefault(environment, 'WEBHOOK_HTTP_HOST', '127.0.0.1');
    setDefault(environment, 'PUSH_HTTP_HOST', '127.0.0.1');
    // What `cti` commands need to reach this stack; written to stack.env once it is ready.
    const forCommands: Record<string, string> = {};
    defaultSecret(environment, 'PHONE_HASH_KEY', localSecret(secrets, 'phone-hash-key').path, forCommands);

    const spawn = (name: string, args: string[], childEnvironment: Record<string, string>, onLine?: (line: string) => void) => {
      const child = startChild({ name, command: process.execPath, args, cwd: root, environment: childEnvironment, logDirectory, console: output, ...(onLine === undefined ? {} : { onLine }) });
      children.push(child);
      return child;
    };

    const demoPbx = !isSet(environment, 'AMI_HOST');
    const amiEnvironment: Record<string, string> = { ...environment };
    if (demoPbx) {
      const secret = localSecret(secrets, 'demo-ami-secret');
      const port = await choosePort(5038);
      const timing = stackConfig.demoPbxSpeed === 1 ? 'recorded' : String(stackConfig.demoPbxSpeed);
      const args = ['packages/pbx-replay/dist/main.js', '--demo', '--loop', '--timing', timing, '--port', String(port), '--captures-dir', 'testdata/ami', '--secret-file', secret.path];
      spawn('demo-pbx', args, environment);
      if (!(await waitForPort(port, 15_000))) {
        throw new StackError(`the demo PBX did not listen on port ${port}: see ${join(logDirectory, 'demo-pbx.log')}`);
      }
      Object.assign(amiEnvironment, { AMI_HOST: '127.0.0.1', AMI_PORT: String(port), AMI_USERNAME: 'cti', AMI_SECRET_FILE: secret.path });
      delete amiEnvironment['AMI_SECRET'];
    }

    const demoCrm = !isSet(environment, 'SUITECRM_URL');
    const crmEnvironment: Record<string, string> = { ...environment };
    if (demoCrm) {
      const secret = localSecret(secrets, 'demo-suitecrm-client-secret');
      const port = await choosePort(8095);
      const listening = new Promise<string>((resolve) => {
        spawn('demo-crm', ['packages/suitecrm-simulator/dist/main.js', '--port', String(port), '--seed', 'demo', '--client-id', 'cti-demo', '--client-secret-file', secret.path], environment, (line) => {
          const match = /"event":"listening","url":"([^"]+)"/.exec(line);
          if (match?.[1] !== undefined) {
            resolve(match[1]);
          }
        });
      });
      const url = await Promise.race([listening, new Promise<undefined>((resolve) => setTimeout(resolve, 15_000, undefined))]);
      if (url === undefined) {
        throw new StackError(`the demo CRM did not start: see ${join(logDirectory, 'demo-crm.log')}`);
      }
      Object.assign(crmEnvironment, { SUITECRM_URL: url, SUITECRM_CLIENT_ID: 'cti-demo', SUITECRM_CLIENT_SECRET_FILE: secret.path });
      Object.assign(forCommands, { SUITECRM_URL: url, SUITECRM_CLIENT_ID: 'cti-demo', SUITECRM_CLIENT_SECRET_FILE: secret.path });
      delete crmEnvironment['SUITECRM_CLIENT_SECRET'];
    }

    // The setup job: every stream and bucket with its retention, before any service starts.
    const setup = spawn('setup', ['packages/cli/dist/main.js', 'streams', 'apply'], environment);
    if ((await setup.exited) !== 0) {
      throw new StackError(`cti streams apply failed: ${setup.tail().join('\n')}`);
    }
    children.splice(children.indexOf(setup), 1);

    // Each service's default port when it is free, so the ports match docs/operations.md.
    const amiOps = await choosePort(DEFAULT_OPS_PORTS['ami-bridge']);
    const crmOps = await choosePort(DEFAULT_OPS_PORTS['crm-sync']);
    const webhookPort = await choosePort(portSetting(environment, 'WEBHOOK_HTTP_PORT', 8090));
    const pushPort = await choosePort(portSetting(environment, 'PUSH_HTTP_PORT', 8080));

    const webhookEnvironment: Record<string, string> = { ...environment, WEBHOOK_HTTP_PORT: String(webhookPort) };
    defaultSecret(webhookEnvironment, 'ELEVENLABS_WEBHOOK_SECRETS', localSecret(secrets, 'elevenlabs-webhook-secret').path, forCommands);
    defaultSecret(webhookEnvironment, 'ELEVENLABS_CONVERSATION_INIT_SECRETS', localSecret(secrets, 'elevenlabs-conversation-init-secret').path);

    const pushEnvironment: Record<string, string> = { ...environment, PUSH_HTTP_PORT: String(pushPort) };
    defaultSecret(pushEnvironment, 'AGENT_TOKEN_KEY', localSecret(secrets, 'agent-token-key').path, forCommands);
    if (demoPbx) {
      setDefault(pushEnvironment, 'PUSH_DEMO_MODE', 'true');
      setDefault(pushEnvironment, 'PUSH_DEMO_AGENTS', DEMO_AGENTS);
    }

    spawn('ami-bridge', ['services/ami-bridge/dist/main.js'], { ...amiEnvironment, OPS_PORT: String(amiOps) });
    spawn('crm-sync', ['services/crm-sync/dist/main.js'], { ...crmEnvironment, OPS_PORT: String(crmOps) });
    spawn('webhook-ingress', ['services/webhook-ingress/dist/main.js'], webhookEnvironment);
    spawn('push-gateway', ['services/push-gateway/dist/main.js'], pushEnvironment);

    const readyUrls: Record<string, string> = {
      'ami-bridge': `http://127.0.0.1:${amiOps}/readyz`,
      'crm-sync': `http://127.0.0.1:${crmOps}/readyz`,
      'webhook-ingress': `http://127.0.0.1:${webhookPort}/readyz`,
      'push-gateway': `http://127.0.0.1:${pushPort}/readyz`,
    };
    const results = await Promise.all(
      children
        .filter((child) => readyUrls[child.name] !== undefined)
        .map(async (child) => ({ child, ...(await waitUntilReady(readyUrls[child.name] ?? '', READY_TIMEOUT_MS, () => child.process.exitCode === null)) })),
    );
    const notReady = results.filter((result) => !result.ready);
    if (notReady.length > 0) {
      const lines = notReady.map(({ child, detail }) => `${child.name} is not ready (${detail}); last log lines:\n  ${child.tail().slice(-5).join('\n  ')}`);
      throw new StackError(lines.join('\n'));
    }

    const stackEnvironment = stackEnvironmentPath(root, environment);
    writeStackEnvironment(stackEnvironment, { NATS_URL: environment['NATS_URL'] ?? '', PBX_ID: environment['PBX_ID'] ?? '', ...forCommands });

    const feed = await connect({ servers: environment['NATS_URL'], ...(environment['NATS_USER'] === undefined ? {} : { user: environment['NATS_USER'], pass: environment['NATS_PASSWORD'] ?? '' }) });
    followCalls(feed, output);

    const failure = Promise.race(children.map((child) => child.exited.then(() => child)));
    return {
      logDirectory,
      consoleUrl: `http://127.0.0.1:${pushPort}/console/`,
      webhookUrl: `http://127.0.0.1:${webhookPort}/webhooks/elevenlabs`,
      natsUrl: environment['NATS_URL'] ?? '',
      health: Object.fromEntries(Object.entries(readyUrls).map(([name, url]) => [name, url.replace(/\/readyz$/, '')])),
      demoPbx,
      demoCrm,
      failure,
      async stop() {
        rmSync(stackEnvironment, { force: true });
        await feed.close().catch(() => undefined);
        await stop();
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

export { StackError };
