#include "internal/observability/handlers.h"

#include <atomic>
#include <chrono>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "internal/http/client.h"
#include "internal/observability/http_observer.h"

namespace cs::observability {
namespace {

using ::testing::HasSubstr;

class OpsRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    metrics_ = std::make_shared<Metrics>();
    logger_ = std::make_shared<CapturingLogger>("cs-test", LogLevel::Debug);
    auto router = std::make_shared<http::Router>();
    std::vector<ReadinessCheck> checks;
    checks.push_back({"storage", [this]() -> Status {
                        if (storageUp_) return okStatus();
                        return Error{ErrorCode::KvrocksUnavailable, "connection refused"};
                      }});
    checks.push_back({"queue", [this]() -> Status {
                        if (queueThrows_) throw std::runtime_error("queue exploded");
                        return okStatus();
                      }});
    addOpsRoutes(*router, std::move(checks), metrics_);
    router->add("GET", "/v1/things/{id}", [](http::Request&, http::Responder responder) {
      responder.send(http::Response::json(404, nlohmann::json{{"missing", true}}));
    });
    http::ServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    server_ =
        http::makeServer(options, router, std::make_shared<ApiRequestObserver>(metrics_, logger_));
    ASSERT_TRUE(server_->start().ok());
  }
  void TearDown() override { server_->stop(); }

  http::ClientResponse get(const std::string& path) {
    http::ClientRequest req;
    req.url = "http://127.0.0.1:" + std::to_string(server_->port()) + path;
    auto res = http::request(req);
    EXPECT_TRUE(res.ok());
    return res.ok() ? std::move(res).value() : http::ClientResponse{};
  }

  // The observer runs after the response is written: wait (bounded) for it.
  bool waitForLogLines(size_t n) {
    for (int i = 0; i < 4000; ++i) {
      if (logger_->lines().size() >= n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }

  std::shared_ptr<Metrics> metrics_;
  std::shared_ptr<CapturingLogger> logger_;
  std::unique_ptr<http::Server> server_;
  std::atomic<bool> storageUp_{true};
  std::atomic<bool> queueThrows_{false};
};

TEST_F(OpsRoutesTest, Healthz) {
  auto res = get("/healthz");
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(nlohmann::json::parse(res.body), (nlohmann::json{{"status", "ok"}}));
}

TEST_F(OpsRoutesTest, ReadyzFollowsItsChecks) {
  auto ok = get("/readyz");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(nlohmann::json::parse(ok.body)["status"], "ok");

  storageUp_ = false;
  auto down = get("/readyz");
  EXPECT_EQ(down.status, 503);
  auto body = nlohmann::json::parse(down.body);
  EXPECT_EQ(body["status"], "unready");
  EXPECT_EQ(body["checks"]["queue"], "ok");
  EXPECT_THAT(body["checks"]["storage"].get<std::string>(), HasSubstr("connection refused"));

  storageUp_ = true;
  queueThrows_ = true;
  auto thrown = get("/readyz");
  EXPECT_EQ(thrown.status, 503);
  EXPECT_THAT(nlohmann::json::parse(thrown.body)["checks"]["queue"].get<std::string>(),
              HasSubstr("queue exploded"));

  queueThrows_ = false;
  EXPECT_EQ(get("/readyz").status, 200);
}

TEST_F(OpsRoutesTest, MetricsEndpointShowsApiRequestsByRoutePattern) {
  get("/v1/things/abc");
  get("/v1/things/def");
  get("/no/such/route");
  ASSERT_TRUE(waitForLogLines(3));
  auto res = get("/metrics");
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.header("content-type").value_or(""), kMetricsContentType);
  EXPECT_THAT(
      res.body,
      HasSubstr(R"(cs_api_requests_total{method="GET",route="/v1/things/{id}",status="404"} 2)"));
  EXPECT_THAT(res.body,
              HasSubstr(R"(cs_api_requests_total{method="GET",route="unmatched",status="404"} 1)"));
  EXPECT_THAT(res.body, HasSubstr("cs_api_request_duration_ms_bucket{"));
  EXPECT_THAT(res.body, ::testing::Not(HasSubstr("abc")));  // pattern, not the raw path
}

TEST_F(OpsRoutesTest, AccessLogLinesAreJsonWithRequestId) {
  http::ClientRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(server_->port()) + "/v1/things/x";
  req.headers = {{"X-Request-Id", "req_accesslog1"}};
  ASSERT_TRUE(http::request(req).ok());
  get("/healthz");
  ASSERT_TRUE(waitForLogLines(2));
  auto lines = logger_->lines();
  auto first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first["msg"], "http request");
  EXPECT_EQ(first["request_id"], "req_accesslog1");
  EXPECT_EQ(first["route"], "/v1/things/{id}");
  EXPECT_EQ(first["path"], "/v1/things/x");
  EXPECT_EQ(first["status"], 404);
  EXPECT_EQ(first["level"], "info");
  EXPECT_EQ(first["service"], "cs-test");
  // Probes are logged at debug.
  EXPECT_EQ(nlohmann::json::parse(lines[1])["level"], "debug");
}

}  // namespace
}  // namespace cs::observability
