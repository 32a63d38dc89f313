#include "internal/hostapi/secrets.h"

#include <algorithm>

#include "internal/hostapi/call_args.h"
#include "internal/kv/keys.h"
#include "internal/kv/records.h"

namespace cs::hostapi {

using nlohmann::json;
using detail::quote;

namespace {

bool isValidSecretName(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!alpha(s[0])) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) { return alpha(c) || (c >= '0' && c <= '9'); });
}

}  // namespace

Result<std::vector<ResolvedSecret>> resolveSecrets(kv::Store& store, std::string_view tenant,
                                                   const json& secretsConfig) {
  std::vector<ResolvedSecret> out;
  if (secretsConfig.is_null()) return out;
  if (!secretsConfig.is_object()) {
    return Error{ErrorCode::ValidationFailed, "secrets must be an object of NAME: reference"};
  }
  if (secretsConfig.size() > kMaxSecrets) {
    return Error{ErrorCode::ValidationFailed,
                 "at most " + std::to_string(kMaxSecrets) + " secrets per version"};
  }
  for (const auto& [name, ref] : secretsConfig.items()) {
    if (!isValidSecretName(name)) {
      return Error{ErrorCode::ValidationFailed,
                   "secret name " + quote(name) + " must match [A-Za-z_][A-Za-z0-9_]{0,127}"};
    }
    if (!ref.is_string()) {
      return Error{ErrorCode::ValidationFailed, "secret " + name + ": reference must be a string"};
    }
    const std::string& text = ref.get_ref<const std::string&>();
    if (!text.starts_with(kSecretRefPrefix)) {
      return Error{ErrorCode::AuthzDenied,
                   "secret " + name + ": reference " + quote(text) +
                       " is outside the tenant (only \"kv:tenant/<path>\" is allowed)"};
    }
    std::string path = text.substr(kSecretRefPrefix.size());
    if (!kv::keys::isValidSecretPath(path)) {
      return Error{ErrorCode::ValidationFailed,
                   "secret " + name + ": invalid secret path " + quote(path)};
    }
    auto key = kv::keys::secret(tenant, path);
    if (!key.ok()) return key.error();
    auto stored = store.get(*key);
    if (!stored.ok()) return stored.error();
    if (!stored->has_value()) {
      return Error{ErrorCode::NotFound, "secret " + name + ": " + quote(text) + " not found"};
    }
    auto doc = kv::parseRecordJson(**stored);
    if (!doc.ok()) {
      return Error{ErrorCode::KvrocksReadFailed, "secret " + name + ": record is not JSON"};
    }
    auto record = kv::fromJson<kv::SecretRecord>(*doc);
    if (!record.ok()) {
      // The decoder's message could quote the record; keep values out of errors.
      return Error{record.error().code, "secret " + name + ": unreadable record"};
    }
    out.push_back({name, std::move(record->value)});
  }
  return out;
}

json secretEnv(const std::vector<ResolvedSecret>& secrets) {
  json env = json::object();
  for (const auto& s : secrets) env[s.name] = s.value;
  return env;
}

std::vector<std::string> redactionValues(const std::vector<ResolvedSecret>& secrets) {
  std::vector<std::string> out;
  for (const auto& s : secrets) {
    out.push_back(s.value);
    std::string escaped = detail::dumpJson(json(s.value));
    escaped = escaped.substr(1, escaped.size() - 2);  // drop the quotes
    if (escaped != s.value) out.push_back(std::move(escaped));
  }
  return out;
}

}  // namespace cs::hostapi
