#include "internal/observability/metrics.h"

#include <algorithm>
#include <array>
#include <mutex>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace cs::observability {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

const std::vector<double>& durationBucketsMs() {
  static const std::vector<double> kBuckets = {0.1, 0.25, 0.5, 1,    2.5,  5,    10,    25,   50,
                                               100, 250,  500, 1000, 2500, 5000, 10000, 30000};
  return kBuckets;
}

std::string_view normalizeMethod(std::string_view method) {
  static constexpr std::array<std::string_view, 7> kKnown = {"GET",   "HEAD",   "POST",   "PUT",
                                                             "PATCH", "DELETE", "OPTIONS"};
  for (auto known : kKnown) {
    if (known == method) return known;
  }
  return "OTHER";
}

namespace {
struct Declared {
  std::string name;
  std::string help;
  prometheus::MetricType type;
};
}  // namespace

struct Metrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  // prometheus-cpp leaves a family out of the exposition until it has a series; we still
  // print its HELP/TYPE so dashboards and tests see every SPEC family from the start.
  std::vector<Declared> declared;

  template <typename T>
  Family<T>& declare(prometheus::detail::Builder<T> builder, const std::string& name,
                     const std::string& help, prometheus::MetricType type) {
    declared.push_back({name, help, type});
    return builder.Name(name).Help(help).Register(*registry);
  }

  Family<Counter>& apiRequests =
      declare(prometheus::BuildCounter(), "cs_api_requests_total",
              "HTTP requests served, by route pattern", prometheus::MetricType::Counter);
  Family<Histogram>& apiDuration =
      declare(prometheus::BuildHistogram(), "cs_api_request_duration_ms",
              "HTTP request duration in milliseconds", prometheus::MetricType::Histogram);
  Family<Counter>& invocations =
      declare(prometheus::BuildCounter(), "cs_invocations_total",
              "Finished invocations, by function and status", prometheus::MetricType::Counter);
  Family<Histogram>& invocationDuration =
      declare(prometheus::BuildHistogram(), "cs_invocation_duration_ms",
              "Invocation duration in milliseconds", prometheus::MetricType::Histogram);
  Family<Gauge>& inflightFamily =
      declare(prometheus::BuildGauge(), "cs_invoker_inflight",
              "Invocations running in this invoker replica", prometheus::MetricType::Gauge);
  Family<Gauge>& queueLag =
      declare(prometheus::BuildGauge(), "cs_invoker_queue_lag_ms",
              "Age of the oldest message taken from the topic, ms", prometheus::MetricType::Gauge);
  Family<Gauge>& cacheItemsFamily =
      declare(prometheus::BuildGauge(), "cs_invoker_cache_items",
              "Bundles held in the invoker cache", prometheus::MetricType::Gauge);
  Family<Gauge>& cacheBytesFamily =
      declare(prometheus::BuildGauge(), "cs_invoker_cache_bytes", "Bytes held in the invoker cache",
              prometheus::MetricType::Gauge);
  Family<Counter>& cacheHitsFamily =
      declare(prometheus::BuildCounter(), "cs_invoker_cache_hits_total",
              "Invoker bundle cache hits", prometheus::MetricType::Counter);
  Family<Counter>& cacheMissesFamily =
      declare(prometheus::BuildCounter(), "cs_invoker_cache_misses_total",
              "Invoker bundle cache misses", prometheus::MetricType::Counter);
  Family<Counter>& coldStarts =
      declare(prometheus::BuildCounter(), "cs_invoker_cold_starts_total",
              "Bundles loaded and compiled on a cache miss", prometheus::MetricType::Counter);
  Family<Counter>& schedulerTicks =
      declare(prometheus::BuildCounter(), "cs_scheduler_ticks_total", "Schedule ticks published",
              prometheus::MetricType::Counter);
  Family<Counter>& schedulerErrorsFamily =
      declare(prometheus::BuildCounter(), "cs_scheduler_publish_errors_total",
              "Schedule ticks that failed to publish", prometheus::MetricType::Counter);
  Family<Counter>& cadencePolls =
      declare(prometheus::BuildCounter(), "cs_cadence_polls_total", "PollForActivityTask calls",
              prometheus::MetricType::Counter);
  Family<Counter>& cadenceTasks =
      declare(prometheus::BuildCounter(), "cs_cadence_tasks_total",
              "Cadence activity tasks finished, by status", prometheus::MetricType::Counter);
  Family<Counter>& cadenceHeartbeats =
      declare(prometheus::BuildCounter(), "cs_cadence_heartbeat_total",
              "RecordActivityTaskHeartbeat calls", prometheus::MetricType::Counter);

  std::mutex samplersMu;
  std::vector<std::function<std::vector<Sample>()>> samplers;

  // Unlabelled series exist from the start (value 0).
  Gauge& inflight = inflightFamily.Add({});
  Gauge& cacheItems = cacheItemsFamily.Add({});
  Gauge& cacheBytes = cacheBytesFamily.Add({});
  Counter& cacheHits = cacheHitsFamily.Add({});
  Counter& cacheMisses = cacheMissesFamily.Add({});
  Counter& schedulerErrors = schedulerErrorsFamily.Add({});
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}
Metrics::~Metrics() = default;

