// The http::RequestObserver of every service: records cs_api_* metrics and writes one access
// log line per request. Lives in observability_http (not in http) so http never depends on
// observability.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "internal/http/http.h"
#include "internal/observability/log.h"
#include "internal/observability/metrics.h"

namespace cs::observability {

struct AccessLogOptions {
  // Routes whose successful (status < 400) requests are logged at debug instead of info,
  // so probes and scrapes do not flood the log.
  std::vector<std::string> quietRoutes = {"/healthz", "/readyz", "/metrics"};
};

// Thread-safe (called on the server's I/O and worker threads). metrics or logger may be null.
class ApiRequestObserver final : public http::RequestObserver {
 public:
  ApiRequestObserver(std::shared_ptr<Metrics> metrics, std::shared_ptr<Logger> logger,
                     AccessLogOptions options = {});

  void onRequest(const http::Request& request, const http::Response& response, double durationMs,
                 std::string_view routePattern) override;
  void onHandlerException(const http::Request& request, std::string_view what) override;

 private:
  std::shared_ptr<Metrics> metrics_;
  std::shared_ptr<Logger> logger_;
  AccessLogOptions options_;
};

}  // namespace cs::observability
