#include "internal/observability/metrics.h"

#include <sstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cs::observability {
namespace {

using ::testing::HasSubstr;

// Value of the series whose text (name + labels) is exactly `series`; NaN when absent.
double valueOf(const std::string& exposition, const std::string& series) {
  std::istringstream in(exposition);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return std::nan("");
}

TEST(MetricsTest, EveryFamilyIsDeclaredUpFront) {
  Metrics metrics;
  std::string text = metrics.exposition();
  for (const char* family :
       {"cs_api_requests_total", "cs_api_request_duration_ms", "cs_invocations_total",
        "cs_invocation_duration_ms", "cs_invoker_inflight", "cs_invoker_queue_lag_ms",
        "cs_invoker_cache_items", "cs_invoker_cache_bytes", "cs_invoker_cache_hits_total",
        "cs_invoker_cache_misses_total", "cs_invoker_cold_starts_total", "cs_scheduler_ticks_total",
        "cs_scheduler_publish_errors_total", "cs_cadence_polls_total", "cs_cadence_tasks_total",
        "cs_cadence_heartbeat_total"}) {
    EXPECT_THAT(text, HasSubstr(std::string("# TYPE ") + family + " ")) << family;
  }
  EXPECT_EQ(valueOf(text, "cs_invoker_inflight"), 0);
  EXPECT_EQ(valueOf(text, "cs_scheduler_publish_errors_total"), 0);
}

TEST(MetricsTest, SampledValuesAreReadAtEveryExposition) {
  Metrics metrics;
  double hits = 3;
  metrics.addSampler([&hits] {
    return std::vector<Metrics::Sample>{{"x_hits_total", "Hits", true, hits},
                                        {"x_bytes", "Bytes held", false, 4096}};
  });
  std::string text = metrics.exposition();
  EXPECT_THAT(text, HasSubstr("# TYPE x_hits_total counter"));
  EXPECT_THAT(text, HasSubstr("# HELP x_bytes Bytes held"));
  EXPECT_THAT(text, HasSubstr("# TYPE x_bytes gauge"));
  EXPECT_EQ(valueOf(text, "x_hits_total"), 3);
  EXPECT_EQ(valueOf(text, "x_bytes"), 4096);
  hits = 10;
  EXPECT_EQ(valueOf(metrics.exposition(), "x_hits_total"), 10) << "read again, not cached";
  // The declared families are still all there.
  EXPECT_THAT(text, HasSubstr("# TYPE cs_invocations_total counter"));
}

TEST(MetricsTest, ApiRequestsAndHistogramBuckets) {
  Metrics metrics;
  metrics.apiRequest("/v1/things/{id}", "GET", 200, 0.05);
  metrics.apiRequest("/v1/things/{id}", "GET", 200, 3.0);
  metrics.apiRequest("/v1/things/{id}", "GET", 404, 40000.0);
  metrics.apiRequest("/v1/things/{id}", "BREW", 405, 1.0);
  std::string text = metrics.exposition();

  EXPECT_EQ(
      valueOf(text, R"(cs_api_requests_total{method="GET",route="/v1/things/{id}",status="200"})"),
      2);
  EXPECT_EQ(
      valueOf(text, R"(cs_api_requests_total{method="GET",route="/v1/things/{id}",status="404"})"),
      1);
  // Unknown methods fold into OTHER.
  EXPECT_EQ(
      valueOf(text,
              R"(cs_api_requests_total{method="OTHER",route="/v1/things/{id}",status="405"})"),
      1);
  EXPECT_THAT(text, ::testing::Not(HasSubstr("BREW")));

  const std::string h =
      R"(cs_api_request_duration_ms_bucket{method="GET",route="/v1/things/{id}",le=")";
  EXPECT_EQ(valueOf(text, h + "0.1\"}"), 1);
  EXPECT_EQ(valueOf(text, h + "2.5\"}"), 1);
  EXPECT_EQ(valueOf(text, h + "5\"}"), 2);
  EXPECT_EQ(valueOf(text, h + "30000\"}"), 2);
  EXPECT_EQ(valueOf(text, h + "+Inf\"}"), 3);
  EXPECT_EQ(
      valueOf(text, R"(cs_api_request_duration_ms_count{method="GET",route="/v1/things/{id}"})"),
      3);
  EXPECT_DOUBLE_EQ(
      valueOf(text, R"(cs_api_request_duration_ms_sum{method="GET",route="/v1/things/{id}"})"),
      40003.05);
}

