#!/usr/bin/env node
// Runs the SuiteCRM simulator as a process, for `cti up` and for manual tests. It prints one JSON
// line with its address once it listens, and stops on SIGTERM or SIGINT.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { fixedLatency, recordedLatency } from './latency.js';
import { startSuiteCrmSimulator } from './simulator.js';

const usage = `usage: suitecrm-simulator [--host 127.0.0.1] [--port 0] [--base-path /legacy]
  [--seed demo|recorded|empty] [--latency recorded|none|<ms>] [--latency-scale 1]
  [--client-id <id>] [--client-secret-file <path>] [--admin]
The client secret is read from --client-secret-file or SUITECRM_CLIENT_SECRET; without either the
recorded demo client and its built-in secret are used.`;

function fail(message: string): never {
  process.stderr.write(`${message}\n${usage}\n`);
  process.exit(64);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '0' },
      'base-path': { type: 'string', default: '' },
      seed: { type: 'string', default: 'demo' },
      latency: { type: 'string', default: 'recorded' },
      'latency-scale': { type: 'string', default: '1' },
      'client-id': { type: 'string' },
      'client-secret-file': { type: 'string' },
      admin: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  }));
} catch (error) {
  fail(error instanceof Error ? error.message : 'invalid arguments');
}
if (values.help) {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  fail(`--port must be a port number, got ${values.port}`);
}
const seed = values.seed;
if (seed !== 'demo' && seed !== 'recorded' && seed !== 'empty') {
  fail(`--seed must be demo, recorded or empty, got ${seed}`);
}
const scale = Number(values['latency-scale']);
if (!(scale >= 0)) {
  fail(`--latency-scale must be a number of at least 0, got ${values['latency-scale']}`);
}
let latency;
if (values.latency === 'recorded') {
  latency = recordedLatency({ scale });
} else if (values.latency === 'none') {
  latency = fixedLatency(0);
} else if (/^\d+(\.\d+)?$/.test(values.latency)) {
  latency = fixedLatency(Number(values.latency) * scale);
} else {
  fail(`--latency must be recorded, none or a number of ms, got ${values.latency}`);
}

const secret = values['client-secret-file'] === undefined ? process.env['SUITECRM_CLIENT_SECRET'] : readFileSync(values['client-secret-file'], 'utf8').trim();
const clientId = values['client-id'];
if ((clientId === undefined) !== (secret === undefined || secret === '')) {
  fail('--client-id and a client secret (--client-secret-file or SUITECRM_CLIENT_SECRET) go together');
}

const simulator = await startSuiteCrmSimulator({
  host: values.host,
  port,
  basePath: values['base-path'].replace(/\/+$/, ''),
  seed,
  latency,
  adminRoutes: values.admin,
  ...(clientId === undefined || secret === undefined ? {} : { clients: [{ id: clientId, secret, grantType: 'client_credentials', userId: '1' }] }),
});
process.stdout.write(`${JSON.stringify({ event: 'listening', url: `${simulator.url}${values['base-path']}`, port: simulator.port })}\n`);

const stop = () => {
  void simulator.close().then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
