#include "internal/hostapi/kv_provider.h"

#include <cmath>
#include <utility>

#include "internal/hostapi/call_args.h"
#include "internal/kv/keys.h"
#include "internal/kv/records.h"

namespace cs::hostapi {

using nlohmann::json;
using detail::arg;
using detail::quote;

KvProvider::KvProvider(std::string tenant, std::string ns, api::KvCapability capability,
                       kv::Store& store, KvLimits limits)
    : tenant_(std::move(tenant)),
      ns_(std::move(ns)),
      capability_(std::move(capability)),
      store_(store),
      limits_(limits) {}

Status KvProvider::authorize(std::string_view op, std::string_view userKey) const {
  if (!capability_.allowsOp(op)) {
    return Error{ErrorCode::RuntimeCapabilityDenied,
                 "op \"" + std::string(op) + "\" on key " + quote(userKey) +
                     " is not allowed by capabilities.kv.ops"};
  }
  for (const std::string& allowed : capability_.prefixes) {
    std::string_view prefix = allowed;
    if (!prefix.empty() && prefix.back() == '*') prefix.remove_suffix(1);
    if (userKey.starts_with(prefix)) return okStatus();
  }
  return Error{ErrorCode::RuntimeCapabilityDenied,
               "key " + quote(userKey) + " (op \"" + std::string(op) +
                   "\") is outside capabilities.kv.prefixes"};
}

Result<std::string> KvProvider::storageKey(std::string_view op, const json& key) const {
  if (!key.is_string()) {
    return Error{ErrorCode::ValidationFailed, "key must be a string"};
  }
  const std::string& userKey = key.get_ref<const std::string&>();
  if (userKey.empty()) return Error{ErrorCode::ValidationFailed, "key must not be empty"};
  if (userKey.size() > limits_.maxKeyBytes) {
    return Error{ErrorCode::ValidationFailed, "key is " + std::to_string(userKey.size()) +
                                                  " bytes, the limit is " +
                                                  std::to_string(limits_.maxKeyBytes)};
  }
  if (Status st = authorize(op, userKey); !st.ok()) return st.error();
  return kv::keys::userKv(tenant_, ns_, userKey);
}

Result<json> KvProvider::call(std::string_view method, const json& args, int64_t deadlineMs) {
  if (Status st = detail::checkDeadline("cs.kv", deadlineMs); !st.ok()) return st.error();
  if (method == "get") return get(args);
  if (method == "set") return set(args);
  if (method == "del") return del(args);
  return Error{ErrorCode::ValidationFailed, "unknown method " + quote(method)};
}

Result<json> KvProvider::get(const json& args) {
  if (Status st = detail::checkArity("get", args, 1); !st.ok()) return st.error();
  auto key = storageKey("get", arg(args, 0));
  if (!key.ok()) return key.error();
  auto stored = store_.get(*key);
  if (!stored.ok()) return stored.error();
  if (!stored->has_value()) return json(nullptr);
  auto parsed = kv::parseRecordJson(**stored);
  if (!parsed.ok()) {
    return Error{ErrorCode::KvrocksReadFailed, "stored value is not JSON"};
  }
  return std::move(*parsed);
}

Result<json> KvProvider::set(const json& args) {
  if (Status st = detail::checkArity("set", args, 3); !st.ok()) return st.error();
  auto key = storageKey("set", arg(args, 0));
  if (!key.ok()) return key.error();

  std::optional<int64_t> ttlMs = kv::kNoTtl;
  const json& options = arg(args, 2);
  if (!options.is_null()) {
    if (!options.is_object()) {
      return Error{ErrorCode::ValidationFailed, "options must be an object"};
    }
    for (const auto& [name, value] : options.items()) {
      if (name != "ttlSeconds") {
        return Error{ErrorCode::ValidationFailed, "unknown option " + quote(name) +
                                                      " (supported: ttlSeconds)"};
      }
      if (value.is_null()) continue;
      // JSON numbers from JS: integers arrive as integers, 1.5 as a float.
      bool integral = value.is_number_integer() ||
                      (value.is_number_float() && std::isfinite(value.get<double>()) &&
                       std::trunc(value.get<double>()) == value.get<double>() &&
                       std::fabs(value.get<double>()) < 9e15);
      if (!integral) {
        return Error{ErrorCode::ValidationFailed, "ttlSeconds must be an integer"};
      }
      int64_t seconds = value.is_number_unsigned() && value.get<uint64_t>() > INT64_MAX
                            ? INT64_MAX
                            : (value.is_number_float() ? static_cast<int64_t>(value.get<double>())
                                                       : value.get<int64_t>());
      if (seconds < 1 || seconds > limits_.maxTtlSeconds) {
        return Error{ErrorCode::ValidationFailed,
                     "ttlSeconds must be from 1 to " + std::to_string(limits_.maxTtlSeconds)};
      }
      ttlMs = seconds * 1000;
    }
  }

  std::string text = detail::dumpJson(arg(args, 1));
  if (text.size() > limits_.maxValueBytes) {
    return Error{ErrorCode::ValidationFailed, "value is " + std::to_string(text.size()) +
                                                  " bytes as JSON, the limit is " +
                                                  std::to_string(limits_.maxValueBytes)};
  }
  if (Status st = store_.set(*key, text, ttlMs); !st.ok()) return st.error();
  return json(nullptr);
}

Result<json> KvProvider::del(const json& args) {
  if (Status st = detail::checkArity("del", args, 1); !st.ok()) return st.error();
  auto key = storageKey("del", arg(args, 0));
  if (!key.ok()) return key.error();
  auto removed = store_.del(*key);
  if (!removed.ok()) return removed.error();
  return json(*removed);
}

}  // namespace cs::hostapi
