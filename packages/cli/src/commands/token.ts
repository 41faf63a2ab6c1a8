import { parseArgs } from 'node:util';

import { defineConfig, loadConfig } from '@cti/config';
import { agentTokenFields, agentTokenKeyRule } from '@cti/push-gateway/config';
import { AgentTokenKeys, mintAgentToken } from '@cti/push-gateway/tokens';

import { UsageError, type Command } from '../command.js';

/** The variables `cti token` reads: the same signing key, lifetimes and PBX id as the gateway. */
export const TokenConfig = defineConfig('cli', agentTokenFields, [agentTokenKeyRule]);

export const token: Command = {
  name: ['token'],
  summary: 'Print an agent token for the console or the WebSocket, signed with AGENT_TOKEN_KEY (or AGENT_TOKEN_KEY_FILE)',
  usage: 'cti token --agent ID --ext 101 [--ext 102] [--pbx PBX_ID] [--ttl SECONDS]',
  async run(args, io) {
    const { values } = parseArgs({
      args,
      options: {
        agent: { type: 'string' },
        ext: { type: 'string', multiple: true },
        pbx: { type: 'string' },
        ttl: { type: 'string' },
      },
      strict: true,
    });
    if (values.agent === undefined) {
      throw new UsageError('--agent is missing: the agent id the token is for');
    }
    const extensions = values.ext ?? [];
    if (extensions.length === 0) {
      throw new UsageError('--ext is missing: give each extension the agent holds, e.g. --ext 101');
    }
    const config = loadConfig(TokenConfig, io.environment);
    const ttlSeconds = values.ttl === undefined ? config.agentTokenTtlSeconds : Number(values.ttl);
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 60 || ttlSeconds > config.agentTokenMaxTtlSeconds) {
      throw new UsageError(`--ttl must be a whole number of seconds from 60 to ${config.agentTokenMaxTtlSeconds} (AGENT_TOKEN_MAX_TTL_SECONDS), got ${values.ttl}`);
    }

    const { token: agentToken, claims } = await mintAgentToken(new AgentTokenKeys(config.agentTokenKeys, { maxTtlSeconds: config.agentTokenMaxTtlSeconds }), {
      agentId: values.agent,
      extensions,
      pbx: values.pbx ?? config.pbxId,
      ttlSeconds,
    });
    io.stdout.write(`${agentToken}\n`);
    io.stderr.write(
      `token for agent ${claims.agentId}, extensions ${claims.extensions.join(', ')} on ${claims.pbx}, valid until ${new Date(claims.expiresAt).toISOString()}\n`,
    );
    return 0;
  },
};
