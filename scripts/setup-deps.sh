#!/usr/bin/env bash
# Installs every system dependency of code-sous on a Debian 12 machine. Idempotent and quiet
# when everything is already there. V8 comes from Debian's libnode-dev; where a non-Debian
# `nodejs` package owns /usr/include/node (and so blocks libnode108), the two Debian packages
# are unpacked into .deps/libnode instead (see docs/architecture.md).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
deps="$root/.deps"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates ccache
  libboost1.74-dev libcurl4-openssl-dev libhiredis-dev nlohmann-json3-dev libvalijson-dev
  libyaml-cpp-dev libspdlog-dev libfmt-dev prometheus-cpp-dev libcli11-dev libssl-dev uuid-dev
  libarchive-dev libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libsqlite3-dev libgtest-dev libgmock-dev libbenchmark-dev wrk redis-server curl python3
  libjemalloc-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

apt_updated=0
apt_update() {
  if [ "$apt_updated" = 0 ]; then
    $SUDO apt-get update -qq >/dev/null
    apt_updated=1
  fi
}

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup-deps: installing ${missing[*]}"
  apt_update
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- V8 (libnode) --------------------------------------------------------------------------
have_system_libnode() {
  [ -f /usr/include/node/v8.h ] && [ -e /usr/lib/x86_64-linux-gnu/libnode.so ] &&
    dpkg-query -W -f='${Status}' libnode-dev 2>/dev/null | grep -q "install ok installed"
}

if have_system_libnode; then
  exit 0
fi
if [ -f "$deps/libnode/usr/include/node/v8.h" ] && ls "$deps"/libnode/usr/lib/*/libnode.so* >/dev/null 2>&1; then
  exit 0
fi

# Try the Debian package first; it fails when a foreign nodejs owns /usr/include/node.
if ! dpkg-query -W -f='${Status}' nodejs 2>/dev/null | grep -q "install ok installed" ||
   dpkg-query -W -f='${Version}' nodejs 2>/dev/null | grep -q -- '-deb\|dfsg'; then
  apt_update
  if $SUDO apt-get install -y -qq --no-install-recommends libnode-dev >/dev/null 2>&1 && have_system_libnode; then
    exit 0
  fi
fi

echo "setup-deps: unpacking Debian's libnode108 + libnode-dev into .deps/libnode"
apt_update
# The shared-library dependencies of libnode108 install normally.
$SUDO apt-get install -y -qq --no-install-recommends libicu72 libuv1 libc-ares2 libnghttp2-14 \
  libbrotli1 zlib1g libssl3 >/dev/null
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
chmod 777 "$tmp"
(cd "$tmp" && apt-get download libnode108 libnode-dev >/dev/null)
rm -rf "$deps/libnode"
mkdir -p "$deps/libnode"
for deb in "$tmp"/*.deb; do dpkg -x "$deb" "$deps/libnode"; done
libdir="$(dirname "$(ls "$deps"/libnode/usr/lib/*/libnode.so.108 | head -n1)")"
ln -sf libnode.so.108 "$libdir/libnode.so"
test -f "$deps/libnode/usr/include/node/v8.h"
echo "setup-deps: V8 headers and libnode ready under .deps/libnode"
