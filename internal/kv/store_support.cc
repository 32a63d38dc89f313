#include "internal/kv/store_support.h"

#include <algorithm>
#include <cmath>

#include "internal/kv/keys.h"
#include "internal/kv/records.h"

namespace cs::kv::support {

Status checkKey(std::string_view key) {
  if (key.empty()) return Error{ErrorCode::ValidationFailed, "key must not be empty"};
  return okStatus();
}

Status checkTtl(std::optional<int64_t> ttlMs) {
  if (ttlMs && *ttlMs < 1) return Error{ErrorCode::ValidationFailed, "ttl_ms must be >= 1"};
  return okStatus();
}

Status checkOwner(std::string_view owner) {
  if (owner.empty() || owner.size() > kMaxOwnerBytes) {
    return Error{ErrorCode::ValidationFailed, "lease owner must be 1..256 bytes"};
  }
  return okStatus();
}

Status checkScanLimit(size_t limit) {
  if (limit < 1 || limit > kMaxScanLimit) {
    return Error{ErrorCode::ValidationFailed, "scan limit must be 1..10000"};
  }
  return okStatus();
}

Status checkScore(double score) {
  if (std::isnan(score)) return Error{ErrorCode::ValidationFailed, "score must not be NaN"};
  return okStatus();
}

std::string PublishPlan::versionMetaKey(int64_t v) const {
  return versionKeyPrefix + std::to_string(v) + ":meta";
}

std::string PublishPlan::versionBundleKey(int64_t v) const {
  return versionKeyPrefix + std::to_string(v) + ":bundle";
}

Result<PublishPlan> planPublish(const PublishRequest& request) {
  PublishPlan plan;
  auto meta = keys::functionMeta(request.tenant, request.ns, request.function);
  if (!meta) return meta.error();
  plan.functionMetaKey = std::move(*meta);
  auto seq = keys::versionSeq(request.tenant, request.ns, request.function);
  if (!seq) return seq.error();
  plan.versionSeqKey = std::move(*seq);
  auto draft = keys::draft(request.tenant, request.ns, request.function, request.draftId);
  if (!draft) return draft.error();
  plan.draftKey = std::move(*draft);
  auto prefix = keys::versionPrefix(request.tenant, request.ns, request.function);
  if (!prefix) return prefix.error();
  plan.versionKeyPrefix = std::move(*prefix);
  if (request.alias) {
    auto alias = keys::alias(request.tenant, request.ns, request.function, *request.alias);
    if (!alias) return alias.error();
    plan.aliasKey = std::move(*alias);
  }
  if (request.sha256.empty()) return Error{ErrorCode::ValidationFailed, "sha256 is required"};
  if (!request.config.is_object()) {
    return Error{ErrorCode::ValidationFailed, "config must be a JSON object"};
  }
  if (request.publishedAtMs < 0) {
    return Error{ErrorCode::ValidationFailed, "published_at_ms must be >= 0"};
  }
  return plan;
}

std::string versionMetaJson(const PublishRequest& request, int64_t version) {
  return encode(VersionRecord{version, request.sha256, request.config, request.publishedAtMs});
}

std::string aliasJson(const PublishRequest& request, int64_t version) {
  return encode(AliasRecord{request.alias.value_or(""), version, request.publishedAtMs});
}

Status checkFunctionLive(const std::optional<std::string>& functionMetaJson) {
  if (!functionMetaJson) return Error{ErrorCode::NotFound, "function not found"};
  auto fn = decode<FunctionRecord>(*functionMetaJson);
  if (!fn) return fn.error();
  if (fn->deletedAtMs) return Error{ErrorCode::NotFound, "function not found"};
  return okStatus();
}

Error draftMissing() { return Error{ErrorCode::ValidationFailed, "draft not found or expired"}; }

namespace {
std::optional<std::string> statusField(std::string_view recordJson) {
  auto j = nlohmann::json::parse(recordJson.begin(), recordJson.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  auto it = j.find("status");
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}
}  // namespace

Result<std::string> storedStatus(std::string_view recordJson) {
  auto s = statusField(recordJson);
  if (!s || s->empty())
    return Error{ErrorCode::KvrocksReadFailed, "stored activation has no string status"};
  return *s;
}

Status checkNewActivationRecord(std::string_view recordJson) {
  auto s = statusField(recordJson);
  if (!s || s->empty()) {
    return Error{ErrorCode::ValidationFailed,
                 "activation record must be a JSON object with a non-empty string status"};
  }
  return okStatus();
}

bool casAllowed(const std::optional<std::string>& currentStatus,
                const std::vector<std::string>& expectedStatuses) {
  std::string_view current = currentStatus ? std::string_view(*currentStatus) : kStatusAbsent;
  if (currentStatus) {
    auto parsed = parseActivationStatus(*currentStatus);
    if (parsed && isTerminal(*parsed)) return false;
  }
  return std::find(expectedStatuses.begin(), expectedStatuses.end(), current) !=
         expectedStatuses.end();
}

}  // namespace cs::kv::support
