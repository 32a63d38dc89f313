#!/usr/bin/env bash
# Installs dependencies, builds, and runs the platform's main job (README command 1).
# Until `cs dev` exists this runs the sample function in the local runner.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build
echo "+ build/bin/cs fn test --path examples/hello --event examples/hello/event.json"
build/bin/cs fn test --path examples/hello --event examples/hello/event.json
