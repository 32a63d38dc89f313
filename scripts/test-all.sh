#!/usr/bin/env bash
# Installs dependencies, builds everything and runs the whole test suite (README command 2).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/build.sh
ctest --test-dir build --output-on-failure -j2
