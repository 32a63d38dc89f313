#!/usr/bin/env bash
# HTTP invoke benchmark of the distributed deployment (cs-control, cs-http-gateway, two
# cs-invoker-pool, redis-server with the kvrocks store + streams queue drivers) beside `cs dev`,
# in the same run: throughput with wrk, p50/p99 at a fixed rate with bench/paced_load.
#   bench/http-bench-distributed.sh [SECONDS] [RATE]     (after cmake --build build)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${CS_BUILD_DIR:-$root/build}"
secs="${1:-10}"
rate="${2:-200}"
bin="$build/bin"
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
ready() { for _ in $(seq 1 150); do curl -fsS "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "not ready: $1" >&2; return 1; }
deploy() {  # api_url token
  export XDG_CONFIG_HOME="$work/xdg" CS_API_URL="$1" CS_TENANT="$3" CS_TOKEN="$2"
  "$bin/cs" fn create bench >/dev/null
  local draft
  draft="$("$bin/cs" fn draft upload --path "$root/bench/functions/trivial" bench | python3 -c 'import json,sys; print(json.load(sys.stdin)["draft_id"])')"
  "$bin/cs" fn publish --draft "$draft" --alias prod --invoke-http-roles developer bench >/dev/null
}
measure() {  # url token → "rps p50 p99"
  local rps paced
  rps="$(wrk -t2 -c32 -d"${secs}s" -H "Authorization: Bearer $2" "$1" | awk '/Requests\/sec/ {print $2}')"
  paced="$("$bin/paced_load" "$1" "$rate" "$secs" "Authorization: Bearer $2" || true)"
  echo "$rps $(echo "$paced" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["p50_ms"], j["p99_ms"], j["errors"])')"
}

# --- cs dev ---------------------------------------------------------------------------
"$bin/cs" dev --port 18480 --data-dir "$work/dev" --no-login --log-level warn \
  --tenant-rps 0 --function-rps 0 --ip-rps 0 >"$work/dev.log" 2>&1 &
pids+=($!)
ready http://127.0.0.1:18480/readyz
dev_token="$(cat "$work/dev/admin.token")"
deploy http://127.0.0.1:18480 "$dev_token" t_dev0001
curl -fsS -H "Authorization: Bearer $dev_token" http://127.0.0.1:18480/v1/web/t_dev0001/default/bench/prod/x >/dev/null
read -r dev_rps dev_p50 dev_p99 dev_err <<<"$(measure http://127.0.0.1:18480/v1/web/t_dev0001/default/bench/prod/x "$dev_token")"
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true

# --- distributed ----------------------------------------------------------------------
redis-server --port 18490 --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
  --loglevel warning >"$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do redis-cli -p 18490 ping >/dev/null 2>&1 && break; sleep 0.1; done
"$bin/cs" keys gen --out "$work/keys" >/dev/null
token="$("$bin/cs" token mint --key "$work/keys/private.pem" --tenant t_bench001 --sub bench \
  --roles developer --iss cs-bench --aud code-sous --ttl 3600)"
cat >"$work/config.yaml" <<YAML
plugins:
  authn: {driver: tikti, tikti: {jwks_file: $work/keys/jwks.json, issuer: cs-bench, audience: code-sous}}
  persistence: {driver: kvrocks, kvrocks: {addr: "127.0.0.1:18490"}}
  messaging: {driver: streams}
logging: {level: warn}
cs_control: {http: {addr: "127.0.0.1:18491"}}
cs_http_gateway:
  http: {addr: "127.0.0.1:18492"}
  rate_limits: {tenant_rps: 1000000, function_rps: 1000000, ip_rps: 1000000}
cs_invoker_pool: {http: {addr: "127.0.0.1:18493"}}
YAML
"$bin/cs-control" --config "$work/config.yaml" 2>"$work/control.log" & pids+=($!)
"$bin/cs-http-gateway" --config "$work/config.yaml" 2>"$work/gateway.log" & pids+=($!)
"$bin/cs-invoker-pool" --config "$work/config.yaml" 2>"$work/invoker1.log" & pids+=($!)
CS_CS_INVOKER_POOL__HTTP__ADDR=127.0.0.1:18494 "$bin/cs-invoker-pool" --config "$work/config.yaml" \
  2>"$work/invoker2.log" & pids+=($!)
for port in 18491 18492 18493 18494; do ready "http://127.0.0.1:$port/readyz"; done
deploy http://127.0.0.1:18491 "$token" t_bench001
url=http://127.0.0.1:18492/v1/web/t_bench001/default/bench/prod/x
curl -fsS -H "Authorization: Bearer $token" "$url" >/dev/null
read -r dist_rps dist_p50 dist_p99 dist_err <<<"$(measure "$url" "$token")"
lag="$(curl -fsS http://127.0.0.1:18493/metrics | awk '/^cs_invoker_queue_lag_ms/ {print $2}' | head -n1)"

python3 - "$dev_rps" "$dev_p50" "$dev_p99" "$dev_err" "$dist_rps" "$dist_p50" "$dist_p99" "$dist_err" "$rate" "${lag:-n/a}" <<'PY'
import sys
dr, dp50, dp99, de, xr, xp50, xp99, xe, rate, lag = sys.argv[1:]
print(f"{'':46} {'req/s':>8} {'p50 @'+rate+'/s':>12} {'p99 @'+rate+'/s':>12} {'errors':>7}")
print(f"{'cs dev (one process)':46} {float(dr):8.0f} {float(dp50):10.2f}ms {float(dp99):10.2f}ms {de:>7}")
print(f"{'distributed (gw, control, 2 invokers, redis)':46} {float(xr):8.0f} {float(xp50):10.2f}ms {float(xp99):10.2f}ms {xe:>7}")
print(f"distributed / cs dev throughput: {float(xr) / float(dr):.2f}x; invoker 1 queue lag after the run: {lag} ms")
PY
