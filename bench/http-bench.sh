#!/usr/bin/env bash
# HTTP invoke benchmark: `cs dev` with a trivial function behind /v1/web (bearer token), next to
# a bare Node.js HTTP server running the same handler in a fresh vm context per request.
# Throughput with wrk; p50/p99 at a fixed rate with bench/paced_load; idle RSS of cs dev.
#   bench/http-bench.sh [SECONDS] [RATE]     (after cmake --build build)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${CS_BUILD_DIR:-$root/build}"
secs="${1:-10}"
rate="${2:-200}"
cs="$build/bin/cs"
paced="$build/bin/paced_load"
for t in "$cs" "$paced"; do [ -x "$t" ] || { echo "build first: $t" >&2; exit 1; }; done
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }

work="$(mktemp -d)"
cs_port=18180
node_port=18190
cleanup() { kill "${dev_pid:-}" "${node_pid:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

"$cs" dev --port "$cs_port" --data-dir "$work/data" --no-login --log-level warn \
  --tenant-rps 0 --function-rps 0 --ip-rps 0 >"$work/dev.log" 2>&1 &
dev_pid=$!
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$cs_port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
token="$(cat "$work/data/admin.token")"
export XDG_CONFIG_HOME="$work/xdg" CS_API_URL="http://127.0.0.1:$cs_port" CS_TENANT=t_dev0001 CS_TOKEN="$token"
"$cs" fn create bench >/dev/null
draft="$("$cs" fn draft upload --path "$root/bench/functions/trivial" bench | python3 -c 'import json,sys; print(json.load(sys.stdin)["draft_id"])')"
"$cs" fn publish --draft "$draft" --alias prod --invoke-http-roles developer bench >/dev/null
sleep 1
idle_rss_kb="$(awk '/VmRSS/ {print $2}' /proc/$dev_pid/status)"
cs_url="http://127.0.0.1:$cs_port/v1/web/t_dev0001/default/bench/prod/hello"
auth="Authorization: Bearer $token"
curl -fsS -H "$auth" "$cs_url" >/dev/null

node "$root/bench/node_http_baseline.js" "$node_port" >"$work/node.log" 2>&1 &
node_pid=$!
for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$node_port/hello" >/dev/null 2>&1 && break; sleep 0.1; done
node_url="http://127.0.0.1:$node_port/hello"

rps() {  # url [header]
  local out
  if [ -n "${2:-}" ]; then out="$(wrk -t2 -c32 -d"${secs}s" -H "$2" "$1")"; else out="$(wrk -t2 -c32 -d"${secs}s" "$1")"; fi
  echo "$out" >>"$work/wrk.log"
  echo "$out" | awk '/Requests\/sec/ {print $2}'
}
errors() { grep -E "Non-2xx|Socket errors" "$work/wrk.log" | tail -n 2 || true; }
# Context switches (voluntary + involuntary, all threads) and CPU ticks of cs dev so far.
switches() { cat /proc/$dev_pid/task/*/status 2>/dev/null | awk '/^(non)?voluntary_ctxt_switches/ {n += $2} END {print n}'; }
cpu_ticks() { awk '{print $14 + $15}' /proc/$dev_pid/stat; }

node_rps="$(rps "$node_url")"
sw0="$(switches)"; cpu0="$(cpu_ticks)"
cs_rps="$(rps "$cs_url" "$auth")"
sw1="$(switches)"; cpu1="$(cpu_ticks)"
cs_requests="$(awk '/requests in/ {n = $1} END {print n}' "$work/wrk.log")"
wrk_errors="$(errors)"
node_paced="$("$paced" "$node_url" "$rate" "$secs" || true)"
cs_paced="$("$paced" "$cs_url" "$rate" "$secs" "$auth" || true)"
busy_rss_kb="$(awk '/VmRSS/ {print $2}' /proc/$dev_pid/status)"

python3 - "$node_rps" "$cs_rps" "$node_paced" "$cs_paced" "$idle_rss_kb" "$busy_rss_kb" "$rate" \
  "$((sw1 - sw0))" "$((cpu1 - cpu0))" "$(getconf CLK_TCK)" "$cs_requests" <<'PY'
import json, sys
node_rps, cs_rps = float(sys.argv[1]), float(sys.argv[2])
node_p, cs_p = json.loads(sys.argv[3]), json.loads(sys.argv[4])
idle, busy, rate = int(sys.argv[5]) / 1024, int(sys.argv[6]) / 1024, sys.argv[7]
switches, ticks, hz, requests = int(sys.argv[8]), int(sys.argv[9]), int(sys.argv[10]), max(int(sys.argv[11] or 0), 1)
print(f"{'':38} {'req/s (wrk -c32)':>17} {'p50 @'+rate+'/s':>12} {'p99 @'+rate+'/s':>12} {'errors':>7}")
print(f"{'node http + vm context per request':38} {node_rps:17.0f} {node_p['p50_ms']:10.2f}ms {node_p['p99_ms']:10.2f}ms {node_p['errors']:7d}")
print(f"{'cs dev /v1/web (fresh isolate)':38} {cs_rps:17.0f} {cs_p['p50_ms']:10.2f}ms {cs_p['p99_ms']:10.2f}ms {cs_p['errors']:7d}")
print(f"throughput ratio cs/node: {cs_rps / node_rps:.2f}x")
print(f"cs dev RSS: idle {idle:.0f} MB, after the load {busy:.0f} MB")
# Less sensitive to a noisy machine than req/s: what one request costs the cs dev process.
print(f"cs dev per request under wrk: {ticks * 1000 / hz / requests:.2f} ms CPU,"
      f" {switches / requests:.1f} context switches")
PY
if [ -n "$wrk_errors" ]; then echo "wrk: $wrk_errors"; fi
exit 0
