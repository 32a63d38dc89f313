// API invoke (sync and async) and activation / log reads (SPEC §4, docs/contracts.md).
#include <algorithm>
#include <limits>
#include <utility>

#include "internal/api/names.h"
#include "internal/api/validate.h"
#include "internal/codeq/envelope.h"
#include "internal/control/control_impl.h"
#include "internal/control/version_config.h"
#include "internal/crypto/crypto.h"
#include "internal/kv/keys.h"

namespace cs::control::detail {

using nlohmann::json;

namespace {

constexpr size_t kLogChunksPerPage = 10;  // docs/contracts.md "Logs"
// A sync invoke answers with every log entry; the invoker caps logs at 1 MiB, so this bound
// only guards against a corrupt chunk set.
constexpr size_t kMaxLogChunksInline = 1000;
constexpr int64_t kMaxCursor = (int64_t{1} << 53) - 1;

// The SPEC §5 error body plus the activation id (body and X-Activation-Id), so a caller whose
// invoke timed out or failed after the id was assigned can still look the activation up.
http::Response errorWithActivation(const Error& error, const std::string& requestId,
                                   const std::string& activationId) {
  http::Response response = http::Response::error(error, requestId);
  json body = json::parse(response.body, nullptr, false);
  if (body.is_object()) {
    body["activation_id"] = activationId;
    response.body = body.dump();
  }
  response.header("X-Activation-Id", activationId);
  return response;
}

json logsJson(const std::vector<kv::LogEntry>& entries) {
  json logs = json::array();
  for (const auto& e : entries) {
    logs.push_back({{"level", e.level}, {"ts_ms", e.tsMs}, {"message", e.message}});
  }
  return logs;
}

}  // namespace

// POST .../functions/{fn}:invoke {ref:{alias}|{version}, mode?, event?}
Status Impl::invoke(Call& call) {
  const std::string& t = call.tenant();
  const std::string ns = call.param("ns"), fn = call.param("fn");
  CTL_TRY(authorize(call, authz::Action::FunctionInvokeApi, authz::functionResource(t, ns, fn)));
  auto body = parseBody(call.request);
  if (!body) return body.error();
  if (body->is_object() && body->contains("ref") && (*body)["ref"].is_object()) {
    const json& ref = (*body)["ref"];
    if (auto a = ref.find("alias"); a != ref.end() && a->is_string()) {
      CTL_TRY(api::validateName(api::NameKind::Alias, a->get<std::string>()));
    }
  }
  CTL_TRY(api::validateInvokeApi(*body));
  auto function = loadLiveFunction(t, ns, fn);
  if (!function) return function.error();

  // Resolve the reference to a version (the invoker is told both, and uses the version).
  const json& ref = (*body)["ref"];
  std::optional<std::string> alias;
  int64_t version = 0;
  if (ref.contains("alias")) {
    alias = ref["alias"].get<std::string>();
    auto key = kv::keys::alias(t, ns, fn, *alias);
    if (!key) return key.error();
    auto raw = store_.get(*key);
    if (!raw) return raw.error();
    if (!*raw) return notFound("alias " + *alias + " of function " + ns + "/" + fn + " not found");
    auto record = kv::decode<kv::AliasRecord>(**raw);
    if (!record) return record.error();
    version = record->version;
  } else {
    version = ref["version"].get<int64_t>();
  }
  auto versionRecord = loadVersion(t, ns, fn, version);
  if (!versionRecord) return versionRecord.error();
  CTL_TRY(authorizeInvokeRoles(call, authz::functionVersionResource(t, ns, fn, version),
                               configRoles(versionRecord->config, "invoke_http_roles")));

  const int64_t timeoutMs = configTimeoutMs(versionRecord->config);
  const int64_t now = nowMs();
  const std::string activationId = crypto::uuidV4();
  const std::string requestId = api::isValidName(api::NameKind::RequestId, call.request.requestId)
                                    ? call.request.requestId
                                    : "req_" + crypto::randomHex(12);
  json refJson = {{"function", fn}, {"version", version}};
  if (alias) refJson["alias"] = *alias;
  json request = {
      {"activation_id", activationId},
      {"request_id", requestId},
      {"tenant", t},
      {"namespace", ns},
      {"ref", refJson},
      {"trigger", {{"type", "api"}, {"source", json::object()}}},
      {"principal", {{"sub", call.principal.sub}, {"roles", call.principal.roles}}},
      {"deadline_ms", now + timeoutMs},
      {"event", body->contains("event") ? (*body)["event"] : json(nullptr)},
  };
  CTL_TRY(api::validateInvocationRequest(request));

  const std::string mode = body->value("mode", std::string("sync"));
  if (mode == "sync") {
    // No thread waits: the callback answers on the queue's delivery (or timeout) thread.
    http::Responder responder = call.responder;
    const std::string httpRequestId = call.request.requestId;
    requestReply_.call(t, std::move(request), timeoutMs + options_.invokeWaitSlackMs,
                       [this, responder, httpRequestId, t, activationId](Result<json> reply) {
                         finishSyncInvoke(responder, httpRequestId, t, activationId, reply);
                       });
    return okStatus();
  }

  // async: the `queued` record first (CAS from absent), so GET .../activations/{id} works at
  // once, then the message.
  kv::ActivationRecord record;
  record.activationId = activationId;
  record.tenant = t;
  record.ns = ns;
  record.function = fn;
  record.version = version;
  record.alias = alias;
  record.trigger = kv::ActivationTrigger{kv::TriggerType::Api, json::object()};
  record.requestId = requestId;
  record.status = kv::ActivationStatus::Queued;
  record.createdAtMs = now;
  const int64_t ttlMs = options_.limits.activationTtlSeconds * 1000;

  auto byFn = kv::keys::activationsByFunction(t, ns, fn);
  if (!byFn) return byFn.error();
  CTL_TRY(store_.zadd(*byFn, activationId, static_cast<double>(now)));
  // Trimming the index is housekeeping; its failure must not fail the invoke.
  (void)store_.zremRangeByScore(*byFn, -std::numeric_limits<double>::infinity(),
                                static_cast<double>(now - ttlMs));
  auto key = kv::keys::activation(t, activationId);
  if (!key) return key.error();
  auto cas =
      store_.casActivationStatus(*key, {std::string(kv::kStatusAbsent)}, kv::encode(record), ttlMs);
  if (!cas) return cas.error();
  if (cas->outcome != kv::CasOutcome::Applied) {
    return Error{ErrorCode::Conflict, "activation " + activationId + " already exists"};
  }

  auto envelope = codeq::makeEnvelope(t, std::string(codeq::kTypeInvoke), std::move(request));
  if (auto published = queue_.publish(options_.invokeTopic, envelope); !published) {
    // Nobody will run it: end the record so a poller does not wait forever.
    kv::ActivationRecord failed = record;
    failed.status = kv::ActivationStatus::Error;
    failed.endedAtMs = nowMs();
    failed.error = kv::ActivationError{"PublishFailed", std::string(published.error().name()),
                                       published.error().message, ""};
    (void)store_.casActivationStatus(*key, {std::string(kv::toString(record.status))},
                                     kv::encode(failed), ttlMs);
    call.responder.send(
        errorWithActivation(published.error(), call.request.requestId, activationId));
    return okStatus();
  }
  http::Response response =
      http::Response::json(202, json{{"activation_id", activationId}, {"status", "queued"}});
  response.header("X-Activation-Id", activationId);
  call.responder.send(std::move(response));
  return okStatus();
}

void Impl::finishSyncInvoke(const http::Responder& responder, const std::string& requestId,
                            const std::string& tenant, const std::string& activationId,
                            const Result<json>& reply) {
  try {
    if (!reply) {
      responder.send(errorWithActivation(reply.error(), requestId, activationId));
      return;
    }
    const json& result = *reply;
    // The InvocationResult carries no logs (docs/contracts.md); the invoker wrote them before
    // publishing the result. Unreadable logs do not fail an invoke that ran.
    std::optional<int64_t> next;
    auto entries = loadLogs(tenant, activationId, 0, kMaxLogChunksInline, next);
    json body = {
        {"activation_id", activationId},
        {"status", result.value("status", std::string("error"))},
        {"result", result.contains("result") ? result["result"] : json(nullptr)},
        {"error", result.contains("error") ? result["error"] : json(nullptr)},
        {"duration_ms", result.value("duration_ms", int64_t{0})},
        {"logs", entries ? logsJson(*entries) : json::array()},
    };
    if (result.contains("version")) body["version"] = result["version"];
    for (const char* flag : {"result_truncated", "logs_truncated"}) {
      if (result.contains(flag)) body[flag] = result[flag];
    }
    http::Response response = http::Response::json(200, body);
    response.header("X-Activation-Id", activationId);
    responder.send(std::move(response));
  } catch (const std::exception& e) {
    responder.send(
        errorWithActivation(Error{ErrorCode::Internal, std::string("internal error: ") + e.what()},
                            requestId, activationId));
  }
}

Result<std::vector<kv::LogEntry>> Impl::loadLogs(const std::string& t, const std::string& id,
                                                 int64_t fromSeq, size_t maxChunks,
                                                 std::optional<int64_t>& nextSeq) {
  nextSeq.reset();
  auto chunksKey = kv::keys::logChunks(t, id);
  if (!chunksKey) return chunksKey.error();
  kv::ZRangeQuery query;
  query.minScore = static_cast<double>(fromSeq);
  query.limit = maxChunks + 1;  // one more tells whether a next page exists
  auto members = store_.zrangeByScore(*chunksKey, query);
  if (!members) return members.error();
  std::vector<kv::LogEntry> entries;
  for (size_t i = 0; i < members->size() && i < maxChunks; ++i) {
    const double score = (*members)[i].score;
    if (score < 0 || score > static_cast<double>(kMaxCursor)) continue;
    auto key = kv::keys::logChunk(t, id, static_cast<int64_t>(score));
    if (!key) return key.error();
    auto raw = store_.get(*key);
    if (!raw) return raw.error();
    if (!*raw) continue;  // expired with its activation
    auto chunk = kv::decode<kv::LogChunk>(**raw);
    if (!chunk) return chunk.error();
    for (auto& e : chunk->entries) entries.push_back(std::move(e));
  }
  if (members->size() > maxChunks) {
    nextSeq = static_cast<int64_t>((*members)[maxChunks].score);
  }
  return entries;
}

// GET /v1/tenants/{t}/activations/{id}
Status Impl::getActivation(Call& call) {
  const std::string& t = call.tenant();
  const std::string id = call.param("id");
  CTL_TRY(authorize(call, authz::Action::ActivationRead, authz::activationResource(t, id)));
  auto key = kv::keys::activation(t, id);
  if (!key) return key.error();
  auto raw = store_.get(*key);
  if (!raw) return raw.error();
  if (!*raw) return notFound("activation " + id + " not found");
  auto record = kv::decode<kv::ActivationRecord>(**raw);
  if (!record) return record.error();
  call.send(200, presentActivation(*record));
  return okStatus();
}

// GET /v1/tenants/{t}/activations/{id}/logs?cursor=N — chunks with seq >= N, 10 per page.
Status Impl::getActivationLogs(Call& call) {
  const std::string& t = call.tenant();
  const std::string id = call.param("id");
  CTL_TRY(authorize(call, authz::Action::ActivationRead, authz::activationResource(t, id)));
  auto cursor = intQueryParam(call.request, "cursor", 0, 0, kMaxCursor);
  if (!cursor) return cursor.error();
  auto key = kv::keys::activation(t, id);
  if (!key) return key.error();
  auto exists = store_.exists(*key);
  if (!exists) return exists.error();
  if (!*exists) return notFound("activation " + id + " not found");
  std::optional<int64_t> next;
  auto entries = loadLogs(t, id, *cursor, kLogChunksPerPage, next);
  if (!entries) return entries.error();
  call.send(200, json{{"activation_id", id},
                      {"logs", logsJson(*entries)},
                      {"next_cursor", next ? json(*next) : json(nullptr)}});
  return okStatus();
}

// GET .../functions/{fn}/activations?limit= — most recent first.
Status Impl::listFunctionActivations(Call& call) {
  const std::string& t = call.tenant();
  const std::string ns = call.param("ns"), fn = call.param("fn");
  CTL_TRY(authorize(call, authz::Action::FunctionRead, authz::functionResource(t, ns, fn)));
  auto limit = intQueryParam(call.request, "limit", 20, 1, 100);
  if (!limit) return limit.error();
  auto function = loadLiveFunction(t, ns, fn);
  if (!function) return function.error();
  auto byFn = kv::keys::activationsByFunction(t, ns, fn);
  if (!byFn) return byFn.error();
  kv::ZRangeQuery query;
  query.order = kv::ScoreOrder::Descending;
  query.limit = static_cast<size_t>(*limit);
  auto members = store_.zrangeByScore(*byFn, query);
  if (!members) return members.error();
  json activations = json::array();
  for (const auto& m : *members) {
    auto key = kv::keys::activation(t, m.member);
    if (!key) continue;  // not an activation id: ignore a corrupt member
    auto raw = store_.get(*key);
    if (!raw) return raw.error();
    if (!*raw) continue;  // expired
    auto record = kv::decode<kv::ActivationRecord>(**raw);
    if (!record) return record.error();
    activations.push_back(presentActivation(*record));
  }
  call.send(200, json{{"activations", std::move(activations)}});
  return okStatus();
}

}  // namespace cs::control::detail
