#include "internal/cli/credentials.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "internal/crypto/crypto.h"

namespace cs::cli {

namespace fs = std::filesystem;

fs::path credentialsPath() {
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg != nullptr && *xdg != '\0') {
    return fs::path(xdg) / "code-sous" / "auth.json";
  }
  const char* home = std::getenv("HOME");
  return fs::path(home != nullptr ? home : ".") / ".config" / "code-sous" / "auth.json";
}

cs::Status saveCredentials(const Credentials& c) {
  fs::path path = credentialsPath();
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) {
    return cs::Error{cs::ErrorCode::ValidationFailed,
                     "cannot create " + path.parent_path().string() + ": " + ec.message()};
  }
  fs::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    nlohmann::json j{{"api_url", c.apiUrl}, {"tenant", c.tenant}, {"token", c.token}};
    if (!c.gatewayUrl.empty()) j["gateway_url"] = c.gatewayUrl;
    out << j.dump(2) << "\n";
    if (!out) return cs::Error{cs::ErrorCode::ValidationFailed, "cannot write " + tmp.string()};
  }
  ::chmod(tmp.c_str(), 0600);
  fs::rename(tmp, path, ec);
  if (ec) return cs::Error{cs::ErrorCode::ValidationFailed, "cannot write " + path.string()};
  return cs::okStatus();
}

cs::Result<Credentials> loadCredentials() {
  Credentials c;
  fs::path path = credentialsPath();
  if (std::ifstream in(path); in) {
    std::stringstream ss;
    ss << in.rdbuf();
    auto j = nlohmann::json::parse(ss.str(), nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      return cs::Error{cs::ErrorCode::ValidationFailed,
                       path.string() + " is not valid JSON; run `cs auth login` again"};
    }
    c.apiUrl = j.value("api_url", "");
    c.tenant = j.value("tenant", "");
    c.token = j.value("token", "");
    c.gatewayUrl = j.value("gateway_url", "");
  }
  if (const char* v = std::getenv("CS_API_URL"); v && *v) c.apiUrl = v;
  if (const char* v = std::getenv("CS_TENANT"); v && *v) c.tenant = v;
  if (const char* v = std::getenv("CS_TOKEN"); v && *v) c.token = v;
  if (const char* v = std::getenv("CS_GATEWAY_URL"); v && *v) c.gatewayUrl = v;
  if (c.token.empty() || c.apiUrl.empty() || c.tenant.empty()) {
    return cs::Error{cs::ErrorCode::AuthnMissingToken,
                     "not logged in: run `cs auth login --tenant T --token TOK --api-url URL` "
                     "(or set CS_API_URL, CS_TENANT, CS_TOKEN)"};
  }
  while (!c.apiUrl.empty() && c.apiUrl.back() == '/') c.apiUrl.pop_back();
  while (!c.gatewayUrl.empty() && c.gatewayUrl.back() == '/') c.gatewayUrl.pop_back();
  if (c.gatewayUrl.empty()) c.gatewayUrl = c.apiUrl;
  return c;
}

std::string tokenSubject(const std::string& token) {
  auto first = token.find('.');
  auto second = token.find('.', first == std::string::npos ? 0 : first + 1);
  if (first == std::string::npos || second == std::string::npos) return "";
  auto payload = crypto::base64UrlDecode(token.substr(first + 1, second - first - 1));
  if (!payload) return "";
  auto j = nlohmann::json::parse(*payload, nullptr, false);
  if (!j.is_object() || !j.contains("sub") || !j["sub"].is_string()) return "";
  return j["sub"].get<std::string>();
}

}  // namespace cs::cli
