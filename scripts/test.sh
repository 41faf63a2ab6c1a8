#!/usr/bin/env bash
# Sets the project up (see setup.sh) and runs every check: typecheck, lint, build and the tests,
# which start their own nats-server, replay PBX and CRM simulator on free 127.0.0.1 ports.
set -euo pipefail
cd "$(dirname "$0")/.."
CTI_SETUP_BROWSER=1 CTI_SETUP_COMPOSE=1 CTI_SETUP_PROMTOOL=1 bash scripts/setup.sh
pnpm test
