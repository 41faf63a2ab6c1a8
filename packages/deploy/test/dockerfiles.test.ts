import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DeployedServices, type DeployedService } from '../src/index.js';
import { acceptedVariables, ProgramConfigs } from './service-configs.js';

const root = join(import.meta.dirname, '../../..');
const run = promisify(execFile);

/** Node.js line the images run: the Active LTS line on the release schedule. */
const NODE_LTS_MAJOR = 26;

interface Instruction {
  keyword: string;
  argument: string;
}

/** Parses a Dockerfile into instructions, joining continuation lines and dropping comments. */
function instructions(text: string): Instruction[] {
  const logical: string[] = [];
  let current = '';
  for (const line of text.split('\n')) {
    if (line.trimStart().startsWith('#')) {
      continue;
    }
    current += line.endsWith('\\') ? `${line.slice(0, -1)} ` : line;
    if (!line.endsWith('\\')) {
      if (current.trim() !== '') {
        logical.push(current.trim());
      }
      current = '';
    }
  }
  return logical.map((line) => {
    const [keyword = '', ...rest] = line.split(/\s+/);
    return { keyword: keyword.toUpperCase(), argument: rest.join(' ') };
  });
}

/** Instructions of the last stage, the image that runs. */
function finalStage(list: Instruction[]): Instruction[] {
  const lastFrom = list.map((instruction) => instruction.keyword).lastIndexOf('FROM');
  return list.slice(lastFrom);
}

/** Variables the ENV instructions of a stage set (`ENV A=1 B=2`). */
function environmentOf(stage: Instruction[]): Record<string, string> {
  const pairs = stage.filter((instruction) => instruction.keyword === 'ENV').flatMap((instruction) => instruction.argument.split(/\s+/));
  return Object.fromEntries(pairs.map((pair) => pair.split('=', 2) as [string, string]));
}

const dockerfiles = [...DeployedServices, 'cli'].map((name) => {
  const text = readFileSync(join(root, `deploy/docker/${name}.Dockerfile`), 'utf8');
  return [name, text, instructions(text)] as const;
});

describe.each(dockerfiles)('%s.Dockerfile', (name, text, list) => {
  const stage = finalStage(list);

  it('builds in two stages from a pinned Node.js LTS image', () => {
    expect(list.filter((instruction) => instruction.keyword === 'FROM')).toHaveLength(2);
    const base = /^NODE_IMAGE=node:(\d+)\.(\d+)\.(\d+)-[a-z]+-slim$/.exec(list.find((instruction) => instruction.keyword === 'ARG')?.argument ?? '');
    expect(base, 'ARG NODE_IMAGE=node:<major>.<minor>.<patch>-<debian>-slim').not.toBeNull();
    expect(Number(base?.[1])).toBe(NODE_LTS_MAJOR);
  });

  it('copies production dependencies only', () => {
    const build = list.find((instruction) => instruction.keyword === 'RUN' && instruction.argument.includes(' deploy '));
    expect(build?.argument).toContain(`pnpm --filter @cti/${name} deploy --prod /out`);
    expect(build?.argument).toContain('--frozen-lockfile');
    expect(stage.filter((instruction) => instruction.keyword === 'COPY').map((instruction) => instruction.argument)).toEqual(['--from=build --chown=root:root /out /app']);
  });

  it('runs as a non-root user', () => {
    const users = stage.filter((instruction) => instruction.keyword === 'USER');
    expect(users.at(-1)?.argument).toBe('10001:10001');
  });

  it('bakes no secret into a layer', () => {
    for (const instruction of list) {
      expect(instruction.keyword, 'ADD can fetch URLs and unpack archives').not.toBe('ADD');
      if (instruction.keyword === 'ENV' || instruction.keyword === 'ARG') {
        expect(instruction.argument, instruction.argument).not.toMatch(/SECRET|PASSWORD|TOKEN|_KEY|CREDS/i);
      }
      if (instruction.keyword === 'COPY') {
        expect(instruction.argument).not.toMatch(/\.env|secrets|\.pem|\.key/);
      }
    }
  });

  it('sets only variables its program reads', () => {
    const accepted = acceptedVariables(ProgramConfigs[name as DeployedService | 'cli']);
    const settings = environmentOf(stage);
    for (const variable of Object.keys(settings).filter((candidate) => candidate !== 'NODE_ENV')) {
      expect(accepted, variable).toContain(variable);
    }
  });

  it('probes the real health route', () => {
    const healthcheck = stage.find((instruction) => instruction.keyword === 'HEALTHCHECK');
    if (name === 'cli') {
      expect(healthcheck?.argument).toBe('NONE');
      return;
    }
    // The port variable the service listens on, and the address variable next to it.
    const [, variable = '', port = ''] = /CMD \["node", "\/app\/healthcheck\.mjs", "([A-Z_]+)", "(\d+)"\]/.exec(healthcheck?.argument ?? '') ?? [];
    const accepted = acceptedVariables(ProgramConfigs[name as DeployedService]);
    expect(accepted).toContain(variable);
    expect(accepted).toContain(variable.replace(/PORT$/, 'HOST'));
    expect(variable).toMatch(name === 'ami-bridge' || name === 'crm-sync' ? /^OPS_PORT$/ : /_HTTP_PORT$/);
    expect(environmentOf(stage)[variable]).toBe(port);
    expect(text).toContain(`EXPOSE ${port}`);
  });
});

