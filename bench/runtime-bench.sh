#!/usr/bin/env bash
# Runtime per-activation cost next to the Node.js vm baseline, run on this machine now.
#   bench/runtime-bench.sh [ACTIVATIONS]   (after cmake --build build)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
n="${1:-2000}"
bin="${CS_BUILD_DIR:-$root/build}/bin/runtime_bench"
[ -x "$bin" ] || { echo "build first: cmake --build build --target runtime_bench" >&2; exit 1; }
command -v node >/dev/null || { echo "node is needed for the baseline" >&2; exit 1; }

cs_json="$("$bin" --activations "$n" --json)"
# The same binary with V8's own page allocator (the page cache off): the baseline for
# internal/runtime/page_cache.h.
nocache_json="$(CS_V8_PAGE_CACHE_MB=0 "$bin" --activations "$n" --json)"
node_json="$(node "$root/bench/node_vm_baseline.js" "$n")"
python3 - "$cs_json" "$node_json" "$nocache_json" <<'PY'
import json, sys
cs, node, nocache = json.loads(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[3])
print(f"activations per run: {cs['activations']}")
print(f"{'mode':44} {'wall ms/act':>12} {'cpu ms/act':>12} {'wall ratio':>11}")
rows = [
    ("node vm.createContext + runInContext (baseline)", node["wall_ms"], node["cpu_ms"]),
    ("cs-js fresh isolate, created inline", cs["inline_wall_ms"], cs["inline_cpu_ms"]),
    ("cs-js fresh isolate, warm pool (2 pre-created)", cs["pooled_wall_ms"], cs["pooled_cpu_ms"]),
    ("  same, inline, page cache off", nocache["inline_wall_ms"], nocache["inline_cpu_ms"]),
    ("  same, warm pool, page cache off", nocache["pooled_wall_ms"], nocache["pooled_cpu_ms"]),
]
for name, wall, cpu in rows:
    print(f"{name:44} {wall:12.3f} {cpu:12.3f} {wall / node['wall_ms']:10.2f}x")
print(f"one activation every 3 ms, latency p50/p99: node {node['paced_p50_ms']:.3f}/{node['paced_p99_ms']:.3f} ms,"
      f" cs-js (warm pool) {cs['paced_p50_ms']:.3f}/{cs['paced_p99_ms']:.3f} ms"
      f" (p50 ratio {cs['paced_p50_ms'] / node['paced_p50_ms']:.2f}x)")
print(f"resident memory per running isolate: {cs['isolate_rss_mb']:.2f} MB")
PY
