#!/usr/bin/env node
import { runCli } from './index.js';

// `pnpm cti` runs from the repository root; INIT_CWD is where the operator typed the command.
const cwd = process.env['INIT_CWD'] ?? process.cwd();
const status = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  environment: process.env,
  cwd,
  environmentFiles: true,
});
process.exitCode = status;
