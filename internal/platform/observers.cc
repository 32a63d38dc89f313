#include "internal/platform/observers.h"

#include "internal/fetch/fetch.h"
#include "internal/hostapi/factory.h"
#include "internal/runtime/engine.h"

namespace cs::platform {
namespace {

class InvokerMetrics final : public invoker::InvocationObserver {
 public:
  explicit InvokerMetrics(std::shared_ptr<observability::Metrics> metrics)
      : metrics_(std::move(metrics)) {}
  void onInvocation(const invoker::InvocationLabels& l, std::string_view status,
                    int64_t durationMs) override {
    metrics_->invocation({l.tenant, l.ns, l.function, l.version, l.trigger}, status,
                         static_cast<double>(durationMs));
  }
  void onCache(invoker::CacheEvent event, size_t items, size_t bytes) override {
    if (event == invoker::CacheEvent::Hit) {
      metrics_->cacheHit();
    } else {
      metrics_->cacheMiss();
    }
    metrics_->setCacheItems(static_cast<int64_t>(items));
    metrics_->setCacheBytes(static_cast<int64_t>(bytes));
  }
  void onInflight(int64_t n) override { metrics_->setInflight(n); }
  void onQueueLag(std::string_view topic, int64_t lagMs) override {
    metrics_->setQueueLag(topic, static_cast<double>(lagMs));
  }
  void onColdStart() override { metrics_->coldStart("cs-js"); }

 private:
  std::shared_ptr<observability::Metrics> metrics_;
};

}  // namespace

std::unique_ptr<invoker::InvocationObserver> makeInvokerMetricsObserver(
    std::shared_ptr<observability::Metrics> metrics) {
  return std::make_unique<InvokerMetrics>(std::move(metrics));
}

void addRuntimeMetrics(observability::Metrics& metrics) {
  metrics.addSampler([] {
    const runtime::PageCacheStats s = runtime::pageCacheStats();
    auto d = [](uint64_t v) { return static_cast<double>(v); };
    return std::vector<observability::Metrics::Sample>{
        {"cs_runtime_page_cache_hits_total", "Heap chunks handed to an isolate from the cache",
         true, d(s.hits)},
        {"cs_runtime_page_cache_misses_total", "Heap chunks mapped fresh (not in the cache)", true,
         d(s.misses)},
        {"cs_runtime_page_cache_chunks", "Zeroed heap chunks held in the cache", false,
         d(s.cachedChunks)},
        {"cs_runtime_page_cache_bytes", "Bytes of the zeroed heap chunks held in the cache",
         false, d(s.cachedBytes)},
        {"cs_runtime_page_protect_calls_total", "mprotect calls made for isolate heaps", true,
         d(s.protectCalls)},
        {"cs_runtime_page_protects_skipped_total",
         "Permission changes already in effect, not sent to the kernel", true,
         d(s.protectsSkipped)},
    };
  });
}

void wireHostApi(invoker::InvokerDeps& deps, bool allowLoopbackFetchForTests) {
  fetch::FetchSettings settings;
  settings.allowLoopbackForTests = allowLoopbackFetchForTests;
  hostapi::HostDeps host{deps.store, deps.queue};
  host.http = [settings](const invoker::ActivationInfo&, const api::HttpCapability& capability)
      -> Result<std::unique_ptr<runtime::HostProvider>> {
    return fetch::makeHttpFetchProvider(&capability, settings);
  };
  deps.providers = hostapi::makeProviderFactory(std::move(host));
  deps.environment = hostapi::makeEnvironmentResolver(deps.store);
}

}  // namespace cs::platform
