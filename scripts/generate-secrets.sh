#!/usr/bin/env bash
# Creates deploy/secrets/ for a compose or Kubernetes deployment: every generated secret (256 bits,
# files with mode 600 in a directory with mode 700) and the bcrypt hashes NATS checks passwords
# against, then lists the secrets you must fill in. Existing secrets are kept, and the hashes file
# is written again from the current passwords. The arguments go to `cti secrets generate`, where
# `--rotate NAME` replaces the generated secret NAME. Pass it once per secret to rotate, after
# reading the runbooks in docs/security.md, for example `--rotate nats_crm_sync_password`.
#
# It runs `cti secrets generate` with Node.js when the project is built here, otherwise in the CLI
# image (built with Docker on first use). Run it with sudo so the files can be given to uid 10001,
# the user the containers run as.
set -euo pipefail
cd "$(dirname "$0")/.."

owner=10001:10001
directory=deploy/secrets
args=(secrets generate --dir "$directory" "$@")

if command -v node >/dev/null 2>&1 && [[ -f packages/cli/dist/main.js ]]; then
  if [[ $(id -u) -eq 0 ]]; then
    args+=(--owner "$owner")
  fi
  node packages/cli/dist/main.js "${args[@]}"
elif command -v docker >/dev/null 2>&1; then
  image=cti-middleware/cli:${CTI_VERSION:-local}
  if ! docker image inspect "$image" >/dev/null 2>&1; then
    docker build -f deploy/docker/cli.Dockerfile -t "$image" . >&2
  fi
  mkdir -p "$directory"
  chmod 700 "$directory"
  # The container writes as the calling user; the files get their final owner below.
  docker run --rm --network none --read-only --cap-drop ALL --security-opt no-new-privileges:true \
    --user "$(id -u):$(id -g)" -v "$PWD/$directory:/secrets" "$image" secrets generate --dir /secrets "$@"
else
  echo "generate-secrets: needs Node.js 20.18+ with a built project (scripts/setup.sh) or Docker" >&2
  exit 1
fi

if [[ $(id -u) -eq 0 ]]; then
  chown -R "$owner" "$directory"
elif [[ $(stat -c %u "$directory") != "${owner%%:*}" ]]; then
  echo "generate-secrets: the containers run as uid ${owner%%:*} and cannot read files owned by $(id -un)." >&2
  echo "generate-secrets: run 'sudo chown -R $owner $directory', or run this script with sudo." >&2
fi