describe('.dockerignore', () => {
  const lines = readFileSync(join(root, '.dockerignore'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));

  it('starts from an empty context', () => {
    expect(lines[0]).toBe('*');
  });

  it('keeps env files, keys and secrets out', () => {
    for (const pattern of ['**/.env', '**/.env.*', '**/*.pem', '**/*.key', '**/secrets']) {
      expect(lines).toContain(pattern);
    }
    for (const line of lines.filter((candidate) => candidate.startsWith('!'))) {
      expect(line, 'nothing under deploy/secrets is let in').not.toMatch(/secrets|\.env/);
    }
  });
});

describe('healthcheck.mjs', () => {
  let server: Server;
  let status = 200;
  let port = 0;
  const script = join(root, 'deploy/docker/healthcheck.mjs');

  beforeAll(async () => {
    server = createServer((request, response) => {
      response.statusCode = request.url === '/healthz' ? status : 404;
      response.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('passes when /healthz answers 200', async () => {
    status = 200;
    await expect(run('node', [script, 'OPS_PORT', '1'], { env: { ...process.env, OPS_PORT: String(port), OPS_HOST: '0.0.0.0' } })).resolves.toBeDefined();
  });

  it('fails when /healthz answers an error', async () => {
    status = 503;
    await expect(run('node', [script, 'PUSH_HTTP_PORT', String(port)], { env: { ...process.env, PUSH_HTTP_PORT: '' } })).rejects.toMatchObject({ code: 1 });
  });

  it('fails when nothing listens', async () => {
    await expect(run('node', [script, 'WEBHOOK_HTTP_PORT', '1'], { env: { ...process.env, WEBHOOK_HTTP_PORT: '1' } })).rejects.toMatchObject({ code: 1 });
  });

  it('asks the address the service is bound to', async () => {
    status = 200;
    // Bound to 127.0.0.2 by the *_HOST partner of the port variable, nothing answers there.
    await expect(run('node', [script, 'PUSH_HTTP_PORT', '1'], { env: { ...process.env, PUSH_HTTP_PORT: String(port), PUSH_HTTP_HOST: '127.0.0.2' } })).rejects.toMatchObject({ code: 1 });
    await expect(run('node', [script, 'PUSH_HTTP_PORT', '1'], { env: { ...process.env, PUSH_HTTP_PORT: String(port), PUSH_HTTP_HOST: '127.0.0.1' } })).resolves.toBeDefined();
  });
});

describe('pnpm deploy', () => {
  // The same commands as the build stage of cli.Dockerfile, on the workspace as it is built here.
  it('bundles a package with production dependencies only', async () => {
    const dist = join(root, 'packages/cli/dist/main.js');
    expect(existsSync(dist), 'packages/cli/dist is missing: run `pnpm build` first').toBe(true);
    const out = join(mkdtempSync(join(tmpdir(), 'cti-deploy-bundle-')), 'out');
    try {
      await run('pnpm', ['--filter', '@cti/cli', 'deploy', '--prod', out], { cwd: root });
      cpSync(join(root, 'packages/cli/dist'), join(out, 'dist'), { recursive: true });

      const scoped = readdirSync(join(out, 'node_modules/@cti'));
      expect(scoped).toContain('bus');
      expect(scoped).not.toContain('testing');
      for (const tool of ['vitest', 'typescript', 'tsx', 'eslint']) {
        expect(existsSync(join(out, 'node_modules', tool)), tool).toBe(false);
      }
      const { stdout } = await run('node', [join(out, 'dist/main.js'), '--help'], { cwd: out });
      expect(stdout).toContain('cti streams apply');
    } finally {
      rmSync(join(out, '..'), { recursive: true, force: true });
    }
  });
});
