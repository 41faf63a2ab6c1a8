#!/usr/bin/env node
// Command line of the AMI replay server, used as the demo PBX: `pbx-replay --demo --loop`.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { createLogger } from '@cti/logging';

import { demoReplayOptions, DEMO_CAPTURES } from './demo.js';
import { startReplayServer, type ReplayTiming } from './server.js';

const USAGE = `usage: pbx-replay [--demo | --capture FILE ...] [options]

  --demo                  play the recorded calls of --captures-dir (${DEMO_CAPTURES.length} calls)
  --capture FILE          play an .ami or .jsonl capture; repeat for several
  --captures-dir DIR      where the recordings are (default: testdata/ami)
  --loop                  play the captures forever, with fresh Uniqueid/Linkedid values each time
  --timing MODE           recorded (default), fast, or a speed factor such as 2
  --host HOST             listen address (default 127.0.0.1)
  --port PORT             listen port (default 5038)
  --username NAME         AMI user (default cti)
  --secret-file FILE      file holding the AMI secret; AMI_SECRET is read otherwise (default cti-secret)
  --read CLASSES          read classes of the user (default call,agent,user)
  --write CLASSES         write classes of the user (default originate,call,reporting)
`;

function parseTiming(value: string): ReplayTiming {
  if (value === 'recorded' || value === 'fast') {
    return value;
  }
  const speed = Number(value);
  if (!(speed > 0)) {
    throw new Error(`--timing must be recorded, fast or a positive speed factor, got ${value}`);
  }
  return { speed };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      demo: { type: 'boolean', default: false },
      capture: { type: 'string', multiple: true, default: [] },
      'captures-dir': { type: 'string', default: 'testdata/ami' },
      loop: { type: 'boolean', default: false },
      timing: { type: 'string', default: 'recorded' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '5038' },
      username: { type: 'string', default: 'cti' },
      'secret-file': { type: 'string' },
      read: { type: 'string', default: 'call,agent,user' },
      write: { type: 'string', default: 'originate,call,reporting' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const directory = resolve(values['captures-dir']);
  const demo = demoReplayOptions(directory);
  const captures = [...(values.demo ? (demo.captures ?? []) : []), ...values.capture.map((path) => resolve(path))];
  if (captures.length === 0) {
    process.stderr.write(`no capture to play: pass --demo or --capture FILE\n\n${USAGE}`);
    process.exitCode = 64;
    return;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error(`--port must be a port number, got ${values.port}`);
  }
  const secret = values['secret-file'] === undefined ? (process.env['AMI_SECRET'] ?? 'cti-secret') : readFileSync(values['secret-file'], 'utf8').replace(/\r?\n$/, '');
  const list = (text: string) => text.split(',').map((item) => item.trim()).filter((item) => item !== '');

  const logger = createLogger({ service: 'pbx-replay', level: process.env['LOG_LEVEL'] ?? 'info' });
  const server = await startReplayServer({
    host: values.host,
    port,
    captures,
    loop: values.loop,
    timing: parseTiming(values.timing),
    credentials: { username: values.username, secret, read: list(values.read), write: list(values.write) },
    ...(demo.originate === undefined ? {} : { originate: demo.originate }),
    logger,
  });

  const stop = (signal: string) => {
    logger.info({ signal }, 'ami replay server stopping');
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  await server.finished;
  if (!values.loop) {
    logger.info({ played: server.played() }, 'every capture played; still responding to actions until stopped');
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`pbx-replay: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
