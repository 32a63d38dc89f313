// The Prometheus metrics of SPEC §13, in one registry per process (prometheus-cpp core).
//
// Every family is declared up front, so /metrics shows all of them from the first scrape.
// Thread-safe: every method may be called from any thread (prometheus-cpp locks per family).
// Label values come from validated names (tenant, namespace, function, route patterns); the
// HTTP method is folded to a fixed set so clients cannot grow the series count.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace cs::observability {

// Labels of cs_invocations_total / cs_invocation_duration_ms.
struct InvocationLabels {
  std::string tenant;
  std::string ns;  // namespace
  std::string function;
  std::string version;  // resolved version number, "" when unknown
  std::string trigger;  // http | api | schedule | cadence
};

// Labels of the cs_cadence_* families.
struct CadenceLabels {
  std::string tenant;
  std::string domain;
  std::string tasklist;
};

// Bucket upper bounds (ms) of the duration histograms: 0.1 ms … 30 s.
const std::vector<double>& durationBucketsMs();

class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // cs_api_requests_total{route,method,status} + cs_api_request_duration_ms{route,method}.
  void apiRequest(std::string_view route, std::string_view method, int status, double durationMs);

  // cs_invocations_total{tenant,namespace,function,version,trigger,status} +
  // cs_invocation_duration_ms{tenant,namespace,function,version,trigger}.
  // status: success | error | timeout.
  void invocation(const InvocationLabels& labels, std::string_view status, double durationMs);

  // Invoker.
  void setInflight(int64_t inflight);                      // cs_invoker_inflight
  void setQueueLag(std::string_view topic, double lagMs);  // cs_invoker_queue_lag_ms{topic}
  void setCacheItems(int64_t items);                       // cs_invoker_cache_items
  void setCacheBytes(int64_t bytes);                       // cs_invoker_cache_bytes
  void cacheHit();                                         // cs_invoker_cache_hits_total
  void cacheMiss();                                        // cs_invoker_cache_misses_total
  void coldStart(std::string_view runtime);                // cs_invoker_cold_starts_total

  // Scheduler.
  void schedulerTick(std::string_view tenant, std::string_view ns, std::string_view schedule);
  void schedulerPublishError();  // cs_scheduler_publish_errors_total

  // Cadence poller. status of a task: completed | failed | timeout (as the poller reports it).
  void cadencePoll(const CadenceLabels& labels);
  void cadenceTask(const CadenceLabels& labels, std::string_view status);
  void cadenceHeartbeat(const CadenceLabels& labels);

  // Prometheus text exposition format 0.0.4 of every family.
  std::string exposition() const;

  // For metrics a module adds itself: values it keeps (e.g. the runtime's page cache
  // counters), read at every exposition. Each sample is one unlabelled series of its own
  // family. Every family of this class is declared up front; there is no other extension.
  struct Sample {
    std::string name;
    std::string help;
    bool counter = false;  // else a gauge
    double value = 0;
  };
  void addSampler(std::function<std::vector<Sample>()> sampler);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The method label: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, else OTHER.
std::string_view normalizeMethod(std::string_view method);

}  // namespace cs::observability
