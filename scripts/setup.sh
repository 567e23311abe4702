#!/usr/bin/env bash
# Sets up everything the gateway needs, skipping what is already done:
#   Debian build packages → npm ci → mediasoup worker (built from source, cached) → build.
# Usage: scripts/setup.sh          (to run the gateway)
#        scripts/setup.sh --test   (also installs Chromium and Firefox ESR for the browser tests,
#                                   and redis-server for the cluster tests)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"

mode=start
case "${1:-}" in
  --test) mode=test ;;
  "") ;;
  *) die "unknown option '$1' (usage: scripts/setup.sh [--test])" ;;
esac

# The PostgreSQL the tests use (npm run test:postgres): Debian's cluster running, and a role
# that may create the throw-away databases (test/support/postgres.ts). Idempotent.
ensure_test_postgres() {
  local role=telemed_test
  local create_role="CREATE ROLE $role LOGIN CREATEDB PASSWORD '$role'"
  if [ "$(id -u)" -ne 0 ]; then
    if PGPASSWORD=$role psql -h 127.0.0.1 -U $role -d postgres -tAc 'SELECT 1' >/dev/null 2>&1; then
      step "test PostgreSQL is up (role $role)"
    else
      step "the PostgreSQL tests need a running server and a role; as root run:"
      echo "  apt-get install -y postgresql" >&2
      echo "  pg_ctlcluster --skip-systemctl-redirect 15 main start" >&2
      echo "  su postgres -c \"psql -c \\\"$create_role\\\"\"" >&2
    fi
    return 0
  fi
  local version cluster
  version=$(pg_lsclusters -h 2>/dev/null | awk 'NR==1 {print $1}')
  cluster=$(pg_lsclusters -h 2>/dev/null | awk 'NR==1 {print $2}')
  [ -n "$version" ] || die "PostgreSQL is installed but has no cluster; run: pg_createcluster 15 main"
  if ! pg_lsclusters -h | awk 'NR==1 {print $4}' | grep -q online; then
    step "starting PostgreSQL $version/$cluster"
    pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" start || die "could not start PostgreSQL $version/$cluster"
  fi
  if ! su postgres -c "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname = '$role'\"" | grep -q 1; then
    step "creating the PostgreSQL role $role for the tests"
    su postgres -c "psql -qc \"$create_role\"" || die "could not create the PostgreSQL role $role"
  fi
  step "test PostgreSQL is up (role $role)"
}

# --- Node.js ---
command -v node >/dev/null 2>&1 || die "Node.js 20 or newer is required (https://nodejs.org or Debian's nodejs)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "Node.js 20 or newer is required; this is $(node --version)"

# --- Debian packages: the worker's build dependencies (and the test browsers) ---
debs=(g++ make pkg-config ninja-build libuv1-dev libssl-dev libsrtp2-dev libusrsctp-dev libabsl-dev nlohmann-json3-dev)
command -v python3 >/dev/null 2>&1 || debs+=(python3 python3-venv)
[ "$mode" = test ] && debs+=(chromium firefox-esr janus postgresql)
# The cluster tests start their own redis-server on a free port (not the system service).
[ "$mode" = test ] && debs+=(redis-server)
if command -v dpkg-query >/dev/null 2>&1; then
  ensure_debs "${debs[@]}"
else
  step "not a Debian system: make sure these (or their equivalents) are installed: ${debs[*]}"
fi

# --- npm dependencies (skipped while package-lock.json is unchanged) ---
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.setup-lock-sha256
if [ "$(cat "$stamp" 2>/dev/null)" != "$lock_sum" ]; then
  step "installing npm dependencies (npm ci)"
  # mediasoup's own postinstall (which downloads a prebuilt worker) is denied in
  # package.json's allowScripts; the variable makes it skip the download if it ever runs.
  # The tests drive Debian's browsers: no npm package may download one.
  PUPPETEER_SKIP_DOWNLOAD=1 \
    MEDIASOUP_WORKER_BIN=$(worker_bin_path "$(node -p "require('./package.json').dependencies.mediasoup")") \
    npm ci --no-audit --no-fund || die "npm ci failed (is the npm registry reachable?)"
  echo "$lock_sum" >"$stamp"
else
  step "npm dependencies are up to date"
fi

# --- mediasoup worker (cached by version outside node_modules) ---
worker_bin=$("$root/scripts/build-mediasoup-worker.sh")
step "mediasoup worker: $worker_bin"

# --- build server and client (skipped when nothing changed since the last build) ---
build_stamp=dist/.build-stamp
if [ ! -f "$build_stamp" ] || [ ! -f client/dist/index.html ] ||
  [ -n "$(find src client/src client/index.html client/vite.config.ts package-lock.json tsconfig.json tsconfig.build.json -newer "$build_stamp" -print -quit 2>/dev/null)" ]; then
  step "building server and client"
  npm run build --silent || die "build failed"
  touch "$build_stamp"
else
  step "build is up to date"
fi

if [ "$mode" = test ]; then
  [ -x /usr/bin/chromium ] || die "Chromium is missing at /usr/bin/chromium; install Debian's 'chromium' package"
  [ -x /usr/bin/firefox-esr ] || die "Firefox ESR is missing at /usr/bin/firefox-esr; install Debian's 'firefox-esr' package"
  # The cluster tests and the crossnode bench start their own redis-server on a free port.
  command -v redis-server >/dev/null 2>&1 || die "redis-server is missing; install Debian's 'redis-server' package"
  ensure_test_postgres
fi
step "set-up complete"
