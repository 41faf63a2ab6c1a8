#!/usr/bin/env bash
# Sets the project up (see setup.sh) and runs the whole stack: nats-server, the four services,
# and a demo PBX and CRM unless .env points at real ones. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node packages/cli/dist/main.js up "$@"
