import type { Command } from '../command.js';
import { repositoryRoot } from '../repository.js';
import { StackError, startStack } from '../stack/stack.js';

/** Runs the whole stack in the foreground until Ctrl-C. */
export const up: Command = {
  name: ['up'],
  summary: 'Run nats-server, the four services and, unless .env names a real PBX and CRM, a demo PBX and CRM; Ctrl-C stops everything',
  usage: 'cti up',
  async run(_args, io) {
    const root = repositoryRoot(io.cwd);
    io.stdout.write('starting the CTI stack (logs in .data/logs/)\n');
    let stack;
    try {
      stack = await startStack({ root, processEnvironment: io.environment, output: io.stdout });
    } catch (error) {
      if (error instanceof StackError) {
        io.stderr.write(`${error.message}\n`);
        return 1;
      }
      throw error;
    }

    const lines = [
      '',
      'CTI stack is up.',
      `  Agent console: ${stack.consoleUrl}`,
      stack.demoPbx
        ? '  Sign in:       demo mode, choose "anna" (extension 101), "ben" (102) or "cara" (103)'
        : '  Sign in:       paste a token from: pnpm cti token --agent <agent> --ext <extension>',
      `  Webhooks:      ${stack.webhookUrl}`,
      `  PBX:           ${stack.demoPbx ? 'demo PBX replaying recorded calls of a real Asterisk, in a loop' : 'AMI_HOST from .env'}`,
      `  CRM:           ${stack.demoCrm ? 'demo SuiteCRM simulator with sample contacts' : 'SUITECRM_URL from .env'}`,
      `  NATS:          ${stack.natsUrl}`,
      `  Health:        ${Object.entries(stack.health).map(([name, url]) => `${name} ${url}`).join(', ')} (/healthz, /readyz, /metrics)`,
      `  Logs:          ${stack.logDirectory}`,
      '  Commands:      pnpm cti ... in another terminal reaches this stack (it reads .data/stack.env)',
      'Calls appear below and on the console within a minute. Press Ctrl-C to stop.',
      '',
    ];
    io.stdout.write(`${lines.join('\n')}\n`);

    const signal = new Promise<string>((resolve) => {
      process.once('SIGINT', () => resolve('SIGINT'));
      process.once('SIGTERM', () => resolve('SIGTERM'));
    });
    const outcome = await Promise.race([signal.then((name) => ({ signal: name })), stack.failure.then((child) => ({ child }))]);
    if ('child' in outcome) {
      io.stderr.write(`${outcome.child.name} exited; last log lines:\n  ${outcome.child.tail().slice(-10).join('\n  ')}\nstopping the stack\n`);
      await stack.stop();
      return 1;
    }
    io.stdout.write('stopping the CTI stack\n');
    await stack.stop();
    io.stdout.write('stopped\n');
    return 0;
  },
};
