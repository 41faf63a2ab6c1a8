# syntax=docker/dockerfile:1
# TLS reverse proxy (Caddy) in front of webhook-ingress and push-gateway. Build from the repository
# root: docker build -f deploy/docker/proxy.Dockerfile -t cti-middleware/proxy .
# NOTE: pin the digest as well where the registry is reachable (see the service Dockerfiles).
FROM caddy:2.11.7-alpine

# Certificates and ACME state live in /data (a volume); the volume takes this ownership when it
# is created, so Caddy runs as uid 10001 and can still write there.
RUN mkdir -p /data/caddy /config/caddy \
 && chown -R 10001:10001 /data /config
COPY deploy/proxy/Caddyfile /etc/caddy/Caddyfile
USER 10001:10001
# Docker lets processes bind ports below 1024 without a capability
# (net.ipv4.ip_unprivileged_port_start=0 in the container's network namespace).
EXPOSE 80 443
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8081/healthz"]
CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]
