#!/usr/bin/env bash
# README command 1: installs dependencies, builds, starts `cs dev` (the whole platform in one
# process on embedded storage and queue), publishes examples/hello as hello@prod, shows one
# HTTP invoke of it, and keeps the platform running in the foreground (Ctrl-C stops it).
#   PORT=8080 DATA_DIR=.code-sous ./scripts/dev.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/build.sh

port="${PORT:-8080}"
data="${DATA_DIR:-.code-sous}"
cs=build/bin/cs
log="$data/cs-dev.log"
mkdir -p "$data"

"$cs" dev --port "$port" --data-dir "$data" >"$log" 2>&1 &
dev_pid=$!
trap 'kill -TERM $dev_pid 2>/dev/null; wait $dev_pid 2>/dev/null' EXIT INT TERM
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$dev_pid" 2>/dev/null; then cat "$log"; exit 1; fi
  sleep 0.1
done
head -n 1 "$log"

run() { echo "+ cs $*" >&2; "$cs" "$@"; }
tenant="$("$cs" auth whoami | python3 -c 'import json,sys; print(json.load(sys.stdin)["tenant"])')"
if ! "$cs" fn get hello >/dev/null 2>&1; then
  run fn create hello
fi
draft="$(run fn draft upload --path examples/hello hello |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["draft_id"])')"
run fn publish --draft "$draft" --alias prod --invoke-http-roles developer,invoker hello
run fn invoke hello@prod --event examples/hello/event.json
run http invoke "/v1/web/$tenant/default/hello/prod/greet?name=readme"
echo
echo "cs dev is running on http://127.0.0.1:$port (logs: $log). Ctrl-C to stop."
wait "$dev_pid"
