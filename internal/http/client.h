// A small blocking HTTP client on libcurl, for the CLI and for tests.
//
// Thread-safe: every call uses its own CURL easy handle (no connection reuse between calls);
// curl_global_init runs once. Redirects are not followed; only http and https are allowed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "internal/errors/errors.h"

namespace cs::http {

struct ClientRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;           // sent when non-empty (or when the method is POST/PUT/PATCH)
  int64_t timeoutMs = 30000;  // whole request, connect included
  size_t maxResponseBytes = 64 * 1024 * 1024;
};

struct ClientResponse {
  int status = 0;
  // Names lower-cased, in arrival order (final response only, not 100 Continue).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  std::optional<std::string_view> header(std::string_view lowerName) const;
};

// Any HTTP status is a successful Result. Errors:
//   CS_VALIDATION_FAILED  bad url / method / header (a client mistake; nothing was sent)
//   CS_INTERNAL           transport failure; the message starts with one of
//                         "cannot connect to ", "timed out: ", "http transport error: ",
//                         "response too large: " (the CLI maps all of these to exit 2)
cs::Result<ClientResponse> request(const ClientRequest& request);

// Transport-failure message prefixes (see above), so callers need not parse free text.
inline constexpr std::string_view kConnectErrorPrefix = "cannot connect to ";
inline constexpr std::string_view kTimeoutErrorPrefix = "timed out: ";

}  // namespace cs::http
