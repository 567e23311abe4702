#!/usr/bin/env bash
# Builds mediasoup's C++ worker from the npm tarball's sources against Debian's
# libraries (no downloads), and caches the binary outside node_modules, keyed by
# mediasoup version and by the revision of this recipe.
#
# Usage: scripts/build-mediasoup-worker.sh            (prints the cached binary's path)
# Needs: node_modules/mediasoup (npm ci), the Debian -dev packages, meson >= 1.1.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"

src="$root/node_modules/mediasoup/worker"
[ -f "$src/meson.build" ] || die "node_modules/mediasoup is missing: run 'npm ci' first"

version=$(node -p "require('$root/node_modules/mediasoup/package.json').version")
bin=$(worker_bin_path "$version")
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi

meson=$(ensure_meson)
cache_dir=$(dirname "$bin")
build_root="$cache_dir.build"
rm -rf "$build_root"
mkdir -p "$build_root"
cp -r "$src" "$build_root/worker"
work="$build_root/worker"

# Each .wrap names the directory meson looks in before it downloads anything;
# put our system-library shims there.
for wrap in "$work"/subprojects/*.wrap; do
  name=$(basename "$wrap" .wrap)
  dir=$(sed -n 's/^directory *= *//p' "$wrap")
  [ -d "$root/scripts/mediasoup-subprojects/$name" ] || continue
  cp -r "$root/scripts/mediasoup-subprojects/$name" "$work/subprojects/$dir"
done

# Debian's hardened Abseil aborts on the iterator that WebRtcServer's destructor
# invalidates (ListenServerClosed() erases from the set being walked): walk a copy.
server_cpp="$work/src/RTC/WebRtcServer.cpp"
grep -q 'for (auto\* webRtcTransport : this->webRtcTransports)' "$server_cpp" ||
  die "WebRtcServer.cpp changed shape; review the destructor patch in $0"
sed -i 's/for (auto\* webRtcTransport : this->webRtcTransports)/auto webRtcTransportsCopy = this->webRtcTransports;\n\t\tfor (auto* webRtcTransport : webRtcTransportsCopy)/' "$server_cpp"

log="$build_root/build.log"
step "configuring mediasoup-worker $version (log: $log)"
(cd "$work" && "$meson" setup out --buildtype release -Db_ndebug=true -Db_pie=true \
  -Db_staticpic=true --wrap-mode=nodownload >"$log" 2>&1) ||
  { tail -n 40 "$log" >&2; die "meson setup failed; full log in $log"; }

step "compiling mediasoup-worker $version on $(nproc) cores (takes 3-4 minutes)"
start=$(date +%s)
set +e
(cd "$work" && "$meson" compile -C out -j "$(nproc)" mediasoup-worker 2>&1) | tee -a "$log" | ninja_progress "$start" >&2
status=${PIPESTATUS[0]}
set -e
[ "$status" -eq 0 ] || { tail -n 40 "$log" >&2; die "compile failed; full log in $log"; }

built="$work/out/mediasoup-worker"
[ -x "$built" ] || die "build finished but $built is missing"
mkdir -p "$cache_dir"
cp "$built" "$bin.tmp"
mv "$bin.tmp" "$bin"
rm -rf "$build_root"
step "mediasoup-worker $version cached at $bin ($(($(date +%s) - start)) s)"
echo "$bin"
