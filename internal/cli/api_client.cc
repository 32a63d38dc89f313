#include "internal/cli/api_client.h"

#include "internal/http/client.h"

namespace cs::cli {

std::string ApiClient::tenantPath() const { return "/v1/tenants/" + credentials_.tenant; }

cs::Result<ApiResponse> ApiClient::raw(const std::string& method, const std::string& path,
                                       const std::string& body,
                                       std::vector<std::pair<std::string, std::string>> headers,
                                       long timeoutMs, bool gateway) const {
  http::ClientRequest request;
  request.method = method;
  request.url = (gateway ? credentials_.gatewayUrl : credentials_.apiUrl) + path;
  request.headers = std::move(headers);
  request.headers.emplace_back("Authorization", "Bearer " + credentials_.token);
  request.body = body;
  request.timeoutMs = timeoutMs;
  auto response = http::request(request);
  if (!response.ok()) return response.error();
  return ApiResponse{response->status, std::move(response->headers), std::move(response->body)};
}

cs::Error errorFromResponse(int status, const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_object()) {
    const auto& e = j["error"];
    std::string code = e.value("code", "");
    std::string message = e.value("message", "");
    if (auto parsed = cs::errorCodeFromName(code)) return cs::Error{*parsed, message};
  }
  cs::ErrorCode code = status == 401   ? cs::ErrorCode::AuthnInvalidToken
                       : status == 403 ? cs::ErrorCode::AuthzDenied
                       : status == 404 ? cs::ErrorCode::NotFound
                       : status < 500  ? cs::ErrorCode::ValidationFailed
                                       : cs::ErrorCode::Internal;
  return cs::Error{code, "HTTP " + std::to_string(status) + ": " + body.substr(0, 512)};
}

cs::Result<nlohmann::json> ApiClient::json(const std::string& method, const std::string& path,
                                           const std::optional<nlohmann::json>& body) const {
  std::vector<std::pair<std::string, std::string>> headers;
  std::string text;
  if (body) {
    headers.emplace_back("Content-Type", "application/json");
    text = body->dump();
  }
  auto response = raw(method, path, text, headers);
  if (!response.ok()) return response.error();
  if (response->status < 200 || response->status >= 300) {
    return errorFromResponse(response->status, response->body);
  }
  if (response->body.empty()) return nlohmann::json::object();
  auto parsed = nlohmann::json::parse(response->body, nullptr, false);
  if (parsed.is_discarded()) {
    return cs::Error{cs::ErrorCode::Internal, "the API answered with invalid JSON"};
  }
  return parsed;
}

}  // namespace cs::cli
