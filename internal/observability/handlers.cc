#include "internal/observability/handlers.h"

#include <exception>

namespace cs::observability {

void addHealthz(http::Router& router) {
  router.add("GET", "/healthz", [](http::Request&, http::Responder responder) {
    responder.send(http::Response::json(200, nlohmann::json{{"status", "ok"}}));
  });
}

void addReadyz(http::Router& router, std::vector<ReadinessCheck> checks) {
  auto shared = std::make_shared<const std::vector<ReadinessCheck>>(std::move(checks));
  router.add("GET", "/readyz", [shared](http::Request&, http::Responder responder) {
    nlohmann::json results = nlohmann::json::object();
    bool ready = true;
    for (const auto& item : *shared) {
      std::string outcome;
      try {
        cs::Status status =
            item.check ? item.check() : cs::Status(Error{ErrorCode::Internal, "no check"});
        outcome =
            status.ok() ? "ok" : std::string(status.error().name()) + ": " + status.error().message;
      } catch (const std::exception& e) {
        outcome = std::string("check threw: ") + e.what();
      } catch (...) {
        outcome = "check threw";
      }
      if (outcome != "ok") ready = false;
      results[item.name] = outcome;
    }
    responder.send(http::Response::json(
        ready ? 200 : 503,
        nlohmann::json{{"status", ready ? "ok" : "unready"}, {"checks", results}}));
  });
}

void addMetrics(http::Router& router, std::shared_ptr<Metrics> metrics) {
  router.add("GET", "/metrics", [metrics](http::Request&, http::Responder responder) {
    responder.send(http::Response::text(200, metrics ? metrics->exposition() : std::string(),
                                        std::string(kMetricsContentType)));
  });
}

void addOpsRoutes(http::Router& router, std::vector<ReadinessCheck> checks,
                  std::shared_ptr<Metrics> metrics) {
  addHealthz(router);
  addReadyz(router, std::move(checks));
  addMetrics(router, std::move(metrics));
}

}  // namespace cs::observability