void Metrics::apiRequest(std::string_view route, std::string_view method, int status,
                         double durationMs) {
  std::string m(normalizeMethod(method));
  impl_->apiRequests
      .Add({{"route", std::string(route)}, {"method", m}, {"status", std::to_string(status)}})
      .Increment();
  impl_->apiDuration.Add({{"route", std::string(route)}, {"method", m}}, durationBucketsMs())
      .Observe(durationMs);
}

void Metrics::invocation(const InvocationLabels& labels, std::string_view status,
                         double durationMs) {
  prometheus::Labels base = {{"tenant", labels.tenant},
                             {"namespace", labels.ns},
                             {"function", labels.function},
                             {"version", labels.version},
                             {"trigger", labels.trigger}};
  impl_->invocationDuration.Add(base, durationBucketsMs()).Observe(durationMs);
  base.emplace("status", std::string(status));
  impl_->invocations.Add(base).Increment();
}

void Metrics::setInflight(int64_t inflight) { impl_->inflight.Set(static_cast<double>(inflight)); }

void Metrics::setQueueLag(std::string_view topic, double lagMs) {
  impl_->queueLag.Add({{"topic", std::string(topic)}}).Set(lagMs);
}

void Metrics::setCacheItems(int64_t items) { impl_->cacheItems.Set(static_cast<double>(items)); }
void Metrics::setCacheBytes(int64_t bytes) { impl_->cacheBytes.Set(static_cast<double>(bytes)); }
void Metrics::cacheHit() { impl_->cacheHits.Increment(); }
void Metrics::cacheMiss() { impl_->cacheMisses.Increment(); }

void Metrics::coldStart(std::string_view runtime) {
  impl_->coldStarts.Add({{"runtime", std::string(runtime)}}).Increment();
}

void Metrics::schedulerTick(std::string_view tenant, std::string_view ns,
                            std::string_view schedule) {
  impl_->schedulerTicks
      .Add({{"tenant", std::string(tenant)},
            {"namespace", std::string(ns)},
            {"schedule", std::string(schedule)}})
      .Increment();
}

void Metrics::schedulerPublishError() { impl_->schedulerErrors.Increment(); }

namespace {
prometheus::Labels cadenceLabels(const CadenceLabels& l) {
  return {{"tenant", l.tenant}, {"domain", l.domain}, {"tasklist", l.tasklist}};
}
}  // namespace

void Metrics::cadencePoll(const CadenceLabels& labels) {
  impl_->cadencePolls.Add(cadenceLabels(labels)).Increment();
}

void Metrics::cadenceTask(const CadenceLabels& labels, std::string_view status) {
  auto l = cadenceLabels(labels);
  l.emplace("status", std::string(status));
  impl_->cadenceTasks.Add(l).Increment();
}

void Metrics::cadenceHeartbeat(const CadenceLabels& labels) {
  impl_->cadenceHeartbeats.Add(cadenceLabels(labels)).Increment();
}

std::string Metrics::exposition() const {
  std::vector<prometheus::MetricFamily> collected = impl_->registry->Collect();
  std::vector<prometheus::MetricFamily> out;
  out.reserve(collected.size() + impl_->declared.size());
  for (const Declared& d : impl_->declared) {
    auto it = std::find_if(collected.begin(), collected.end(),
                           [&](const prometheus::MetricFamily& f) { return f.name == d.name; });
    if (it != collected.end()) {
      out.push_back(std::move(*it));
      collected.erase(it);
    } else {
      prometheus::MetricFamily empty;
      empty.name = d.name;
      empty.help = d.help;
      empty.type = d.type;
      out.push_back(std::move(empty));
    }
  }
  std::vector<std::function<std::vector<Sample>()>> samplers;
  {
    std::lock_guard lock(impl_->samplersMu);
    samplers = impl_->samplers;
  }
  for (const auto& sampler : samplers) {
    for (const Sample& sample : sampler()) {
      prometheus::MetricFamily family;
      family.name = sample.name;
      family.help = sample.help;
      family.type = sample.counter ? prometheus::MetricType::Counter : prometheus::MetricType::Gauge;
      prometheus::ClientMetric metric;
      if (sample.counter) {
        metric.counter.value = sample.value;
      } else {
        metric.gauge.value = sample.value;
      }
      family.metric.push_back(std::move(metric));
      out.push_back(std::move(family));
    }
  }
  return prometheus::TextSerializer().Serialize(out);
}

void Metrics::addSampler(std::function<std::vector<Sample>()> sampler) {
  std::lock_guard lock(impl_->samplersMu);
  impl_->samplers.push_back(std::move(sampler));
}

}  // namespace cs::observability
