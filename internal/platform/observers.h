// Adapters from the modules' observer hooks (no-op by default) to Prometheus metrics.
#pragma once

#include <memory>

#include "internal/invoker/invoker.h"
#include "internal/observability/metrics.h"

namespace cs::platform {

std::unique_ptr<invoker::InvocationObserver> makeInvokerMetricsObserver(
    std::shared_ptr<observability::Metrics> metrics);

// The host API of every activation (cs.kv, cs.codeq, cs.http) and its environment (ctx.env,
// secrets), wired into the invoker's deps.
void wireHostApi(invoker::InvokerDeps& deps, bool allowLoopbackFetchForTests);

// cs_runtime_page_cache_* in /metrics: the heap page cache of the runtime (docs/runtime.md),
// read at every scrape. For processes that run activations (cs dev, cs-invoker-pool).
void addRuntimeMetrics(observability::Metrics& metrics);

}  // namespace cs::platform
