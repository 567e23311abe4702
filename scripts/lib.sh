# Shared helpers for the set-up scripts (sourced, not run).

# Where built artefacts live across clones and `npm ci` runs. Keep in step with
# src/sfu/workerBin.ts, which computes the same path at run time.
gateway_cache_dir() {
  echo "${GATEWAY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/telemed-gateway}"
}

worker_bin_path() {
  echo "$(gateway_cache_dir)/mediasoup-worker-$1/mediasoup-worker"
}

step() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# Reads ninja's "[n/N] ..." lines on stdin and prints a percentage every 5 %.
ninja_progress() {
  local start=$1 last=-5 line pct
  while IFS= read -r line; do
    if [[ $line =~ ^\[([0-9]+)/([0-9]+)\] ]]; then
      pct=$((100 * BASH_REMATCH[1] / BASH_REMATCH[2]))
      if ((pct >= last + 5)) || ((BASH_REMATCH[1] == BASH_REMATCH[2])); then
        last=$pct
        printf '  %3d%%  (%d/%d, %ds)\n' "$pct" "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" $(($(date +%s) - start))
      fi
    fi
  done
}

# Installs the Debian packages named that are not installed yet; when that is
# impossible (not root, no apt-get) it says what to run instead.
ensure_debs() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    die "missing system packages: ${missing[*]}. This set-up expects Debian bookworm; install their equivalents and re-run."
  fi
  if [ "$(id -u)" -ne 0 ]; then
    die "missing system packages: ${missing[*]}. Run as root, or first: sudo apt-get install -y ${missing[*]}"
  fi
  step "installing Debian packages: ${missing[*]}"
  if [ -z "${GATEWAY_APT_UPDATED:-}" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || die "apt-get update failed; check the network to Debian's mirrors"
    export GATEWAY_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
    die "apt-get install ${missing[*]} failed"
}

# Prints a meson >= 1.1 (Debian's 1.0 is too old for mediasoup's worker), installing
# one with pip into the cache when needed.
ensure_meson() {
  local venv
  venv="$(gateway_cache_dir)/meson-venv"
  if command -v meson >/dev/null 2>&1 && meson_ok meson; then command -v meson; return; fi
  if [ -x "$venv/bin/meson" ] && meson_ok "$venv/bin/meson"; then echo "$venv/bin/meson"; return; fi
  command -v python3 >/dev/null 2>&1 || die "python3 is needed to install meson >= 1.1 (apt-get install python3 python3-venv)"
  step "installing meson >= 1.1 into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv" >&2 || die "python3 -m venv failed; install python3-venv, or put meson >= 1.1 on PATH"
  "$venv/bin/pip" install -q --retries 1 --timeout 10 'meson>=1.1' >&2 || die "pip install meson failed; put meson >= 1.1 on PATH and re-run"
  echo "$venv/bin/meson"
}

meson_ok() {
  local v
  v=$("$1" --version 2>/dev/null) || return 1
  [ "$(printf '%s\n1.1.0\n' "$v" | sort -V | head -n1)" = "1.1.0" ]
}
