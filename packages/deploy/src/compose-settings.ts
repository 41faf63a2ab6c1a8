import { defineConfig, env } from '@cti/config';

/**
 * Settings of the docker-compose deployment itself (read by `docker compose` from `.env`, not by
 * a service). Listed here so that `.env.example` documents them with the services' variables.
 */
export const ComposeConfig = defineConfig('docker-compose', {
  projectName: env.string({ pattern: '^[a-z0-9][a-z0-9_-]*$' })('COMPOSE_PROJECT_NAME', {
    description: 'name of the compose project, the prefix of its containers, networks and volumes',
    default: 'cti',
  }),
  agentHost: env.string()('CTI_AGENT_HOST', {
    description: 'public host name of the agent console and WebSocket (push-gateway), served over HTTPS by the proxy',
    example: 'agents.localhost',
  }),
  webhookHost: env.string()('CTI_WEBHOOK_HOST', {
    description: 'public host name that ElevenLabs sends webhooks to (webhook-ingress); must differ from CTI_AGENT_HOST',
    example: 'hooks.localhost',
  }),
  tls: env.string()('CTI_TLS', {
    description:
      'certificate source of the proxy: an e-mail address for automatic ACME certificates, "internal" for a local CA (tests only), or "/certs/<cert>.pem /certs/<key>.pem" for files in deploy/secrets/tls',
    example: 'internal',
  }),
  version: env.string()('CTI_VERSION', { description: 'tag of the images that docker compose builds and runs', default: 'local' }),
});
