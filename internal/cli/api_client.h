// The CLI's client of the cs-control API and the web gateway: credentials + bearer token +
// JSON, errors mapped to cs::Error from the SPEC §5 body.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "internal/cli/credentials.h"
#include "internal/errors/errors.h"

namespace cs::cli {

struct ApiResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

class ApiClient {
 public:
  explicit ApiClient(Credentials credentials) : credentials_(std::move(credentials)) {}

  const Credentials& credentials() const { return credentials_; }
  // "/v1/tenants/{tenant}" of the logged-in tenant.
  std::string tenantPath() const;

  // Raw request to apiUrl + path (path starts with '/'); `gateway` sends it to gatewayUrl. Connection failures are
  // CS_CODEQ_UNAVAILABLE-style server errors (exit 2), never exceptions.
  cs::Result<ApiResponse> raw(const std::string& method, const std::string& path,
                              const std::string& body,
                              std::vector<std::pair<std::string, std::string>> headers = {},
                              long timeoutMs = 120000, bool gateway = false) const;

  // JSON request; a non-2xx answer becomes the Error of its body (code + message).
  cs::Result<nlohmann::json> json(const std::string& method, const std::string& path,
                                  const std::optional<nlohmann::json>& body = std::nullopt) const;

 private:
  Credentials credentials_;
};

// The Error of an error response body, or a generic one for the status.
cs::Error errorFromResponse(int status, const std::string& body);

}  // namespace cs::cli
