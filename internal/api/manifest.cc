#include "internal/api/manifest.h"

#include <algorithm>

#include "internal/api/validate.h"

namespace cs::api {

using nlohmann::json;

bool KvCapability::allowsOp(std::string_view op) const {
  return std::find(ops.begin(), ops.end(), op) != ops.end();
}

bool CodeqCapability::allowsTopic(std::string_view topic) const {
  for (const std::string& allowed : publishTopics) {
    if (!allowed.empty() && allowed.back() == '*') {
      std::string_view prefix(allowed.data(), allowed.size() - 1);
      if (topic.substr(0, prefix.size()) == prefix) return true;
    } else if (allowed == topic) {
      return true;
    }
  }
  return false;
}

Result<Manifest> manifestFromJson(const json& doc) {
  if (Status s = validateManifest(doc); !s.ok()) return s.error();
  // The schema has checked every type and range, so the reads below cannot throw.
  Manifest m;
  m.schema = doc.at("schema").get<std::string>();
  m.runtime = doc.at("runtime").get<std::string>();
  m.entry = doc.at("entry").get<std::string>();
  m.handler = doc.at("handler").get<std::string>();
  if (auto limits = doc.find("limits"); limits != doc.end()) {
    m.limits.timeoutMs = limits->value("timeoutMs", m.limits.timeoutMs);
    m.limits.memoryMb = limits->value("memoryMb", m.limits.memoryMb);
    m.limits.maxConcurrency = limits->value("maxConcurrency", m.limits.maxConcurrency);
  }
  if (auto caps = doc.find("capabilities"); caps != doc.end()) {
    if (auto kv = caps->find("kv"); kv != caps->end()) {
      m.capabilities.kv = KvCapability{kv->at("prefixes").get<std::vector<std::string>>(),
                                       kv->at("ops").get<std::vector<std::string>>()};
    }
    if (auto codeq = caps->find("codeq"); codeq != caps->end()) {
      m.capabilities.codeq =
          CodeqCapability{codeq->at("publishTopics").get<std::vector<std::string>>()};
    }
    if (auto http = caps->find("http"); http != caps->end()) {
      HttpCapability h;
      h.allowHosts = http->at("allowHosts").get<std::vector<std::string>>();
      h.timeoutMs = http->value("timeoutMs", h.timeoutMs);
      m.capabilities.http = std::move(h);
    }
  }
  return m;
}

Result<Manifest> parseManifest(std::string_view jsonText) {
  Result<json> doc = parseJson(jsonText);
  if (!doc.ok()) {
    return Error{ErrorCode::ValidationManifestInvalid, "manifest: " + doc.error().message};
  }
  return manifestFromJson(*doc);
}

json toJson(const Manifest& m) {
  json caps = json::object();
  if (m.capabilities.kv) {
    caps["kv"] = {{"prefixes", m.capabilities.kv->prefixes}, {"ops", m.capabilities.kv->ops}};
  }
  if (m.capabilities.codeq) {
    caps["codeq"] = {{"publishTopics", m.capabilities.codeq->publishTopics}};
  }
  if (m.capabilities.http) {
    caps["http"] = {{"allowHosts", m.capabilities.http->allowHosts},
                    {"timeoutMs", m.capabilities.http->timeoutMs}};
  }
  return json{{"schema", m.schema},
              {"runtime", m.runtime},
              {"entry", m.entry},
              {"handler", m.handler},
              {"limits",
               {{"timeoutMs", m.limits.timeoutMs},
                {"memoryMb", m.limits.memoryMb},
                {"maxConcurrency", m.limits.maxConcurrency}}},
              {"capabilities", caps}};
}

}  // namespace cs::api
