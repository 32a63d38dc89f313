#!/usr/bin/env bash
# Installs dependencies (scripts/setup-deps.sh) and builds every target into build/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -UCS_MODULES_ONLY >/dev/null
cmake --build build
