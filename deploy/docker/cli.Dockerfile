# syntax=docker/dockerfile:1
# cti: the operators' command line (`pnpm cti`), also the one-shot setup job of a deployment
# (`cti streams apply`). Build from the repository root:
#   docker build -f deploy/docker/cli.Dockerfile -t cti-middleware/cli .

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
RUN pnpm install --frozen-lockfile --offline \
 && pnpm --filter "@cti/cli..." run build \
 && pnpm --filter @cti/cli deploy --prod /out \
 && rm -rf /out/dist \
 && cp -R packages/cli/dist /out/dist

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
 && groupadd --system --gid 10001 cti \
 && useradd --system --uid 10001 --gid cti --no-create-home --shell /usr/sbin/nologin cti
WORKDIR /app
COPY --from=build --chown=root:root /out /app
USER 10001:10001
# A command that runs and exits has nothing to probe.
HEALTHCHECK NONE
ENTRYPOINT ["node", "/app/dist/main.js"]
CMD ["--help"]
