# syntax=docker/dockerfile:1
# push-gateway: each agent's calls over a WebSocket, and the agent console.
# Build from the repository root:
#   docker build -f deploy/docker/push-gateway.Dockerfile -t cti-middleware/push-gateway .

# Node.js 26 is the Active LTS line (Active LTS from 2026-10-28, security fixes until 2029-04-30).
# NOTE: the tag is pinned but not the digest; where the registry is reachable, resolve it with
# `docker buildx imagetools inspect` and append @sha256:<digest>, so a rebuild is byte-identical.
ARG NODE_IMAGE=node:26.10.0-bookworm-slim

FROM ${NODE_IMAGE} AS build
# Node.js 25 and later ship without corepack: pnpm comes from npm, at the version of the lockfile.
RUN npm install --global pnpm@12.24.0 && npm cache clean --force
WORKDIR /src
# The lockfile alone decides what is downloaded, so a source change reuses this layer.
COPY pnpm-lock.yaml pnpm-workspace.yaml ./
RUN pnpm fetch
COPY . .
# Build the service and the workspace packages it uses, then copy it with its production
# dependencies only (workspace packages included as plain copies) to /out.
RUN pnpm install --frozen-lockfile --offline \
 && pnpm --filter "@cti/push-gateway..." run build \
 && pnpm --filter @cti/push-gateway deploy --prod /out \
 && rm -rf /out/dist \
 && cp -R services/push-gateway/dist /out/dist \
 && cp deploy/docker/healthcheck.mjs /out/healthcheck.mjs

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
# npm and corepack are not needed to run the service; without them the image has less to patch.
# The service runs as uid 10001, which owns nothing in the image and matches the secret files.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
 && groupadd --system --gid 10001 cti \
 && useradd --system --uid 10001 --gid cti --no-create-home --shell /usr/sbin/nologin cti
WORKDIR /app
# Owned by root and not writable by the service: it runs on a read-only root filesystem anyway.
COPY --from=build --chown=root:root /out /app
USER 10001:10001
# The HTTP port is reached only through the TLS proxy (compose) or the Ingress (Kubernetes).
ENV PUSH_HTTP_HOST=0.0.0.0 PUSH_HTTP_PORT=8080
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "/app/healthcheck.mjs", "PUSH_HTTP_PORT", "8080"]
# runService drains NATS and finishes messages in flight on SIGTERM.
STOPSIGNAL SIGTERM
CMD ["node", "/app/dist/main.js"]
