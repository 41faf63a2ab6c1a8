#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian/Ubuntu machine with Node.js 20.18 or later:
# pnpm, nats-server, the npm packages, and a build. Safe to run again; it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }

node_version=$(node -p 'process.versions.node' 2>/dev/null || true)
if [[ -z "$node_version" ]]; then
  log "Node.js is missing: install Node.js 20.18 or later (22 LTS recommended), then run this again."
  exit 1
fi
if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=18)?0:1)'; then
  log "Node.js $node_version is too old: this project needs 20.18 or later."
  exit 1
fi

# Debian packages, installed only when missing. With no root and no sudo the script says what
# to install instead of failing halfway.
apt_install() {
  local package=$1
  if [[ $(id -u) -eq 0 ]]; then
    apt-get install -y "$package" >/dev/null || { apt-get update >/dev/null && apt-get install -y "$package" >/dev/null; }
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get install -y "$package" >/dev/null || { sudo apt-get update >/dev/null && sudo apt-get install -y "$package" >/dev/null; }
  else
    log "$package is missing and this user cannot install packages: run 'apt-get install -y $package' as root."
    exit 1
  fi
}

if ! command -v pnpm >/dev/null 2>&1; then
  log "installing pnpm with npm"
  npm install -g pnpm@12 >/dev/null
fi

if [[ -z "${NATS_SERVER_BIN:-}" ]] && ! command -v nats-server >/dev/null 2>&1 && [[ ! -x /usr/sbin/nats-server ]]; then
  log "installing nats-server (Debian package)"
  apt_install nats-server
fi

if [[ "${CTI_SETUP_BROWSER:-0}" == "1" ]] && [[ ! -x /usr/bin/chromium ]]; then
  log "installing chromium (Debian package) for the browser test"
  apt_install chromium
fi

# The deployment tests validate docker-compose.yml with a compose client's `config`, which needs
# no Docker engine. Debian's docker-compose (v1) is enough for that; v2 is needed to run it.
if [[ "${CTI_SETUP_COMPOSE:-0}" == "1" ]] && ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null 2>&1; then
  log "installing docker-compose (Debian package) for the compose file test"
  apt_install docker-compose
fi

# The alert rules are checked and unit-tested with promtool, from Debian's prometheus package.
if [[ "${CTI_SETUP_PROMTOOL:-0}" == "1" ]] && ! command -v promtool >/dev/null 2>&1; then
  log "installing prometheus (Debian package) for promtool"
  apt_install prometheus
fi

log "installing npm packages (about a minute the first time)"
pnpm install --frozen-lockfile --reporter=silent
log "building (about a minute on two cores)"
# pnpm echoes each package's build command on stderr; show the output only when the build fails.
build_log=$(mktemp)
if ! pnpm -s run build >"$build_log" 2>&1; then
  cat "$build_log" >&2
  rm -f "$build_log"
  log "the build failed: see the compiler output above"
  exit 1
fi
rm -f "$build_log"
log "ready"
