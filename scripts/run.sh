#!/usr/bin/env bash
# Sets up a fresh machine for Strongbox and runs one job:
#   bash scripts/run.sh demo   — Node >= 22, pnpm, dependencies; then the no-services demo
#   bash scripts/run.sh test   — the same, plus `age`, PostgreSQL and Redis; then the test suite
# STRONGBOX_NODE_MAJOR=22 forces a given Node major (CI runs the tests on 22 and 24).
set -euo pipefail
cd "$(dirname "$0")/.."
job=${1:-demo}
# Tools the tests call as root live in sbin (runuser for throwaway PostgreSQL clusters).
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH="$PATH:/usr/sbin:/sbin" ;; esac

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

# Node from the npm registry's node-linux-<arch> package, cached, when the system one is too old
# (or a specific major is asked for).
node_bin_for() {
  local major=$1 arch dir
  case "$(uname -m)" in aarch64|arm64) arch=arm64 ;; *) arch=x64 ;; esac
  dir="${XDG_CACHE_HOME:-$HOME/.cache}/strongbox-node$major"
  if [ ! -x "$dir/node_modules/node-linux-$arch/bin/node" ]; then
    log "installing Node $major into $dir"
    mkdir -p "$dir"
    npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$dir" "node-linux-$arch@$major" >&2
  fi
  echo "$dir/node_modules/node-linux-$arch/bin"
}

current=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
want=${STRONGBOX_NODE_MAJOR:-}
if [ -n "$want" ] && [ "$current" != "$want" ]; then
  PATH="$(node_bin_for "$want"):$PATH"
elif [ -z "$want" ] && [ "$current" -lt 22 ]; then
  PATH="$(node_bin_for 24):$PATH"
fi
export PATH
log "node $(node --version)"

# pnpm 10 (corepack cannot verify signatures on this registry, so install it with npm).
if ! pnpm --version 2>/dev/null | grep -q '^10\.'; then
  log "installing pnpm 10"
  npm install -g --no-audit --no-fund --loglevel=error pnpm@10 >&2
fi
hash -r

if [ "$job" = "test" ]; then
  need_apt=()
  command -v age >/dev/null || need_apt+=(age)
  command -v zstd >/dev/null || need_apt+=(zstd)
  command -v pg_dump >/dev/null || need_apt+=(postgresql postgresql-contrib)
  command -v redis-server >/dev/null || need_apt+=(redis-server)
  if [ ${#need_apt[@]} -gt 0 ]; then
    log "apt-get install ${need_apt[*]}"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >&2
  fi
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    log "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start >&2
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
  fi
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    log "starting Redis"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log >&2
    for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.2; done
  fi
fi

log "pnpm install"
pnpm install --frozen-lockfile --reporter=silent >&2 || pnpm install --frozen-lockfile >&2

case "$job" in
  demo) exec pnpm demo ;;
  test) exec pnpm test ;;
  test-only) exec pnpm test:only ;;
  *) echo "usage: bash scripts/run.sh demo|test" >&2; exit 2 ;;
esac
