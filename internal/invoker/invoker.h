// The invoker (SPEC §10, DESIGN "Concurrency"): consumes InvocationRequests from the invoke
// topic and runs them in the runtime, persisting activation records and logs and publishing
// exactly one InvocationResult per activation.
//
// Pipeline per delivery: validate (invalid → DLQ, ack) → idempotency check of the activation
// record (terminal → republish the stored result, ack) → deadline check → resolve alias →
// load version meta + bundle (BundleCache by sha256) → verify sha256 → validate manifest →
// per-version semaphore (VersionGate: full → the job is parked, no worker waits) → CAS
// `running` → run → write log chunks → CAS terminal → publish result(s) → index + schedule
// marker → ack. Decisions (takeover of stale `running` records, retries) are in README.md.
//
// Threads: start()/stop() from one owner thread. The queue's delivery thread only enqueues;
// `workers.threads` worker threads run the pipeline, one activation each at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "internal/api/manifest.h"
#include "internal/codeq/queue.h"
#include "internal/errors/errors.h"
#include "internal/invoker/bundle_cache.h"
#include "internal/invoker/request.h"
#include "internal/kv/clock.h"
#include "internal/kv/store.h"
#include "internal/runtime/engine.h"

namespace cs::invoker {

// Mirrors config::InvokerPoolConfig (SPEC §15) plus the wiring the config does not name.
struct InvokerOptions {
  struct Workers {
    int threads = 2;       // 1..1024
    int maxInflight = 64;  // deliveries held at once (queued + parked + running), >= 1
  } workers;
  struct Cache {
    size_t bundlesMax = 1000;
    size_t bytesMax = size_t{512} << 20;
  } cache;
  struct Limits {
    size_t maxResultBytes = size_t{256} << 10;
    size_t maxErrorBytes = size_t{64} << 10;
    size_t maxLogBytes = size_t{1} << 20;
  } limits;
  int64_t activationTtlSeconds = 604800;  // activation record, log chunks, index
  struct Topics {
    std::string invoke = std::string(codeq::kTopicInvoke);
    std::string results = std::string(codeq::kTopicResults);
    std::string dlqInvoke = std::string(codeq::kTopicDlqInvoke);
  } topics;
  std::string group = "cs-invoker";
  std::string consumer = "cs-invoker";  // unique per replica (e.g. the pod name)
  // Unacked deliveries come back after this; longer than the longest function timeout
  // (900 s) so a slow run is not redelivered while it is still running.
  int64_t ackTimeoutMs = 960000;
  int maxDeliveries = 5;
  // Nack delay after a transient storage or queue failure.
  int64_t retryDelayMs = 1000;
  // A `running` record whose request deadline passed more than this long ago belongs to a
  // replica that died mid-run: the redelivered request finishes it as `timeout`.
  int64_t takeoverGraceMs = 5000;
};

// Labels of cs_invocations_total / cs_invocation_duration_ms (SPEC §13).
struct InvocationLabels {
  std::string tenant;
  std::string ns;
  std::string function;
  std::string version;  // "" when the version was never resolved
  std::string trigger;
};

enum class CacheEvent { Hit, Miss };

// Metrics hooks; no-op defaults (STYLE §12). Called from worker threads (onQueueLag and
// onInflight also from the queue's delivery thread); implementations must be thread-safe.
class InvocationObserver {
 public:
  virtual ~InvocationObserver() = default;
  // One per terminal record written by this replica (not for republished results).
  virtual void onInvocation(const InvocationLabels& /*labels*/, std::string_view /*status*/,
                            int64_t /*durationMs*/) {}
  // Bundle cache lookups, with the cache size after the lookup (and insert).
  virtual void onCache(CacheEvent /*event*/, size_t /*items*/, size_t /*bytes*/) {}
  // Deliveries held by this replica (queued + parked + running).
  virtual void onInflight(int64_t /*n*/) {}
  // now - envelope ts_ms when a delivery is picked up.
  virtual void onQueueLag(std::string_view /*topic*/, int64_t /*lagMs*/) {}
  // A version whose bundle had to be loaded, verified and unpacked (cache miss).
  virtual void onColdStart() {}
};

// What a ProviderFactory sees about the activation it builds host providers for.
struct ActivationInfo {
  const InvocationRequest& request;
  int64_t version;
  const nlohmann::json& config;  // the resolved version config (docs/contracts.md)
  const api::Manifest& manifest;
};

using Providers = std::vector<std::unique_ptr<runtime::HostProvider>>;
// Builds the cs.* host providers of one activation (cs.kv, cs.codeq, cs.http from the
// capabilities — a later issue). Called on the worker thread right before the run; the
// providers live until the run returns. An error ends the activation as `error`.
using ProviderFactory = std::function<Result<Providers>(const ActivationInfo&)>;

// What an activation sees of its environment: `env` becomes ctx.env (the version's config.env
// plus resolved secrets), `redact` the values the runtime replaces by "[REDACTED]".
struct ActivationEnv {
  nlohmann::json env = nlohmann::json::object();
  std::vector<std::string> redact;
};
using EnvironmentResolver = std::function<Result<ActivationEnv>(const ActivationInfo&)>;

struct InvokerDeps {
  kv::Store& store;
  codeq::Queue& queue;
  runtime::Engine& engine;
  const kv::Clock& clock;                  // wall clock: deadlines, record timestamps
  InvocationObserver* observer = nullptr;  // null: no-op
  ProviderFactory providers;               // empty: no host providers
  EnvironmentResolver environment;         // empty: ctx.env = config.env, nothing redacted
};

class Invoker final {
 public:
  // Dependencies must outlive the invoker.
  Invoker(InvokerOptions options, InvokerDeps deps);
  ~Invoker();  // stop()
  Invoker(const Invoker&) = delete;
  Invoker& operator=(const Invoker&) = delete;

  // Checks the options (CS_VALIDATION_FAILED), starts the workers and subscribes to the
  // invoke topic (CS_CODEQ_SUBSCRIBE_FAILED is passed through).
  Status start();
  // Unsubscribes, lets running activations finish, and nacks (delay 0) every delivery still
  // queued or parked so another replica takes it. Idempotent.
  void stop();

  // Jobs parked on a full per-version semaphore (tests wait on it instead of sleeping).
  size_t parkedForTest() const;
  CacheStats cacheStatsForTest() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace cs::invoker
