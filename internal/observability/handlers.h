// The operational endpoints every service serves (SPEC §2): /healthz, /readyz, /metrics.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "internal/errors/errors.h"
#include "internal/http/http.h"
#include "internal/observability/metrics.h"

namespace cs::observability {

// One readiness check ("storage", "queue", …). Runs on a server worker thread at every
// /readyz request, so it should be quick (a ping with a short timeout). A throw counts as a
// failure.
struct ReadinessCheck {
  std::string name;
  std::function<cs::Status()> check;
};

// GET /healthz → 200 {"status":"ok"} (liveness: the process serves HTTP).
void addHealthz(http::Router& router);

// GET /readyz → 200 {"status":"ok","checks":{name:"ok"}} when every check passes, else
// 503 {"status":"unready","checks":{name:"ok"|message}}.
void addReadyz(http::Router& router, std::vector<ReadinessCheck> checks);

// GET /metrics → 200 text/plain; version=0.0.4 with metrics->exposition().
void addMetrics(http::Router& router, std::shared_ptr<Metrics> metrics);

// All three.
void addOpsRoutes(http::Router& router, std::vector<ReadinessCheck> checks,
                  std::shared_ptr<Metrics> metrics);

inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4";

}  // namespace cs::observability
