#include "internal/observability/http_observer.h"

#include <algorithm>
#include <cmath>

namespace cs::observability {

ApiRequestObserver::ApiRequestObserver(std::shared_ptr<Metrics> metrics,
                                       std::shared_ptr<Logger> logger, AccessLogOptions options)
    : metrics_(std::move(metrics)), logger_(std::move(logger)), options_(std::move(options)) {}

void ApiRequestObserver::onRequest(const http::Request& request, const http::Response& response,
                                   double durationMs, std::string_view routePattern) {
  if (metrics_) metrics_->apiRequest(routePattern, request.method, response.status, durationMs);
  if (!logger_) return;
  bool quiet = response.status < 400 &&
               std::find(options_.quietRoutes.begin(), options_.quietRoutes.end(), routePattern) !=
                   options_.quietRoutes.end();
  LogLevel level =
      quiet ? LogLevel::Debug : (response.status >= 500 ? LogLevel::Warn : LogLevel::Info);
  if (!logger_->enabled(level)) return;
  LogContext context;
  context.requestId = request.requestId;
  nlohmann::json fields = {
      {"method", request.method},
      {"path", request.rawPath.empty() ? request.target : request.rawPath},
      {"route", std::string(routePattern)},
      {"status", response.status},
      {"duration_ms", std::round(durationMs * 1000.0) / 1000.0},
      {"bytes_in", request.body.size()},
      {"bytes_out", response.body.size()},
      {"remote", request.remoteAddr},
  };
  logger_->log(level, "http request", context, fields);
}

void ApiRequestObserver::onHandlerException(const http::Request& request, std::string_view what) {
  if (!logger_) return;
  LogContext context;
  context.requestId = request.requestId;
  logger_->error(
      "handler threw", context,
      {{"method", request.method}, {"path", request.rawPath}, {"exception", std::string(what)}});
}

}  // namespace cs::observability