TEST(MetricsTest, InvocationAndComponentFamilies) {
  Metrics metrics;
  InvocationLabels labels{"t_abcdef", "payments", "charge", "3", "http"};
  metrics.invocation(labels, "success", 12);
  metrics.invocation(labels, "error", 7);
  metrics.invocation(labels, "error", 8);
  metrics.setInflight(5);
  metrics.setQueueLag("cs.invoke", 250);
  metrics.setCacheItems(10);
  metrics.setCacheBytes(4096);
  metrics.cacheHit();
  metrics.cacheHit();
  metrics.cacheMiss();
  metrics.coldStart("cs-js");
  metrics.schedulerTick("t_abcdef", "payments", "nightly");
  metrics.schedulerPublishError();
  CadenceLabels cadence{"t_abcdef", "orders", "tl-1"};
  metrics.cadencePoll(cadence);
  metrics.cadenceTask(cadence, "completed");
  metrics.cadenceHeartbeat(cadence);
  std::string text = metrics.exposition();

  const std::string inv =
      R"(cs_invocations_total{function="charge",namespace="payments",status="error",tenant="t_abcdef",trigger="http",version="3"})";
  EXPECT_EQ(valueOf(text, inv), 2);
  EXPECT_EQ(
      valueOf(
          text,
          R"(cs_invocation_duration_ms_count{function="charge",namespace="payments",tenant="t_abcdef",trigger="http",version="3"})"),
      3);
  EXPECT_EQ(valueOf(text, "cs_invoker_inflight"), 5);
  EXPECT_EQ(valueOf(text, R"(cs_invoker_queue_lag_ms{topic="cs.invoke"})"), 250);
  EXPECT_EQ(valueOf(text, "cs_invoker_cache_items"), 10);
  EXPECT_EQ(valueOf(text, "cs_invoker_cache_bytes"), 4096);
  EXPECT_EQ(valueOf(text, "cs_invoker_cache_hits_total"), 2);
  EXPECT_EQ(valueOf(text, "cs_invoker_cache_misses_total"), 1);
  EXPECT_EQ(valueOf(text, R"(cs_invoker_cold_starts_total{runtime="cs-js"})"), 1);
  EXPECT_EQ(
      valueOf(
          text,
          R"(cs_scheduler_ticks_total{namespace="payments",schedule="nightly",tenant="t_abcdef"})"),
      1);
  EXPECT_EQ(valueOf(text, "cs_scheduler_publish_errors_total"), 1);
  EXPECT_EQ(
      valueOf(text, R"(cs_cadence_polls_total{domain="orders",tasklist="tl-1",tenant="t_abcdef"})"),
      1);
  EXPECT_EQ(
      valueOf(
          text,
          R"(cs_cadence_tasks_total{domain="orders",status="completed",tasklist="tl-1",tenant="t_abcdef"})"),
      1);
  EXPECT_EQ(
      valueOf(text,
              R"(cs_cadence_heartbeat_total{domain="orders",tasklist="tl-1",tenant="t_abcdef"})"),
      1);

  metrics.setInflight(2);
  EXPECT_EQ(valueOf(metrics.exposition(), "cs_invoker_inflight"), 2);
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  Metrics metrics;
  metrics.apiRequest("/a\"b\\c\nd", "GET", 200, 1);
  std::string text = metrics.exposition();
  EXPECT_THAT(text, HasSubstr(R"(route="/a\"b\\c\nd")"));
}

TEST(MetricsTest, ConcurrentRecordingCountsEverything) {
  Metrics metrics;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&metrics, t] {
      for (int i = 0; i < 1000; ++i) {
        metrics.apiRequest("/x", "POST", 200 + (i % 2), 1.0);
        metrics.cacheHit();
        if (t == 0 && i % 100 == 0) (void)metrics.exposition();
      }
    });
  }
  for (auto& t : threads) t.join();
  std::string text = metrics.exposition();
  EXPECT_EQ(valueOf(text, R"(cs_api_requests_total{method="POST",route="/x",status="200"})"), 2000);
  EXPECT_EQ(valueOf(text, R"(cs_api_requests_total{method="POST",route="/x",status="201"})"), 2000);
  EXPECT_EQ(valueOf(text, "cs_invoker_cache_hits_total"), 4000);
}

}  // namespace
}  // namespace cs::observability
