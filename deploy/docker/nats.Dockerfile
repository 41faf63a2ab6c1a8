# syntax=docker/dockerfile:1
# NATS server with JetStream and the permissions generated from the contracts. Build from the
# repository root: docker build -f deploy/docker/nats.Dockerfile -t cti-middleware/nats .
# NOTE: pin the digest as well where the registry is reachable (see the service Dockerfiles).
FROM nats:2.12.3-alpine

# The JetStream store is a volume; it takes this ownership when it is created.
RUN mkdir -p /data \
 && chown 10001:10001 /data
# The bcrypt password hashes are not part of the image: the nats_password_hashes.conf secret is
# mounted next to these files at run time.
COPY deploy/nats/nats.conf deploy/nats/authorization.conf /etc/nats/
USER 10001:10001
EXPOSE 4222 8222
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8222/healthz?js-enabled-only=true"]
ENTRYPOINT ["nats-server"]
CMD ["--config", "/etc/nats/nats.conf"]
