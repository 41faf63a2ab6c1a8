import { CtiError } from '@cti/errors';

import { EXIT_USAGE, UsageError, type Command, type CommandIo } from './command.js';
import { Commands } from './registry.js';
import { repositoryRoot } from './repository.js';
import { loadCommandEnvironment } from './stack/environment.js';

export { type Command, type CommandIo, UsageError, EXIT_USAGE } from './command.js';
export { Commands } from './registry.js';
export { renderEnvironmentExample, ServiceConfigs } from './environment-example.js';

function findCommand(words: string[]): { command: Command; rest: string[] } | undefined {
  let best: { command: Command; rest: string[] } | undefined;
  for (const command of Commands) {
    const matches = command.name.every((word, index) => words[index] === word);
    if (matches && (best === undefined || command.name.length > best.command.name.length)) {
      best = { command, rest: words.slice(command.name.length) };
    }
  }
  return best;
}

function help(): string {
  const lines = Commands.map((command) => `  ${command.usage}\n      ${command.summary}`);
  return `usage: pnpm cti <command> [options]\n\ncommands:\n${lines.join('\n')}\n\n\`pnpm cti <command> --help\` shows one command.\n`;
}

/**
 * Adds `.env` and the running stack's `.data/stack.env` to the environment. `cti up` reads only
 * `.env` itself: the stack file of an earlier run would point it at a NATS server that is gone.
 */
function withEnvironmentFiles(command: Command, io: CommandIo): CommandIo {
  if (io.environmentFiles !== true || command.name[0] === 'up') {
    return io;
  }
  let root: string;
  try {
    root = repositoryRoot(io.cwd);
  } catch {
    // Outside a checkout (the CLI's container image), the process environment is all there is.
    return io;
  }
  return { ...io, environment: loadCommandEnvironment(root, io.environment) };
}

/** Runs one command line and returns the exit status. */
export async function runCli(words: string[], io: CommandIo): Promise<number> {
  if (words.length === 0 || words[0] === '--help' || words[0] === 'help') {
    io.stdout.write(help());
    return words.length === 0 ? EXIT_USAGE : 0;
  }
  const found = findCommand(words);
  if (found === undefined) {
    io.stderr.write(`unknown command: ${words.join(' ')}\n\n${help()}`);
    return EXIT_USAGE;
  }
  if (found.rest.includes('--help')) {
    io.stdout.write(`usage: ${found.command.usage}\n${found.command.summary}\n`);
    return 0;
  }
  const commandIo = withEnvironmentFiles(found.command, io);
  try {
    return await found.command.run(found.rest, commandIo);
  } catch (error) {
    if (error instanceof UsageError || (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))) {
      io.stderr.write(`${error.message}\nusage: ${found.command.usage}\n`);
      return EXIT_USAGE;
    }
    if (CtiError.is(error)) {
      io.stderr.write(`${error.code}: ${error.message}\n`);
      return 1;
    }
    // An operator needs the reason, not a stack trace; CTI_DEBUG=1 shows the stack for a report.
    const message = error instanceof Error ? error.message : String(error);
    const natsUrl = commandIo.environment['NATS_URL'] ?? 'nats://127.0.0.1:4222 (the default)';
    const hint =
      error instanceof Error && error.name === 'StreamNotFoundError'
        ? `: no CTI stream on the NATS server at ${natsUrl}. Is the stack running? \`cti up\` writes its address to .data/stack.env while it runs; otherwise set NATS_URL to your deployment's NATS`
        : '';
    io.stderr.write(`cti ${found.command.name.join(' ')} failed: ${message}${hint}\n`);
    if (io.environment['CTI_DEBUG'] === '1' && error instanceof Error) {
      io.stderr.write(`${error.stack ?? ''}\n`);
    }
    return 1;
  }
}
export { eraseNumber, type ErasureOptions, type ErasureReport } from './erase/erase.js';
export { NumberMatcher } from './erase/number-matcher.js';
