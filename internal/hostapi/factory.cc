#include "internal/hostapi/factory.h"

#include "internal/hostapi/secrets.h"

#include <utility>

namespace cs::hostapi {

using nlohmann::json;

Result<api::Capabilities> effectiveCapabilities(const invoker::ActivationInfo& info) {
  const json& config = info.config;
  if (!config.is_object() || !config.contains("capabilities") ||
      config.at("capabilities").is_null()) {
    return info.manifest.capabilities;
  }
  // Reuse the manifest schema (and its parser) for the capabilities object alone.
  json doc = {{"schema", std::string(api::kManifestSchema)},
              {"runtime", std::string(api::kRuntimeCsJs)},
              {"entry", "function.js"},
              {"handler", "default"},
              {"capabilities", config.at("capabilities")}};
  auto parsed = api::manifestFromJson(doc);
  if (!parsed.ok()) {
    return Error{parsed.error().code, "config.capabilities: " + parsed.error().message};
  }
  return std::move(parsed->capabilities);
}

invoker::ProviderFactory makeProviderFactory(HostDeps deps) {
  return [deps = std::move(deps)](const invoker::ActivationInfo& info) -> Result<invoker::Providers> {
    auto caps = effectiveCapabilities(info);
    if (!caps.ok()) return caps.error();
    const invoker::InvocationRequest& r = info.request;
    invoker::Providers providers;
    if (caps->kv) {
      providers.push_back(
          std::make_unique<KvProvider>(r.tenant, r.ns, *caps->kv, deps.store, deps.kvLimits));
    }
    if (caps->codeq) {
      CodeqScope scope{r.tenant, r.ns, r.function, r.activationId};
      if (deps.recorder != nullptr) {
        providers.push_back(std::make_unique<CodeqProvider>(std::move(scope), *caps->codeq,
                                                            *deps.recorder, deps.codeqLimits));
      } else {
        providers.push_back(std::make_unique<CodeqProvider>(std::move(scope), *caps->codeq,
                                                            deps.queue, deps.codeqLimits));
      }
    }
    if (caps->http && deps.http) {
      auto http = deps.http(info, *caps->http);
      if (!http.ok()) return http.error();
      if (*http) providers.push_back(std::move(*http));
    }
    return providers;
  };
}

invoker::EnvironmentResolver makeEnvironmentResolver(kv::Store& store) {
  return [&store](const invoker::ActivationInfo& info) -> Result<invoker::ActivationEnv> {
    invoker::ActivationEnv out;
    if (info.config.contains("env") && info.config["env"].is_object()) {
      out.env = info.config["env"];
    }
    if (!info.config.contains("secrets") || info.config["secrets"].is_null()) return out;
    auto secrets = resolveSecrets(store, info.request.tenant, info.config["secrets"]);
    if (!secrets.ok()) return secrets.error();
    const nlohmann::json secretValues = secretEnv(*secrets);
    for (auto it = secretValues.begin(); it != secretValues.end(); ++it) out.env[it.key()] = *it;
    out.redact = redactionValues(*secrets);
    return out;
  };
}

}  // namespace cs::hostapi
