#include "internal/control/version_config.h"

namespace cs::control {

using nlohmann::json;

namespace {

json member(const json& obj, const char* name) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(name);
  return it == obj.end() ? json(nullptr) : *it;
}

}  // namespace

json resolveVersionConfig(const api::Manifest& manifest, const json& publishConfig) {
  const json body = publishConfig.is_object() ? publishConfig : json::object();
  auto intOr = [&](const char* name, int64_t fallback) -> int64_t {
    json v = member(body, name);
    return v.is_number_integer() ? v.get<int64_t>() : fallback;
  };

  json config = json::object();
  config["timeout_ms"] = intOr("timeout_ms", manifest.limits.timeoutMs);
  config["memory_mb"] = intOr("memory_mb", manifest.limits.memoryMb);
  config["max_concurrency"] = intOr("max_concurrency", manifest.limits.maxConcurrency);

  json env = member(body, "env");
  config["env"] = env.is_object() ? env : json::object();

  json caps = member(body, "capabilities");
  if (!caps.is_object()) caps = member(api::toJson(manifest), "capabilities");
  config["capabilities"] = caps.is_object() ? caps : json::object();

  json authz = member(body, "authz");
  json resolvedAuthz = json::object();
  for (const char* list : {"invoke_http_roles", "invoke_schedule_roles", "invoke_cadence_roles"}) {
    json roles = member(authz, list);
    resolvedAuthz[list] = roles.is_array() ? roles : json::array();
  }
  config["authz"] = std::move(resolvedAuthz);

  json secrets = member(body, "secrets");
  config["secrets"] = secrets.is_object() ? secrets : json::object();
  return config;
}

int64_t configTimeoutMs(const json& config) {
  json v = member(config, "timeout_ms");
  if (v.is_number_integer()) {
    int64_t ms = v.get<int64_t>();
    if (ms >= 1 && ms <= 900000) return ms;
  }
  return 30000;
}

std::vector<std::string> configRoles(const json& config, const std::string& listName) {
  std::vector<std::string> roles;
  json list = member(member(config, "authz"), listName.c_str());
  if (!list.is_array()) return roles;
  for (const auto& r : list) {
    if (r.is_string()) roles.push_back(r.get<std::string>());
  }
  return roles;
}

}  // namespace cs::control
